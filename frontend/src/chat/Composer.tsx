import { forwardRef, useState, type KeyboardEvent } from "react";

interface Props {
  streaming: boolean;
  onSend: (question: string) => void;
  onStop: () => void;
}

/** Enter sends, Shift+Enter starts a new line. */
const Composer = forwardRef<HTMLTextAreaElement, Props>(function Composer({ streaming, onSend, onStop }, ref) {
  const [text, setText] = useState("");
  const send = () => {
    const question = text.trim();
    if (!question || streaming) return;
    onSend(question);
    setText("");
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };
  return (
    <form
      className="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      <label htmlFor="question" className="visually-hidden">
        Ask a question about your documents
      </label>
      <textarea
        id="question"
        ref={ref}
        rows={2}
        value={text}
        placeholder="Ask a question about your documents…"
        aria-describedby="composer-hint"
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <span id="composer-hint" className="visually-hidden">
        Enter sends, Shift+Enter starts a new line.
      </span>
      {streaming ? (
        <button type="button" className="stop" onClick={onStop}>
          Stop
        </button>
      ) : (
        <button type="submit" className="primary" disabled={!text.trim()}>
          Send
        </button>
      )}
    </form>
  );
});

export default Composer;
