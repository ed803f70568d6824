import { useState } from "react";
import { errorText } from "../lib/api";
import type { Job } from "../lib/types";
import type { AdminCall } from "./session";
import { ErrorBox, ProgressBar, StatusBadge, when } from "./ui";
import { usePolling } from "./usePolling";

export const isActive = (job: Job) => job.status === "queued" || job.status === "running";

export default function Jobs({ call }: { call: AdminCall }) {
  const jobs = usePolling(
    () => call<{ jobs: Job[] }>("/api/jobs?limit=50").then((r) => r.jobs),
    (data) => !!data?.some(isActive),
  );
  const [actionError, setActionError] = useState<string | null>(null);

  const cancel = async (job: Job) => {
    try {
      await call(`/api/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST", body: {} });
    } catch (err) {
      setActionError(errorText(err));
    }
    void jobs.refresh();
  };

  return (
    <>
      <div className="row">
        <p className="muted small">Ingestion, re-indexing, retraining and promotion run as background jobs.</p>
        <button type="button" onClick={() => void jobs.refresh()}>Refresh</button>
      </div>
      <ErrorBox error={jobs.error ?? actionError} onRetry={() => void jobs.refresh()} />
      {jobs.data && jobs.data.length === 0 ? <p className="muted">No jobs yet.</p> : null}
      {jobs.data && jobs.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Created</th>
                <th scope="col">Finished</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.map((job) => (
                <tr key={job.id} data-testid="job-row">
                  <td>
                    <strong>{job.kind}</strong>
                    <div className="mono small muted">{job.id.slice(0, 12)}</div>
                  </td>
                  <td><StatusBadge status={job.status} /></td>
                  <td className="wide">
                    {job.error ? <span className="error-inline">{job.error}</span> : <ProgressBar progress={job.progress} label={`${job.kind} progress`} />}
                  </td>
                  <td className="small">{when(job.created_at)}</td>
                  <td className="small">{when(job.finished_at)}</td>
                  <td>
                    {isActive(job) ? (
                      <button type="button" className="danger small" onClick={() => void cancel(job)}>Cancel</button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
