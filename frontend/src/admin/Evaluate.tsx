// The Evaluate page: pipelines (model, retrieval mode, weight, k) answer the same questions as a job
// (POST /api/admin/answer-evaluations); the page follows the job and shows its summary, a score-against-
// latency plot and the report.
import { useEffect, useState } from "react";
import { errorFrom, errorText, headersFor } from "../lib/api";
import type { components } from "../lib/api-schema";
import { answerEvaluationConfigModeAnyOf0Values, answerEvaluationRequestReferenceValues } from "../lib/api-schema";
import type { EvaluationSummary, Job, ModelsOverview } from "../lib/types";
import { isActive } from "./Jobs";
import type { AdminCall } from "./session";
import { ErrorBox, ProgressBar, StatusBadge, when } from "./ui";
import { usePolling } from "./usePolling";

type Schemas = components["schemas"];
export type EvaluationRequest = Schemas["AnswerEvaluationRequest"];
export type PipelineSpec = Schemas["AnswerEvaluationConfig"];
type IRJson = Schemas["IRJson"];
type Reference = NonNullable<EvaluationRequest["reference"]>;
type Mode = NonNullable<PipelineSpec["mode"]>;

const MODES = answerEvaluationConfigModeAnyOf0Values.filter((mode): mode is Mode => mode !== null);
const REFERENCES = answerEvaluationRequestReferenceValues;
const REFERENCE_LABELS: Record<Reference, string> = {
  auto: "automatic (reference answers when the set has them, else the relevant chunk)",
  answers: "reference answers",
  "relevant-chunk": "the relevant chunk's text",
  none: "none (judge and faithfulness only)",
};
export const MAX_PIPELINES = 6;

// -- what the job's result holds (application.answer_eval's summary; the API types it as any) ------------
export interface ConfigResult {
  name: string;
  spec: Record<string, unknown>;
  questions: number;
  answered: number;
  errors: number;
  judged: number;
  judge_score: number | null;
  similarity: number | null;
  faithfulness: { supported_citations: number | null; unsupported_sentences: number | null; uncited_answers: number | null };
  latency: { first_token_p50: number | null; full_p50: number | null; full_p95: number | null };
  tokens: { input: number | null; output: number | null };
  cost_per_question: number | null;
  monthly_cost: number | null;
}

export interface AnswerEvaluation {
  dataset: string;
  questions: number;
  reference: string;
  similarity_method: string | null;
  judge: string | null;
  judge_note: string | null;
  traffic: { users: number; questions_per_day: number };
  interrupted: boolean;
  configs: ConfigResult[];
  report_url?: string;
}

/** One row of the pipeline editor: text fields as typed ("" = the serving pipeline's). */
export interface PipelineRow {
  name: string;
  model: string;
  mode: Mode | "";
  weight: string;
  k: number;
}

const row = (name: string, mode: Mode | "" = ""): PipelineRow => ({ name, model: "", mode, weight: "", k: 4 });
export const PRESET: PipelineRow[] = [row("serving"), row("dense", "dense"), row("hybrid", "hybrid")];

/** The request's `configs`: what a row leaves empty is left out (the server uses the serving pipeline's). */
export function specOf(r: PipelineRow): PipelineSpec {
  const spec: PipelineSpec = { name: r.name.trim(), k: r.k };
  if (r.model) spec.model = r.model;
  if (r.mode) spec.mode = r.mode;
  if (r.weight.trim() !== "" && r.mode !== "dense" && r.mode !== "lexical") spec.weight = Number(r.weight);
  return spec;
}

/** Why the rows cannot be sent, or null. */
export function rowsProblem(rows: PipelineRow[]): string | null {
  const names = rows.map((r) => r.name.trim());
  if (names.some((n) => !n)) return "Every pipeline needs a name.";
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) return `Two pipelines are named “${twice}”; names must differ.`;
  const weight = rows.find((r) => r.weight.trim() !== "" && !(Number(r.weight) >= 0 && Number(r.weight) <= 1));
  if (weight) return `The weight of “${weight.name}” must be a number from 0 to 1.`;
  return null;
}

// -- formatting --------------------------------------------------------------------------------------------
const DASH = "—";
export const score = (v: number | null | undefined) => (v === null || v === undefined ? DASH : v.toFixed(3));
export const share = (v: number | null | undefined) => (v === null || v === undefined ? DASH : `${Math.round(v * 100)}%`);
export function seconds(v: number | null | undefined): string {
  if (v === null || v === undefined) return DASH;
  return v < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(2)} s`;
}
export function usd(v: number | null | undefined): string {
  if (v === null || v === undefined) return DASH;
  if (v === 0) return "$0";
  return v < 0.01 ? `$${v.toPrecision(2)}` : `$${v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}
const tokens = (v: number | null | undefined) => (v === null || v === undefined ? DASH : Math.round(v).toLocaleString("en-US"));

/** The plotted score of a pipeline: the judge's when it judged, else the similarity. */
export function plottedScore(c: ConfigResult, judged: boolean): number | null {
  return judged ? c.judge_score : c.similarity;
}

// -- the score-against-latency plot ------------------------------------------------------------------------
const W = 560, H = 300, PAD = { left: 56, right: 24, top: 16, bottom: 44 };
const LABEL_HEIGHT = 14, CHAR_WIDTH = 7;

/** Label positions beside points (pixels), each moved down past the labels placed before it that it would overlap. */
export function placeLabels(points: { name: string; x: number; y: number }[]): { x: number; y: number }[] {
  const placed: { x: number; y: number; w: number }[] = [];
  return points.map((p) => {
    const w = p.name.length * CHAR_WIDTH;
    let y = p.y - 8;
    while (placed.some((q) => p.x + 8 < q.x + q.w && q.x < p.x + 8 + w && Math.abs(q.y - y) < LABEL_HEIGHT)) y += LABEL_HEIGHT;
    placed.push({ x: p.x + 8, y, w });
    return { x: p.x + 8, y };
  });
}

export function ScorePlot({ summary }: { summary: AnswerEvaluation }) {
  const judged = summary.configs.some((c) => c.judge_score !== null);
  const yLabel = judged ? "judge score" : "similarity to the reference";
  const points = summary.configs
    .map((c) => ({ name: c.name, x: c.latency.full_p50, y: plottedScore(c, judged) }))
    .filter((p): p is { name: string; x: number; y: number } => p.x !== null && p.y !== null);
  const left = summary.configs.filter((c) => !points.some((p) => p.name === c.name)).map((c) => c.name);
  const maxX = Math.max(...points.map((p) => p.x), 0.001) * 1.15;
  const minY = Math.min(0, ...points.map((p) => p.y));
  const maxY = Math.max(1, ...points.map((p) => p.y));
  const sx = (x: number) => PAD.left + (x / maxX) * (W - PAD.left - PAD.right);
  const sy = (y: number) => H - PAD.bottom - ((y - minY) / (maxY - minY)) * (H - PAD.top - PAD.bottom);
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((t) => minY + t * (maxY - minY));
  const labels = placeLabels(points.map((p) => ({ name: p.name, x: sx(p.x), y: sy(p.y) })));
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((t) => t * maxX);
  return (
    <figure className="score-plot">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${yLabel} against full answer latency (p50), one point per pipeline`}>
        {yTicks.map((t) => (
          <g key={`y${t}`}>
            <line className="grid" x1={PAD.left} x2={W - PAD.right} y1={sy(t)} y2={sy(t)} />
            <text className="tick" x={PAD.left - 6} y={sy(t) + 4} textAnchor="end">{t.toFixed(2)}</text>
          </g>
        ))}
        {xTicks.map((t) => (
          <text key={`x${t}`} className="tick" x={sx(t)} y={H - PAD.bottom + 16} textAnchor="middle">{seconds(t)}</text>
        ))}
        <line className="axis" x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} />
        <line className="axis" x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={H - PAD.bottom} />
        <text className="axis-label" x={(PAD.left + W - PAD.right) / 2} y={H - 6} textAnchor="middle">full answer latency, p50</text>
        <text className="axis-label" transform={`translate(14 ${(PAD.top + H - PAD.bottom) / 2}) rotate(-90)`} textAnchor="middle">{yLabel}</text>
        {points.map((p, i) => (
          <g key={p.name} className="point" data-testid="plot-point">
            <circle cx={sx(p.x)} cy={sy(p.y)} r={5}>
              <title>{`${p.name}: ${score(p.y)} at ${seconds(p.x)}`}</title>
            </circle>
            <text x={labels[i].x} y={labels[i].y}>{p.name}</text>
          </g>
        ))}
      </svg>
      {left.length ? <figcaption className="muted small">Not plotted (no score or no latency): {left.join(", ")}.</figcaption> : null}
    </figure>
  );
}

// -- the summary ---------------------------------------------------------------------------------------------
async function downloadReport(url: string, token: string, name: string): Promise<void> {
  const response = await fetch(url, { headers: headersFor(token) });
  if (!response.ok) throw await errorFrom(response);
  const href = URL.createObjectURL(new Blob([await response.text()], { type: "text/markdown" }));
  const link = document.createElement("a");
  link.href = href;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(href), 1000);
}

export function SummaryView({ summary, jobId, token }: { summary: AnswerEvaluation; jobId: string; token: string }) {
  const [error, setError] = useState<string | null>(null);
  const reportUrl = summary.report_url ?? `/api/admin/answer-evaluations/${encodeURIComponent(jobId)}/report`;
  return (
    <section className="card evaluation-results" aria-label="Evaluation results">
      <div className="row">
        <h2>Results</h2>
        <button type="button" onClick={() => downloadReport(reportUrl, token, "report.md").catch((err) => setError(errorText(err)))}>
          Download report.md
        </button>
      </div>
      <p className="small">
        {summary.dataset}: {summary.questions} question{summary.questions === 1 ? "" : "s"}; reference: {summary.reference};
        similarity: <strong data-testid="similarity-method">{summary.similarity_method ?? "none (no reference)"}</strong>; judge: {summary.judge ?? "none"}.
        Costs for {summary.traffic.users.toLocaleString("en-US")} users asking {summary.traffic.questions_per_day} questions a day.
      </p>
      {summary.judge_note ? <p className="note" data-testid="judge-note">{summary.judge_note}</p> : null}
      {summary.interrupted ? <p className="error-inline">The run was interrupted: these numbers cover the questions answered before.</p> : null}
      <ErrorBox error={error} />
      <div className="table-wrap">
        <table className="evaluation-table">
          <thead>
            <tr>
              <th scope="col">Pipeline</th>
              <th scope="col" className="num">Answered</th>
              <th scope="col" className="num">Judge</th>
              <th scope="col" className="num">Similarity</th>
              <th scope="col" className="num" title="Share of citations a judge found supported by the cited chunk">Supported citations</th>
              <th scope="col" className="num" title="Share of sentences without support">Unsupported sentences</th>
              <th scope="col" className="num" title="Share of answers citing nothing">Uncited answers</th>
              <th scope="col" className="num">First token p50</th>
              <th scope="col" className="num">Full p50</th>
              <th scope="col" className="num">Full p95</th>
              <th scope="col" className="num">Tokens in / out</th>
              <th scope="col" className="num">Cost / question</th>
              <th scope="col" className="num">Monthly cost</th>
            </tr>
          </thead>
          <tbody>
            {summary.configs.map((c) => (
              <tr key={c.name} data-testid="evaluation-row">
                <th scope="row">{c.name}</th>
                <td className="num">
                  {c.answered}/{c.questions}
                  {c.errors ? <span className="error-inline"> ({c.errors} failed)</span> : null}
                </td>
                <td className="num">{score(c.judge_score)}</td>
                <td className="num">{score(c.similarity)}</td>
                <td className="num">{share(c.faithfulness.supported_citations)}</td>
                <td className="num">{share(c.faithfulness.unsupported_sentences)}</td>
                <td className="num">{share(c.faithfulness.uncited_answers)}</td>
                <td className="num">{seconds(c.latency.first_token_p50)}</td>
                <td className="num">{seconds(c.latency.full_p50)}</td>
                <td className="num">{seconds(c.latency.full_p95)}</td>
                <td className="num">{tokens(c.tokens.input)} / {tokens(c.tokens.output)}</td>
                <td className="num">{usd(c.cost_per_question)}</td>
                <td className="num">{usd(c.monthly_cost)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ScorePlot summary={summary} />
    </section>
  );
}

function JobView({ call, jobId, token }: { call: AdminCall; jobId: string; token: string }) {
  const job = usePolling(() => call<Job>(`/api/jobs/${encodeURIComponent(jobId)}`), (data) => !data || isActive(data), 1000);
  const cancel = async () => {
    await call(`/api/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST", body: {} }).catch(() => undefined);
    void job.refresh();
  };
  const j = job.data;
  return (
    <>
      <ErrorBox error={job.error} onRetry={() => void job.refresh()} />
      {j ? (
        <section className="card evaluation-job" aria-label="Evaluation job">
          <div className="row">
            <span>
              Evaluation <span className="mono small">{j.id.slice(0, 8)}</span> <StatusBadge status={j.status} />{" "}
              <span className="muted small">{when(j.created_at)}</span>
            </span>
            {isActive(j) ? <button type="button" className="danger small" onClick={() => void cancel()}>Cancel</button> : null}
          </div>
          {isActive(j) ? <ProgressBar progress={j.progress} label="Evaluation progress" /> : null}
          {j.error ? <p className="error-inline" role="alert">{j.error}</p> : null}
        </section>
      ) : null}
      {j && j.status === "done" && j.result ? <SummaryView summary={j.result as AnswerEvaluation} jobId={j.id} token={token} /> : null}
    </>
  );
}

// -- the form ----------------------------------------------------------------------------------------------
function PipelineEditor({ rows, setRows, versions }: { rows: PipelineRow[]; setRows: (rows: PipelineRow[]) => void; versions: string[] }) {
  const change = (i: number, patch: Partial<PipelineRow>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="pipelines">
      <legend>Pipelines to compare</legend>
      <div className="row">
        <span className="muted small">Empty fields use what serves now.</span>
        <button type="button" className="small" onClick={() => setRows(PRESET.map((r) => ({ ...r })))}>Preset: serving / dense / hybrid</button>
      </div>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Model</th>
              <th scope="col">Mode</th>
              <th scope="col">Weight</th>
              <th scope="col">k</th>
              <th scope="col"><span className="visually-hidden">Remove</span></th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i} data-testid="pipeline-row">
                <td><input aria-label={`Name of pipeline ${i + 1}`} value={r.name} maxLength={40} onChange={(e) => change(i, { name: e.target.value })} /></td>
                <td>
                  <select aria-label={`Model of pipeline ${i + 1}`} value={r.model} onChange={(e) => change(i, { model: e.target.value })}>
                    <option value="">serving model</option>
                    {versions.map((v) => <option key={v} value={v}>{v}</option>)}
                  </select>
                </td>
                <td>
                  <select aria-label={`Mode of pipeline ${i + 1}`} value={r.mode} onChange={(e) => change(i, { mode: e.target.value as Mode | "" })}>
                    <option value="">serving mode</option>
                    {MODES.map((m) => <option key={m} value={m}>{m}</option>)}
                  </select>
                </td>
                <td>
                  <input aria-label={`Weight of pipeline ${i + 1}`} type="number" min={0} max={1} step={0.05} placeholder="serving"
                    disabled={r.mode === "dense" || r.mode === "lexical"} value={r.weight} onChange={(e) => change(i, { weight: e.target.value })} />
                </td>
                <td>
                  <input aria-label={`k of pipeline ${i + 1}`} type="number" min={1} max={20} value={r.k}
                    onChange={(e) => change(i, { k: Math.max(1, Math.round(Number(e.target.value)) || 1) })} />
                </td>
                <td>
                  {rows.length > 1 ? (
                    <button type="button" className="danger small" aria-label={`Remove pipeline ${i + 1}`} onClick={() => setRows(rows.filter((_, j) => j !== i))}>Remove</button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <button type="button" className="small" disabled={rows.length >= MAX_PIPELINES}
        onClick={() => setRows([...rows, row(`pipeline-${rows.length + 1}`)])}>
        Add a pipeline
      </button>
    </fieldset>
  );
}

interface Upload { name: string; data: IRJson; questions: number }

/** A file's text (FileReader: what every browser, and jsdom, has). */
function fileText(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error(`${file.name} cannot be read.`));
    reader.readAsText(file);
  });
}

/** An uploaded file read as IR JSON; the server checks it fully, this only catches what is plainly not. */
export function readIrJson(name: string, text: string): Upload {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not JSON.`);
  }
  const d = data as Record<string, unknown>;
  const missing = ["queries", "corpus", "relevant_docs"].filter((key) => !d || typeof d[key] !== "object" || d[key] === null);
  if (missing.length) throw new Error(`${name} is not IR JSON: it lacks ${missing.join(", ")}.`);
  return { name, data: d as unknown as IRJson, questions: Object.keys(d.queries as object).length };
}

export default function Evaluate({ call, token }: { call: AdminCall; token: string }) {
  const frozen = usePolling(() => call<EvaluationSummary>("/api/admin/evaluation"), () => false);
  const models = usePolling(() => call<ModelsOverview>("/api/admin/models"), () => false);
  const [source, setSource] = useState<"frozen" | "upload">("frozen");
  const [upload, setUpload] = useState<Upload | null>(null);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [rows, setRows] = useState<PipelineRow[]>([row("serving")]);
  const [reference, setReference] = useState<Reference>("auto");
  const [users, setUsers] = useState(100);
  const [perDay, setPerDay] = useState(10);
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // the latest run, shown again when the page is opened
    call<{ jobs: Job[] }>("/api/jobs?limit=1&kind=evaluate_answers")
      .then((r) => setJobId((current) => current ?? r.jobs[0]?.id ?? null))
      .catch(() => undefined);
  }, [call]);

  const versions = (models.data?.versions ?? []).map((v) => v.version);
  const problem = rowsProblem(rows) ?? (source === "upload" && !upload ? "Choose an IR JSON file to upload." : null);

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const body: EvaluationRequest = {
        dataset: source === "upload" && upload ? upload.data : "frozen",
        configs: rows.map(specOf),
        reference,
        users,
        questions_per_day: perDay,
      };
      if (source === "upload" && upload) body.dataset_name = upload.name;
      const accepted = await call<Schemas["JobAccepted"]>("/api/admin/answer-evaluations", { body });
      setJobId(accepted.job_id);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <p className="muted small">
        Each pipeline answers every question of the data set; the answers are compared with the references, judged
        (when a judge LLM is configured), timed and priced.
      </p>
      <form
        className="card evaluate-form"
        aria-label="Evaluate answers"
        onSubmit={(event) => {
          event.preventDefault();
          void run();
        }}
      >
        <fieldset>
          <legend>Data set</legend>
          <label className="check">
            <input type="radio" name="dataset" checked={source === "frozen"} onChange={() => setSource("frozen")} />
            the frozen evaluation set
            <span className="muted small" data-testid="frozen-size">
              {frozen.data ? `(${frozen.data.questions} question${frozen.data.questions === 1 ? "" : "s"})` : frozen.error ? "(size unknown)" : ""}
            </span>
          </label>
          <label className="check">
            <input type="radio" name="dataset" checked={source === "upload"} onChange={() => setSource("upload")} />
            an IR JSON file
          </label>
          {source === "upload" ? (
            <div className="upload-ir">
              <input
                type="file"
                aria-label="IR JSON file"
                accept=".json,application/json"
                onChange={async (e) => {
                  const file = e.target.files?.[0];
                  setUpload(null);
                  setUploadError(null);
                  if (!file) return;
                  try {
                    setUpload(readIrJson(file.name, await fileText(file)));
                  } catch (err) {
                    setUploadError(errorText(err));
                  }
                }}
              />
              {upload ? <span className="small" data-testid="upload-size">{upload.name}: {upload.questions} question{upload.questions === 1 ? "" : "s"}</span> : null}
              {uploadError ? <p className="error-inline" role="alert">{uploadError}</p> : null}
            </div>
          ) : null}
        </fieldset>
        <PipelineEditor rows={rows} setRows={setRows} versions={versions} />
        <div className="form-grid">
          <label htmlFor="evaluate-reference">Reference</label>
          <select id="evaluate-reference" value={reference} onChange={(e) => setReference(e.target.value as Reference)}>
            {REFERENCES.map((r) => <option key={r} value={r}>{REFERENCE_LABELS[r]}</option>)}
          </select>
          <label htmlFor="evaluate-users">Users</label>
          <input id="evaluate-users" type="number" min={1} value={users} onChange={(e) => setUsers(Math.max(1, Math.round(Number(e.target.value)) || 1))} />
          <label htmlFor="evaluate-per-day">Questions per user per day</label>
          <input id="evaluate-per-day" type="number" min={1} value={perDay} onChange={(e) => setPerDay(Math.max(1, Math.round(Number(e.target.value)) || 1))} />
        </div>
        {problem && !(source === "upload" && !upload && !uploadError) ? <p className="error-inline">{problem}</p> : null}
        {error ? <p className="error-inline" role="alert">{error}</p> : null}
        <button type="submit" className="primary" disabled={busy || !!problem}>Run</button>
      </form>
      {jobId ? <JobView key={jobId} call={call} jobId={jobId} token={token} /> : null}
    </>
  );
}
