// Sync sources: everything a team keeps (uploaded sets, folders, web roots, git repositories), each kept in sync.
import { useEffect, useMemo, useRef, useState } from "react";
import { errorText, splitList, syncSourcesApi } from "../lib/api";
import {
  SCHEDULES,
  WEB_MODES,
  type Job,
  type NewSourceKind,
  type NewSyncSource,
  type Schedule,
  type SyncReport,
  type SyncSource,
  type SyncStarted,
  type WebMode,
} from "../lib/types";
import type { AdminCall } from "./session";
import { ErrorBox, ProgressBar, StatusBadge, when } from "./ui";
import { usePolling } from "./usePolling";

const ACTIVE_JOB = ["queued", "running"];
const jobActive = (status: string | undefined) => status !== undefined && ACTIVE_JOB.includes(status);

export const isSyncing = (source: SyncSource) => source.status === "syncing" || jobActive(source.job?.status);

/** Uploaded sets have nothing upstream to fetch again: no schedule, no "Sync now". */
export const canSync = (source: SyncSource) => source.kind !== "upload";

const plural = (count: number, one: string) => `${count} ${one}${count === 1 ? "" : "s"}`;

/** "3 added, 1 updated, 40 unchanged, 12 chunks embedded", or "nothing changed". */
export function reportSummary(report: SyncReport): string {
  const parts = (["added", "updated", "unchanged", "removed"] as const).filter((key) => report[key]).map((key) => `${report[key]} ${key}`);
  if (report.chunks_embedded) parts.push(`${plural(report.chunks_embedded, "chunk")} embedded`);
  return parts.length ? parts.join(", ") : "nothing changed";
}

/** "crawl, depth 2, up to 200 pages" or "branch main, include docs/**": what a source was told to fetch. */
export function optionsSummary(source: SyncSource): string {
  const o = source.options;
  const parts: string[] = [];
  if (source.kind === "web") {
    if (o.mode) parts.push(o.mode === "auto" ? "auto-detected" : o.mode === "page" ? "one page" : o.mode);
    if (o.mode !== "page" && o.max_depth != null && o.mode !== "sitemap") parts.push(`depth ${o.max_depth}`);
    if (o.mode !== "page" && o.max_pages != null) parts.push(`up to ${plural(o.max_pages, "page")}`);
  } else if (source.kind === "git") {
    parts.push(o.branch ? `branch ${o.branch}` : "default branch");
    if (o.include?.length) parts.push(`include ${o.include.join(", ")}`);
    if (o.exclude?.length) parts.push(`exclude ${o.exclude.join(", ")}`);
  }
  return parts.join(" · ");
}

const KIND_NAMES: Record<NewSourceKind, { choice: string; location: string; placeholder: string }> = {
  web: { choice: "A web page, sitemap or site", location: "URL", placeholder: "https://docs.example.com/" },
  git: { choice: "A git repository", location: "Repository URL", placeholder: "https://github.com/example/handbook.git" },
};

/** What the form offers: a folder on the server is added there, with `docstune ingest PATH`, by someone who may read it. */
const OFFERED_KINDS: NewSourceKind[] = ["web", "git"];

const MODE_NAMES: Record<WebMode, string> = {
  auto: "Detect (a sitemap, else the page)",
  page: "This page only",
  sitemap: "Every page of a sitemap",
  crawl: "Crawl links from this page",
};

/** The body of POST /api/admin/sources from what the form holds; empty fields are left to the server's defaults. */
export function newSourceBody(form: {
  kind: NewSourceKind;
  location: string;
  name: string;
  schedule: Schedule;
  mode: WebMode;
  maxDepth: string;
  maxPages: string;
  branch: string;
  include: string;
  exclude: string;
}): NewSyncSource {
  const body: NewSyncSource = { kind: form.kind, location: form.location.trim(), schedule: form.schedule };
  if (form.name.trim()) body.name = form.name.trim();
  if (form.kind === "web") {
    body.options = {
      mode: form.mode,
      ...(form.maxDepth.trim() ? { max_depth: Number(form.maxDepth) } : {}),
      ...(form.maxPages.trim() ? { max_pages: Number(form.maxPages) } : {}),
    };
  } else if (form.kind === "git") {
    body.options = { branch: form.branch.trim() || null, include: splitList(form.include), exclude: splitList(form.exclude) };
  }
  return body;
}

function AddSourceForm({ call, onAdded }: { call: AdminCall; onAdded: (started: SyncStarted) => void }) {
  const [kind, setKind] = useState<NewSourceKind>("web");
  const [location, setLocation] = useState("");
  const [name, setName] = useState("");
  const [schedule, setSchedule] = useState<Schedule>("daily");
  const [mode, setMode] = useState<WebMode>("auto");
  const [maxDepth, setMaxDepth] = useState("");
  const [maxPages, setMaxPages] = useState("");
  const [branch, setBranch] = useState("");
  const [include, setInclude] = useState("");
  const [exclude, setExclude] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const api = useMemo(() => syncSourcesApi(call), [call]);
  const names = KIND_NAMES[kind];

  return (
    <form
      className="card"
      style={{ marginTop: "0.8rem" }}
      aria-label="Add a source"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(null);
        try {
          const started = await api.create(
            newSourceBody({ kind, location, name, schedule, mode, maxDepth, maxPages, branch, include, exclude }),
          );
          setLocation("");
          setName("");
          setBranch("");
          setInclude("");
          setExclude("");
          onAdded(started);
        } catch (err) {
          setError(errorText(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Add a source</h2>
      <p className="muted small">
        A source is fetched now and then again on its schedule: new and changed documents are indexed, and documents
        gone upstream are removed after a grace period. A folder on the server is added there, with{" "}
        <code>docstune ingest PATH</code>.
      </p>
      <div className="form-grid">
        <label htmlFor="source-kind">What to add</label>
        <select id="source-kind" value={kind} onChange={(e) => setKind(e.target.value as NewSourceKind)}>
          {OFFERED_KINDS.map((k) => (
            <option key={k} value={k}>{KIND_NAMES[k].choice}</option>
          ))}
        </select>
        <label htmlFor="source-location">{names.location}</label>
        <input
          id="source-location"
          className="mono"
          inputMode="url"
          autoComplete="off"
          required
          value={location}
          placeholder={names.placeholder}
          onChange={(e) => setLocation(e.target.value)}
        />
        {kind === "web" ? (
          <>
            <label htmlFor="source-mode">Mode</label>
            <select id="source-mode" value={mode} onChange={(e) => setMode(e.target.value as WebMode)}>
              {WEB_MODES.map((m) => (
                <option key={m} value={m}>{MODE_NAMES[m]}</option>
              ))}
            </select>
            {mode === "crawl" || mode === "auto" ? (
              <>
                <label htmlFor="source-max-depth">Max depth</label>
                <input id="source-max-depth" type="number" min={0} step={1} value={maxDepth} placeholder="server default" onChange={(e) => setMaxDepth(e.target.value)} />
              </>
            ) : null}
            {mode !== "page" ? (
              <>
                <label htmlFor="source-max-pages">Max pages</label>
                <input id="source-max-pages" type="number" min={1} step={1} value={maxPages} placeholder="server default" onChange={(e) => setMaxPages(e.target.value)} />
              </>
            ) : null}
          </>
        ) : null}
        {kind === "git" ? (
          <>
            <label htmlFor="source-branch">Branch</label>
            <input id="source-branch" className="mono" value={branch} placeholder="the default branch" onChange={(e) => setBranch(e.target.value)} />
            <label htmlFor="source-include">Include</label>
            <textarea id="source-include" className="mono" rows={2} value={include} placeholder="docs/**, README.md" onChange={(e) => setInclude(e.target.value)} />
            <label htmlFor="source-exclude">Exclude</label>
            <textarea id="source-exclude" className="mono" rows={2} value={exclude} placeholder="**/changelog/**" onChange={(e) => setExclude(e.target.value)} />
            <span />
            <span className="muted small">Globs, comma or newline separated; no include: every supported file.</span>
          </>
        ) : null}
        <label htmlFor="source-name">Name <span className="muted small">(optional)</span></label>
        <input id="source-name" value={name} maxLength={200} placeholder="from the location" onChange={(e) => setName(e.target.value)} />
        <label htmlFor="source-schedule">Schedule</label>
        <select id="source-schedule" value={schedule} onChange={(e) => setSchedule(e.target.value as Schedule)}>
          {SCHEDULES.map((s) => (
            <option key={s} value={s}>{s}</option>
          ))}
        </select>
      </div>
      {error ? <p className="error-inline" role="alert">{error}</p> : null}
      <button type="submit" className="primary" disabled={!location.trim() || busy}>Add source</button>
    </form>
  );
}

function ReportDetails({ report }: { report: SyncReport }) {
  const failed = report.failed ?? [];
  const skipped = report.skipped ?? [];
  return (
    <div className="small">
      <span className="muted">Last sync: {reportSummary(report)}.</span>
      {failed.length + skipped.length > 0 ? (
        <details className={`sync-report${failed.length ? " has-failed" : ""}`}>
          <summary>{[failed.length ? `${failed.length} failed` : "", skipped.length ? `${skipped.length} skipped` : ""].filter(Boolean).join(", ")}</summary>
          <ul>
            {failed.map((f, i) => (
              <li key={`f${i}`} className="error-inline"><span className="mono">{f.path}</span>: {f.reason}</li>
            ))}
            {skipped.map((s, i) => (
              <li key={`s${i}`} className="muted"><span className="mono">{s.path}</span>: {s.reason}</li>
            ))}
          </ul>
        </details>
      ) : null}
    </div>
  );
}

interface SourceCardProps {
  source: SyncSource;
  /** the schedule just picked, shown until the server has it */
  schedule: Schedule;
  followedJob: Job | undefined;
  busy: boolean;
  error: string | null;
  confirming: boolean;
  onSync: () => void;
  onSchedule: (schedule: Schedule) => void;
  onAskDelete: () => void;
  onCancelDelete: () => void;
  onDelete: () => void;
}

function SourceCard({ source: s, schedule, followedJob, busy, error, confirming, onSync, onSchedule, onAskDelete, onCancelDelete, onDelete }: SourceCardProps) {
  const syncing = isSyncing(s) || jobActive(followedJob?.status);
  const progress = (jobActive(s.job?.status) ? s.job?.progress : undefined) ?? followedJob?.progress ?? s.job?.progress;
  // a job that failed before the source row learnt of it (a repository that does not exist)
  const lastError = s.last_error ?? (followedJob?.status === "failed" && s.status !== "ok" ? followedJob.error : null);
  const options = optionsSummary(s);
  return (
    <li className="card sync-source" data-testid="sync-source" data-source-id={s.id}>
      <div className="row">
        <div className="sync-source-name">
          <span className={`kind-badge kind-${s.kind}`}>{s.kind}</span> <strong>{s.name}</strong>{" "}
          <StatusBadge status={syncing ? "syncing" : s.status} />
        </div>
        <div className="actions">
          {canSync(s) ? (
            <button type="button" className="small" disabled={busy || syncing} onClick={onSync} aria-label={`Sync ${s.name} now`}>
              Sync now
            </button>
          ) : null}{" "}
          {confirming ? (
            <span role="group" aria-label={`Confirm deleting ${s.name}`}>
              <span className="small">Its {plural(s.document_count, "document")} and their chunks go too. </span>
              <button type="button" className="danger small" disabled={busy} onClick={onDelete}>Yes, delete</button>{" "}
              <button type="button" className="small" disabled={busy} onClick={onCancelDelete}>Keep it</button>
            </span>
          ) : (
            <button
              type="button"
              className="danger small"
              disabled={busy || syncing}
              title={syncing ? "Wait for the sync to finish (or cancel its job) first" : undefined}
              onClick={onAskDelete}
              aria-label={`Delete source ${s.name}`}
            >
              Delete
            </button>
          )}
        </div>
      </div>
      <div className="mono small sync-location">{s.location}</div>
      {options ? <div className="muted small">{options}</div> : null}
      <div className="sync-facts small">
        <span data-testid="document-count">{plural(s.document_count, "document")}</span>
        <span>{plural(s.chunk_count, "chunk")}</span>
        {s.missing_count ? (
          <span className="missing" data-testid="missing-count" title="Gone upstream; removed when the grace period ends">
            {s.missing_count} missing upstream
          </span>
        ) : null}
        <span>{s.last_sync_at ? `synced ${when(s.last_sync_at)}` : "never synced"}</span>
        {s.schedule !== "never" && s.next_sync_at ? <span>next {when(s.next_sync_at)}</span> : null}
        {canSync(s) ? (
          <span className="check">
            schedule
            <select aria-label={`Schedule for ${s.name}`} value={schedule} disabled={busy} onChange={(e) => onSchedule(e.target.value as Schedule)}>
              {SCHEDULES.map((value) => (
                <option key={value} value={value}>{value}</option>
              ))}
            </select>
          </span>
        ) : null}
      </div>
      {syncing ? <ProgressBar progress={progress} label={`Syncing ${s.name}`} /> : null}
      {!syncing && lastError ? <p className="error-inline">{lastError}</p> : null}
      {!syncing && s.last_report ? <ReportDetails report={s.last_report} /> : null}
      {error ? <p className="error-inline" role="alert">{error}</p> : null}
    </li>
  );
}

interface SourcesProps {
  call: AdminCall;
  /** bumped by the page when something else (an upload) may have changed the sources */
  refreshSignal?: number;
  /** a sync finished or a source was deleted: the document list changed */
  onDocumentsChanged?: () => void;
  /** how often to look again while something syncs */
  pollMs?: number;
}

export default function Sources({ call, refreshSignal = 0, onDocumentsChanged, pollMs = 1000 }: SourcesProps) {
  const api = useMemo(() => syncSourcesApi(call), [call]);
  // the sync jobs started from this page, by source id, and their latest state, by job id
  const following = useRef(new Map<string, string>());
  const jobs = useRef(new Map<string, Job>());
  const wasSyncing = useRef(new Set<string>());
  const changed = useRef(onDocumentsChanged);
  changed.current = onDocumentsChanged;

  const openJobs = () => [...following.current.values()].filter((id) => !jobs.current.has(id) || jobActive(jobs.current.get(id)?.status));

  const list = usePolling(
    async () => {
      const pending = openJobs();
      const [sources, fetched] = await Promise.all([
        api.list(),
        Promise.all(pending.map((id) => api.job(id).catch(() => null))),
      ]);
      let finished = false;
      fetched.forEach((job, i) => {
        if (job) jobs.current.set(pending[i], job);
        // a job the server no longer knows: stop following it
        else following.current.forEach((jobId, sourceId) => jobId === pending[i] && following.current.delete(sourceId));
        if (!job || !jobActive(job.status)) finished = true;
      });
      const syncingNow = new Set(sources.filter(isSyncing).map((s) => s.id));
      if ([...wasSyncing.current].some((id) => !syncingNow.has(id))) finished = true;
      wasSyncing.current = syncingNow;
      if (finished) changed.current?.();
      return sources;
    },
    (data) => !!data?.some(isSyncing) || openJobs().length > 0,
    pollMs,
  );

  const [busy, setBusy] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [confirming, setConfirming] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [pickedSchedule, setPickedSchedule] = useState<Record<string, Schedule>>({});

  const first = useRef(true);
  const { refresh } = list;
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    void refresh();
  }, [refreshSignal, refresh]);

  const follow = (started: SyncStarted) => {
    following.current.set(started.source.id, started.job_id);
    jobs.current.delete(started.job_id);
  };

  const act = async (source: SyncSource, action: () => Promise<void>) => {
    setBusy(source.id);
    setErrors(({ [source.id]: _gone, ...rest }) => rest);
    setNotice(null);
    try {
      await action();
    } catch (err) {
      setErrors((all) => ({ ...all, [source.id]: errorText(err) }));
    } finally {
      await refresh();
      setBusy(null);
    }
  };

  const sources = list.data ?? [];
  return (
    <>
      <AddSourceForm
        call={call}
        onAdded={(started) => {
          follow(started);
          setNotice(`Added ${started.source.name}; its first sync has started.`);
          void list.refresh();
        }}
      />
      <h2>Sources</h2>
      <ErrorBox error={list.error} onRetry={() => void list.refresh()} />
      {notice ? <p className="small" role="status">{notice}</p> : null}
      {list.loaded && !list.error && sources.length === 0 ? (
        <p className="muted">No sources yet: upload files above, or add a web site or a git repository.</p>
      ) : null}
      {sources.length > 0 ? (
        <ul className="sync-sources" aria-label="Sources">
          {sources.map((s) => (
            <SourceCard
              key={s.id}
              source={s}
              schedule={pickedSchedule[s.id] ?? s.schedule}
              followedJob={jobs.current.get(following.current.get(s.id) ?? "")}
              busy={busy === s.id}
              error={errors[s.id] ?? null}
              confirming={confirming === s.id}
              onSync={() => void act(s, async () => follow(await api.sync(s.id)))}
              onSchedule={(schedule) => {
                setPickedSchedule((all) => ({ ...all, [s.id]: schedule }));
                void act(s, async () => void (await api.update(s.id, { schedule }))).then(() =>
                  setPickedSchedule(({ [s.id]: _saved, ...rest }) => rest),
                );
              }}
              onAskDelete={() => setConfirming(s.id)}
              onCancelDelete={() => setConfirming(null)}
              onDelete={() =>
                void act(s, async () => {
                  const removed = await api.remove(s.id);
                  setConfirming(null);
                  following.current.delete(s.id);
                  setNotice(`Deleted ${s.name} and its ${plural(removed.documents, "document")}.`);
                  changed.current?.();
                })
              }
            />
          ))}
        </ul>
      ) : null}
    </>
  );
}
