import Thumb from "../lib/Thumb";
import type { Mark, Source } from "../lib/types";

export function location(source: Source): string {
  const where = source.source ?? "";
  const file = where.replace(/^upload:\/\//, "").split(/[\\/]/).pop() || where;
  return source.page != null ? `${file}, page ${source.page}` : file;
}

interface SourceCardProps {
  source: Source;
  anchorId: string;
  mark: Mark | undefined;
  open: boolean;
  highlighted: boolean;
  canRate: boolean;
  busy: boolean;
  onToggle: () => void;
  onMark: (mark: Mark | null) => void;
}

export function SourceCard({ source, anchorId, mark, open, highlighted, canRate, busy, onToggle, onMark }: SourceCardProps) {
  const textId = `${anchorId}-text`;
  const title = source.title || location(source) || "Untitled";
  return (
    <li id={anchorId} tabIndex={-1} className={`source${highlighted ? " highlighted" : ""}`} data-testid="source">
      <div className="source-head">
        <span className="source-n" aria-hidden="true">{source.n}</span>
        <div className="source-meta">
          <span className="source-title">{title}</span>
          <span className="source-where">
            {location(source)}
            <span className="score" title="similarity score"> · score {source.score.toFixed(2)}</span>
            {source.cited ? <span className="badge">cited</span> : null}
          </span>
        </div>
      </div>
      <div className="source-actions">
        <button type="button" className="link" aria-expanded={open} aria-controls={textId} onClick={onToggle}>
          {open ? "Hide text" : "Show text"}
        </button>
        <span className="spacer" />
        <button
          type="button"
          className="icon"
          aria-pressed={mark === "relevant"}
          aria-label={`Source ${source.n} helped`}
          title="This source helped"
          disabled={!canRate || busy}
          onClick={() => onMark(mark === "relevant" ? null : "relevant")}
        >
          <Thumb />
        </button>
        <button
          type="button"
          className="icon"
          aria-pressed={mark === "irrelevant"}
          aria-label={`Source ${source.n} did not help`}
          title="This source did not help"
          disabled={!canRate || busy}
          onClick={() => onMark(mark === "irrelevant" ? null : "irrelevant")}
        >
          <Thumb down />
        </button>
      </div>
      {open ? (
        <div id={textId} className="source-text">
          {source.text}
        </div>
      ) : null}
    </li>
  );
}

interface SourcesPanelProps {
  sources: Source[];
  anchorPrefix: string;
  marks: Record<string, Mark>;
  openSources: Set<number>;
  highlighted: number | null;
  canRate: boolean;
  busy: boolean;
  onToggle: (n: number) => void;
  onMark: (source: Source, mark: Mark | null) => void;
}

export default function SourcesPanel(props: SourcesPanelProps) {
  if (props.sources.length === 0) return null;
  return (
    <section className="sources" aria-label="Sources">
      <h3 className="sources-title">Sources</h3>
      <ol className="source-list">
        {props.sources.map((source) => (
          <SourceCard
            key={source.chunk_id}
            source={source}
            anchorId={`${props.anchorPrefix}-${source.n}`}
            mark={props.marks[source.chunk_id]}
            open={props.openSources.has(source.n)}
            highlighted={props.highlighted === source.n}
            canRate={props.canRate}
            busy={props.busy}
            onToggle={() => props.onToggle(source.n)}
            onMark={(mark) => props.onMark(source, mark)}
          />
        ))}
      </ol>
    </section>
  );
}
