import { useEffect, useState } from "react";
import { errorFrom, errorText, headersFor } from "../lib/api";
import { renderMarkdown } from "../lib/markdown";
import type { Job, Metrics, ModelsOverview, ModelVersion } from "../lib/types";
import { isActive } from "./Jobs";
import type { AdminCall } from "./session";
import { ErrorBox, ProgressBar, StatusBadge, when } from "./ui";
import { usePolling } from "./usePolling";

const LOSSES = ["online_contrastive", "mnrl", "cosine"] as const;

/** "0.612 (+0.034)": the candidate's value and its change against the parent it was measured with. */
export function metricCell(metrics: ModelVersion["metrics"] | null, key: string): { value: string; delta: string; sign: number } {
  const candidate: Metrics | undefined = metrics?.candidate;
  const baseline: Metrics | undefined = metrics?.baseline;
  const value = candidate?.[key];
  if (value === undefined || value === null) return { value: "—", delta: "", sign: 0 };
  const base = baseline?.[key];
  if (base === undefined || base === null) return { value: value.toFixed(3), delta: "", sign: 0 };
  const change = value - base;
  const sign = Math.abs(change) < 0.0005 ? 0 : Math.sign(change);
  return { value: value.toFixed(3), delta: `${change >= 0 ? "+" : "−"}${Math.abs(change).toFixed(3)}`, sign };
}

function Metric({ version, name }: { version: ModelVersion; name: string }) {
  const cell = metricCell(version.metrics, name);
  return (
    <td className="num">
      {cell.value}
      {cell.delta ? <span className={`delta ${cell.sign > 0 ? "up" : cell.sign < 0 ? "down" : ""}`}> ({cell.delta})</span> : null}
    </td>
  );
}

function ReportPanel({ version, token, onClose }: { version: ModelVersion; token: string; onClose: () => void }) {
  const [report, setReport] = useState<string | null>(null);
  const [plot, setPlot] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let url: string | null = null;
    const base = `/api/admin/models/${encodeURIComponent(version.version)}`;
    fetch(version.report_url || `${base}/report`, { headers: headersFor(token) })
      .then(async (r) => (r.ok ? setReport(await r.text()) : setError((await errorFrom(r)).message)))
      .catch((err) => setError(errorText(err)));
    fetch(version.plot_url || `${base}/plot.png`, { headers: headersFor(token) })
      .then(async (r) => {
        if (!r.ok) return;
        url = URL.createObjectURL(await r.blob());
        setPlot(url);
      })
      .catch(() => undefined);
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [version, token]);
  return (
    <section className="card report" aria-label={`Evaluation report of ${version.version}`} data-testid="report">
      <div className="row">
        <h2>Evaluation report: {version.version}</h2>
        <button type="button" onClick={onClose}>Close</button>
      </div>
      <ErrorBox error={error} />
      {plot ? <img className="plot" src={plot} alt={`Hit rate at k of ${version.version} and its baseline`} /> : null}
      {report ? <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(report) }} /> : !error ? <p className="muted">Loading…</p> : null}
    </section>
  );
}

function RetrainForm({ call, onStarted }: { call: AdminCall; onStarted: () => void }) {
  const [loss, setLoss] = useState<string>("");
  const [epochs, setEpochs] = useState(1);
  const [includeSynthetic, setIncludeSynthetic] = useState(false);
  const [autoPromote, setAutoPromote] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="card retrain"
      aria-label="Retrain"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await call("/api/admin/retrain", {
            body: { ...(loss ? { loss } : {}), epochs, include_synthetic: includeSynthetic, auto_promote: autoPromote },
          });
          onStarted();
        } catch (err) {
          setError(errorText(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Retrain from feedback</h2>
      <div className="form-grid">
        <label htmlFor="retrain-loss">Loss</label>
        <select id="retrain-loss" value={loss} onChange={(e) => setLoss(e.target.value)}>
          <option value="">automatic (from the data)</option>
          {LOSSES.map((name) => (
            <option key={name} value={name}>{name}</option>
          ))}
        </select>
        <label htmlFor="retrain-epochs">Epochs</label>
        <input id="retrain-epochs" type="number" min={1} max={50} value={epochs} onChange={(e) => setEpochs(Number(e.target.value) || 1)} />
        <span />
        <label className="check">
          <input type="checkbox" checked={includeSynthetic} onChange={(e) => setIncludeSynthetic(e.target.checked)} /> include synthetic questions
        </label>
        <span />
        <label className="check">
          <input type="checkbox" checked={autoPromote} onChange={(e) => setAutoPromote(e.target.checked)} /> promote automatically if the gate says better
        </label>
      </div>
      {error ? <p className="error-inline" role="alert">{error}</p> : null}
      <button type="submit" className="primary" disabled={busy}>Start retraining</button>
    </form>
  );
}

export default function Models({ call, token }: { call: AdminCall; token: string }) {
  const [showReport, setShowReport] = useState<ModelVersion | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const overview = usePolling(async () => {
    const [models, jobs] = await Promise.all([
      call<ModelsOverview>("/api/admin/models"),
      call<{ jobs: Job[] }>("/api/jobs?limit=20").then((r) => r.jobs).catch(() => [] as Job[]),
    ]);
    const building = jobs.filter((j) => (j.kind === "retrain" || j.kind === "promote" || j.kind === "reindex") && isActive(j));
    const lastFailed = jobs.find((j) => j.kind === "retrain" && j.status === "failed") ?? null;
    return { models, building, lastFailed };
  }, (data) => !!data && (data.building.length > 0 || !!data.models.pending), 2000);

  const act = async (path: string, body: unknown = {}) => {
    setBusy(true);
    setActionError(null);
    try {
      await call(path, { method: "POST", body });
    } catch (err) {
      setActionError(errorText(err));
    } finally {
      setBusy(false);
      void overview.refresh();
    }
  };

  const data = overview.data;
  const serving = data?.models.serving;
  return (
    <>
      <ErrorBox error={overview.error} onRetry={() => void overview.refresh()} />
      <ErrorBox error={actionError} />
      {data ? (
        <>
          <div className="cards">
            <section className="card" aria-label="Serving now" data-testid="serving">
              <h2>Serving now</h2>
              <p>
                <strong>{serving?.version ?? "base model"}</strong> <span className="muted">{serving?.model_name}</span>
              </p>
              <p className="mono small muted">
                {serving?.fingerprint}
                {serving?.dimension ? ` · ${serving.dimension} dims` : ""}
                {serving?.collection ? ` · ${serving.collection}` : ""}
              </p>
              {serving?.retrieval ? (
                <p data-testid="serving-retrieval">
                  Retrieval <strong>{serving.retrieval.running}</strong>
                  {serving.retrieval.mode === "hybrid" ? (
                    <>
                      {" "}· dense share <strong>{serving.retrieval.weight.toFixed(2)}</strong>{" "}
                      <span className="muted small">({serving.retrieval.weight_source}: {serving.retrieval.weight_detail})</span>
                    </>
                  ) : null}
                </p>
              ) : null}
              <button type="button" disabled={busy || !!data.models.pending} onClick={() => void act("/api/admin/models/rollback")}>
                Roll back to the previous model
              </button>{" "}
              <button type="button" disabled={busy || serving?.retrieval?.mode !== "hybrid"}
                title="Fit the dense share of the hybrid search on the rated questions (seconds; no training)"
                onClick={() => void act("/api/admin/tune")}>
                Fit the fusion weight
              </button>
            </section>
            <section className="card" aria-label="Evaluation set" data-testid="evaluation-set">
              <h2>Evaluation set</h2>
              {data.models.evaluation ? (
                <>
                  <p>
                    <strong>{data.models.evaluation.questions}</strong> frozen questions{" "}
                    <span className="muted small">
                      ({data.models.evaluation.feedback} rated, {data.models.evaluation.import} imported ·{" "}
                      <span className="mono">{data.models.evaluation.fingerprint}</span>)
                    </span>
                  </p>
                  {data.models.evaluation.serving ? (
                    <p data-testid="serving-evaluation">
                      Serving pipeline: MRR@10 <strong>{data.models.evaluation.serving.metrics["mrr@10"]?.toFixed(3)}</strong>,
                      hit@5 <strong>{data.models.evaluation.serving.metrics["accuracy@5"]?.toFixed(3)}</strong> on{" "}
                      {data.models.evaluation.serving.questions} questions{" "}
                      <span className="muted small">
                        {data.models.evaluation.serving.current ? "(the set as it is now)" : "(an earlier state of the set: measure again)"}
                      </span>
                    </p>
                  ) : (
                    <p className="muted">Not measured yet.</p>
                  )}
                </>
              ) : null}
              <button type="button" disabled={busy}
                title="Add the newly rated questions the rule assigns to evaluation, then measure the serving pipeline on the set"
                onClick={() => void act("/api/admin/evaluate")}>
                Measure the serving pipeline
              </button>
            </section>
            <section className="card" aria-label="Being built" data-testid="building">
              <h2>Being built</h2>
              {data.models.pending ? (
                <>
                  <p>
                    Swapping to <strong>{data.models.pending.version ?? "a new model"}</strong>: re-indexing every chunk
                  </p>
                  <ProgressBar progress={data.models.pending.progress} label="Model swap progress" />
                </>
              ) : null}
              {data.building
                .filter((job) => job.id !== data.models.pending?.job_id)
                .map((job) => (
                  <div key={job.id}>
                    <p>
                      <strong>{job.kind}</strong> <StatusBadge status={job.status} />
                    </p>
                    <ProgressBar progress={job.progress} label={`${job.kind} progress`} />
                  </div>
                ))}
              {!data.models.pending && data.building.length === 0 ? <p className="muted">Nothing right now.</p> : null}
              {data.lastFailed && data.building.length === 0 ? (
                <p className="error-inline small">Last retrain failed: {data.lastFailed.error}</p>
              ) : null}
            </section>
          </div>
          <RetrainForm call={call} onStarted={() => void overview.refresh()} />
          <h2>Versions</h2>
          {data.models.versions.length === 0 ? <p className="muted">No fine-tuned versions yet: retrain to make one.</p> : null}
          {data.models.versions.length > 0 ? (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col">Parent</th>
                    <th scope="col">Created</th>
                    <th scope="col">Status</th>
                    <th scope="col" className="num">MRR@10 (vs parent)</th>
                    <th scope="col" className="num">hit@5 (vs parent)</th>
                    <th scope="col">Gate</th>
                    <th scope="col"><span className="visually-hidden">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  {data.models.versions.map((v) => (
                    <tr key={v.version} data-testid="version-row">
                      <td><strong>{v.version}</strong></td>
                      <td>{v.parent ?? "base"}</td>
                      <td className="small">{when(v.created_at)}</td>
                      <td><StatusBadge status={v.status} /></td>
                      <Metric version={v} name="mrr@10" />
                      <Metric version={v} name="accuracy@5" />
                      <td title={v.gate?.reason ?? ""}>
                        {v.gate?.verdict ? <StatusBadge status={v.gate.verdict} /> : "—"}
                        {v.gate?.reason ? <div className="small muted gate-reason">{v.gate.reason}</div> : null}
                        {v.gate?.evaluation_set ? (
                          <div className="small muted" data-testid="judged-on">
                            judged on {v.gate.questions ?? v.gate.evaluation_set.questions} questions
                            {v.gate.wins != null ? ` (won ${v.gate.wins}, lost ${v.gate.losses})` : ""} ·{" "}
                            {v.gate.evaluation_set.fingerprint === data.models.evaluation?.fingerprint
                              ? "the set as it is now"
                              : "an earlier state of the set"}
                          </div>
                        ) : null}
                      </td>
                      <td className="actions">
                        <button type="button" className="small" onClick={() => setShowReport(v)}>Report</button>
                        {v.version !== serving?.version ? (
                          <button type="button" className="small" disabled={busy || !!data.models.pending} onClick={() => void act(`/api/admin/models/${encodeURIComponent(v.version)}/promote`)}>
                            Promote
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          {showReport ? <ReportPanel version={showReport} token={token} onClose={() => setShowReport(null)} /> : null}
        </>
      ) : null}
    </>
  );
}
