import { useEffect, useRef, useState, type DragEvent } from "react";
import { errorFrom, errorText, headersFor } from "../lib/api";
import { UPLOAD_EXTENSIONS, type DocumentSource, type TaskStatus } from "../lib/types";
import type { AdminCall } from "./session";
import Sources from "./Sources";
import { ErrorBox, ProgressBar, StatusBadge, when } from "./ui";
import { usePolling } from "./usePolling";

/** What an upload may hold: what the parsers in application/ingest read (SUPPORTED_EXTENSIONS), as the
 * server's description lists it. */
export const ACCEPTED_FILE_TYPES: readonly string[] = UPLOAD_EXTENSIONS;

interface Upload {
  taskId: string;
  files: string[];
  status: TaskStatus | null;
  error: string | null;
}

export async function uploadFiles(files: File[], token: string): Promise<{ task_id: string; job_id?: string; files: string[] }> {
  const form = new FormData();
  files.forEach((file) => form.append("file", file, file.name));
  const response = await fetch("/api/upload", { method: "POST", headers: headersFor(token), body: form });
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

function resultSummary(result: unknown): string {
  if (!result || typeof result !== "object") return "";
  const r = result as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ["added", "updated", "unchanged", "failed", "skipped"]) {
    const value = r[key];
    const count = Array.isArray(value) ? value.length : typeof value === "number" ? value : 0;
    if (count) parts.push(`${count} ${key}`);
  }
  return parts.join(", ");
}

export default function Documents({ call, token }: { call: AdminCall; token: string }) {
  const list = usePolling(() => call<DocumentSource[]>("/api/sources"), () => false);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [deleting, setDeleting] = useState<string | null>(null);
  // an upload lands in an upload source: the sources list reloads when one finishes
  const [sourcesChanged, setSourcesChanged] = useState(0);
  const fileInput = useRef<HTMLInputElement>(null);
  const running = uploads.some((u) => !u.error && u.status?.status !== "SUCCESS" && u.status?.status !== "FAILURE");

  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(async () => {
      for (const upload of uploads) {
        if (upload.error || upload.status?.status === "SUCCESS" || upload.status?.status === "FAILURE") continue;
        try {
          const status = await call<TaskStatus>(`/api/task_status?task_id=${encodeURIComponent(upload.taskId)}`);
          setUploads((all) => all.map((u) => (u.taskId === upload.taskId ? { ...u, status } : u)));
          if (status.status === "SUCCESS" || status.status === "FAILURE") {
            void list.refresh();
            setSourcesChanged((n) => n + 1);
          }
        } catch (err) {
          setUploads((all) => all.map((u) => (u.taskId === upload.taskId ? { ...u, error: errorText(err) } : u)));
        }
      }
    }, 700);
    return () => window.clearInterval(timer);
  }, [running, uploads, call, list]);

  const send = async (files: File[]) => {
    if (files.length === 0) return;
    setUploadError(null);
    try {
      const reply = await uploadFiles(files, token);
      setUploads((all) => [{ taskId: reply.task_id, files: reply.files, status: null, error: null }, ...all]);
    } catch (err) {
      setUploadError(errorText(err));
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    void send(Array.from(event.dataTransfer.files));
  };

  const remove = async (source: DocumentSource) => {
    setDeleting(source.id);
    try {
      await call(`/api/sources/${encodeURIComponent(source.id)}`, { method: "DELETE" });
    } catch (err) {
      setUploadError(errorText(err));
    } finally {
      setDeleting(null);
      void list.refresh();
      setSourcesChanged((n) => n + 1);
    }
  };

  return (
    <>
      <section
        className={`dropzone${dragging ? " dragging" : ""}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        aria-label="Upload documents"
      >
        <p>Drop files here, several at once, or</p>
        <label className="button primary" htmlFor="upload-input">
          Choose files
        </label>
        <input
          id="upload-input"
          ref={fileInput}
          className="visually-hidden"
          type="file"
          multiple
          accept={ACCEPTED_FILE_TYPES.join(",")}
          onChange={(event) => {
            void send(Array.from(event.target.files ?? []));
            event.target.value = "";
          }}
        />
        <p className="muted small accepted">{ACCEPTED_FILE_TYPES.join(" ")}</p>
      </section>
      <ErrorBox error={uploadError} />
      {uploads.length > 0 ? (
        <ul className="uploads" aria-label="Uploads">
          {uploads.map((u) => (
            <li key={u.taskId} className="card" data-testid="upload">
              <div className="row">
                <strong>{u.files.join(", ")}</strong>
                <StatusBadge status={u.error ? "FAILURE" : (u.status?.status ?? "PENDING")} />
              </div>
              {u.status?.status === "SUCCESS" ? (
                <p className="muted small">Ingested. {resultSummary(u.status.result)}</p>
              ) : u.status?.status === "FAILURE" || u.error ? (
                <p className="error-inline">{u.error ?? u.status?.error}</p>
              ) : (
                <ProgressBar progress={u.status?.progress} label={`Ingesting ${u.files.join(", ")}`} />
              )}
            </li>
          ))}
        </ul>
      ) : null}
      <Sources call={call} refreshSignal={sourcesChanged} onDocumentsChanged={() => void list.refresh()} />
      <h2>Documents</h2>
      <ErrorBox error={list.error} onRetry={() => void list.refresh()} />
      {list.data && list.data.length === 0 ? <p className="muted">No documents yet: upload some above.</p> : null}
      {list.data && list.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Title</th>
                <th scope="col">Location</th>
                <th scope="col" className="num">Chunks</th>
                <th scope="col">Added</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((s) => (
                <tr key={s.id} data-testid="document-row">
                  <td>{s.title || "—"}</td>
                  <td className="small">
                    <span className="mono">{s.uri}</span>
                    {s.origin && s.origin !== s.uri ? <div className="mono muted">{s.origin}</div> : null}
                    {s.missing_since ? (
                      <div className="missing" title="Removed when the grace period ends, unless it comes back">
                        missing upstream since {when(s.missing_since)}
                      </div>
                    ) : null}
                  </td>
                  <td className="num">{s.chunk_count}</td>
                  <td className="small">{when(s.created_at)}</td>
                  <td>
                    <button type="button" className="danger small" disabled={deleting === s.id} onClick={() => void remove(s)} aria-label={`Delete ${s.title || s.uri}`}>
                      Delete
                    </button>
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
