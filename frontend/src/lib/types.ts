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
