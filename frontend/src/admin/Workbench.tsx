// The retrieval workbench: one question, two pipelines side by side, every chunk with the rank and score
// each leg gave it, so an admin sees *why* a chunk was (or was not) retrieved.
import { useEffect, useState } from "react";
import { errorText } from "../lib/api";
import {
  RETRIEVAL_MODES,
  type ModelsOverview,
  type RetrievalMode,
  type WorkbenchColumn,
  type WorkbenchComparison,
  type WorkbenchHit,
  type WorkbenchPipeline,
  type WorkbenchRequest,
} from "../lib/types";
import type { AdminCall } from "./session";
import { ErrorBox } from "./ui";

/** What one column's controls hold ("" everywhere: the serving pipeline). */
export interface PipelineChoice {
  version: string;
  mode: "" | RetrievalMode;
  weight: string;
}

const LETTERS = ["A", "B"] as const;
const EXCERPT_CHARS = 220;

/** The request's pipeline for a column's choice: only what differs from the serving pipeline is sent. */
export function pipelineBody(choice: PipelineChoice): WorkbenchPipeline {
  const body: WorkbenchPipeline = {};
  if (choice.version) body.version = choice.version;
  if (choice.mode) body.mode = choice.mode;
  const weight = choice.weight.trim();
  if (weight !== "") body.weight = Number(weight);
  return body;
}

/** Per column, chunk id → its rank in the other column (absent: the other column does not have it). */
export function ranksInOther(columns: WorkbenchColumn[]): Map<string, number>[] {
  const ranks = columns.map((column) => new Map(column.hits.map((hit) => [hit.chunk_id, hit.rank])));
  return columns.map((_, i) => ranks[columns.length === 2 ? 1 - i : i]);
}

function score(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : value.toFixed(3);
}

function Leg({ name, rank, value }: { name: string; rank: number | null; value: number | null }) {
  return (
    <span className={`leg${rank === null ? " leg-missing" : ""}`} data-testid={`${name}-leg`}>
      {name} {rank === null ? "—" : `#${rank} ${score(value)}`}
    </span>
  );
}

function Moved({ rank, other, letter }: { rank: number; other: number | undefined; letter: string }) {
  if (other === undefined) return <span className="moved moved-only" title={`Not in the top of ${letter}`}>not in {letter}</span>;
  const arrow = other === rank ? "=" : other > rank ? "▼" : "▲"; // ▼: ranked lower over there
  return (
    <span className="moved" title={`Rank ${other} in ${letter}`} data-testid="moved">
      {arrow} {letter} #{other}
    </span>
  );
}

function HitRow({ hit, other, otherLetter }: { hit: WorkbenchHit; other: number | undefined; otherLetter: string | null }) {
  const path = [hit.title || hit.source, ...hit.headings].filter(Boolean).join(" › ");
  const excerpt = hit.text.length > EXCERPT_CHARS ? `${hit.text.slice(0, EXCERPT_CHARS)}…` : hit.text;
  const rated = hit.rated.likes + hit.rated.dislikes + hit.rated.relevant + hit.rated.irrelevant > 0;
  return (
    <li className="workbench-hit" data-testid="workbench-hit" data-chunk-id={hit.chunk_id}>
      <div className="workbench-hit-head">
        <span className="workbench-rank">#{hit.rank}</span>
        <span className="workbench-score" title="The fused score">{score(hit.score)}</span>
        <Leg name="dense" rank={hit.dense_rank} value={hit.dense_score} />
        <Leg name="lexical" rank={hit.lexical_rank} value={hit.lexical_score} />
        {otherLetter ? <Moved rank={hit.rank} other={other} letter={otherLetter} /> : null}
      </div>
      <div className="workbench-path">{path}{hit.source && hit.title ? <span className="muted small"> · {hit.source}</span> : null}</div>
      <p className="workbench-text">{excerpt}</p>
      <span
        className={`rated${rated ? "" : " rated-none"}`}
        data-testid="rated"
        title={`In ${hit.rated.likes} liked and ${hit.rated.dislikes} disliked answers; marked relevant ${hit.rated.relevant}, irrelevant ${hit.rated.irrelevant} times`}
      >
        {/* words, not emoji: a browser without an emoji font shows those as boxes */}
        rated: {hit.rated.likes} liked, {hit.rated.dislikes} disliked
        {hit.rated.relevant || hit.rated.irrelevant ? ` · marked relevant ${hit.rated.relevant}, irrelevant ${hit.rated.irrelevant}` : ""}
      </span>
    </li>
  );
}

function Controls({ letter, choice, versions, onChange }: {
  letter: string;
  choice: PipelineChoice;
  versions: ModelsOverview["versions"];
  onChange: (choice: PipelineChoice) => void;
}) {
  const id = `workbench-${letter}`;
  return (
    <fieldset className="workbench-controls">
      <legend>Pipeline {letter}</legend>
      <label htmlFor={`${id}-version`}>Model of {letter}</label>
      <select id={`${id}-version`} value={choice.version} onChange={(e) => onChange({ ...choice, version: e.target.value })}>
        <option value="">serving model</option>
        {versions.map((v) => (
          <option key={v.version} value={v.version}>
            {v.version} ({v.status})
          </option>
        ))}
      </select>
      <label htmlFor={`${id}-mode`}>Mode of {letter}</label>
      <select id={`${id}-mode`} value={choice.mode} onChange={(e) => onChange({ ...choice, mode: e.target.value as PipelineChoice["mode"] })}>
        <option value="">as it serves</option>
        {RETRIEVAL_MODES.map((mode) => (
          <option key={mode} value={mode}>{mode}</option>
        ))}
      </select>
      <label htmlFor={`${id}-weight`}>Weight of {letter}</label>
      <input
        id={`${id}-weight`}
        type="number"
        min={0}
        max={1}
        step={0.05}
        placeholder="as it serves"
        value={choice.weight}
        onChange={(e) => onChange({ ...choice, weight: e.target.value })}
      />
    </fieldset>
  );
}

function Column({ column, letter, other, otherLetter }: {
  column: WorkbenchColumn;
  letter: string;
  other: Map<string, number>;
  otherLetter: string | null;
}) {
  const d = column.description;
  return (
    <section className="workbench-column card" aria-label={`Results of ${letter}`} data-testid={`workbench-column-${letter}`}>
      <h2>{letter}: {column.label}</h2>
      <p className="muted small">
        {d.model_name} · {d.pipeline}
        {d.mode === "hybrid" ? ` · weight ${d.weight} (${d.weight_source}: ${d.weight_detail})` : ""} · {d.took_ms} ms
      </p>
      <p className="muted small">dense leg: {d.dense_leg}; lexical leg: {d.lexical_leg ?? "none yet"}</p>
      {column.hits.length === 0 ? <p className="muted">No chunk found.</p> : null}
      <ol className="workbench-hits">
        {column.hits.map((hit) => (
          <HitRow key={hit.chunk_id} hit={hit} other={other.get(hit.chunk_id)} otherLetter={otherLetter} />
        ))}
      </ol>
    </section>
  );
}

export default function Workbench({ call }: { call: AdminCall }) {
  const [question, setQuestion] = useState("");
  const [k, setK] = useState(10);
  const [choices, setChoices] = useState<PipelineChoice[]>([
    { version: "", mode: "", weight: "" },
    { version: "", mode: "dense", weight: "" },
  ]);
  const [versions, setVersions] = useState<ModelsOverview["versions"]>([]);
  const [result, setResult] = useState<WorkbenchComparison | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call<ModelsOverview>("/api/admin/models")
      .then((overview) => setVersions(overview.versions))
      .catch((err) => setError(`The model versions could not be listed: ${errorText(err)}`));
  }, [call]);

  const compare = async () => {
    setBusy(true);
    setError(null);
    try {
      const body: WorkbenchRequest = { question, k, pipelines: choices.map(pipelineBody) };
      setResult(await call<WorkbenchComparison>("/api/admin/workbench", { body }));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const others = result ? ranksInOther(result.pipelines) : [];
  return (
    <div className="workbench">
      <p className="muted small">
        Type a question a user asked and compare two pipelines: which chunks each ranks, by how much each leg (dense
        model, lexical BM25) scored them, and which were in rated answers before. A chunk the right answer needed but
        that ranks low shows which leg missed it.
      </p>
      <form
        className="card workbench-form"
        aria-label="Compare retrieval"
        onSubmit={(event) => {
          event.preventDefault();
          void compare();
        }}
      >
        <label htmlFor="workbench-question">Question</label>
        <input id="workbench-question" value={question} maxLength={2000} onChange={(e) => setQuestion(e.target.value)} />
        <label htmlFor="workbench-k">Chunks</label>
        <input id="workbench-k" type="number" min={1} max={50} value={k} onChange={(e) => setK(Number(e.target.value) || 1)} />
        <div className="workbench-settings">
          {LETTERS.map((letter, i) => (
            <Controls
              key={letter}
              letter={letter}
              choice={choices[i]}
              versions={versions}
              onChange={(choice) => setChoices(choices.map((c, j) => (j === i ? choice : c)))}
            />
          ))}
        </div>
        <button type="submit" className="primary" disabled={busy || !question.trim()}>
          {busy ? "Comparing…" : "Compare"}
        </button>
      </form>
      <ErrorBox error={error} />
      {result ? (
        <div className="workbench-columns">
          {result.pipelines.map((column, i) => (
            <Column
              key={i}
              column={column}
              letter={LETTERS[i] ?? String(i + 1)}
              other={others[i]}
              otherLetter={result.pipelines.length === 2 ? LETTERS[1 - i] : null}
            />
          ))}
        </div>
      ) : null}
    </div>
  );
}
