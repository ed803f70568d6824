import Thumb from "../lib/Thumb";
import { useState } from "react";
import { ApiError, errorFrom, errorText, headersFor } from "../lib/api";
import type { components } from "../lib/api-schema";
import type { FeedbackStats, Mark, Verdict } from "../lib/types";
import type { AdminCall } from "./session";
import { ErrorBox, when } from "./ui";
import { usePolling } from "./usePolling";

export async function fetchExport(token: string): Promise<string> {
  const response = await fetch("/api/feedback/export", { headers: headersFor(token) });
  if (!response.ok) throw await errorFrom(response);
  return response.text();
}

/** The same numbers as `/api/admin/feedback/stats`, from the JSONL export (servers without that route). */
export function statsFromExport(jsonl: string, latest = 20): FeedbackStats {
  const rows = jsonl
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as { message_id: string; question: string; verdict: Verdict | null; comment: string | null; voted_at: string; sources: Record<string, Mark> });
  const days = new Map<string, { day: string; likes: number; dislikes: number }>();
  for (const row of rows) {
    const day = (row.voted_at ?? "").slice(0, 10);
    const entry = days.get(day) ?? { day, likes: 0, dislikes: 0 };
    if (row.verdict === "like") entry.likes += 1;
    if (row.verdict === "dislike") entry.dislikes += 1;
    days.set(day, entry);
  }
  return {
    total: rows.length,
    likes: rows.filter((r) => r.verdict === "like").length,
    dislikes: rows.filter((r) => r.verdict === "dislike").length,
    by_day: [...days.values()].sort((a, b) => a.day.localeCompare(b.day)),
    latest: [...rows].sort((a, b) => b.voted_at.localeCompare(a.voted_at)).slice(0, latest),
  };
}

export function DayChart({ days }: { days: FeedbackStats["by_day"] }) {
  const recent = days.slice(-30);
  const max = Math.max(1, ...recent.map((d) => d.likes + d.dislikes));
  if (recent.length === 0) return <p className="muted">No ratings yet.</p>;
  return (
    <figure className="day-chart">
      <div className="bars" role="img" aria-label={`Ratings per day over the last ${recent.length} days with ratings`}>
        {recent.map((d) => (
          <div key={d.day} className="bar-col" title={`${d.day}: ${d.likes} likes, ${d.dislikes} dislikes`}>
            <div className="bar bar-dislike" style={{ height: `${(d.dislikes / max) * 100}%` }} />
            <div className="bar bar-like" style={{ height: `${(d.likes / max) * 100}%` }} />
            <span className="bar-label">{d.day.slice(5)}</span>
          </div>
        ))}
      </div>
      <figcaption className="small muted">
        <span className="swatch like" /> likes <span className="swatch dislike" /> dislikes, per day
      </figcaption>
    </figure>
  );
}

type ReferenceAdded = components["schemas"]["ReferenceAdded"];

/** Whether a rated row can become a reference answer: the server takes a liked answer that has a comment. */
export function canBeReference(row: { verdict: Verdict | null; comment?: string | null }): boolean {
  return row.verdict === "like" && Boolean(row.comment?.trim());
}

/** "Use as reference answer": keeps the liked answer in the frozen evaluation set, and says what was kept. */
export function ReferenceButton({ call, messageId }: { call: AdminCall; messageId: string }) {
  const [busy, setBusy] = useState(false);
  const [kept, setKept] = useState<ReferenceAdded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const promote = async () => {
    setBusy(true);
    setError(null);
    try {
      setKept(await call<ReferenceAdded>("/api/admin/evaluation/references", { body: { message_id: messageId } }));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="reference" data-testid="reference">
      <button type="button" onClick={() => void promote()} disabled={busy}>
        {busy ? "Keeping…" : kept ? "Update reference answer" : "Use as reference answer"}
      </button>
      {kept ? (
        <p className="note small" role="status">
          Kept as the reference answer of this question, {kept.added ? "added to" : "updated in"} the evaluation set (
          {kept.relevant.length} relevant {kept.relevant.length === 1 ? "chunk" : "chunks"}): “{kept.reference_answer}”
        </p>
      ) : null}
      {error ? <p className="error small" role="alert">{error}</p> : null}
    </div>
  );
}

export default function FeedbackPage({ call, token }: { call: AdminCall; token: string }) {
  const [note, setNote] = useState<string | null>(null);
  const [exportError, setExportError] = useState<string | null>(null);
  const stats = usePolling(async () => {
    try {
      const result = await call<FeedbackStats>("/api/admin/feedback/stats");
      setNote(null);
      return result;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
      // an older server: count the export instead, and say so
      setNote(`The stats route answered: “${err.message}” — these numbers are counted from the export instead.`);
      return statsFromExport(await fetchExport(token));
    }
  }, () => false);

  const download = async () => {
    setExportError(null);
    try {
      const text = await fetchExport(token);
      const url = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = "feedback.jsonl";
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) {
      setExportError(errorText(err));
    }
  };

  const s = stats.data;
  return (
    <>
      <div className="row">
        <button type="button" onClick={() => void stats.refresh()}>Refresh</button>
        <button type="button" className="primary" onClick={() => void download()}>
          Export feedback (JSONL)
        </button>
      </div>
      <ErrorBox error={stats.error ?? exportError} onRetry={() => void stats.refresh()} />
      {note ? <p className="note small">{note}</p> : null}
      {s ? (
        <>
          <div className="stat-cards">
            <div className="card stat"><span className="stat-value" data-testid="stat-total">{s.total}</span> ratings</div>
            <div className="card stat"><span className="stat-value">{s.likes}</span> likes</div>
            <div className="card stat"><span className="stat-value">{s.dislikes}</span> dislikes</div>
          </div>
          <DayChart days={s.by_day} />
          <h2>Latest rated messages</h2>
          {s.latest.length === 0 ? <p className="muted">Nothing rated yet.</p> : null}
          <ul className="latest">
            {s.latest.map((row) => {
              const marks = Object.entries(row.sources ?? {});
              return (
                <li key={`${row.message_id}-${row.voted_at}`} className="card" data-testid="latest-rating">
                  <div className="row">
                    <strong>{row.question}</strong>
                    <span className="verdict" aria-label={row.verdict ?? "no verdict"}>{row.verdict ? <Thumb down={row.verdict === "dislike"} /> : "—"}</span>
                  </div>
                  {row.comment ? <p className="comment-text">“{row.comment}”</p> : null}
                  {canBeReference(row) ? <ReferenceButton call={call} messageId={row.message_id} /> : null}
                  <p className="small muted">
                    {when(row.voted_at)} ·{" "}
                    {marks.length === 0
                      ? "no sources marked"
                      : marks.map(([chunk, mark]) => (
                          <span key={chunk} className={`mark mark-${mark}`} title={chunk}>
                            {mark === "relevant" ? "helped" : "did not help"}: <code>{chunk.slice(0, 10)}</code>
                          </span>
                        ))}
                  </p>
                </li>
              );
            })}
          </ul>
        </>
      ) : null}
    </>
  );
}
