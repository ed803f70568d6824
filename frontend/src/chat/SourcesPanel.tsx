import Thumb from "../lib/Thumb";
import type { Mark, Source } from "../lib/types";

/** "guide.pdf, page 3", "deck.pptx, slide 3", "scan.pdf, page 3 (OCR)": the file, then where in it. */
export function location(source: Source): string {
  const where = source.source ?? "";
  const file = where.replace(/^upload:\/\//, "").split(/[\\/]/).pop() || where;
  const within = source.location?.trim() || null;
  const parts = [file];
  // a location that names the page itself ("page 3 (OCR)") says it better than the bare number
  if (source.page != null && !(within && /^pages?\b/i.test(within))) parts.push(`page ${source.page}`);
  if (within) parts.push(within);
  return parts.filter(Boolean).join(", ");
}

/** The title, then the headings down to the chunk: ["Guide", "Install", "Linux"]. */
export function headingPath(source: Source, title: string): string[] {
  const headings = (source.headings ?? []).map((h) => h.trim()).filter(Boolean);
  // a document titled by its first heading must not show it twice
  if (headings[0] === title) headings.shift();
  return [title, ...headings];
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
  const path = headingPath(source, title);
  return (
    <li id={anchorId} tabIndex={-1} className={`source${highlighted ? " highlighted" : ""}`} data-testid="source">
      <div className="source-head">
        <span className="source-n" aria-hidden="true">{source.n}</span>
        <div className="source-meta">
          <span className="source-title" title={path.join(" › ")}>
            {path.map((part, i) => (
              <span key={i}>
                {i > 0 ? <span className="source-path-sep"> › </span> : null}
                {part}
              </span>
            ))}
          </span>
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
