import Thumb from "../lib/Thumb";
import { useMemo, useState, type MouseEvent } from "react";
import { errorText } from "../lib/api";
import { renderMarkdown } from "../lib/markdown";
import type { Mark, Rating, Source, Verdict } from "../lib/types";
import { emptyRating, sendFeedback, type FeedbackChange } from "./ratings";
import SourcesPanel from "./SourcesPanel";
import type { ChatMessage } from "./useChat";

interface Props {
  message: ChatMessage;
  onRetry: () => void;
  onRated: (rating: Rating) => void;
}

export default function MessageView({ message, onRetry, onRated }: Props) {
  const anchorPrefix = `src-${message.key}`;
  const [openSources, setOpenSources] = useState<Set<number>>(new Set());
  const [highlighted, setHighlighted] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [rateError, setRateError] = useState<string | null>(null);
  const [commentOpen, setCommentOpen] = useState(false);
  const [comment, setComment] = useState(message.rating?.comment ?? "");
  const rating = message.rating ?? emptyRating;
  const known = useMemo(() => new Set(message.sources.map((s) => s.n)), [message.sources]);
  const html = useMemo(() => renderMarkdown(message.answer, anchorPrefix, known), [message.answer, anchorPrefix, known]);
  const canRate = message.id !== null && message.status !== "streaming";

  const toggle = (n: number) =>
    setOpenSources((open) => {
      const next = new Set(open);
      if (next.has(n)) next.delete(n);
      else next.add(n);
      return next;
    });

  const onAnswerClick = (event: MouseEvent<HTMLDivElement>) => {
    const link = (event.target as HTMLElement).closest("a[data-cite]");
    if (!link) return;
    event.preventDefault();
    const n = Number(link.getAttribute("data-cite"));
    setOpenSources((open) => new Set(open).add(n));
    setHighlighted(n);
    const card = document.getElementById(`${anchorPrefix}-${n}`);
    card?.scrollIntoView?.({ block: "nearest", behavior: "smooth" });
    card?.focus({ preventScroll: true });
  };

  const rate = async (change: FeedbackChange) => {
    if (!message.id) return;
    setBusy(true);
    setRateError(null);
    try {
      onRated(await sendFeedback(message.id, change));
    } catch (err) {
      setRateError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const verdict = (value: Verdict) => {
    void rate({ feedback: rating.feedback === value ? null : value });
    if (rating.feedback !== value) setCommentOpen(true);
  };
  const mark = (source: Source, value: Mark | null) => void rate({ sources: { [source.chunk_id]: value } });

  return (
    <article className="message" data-testid="message" data-status={message.status} aria-busy={message.status === "streaming"}>
      <div className="question">
        <span className="visually-hidden">You asked: </span>
        {message.question}
      </div>
      <div className="answer-block">
        {message.answer ? (
          <div className="answer markdown" data-testid="answer" onClick={onAnswerClick} dangerouslySetInnerHTML={{ __html: html }} />
        ) : message.status === "streaming" ? (
          <div className="answer thinking" data-testid="answer">
            Searching your documents…
          </div>
        ) : null}
        {message.status === "streaming" && message.answer ? <span className="cursor" aria-hidden="true" /> : null}
        {message.status === "stopped" ? <p className="note">Stopped.</p> : null}
        {message.status === "error" ? (
          <div className="error" role="alert">
            <span>{message.error}</span>
            <button type="button" onClick={onRetry}>
              Retry
            </button>
          </div>
        ) : null}
        {message.status === "stopped" ? (
          <button type="button" className="link" onClick={onRetry}>
            Ask again
          </button>
        ) : null}
        {canRate && message.status !== "error" ? (
          <div className="rating" role="group" aria-label="Rate this answer">
            <button
              type="button"
              className="icon"
              aria-pressed={rating.feedback === "like"}
              aria-label="Good answer"
              title="Good answer"
              disabled={busy}
              onClick={() => verdict("like")}
            >
              <Thumb />
            </button>
            <button
              type="button"
              className="icon"
              aria-pressed={rating.feedback === "dislike"}
              aria-label="Bad answer"
              title="Bad answer"
              disabled={busy}
              onClick={() => verdict("dislike")}
            >
              <Thumb down />
            </button>
            <button type="button" className="link" aria-expanded={commentOpen} onClick={() => setCommentOpen(!commentOpen)}>
              {rating.comment ? "Edit comment" : "Add a comment"}
            </button>
            {rateError ? (
              <span className="error-inline" role="alert">
                {rateError}
              </span>
            ) : null}
          </div>
        ) : null}
        {canRate && commentOpen ? (
          <form
            className="comment"
            onSubmit={(event) => {
              event.preventDefault();
              void rate({ comment: comment.trim() || null }).then(() => setCommentOpen(false));
            }}
          >
            <label htmlFor={`comment-${message.key}`}>Comment (optional)</label>
            <textarea
              id={`comment-${message.key}`}
              rows={2}
              value={comment}
              onChange={(event) => setComment(event.target.value)}
              placeholder="What was good or missing?"
            />
            <button type="submit" disabled={busy}>
              Save comment
            </button>
          </form>
        ) : null}
        <SourcesPanel
          sources={message.sources}
          anchorPrefix={anchorPrefix}
          marks={rating.sources}
          openSources={openSources}
          highlighted={highlighted}
          canRate={canRate}
          busy={busy}
          onToggle={toggle}
          onMark={mark}
        />
      </div>
    </article>
  );
}
