import type { Progress } from "../lib/types";

export function ProgressBar({ progress, label }: { progress: Progress | null | undefined; label: string }) {
  // a sync job's progress has done/total but no percent
  const fallback = progress?.total ? (100 * (progress.done ?? 0)) / progress.total : 0;
  const percent = Math.max(0, Math.min(100, Math.round(progress?.percent ?? fallback)));
  const counts = progress?.total ? `${progress.done ?? 0}/${progress.total}` : "";
  return (
    <div className="progress-wrap">
      <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <span className="progress-text">
        {percent}% {counts} {progress?.message ?? ""}
      </span>
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: string | null; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      <span>{error}</span>
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status.toLowerCase()}`}>{status.replace(/_/g, " ")}</span>;
}
