// Shapes of the API's JSON (see docs/api.md).

export interface Source {
  chunk_id: string;
  n: number;
  rank: number;
  score: number;
  title: string | null;
  source: string | null;
  page: number | null;
  text: string;
  /** the heading path below the document title, outermost first (absent in answers stored before it existed) */
  headings?: string[] | null;
  /** where in the document, beyond the page: "slide 3", "sheet Sales, rows 2–41", "page 3 (OCR)" */
  location?: string | null;
  cited?: boolean;
  shown?: boolean;
}

export type Verdict = "like" | "dislike";
export type Mark = "relevant" | "irrelevant";

export interface Rating {
  feedback: Verdict | null;
  sources: Record<string, Mark>;
  comment: string | null;
}

export interface StoredMessage {
  id: string;
  question: string;
  answer: string | null;
  status: string;
  error: string | null;
  sources: Source[];
  feedback: Rating | null;
}

export interface ConversationSummary {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
  message_count: number;
}

export interface Conversation {
  id: string;
  name: string;
  messages: StoredMessage[];
}

export interface DocumentSource {
  id: string;
  uri: string;
  title: string | null;
  kind: string;
  size_bytes: number | null;
  chunk_count: number;
  created_at: string | null;
  /** the sync source (GET /api/admin/sources) it came from */
  sync_source_id?: string | null;
  /** when it disappeared upstream; it is removed after the grace period */
  missing_since?: string | null;
  /** where upstream: "docs/install.md @ 1a2b3c4" or a URL */
  origin?: string | null;
}

export const SOURCE_KINDS = ["upload", "file", "folder", "web", "git"] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];
/** The kinds `POST /api/admin/sources` adds (uploads come from `POST /api/upload`). */
export type NewSourceKind = "web" | "git" | "folder";
export const SCHEDULES = ["never", "hourly", "daily", "weekly"] as const;
export type Schedule = (typeof SCHEDULES)[number];
export type SyncStatus = "new" | "syncing" | "ok" | "partial" | "failed";
export const WEB_MODES = ["auto", "page", "sitemap", "crawl"] as const;
export type WebMode = (typeof WEB_MODES)[number];

export interface WebOptions {
  mode: WebMode;
  max_depth: number;
  max_pages: number;
}

export interface GitOptions {
  branch: string | null;
  include: string[];
  exclude: string[];
}

/** A file the last sync could not read, or chose not to. */
export interface SyncPathNote {
  path: string;
  reason: string;
}

export interface SyncReport {
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
  chunks_embedded: number;
  failed: SyncPathNote[];
  skipped: SyncPathNote[];
}

/** A source's sync job as the sources list carries it. */
export interface SyncJob {
  id: string;
  status: string;
  progress: Progress;
}

/** Something kept in sync (GET /api/admin/sources): a folder, an uploaded set, a web root, a git repository. */
export interface SyncSource {
  id: string;
  kind: SourceKind;
  name: string;
  location: string; // credentials already hidden by the server
  schedule: Schedule;
  status: SyncStatus;
  options: Partial<WebOptions & GitOptions>; // web: mode, max_depth, max_pages; git: branch, include, exclude
  document_count: number;
  chunk_count: number;
  missing_count: number; // documents gone upstream, kept until the grace period ends
  last_sync_at: string | null;
  next_sync_at: string | null;
  last_error: string | null;
  last_report: SyncReport | null;
  created_at: string;
  job: SyncJob | null;
}

/** POST /api/admin/sources's body. */
export interface NewSyncSource {
  kind: NewSourceKind;
  location: string;
  name?: string;
  schedule?: Schedule;
  options?: Partial<WebOptions> | Partial<GitOptions>;
}

/** POST /api/admin/sources and POST /api/admin/sources/<id>/sync answer 202 with this: the first or next sync runs. */
export interface SyncStarted {
  source: SyncSource;
  job_id: string;
}

/** DELETE /api/admin/sources/<id>: the source and its documents, chunks and vectors are gone. */
export interface SyncSourceDeleted {
  id: string;
  documents: number;
}

export interface Progress {
  done?: number;
  total?: number;
  percent?: number;
  message?: string | null;
}

export interface TaskStatus {
  task_id: string;
  status: "PENDING" | "PROGRESS" | "SUCCESS" | "FAILURE";
  progress: Progress | null;
  result: unknown;
  error: string | null;
}

export type JobStatus = "queued" | "running" | "done" | "failed" | "cancelled";

export interface Job {
  id: string;
  kind: string;
  status: JobStatus;
  progress: Progress | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  result: unknown;
  params: unknown;
}

export type Metrics = Record<string, number>;

export interface ModelVersion {
  version: string;
  parent: string | null;
  created_at: string | null;
  status: string;
  gate: {
    verdict: string;
    reason?: string;
    questions?: number | null;
    interval?: [number, number] | null;
    wins?: number | null;
    losses?: number | null;
    evaluation_set?: { questions: number; fingerprint: string } | null;
  } | null;
  metrics: { candidate?: Metrics; baseline?: Metrics } | null;
  report_url?: string | null;
  plot_url?: string | null;
  model_path?: string | null;
  fingerprint?: string | null;
}

/** The pipeline around the serving model: the retrieval settings, the weight and where it came from. */
export interface ServingRetrieval {
  mode: string;
  method: string;
  weight: number;
  normalise: string;
  weight_source: "FUSION_WEIGHT" | "fitted" | "default";
  weight_detail: string;
  running: string;
  lexical_version?: string | null;
  lexical_ready?: boolean;
}

export interface ServingModel {
  version: string | null;
  model_name: string;
  fingerprint: string;
  collection?: string;
  dimension?: number;
  retrieval?: ServingRetrieval;
}

/** The frozen evaluation set and the serving pipeline's latest score on it. */
export interface EvaluationSummary {
  questions: number;
  fingerprint: string;
  feedback: number;
  import: number;
  serving: {
    questions: number;
    set_fingerprint: string;
    metrics: Metrics;
    created_at: string | null;
    current: boolean;
    trigger: string;
  } | null;
}

export interface ModelsOverview {
  serving: ServingModel;
  evaluation?: EvaluationSummary;
  configured: Record<string, unknown> | null;
  pending: { job_id: string; version?: string | null; progress?: Progress | null } | null;
  versions: ModelVersion[];
}

export interface FeedbackStats {
  total: number;
  likes: number;
  dislikes: number;
  by_day: { day: string; likes: number; dislikes: number }[];
  latest: {
    message_id: string;
    question: string;
    verdict: Verdict | null;
    comment: string | null;
    voted_at: string;
    sources: Record<string, Mark>;
  }[];
}

/** A DocsGPT-style API key as the admin list shows it (GET /api/admin/api_keys): never the key itself. */
export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  sources: string[] | null; // the source ids it may search; null: every source
  created_at: string | null;
  last_used_at: string | null;
}

/** POST /api/admin/api_keys's answer: the only time `key` is shown. */
export interface NewApiKey extends ApiKey {
  key: string;
}
