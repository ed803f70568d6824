import { useState } from "react";
import type { ConversationSummary } from "../lib/types";

interface Props {
  conversations: ConversationSummary[];
  currentId: string | null;
  error: string | null;
  onNew: () => void;
  onOpen: (id: string) => void;
  onRename: (id: string, name: string) => Promise<void>;
  onDelete: (id: string) => Promise<void>;
}

export default function ConversationList({ conversations, currentId, error, onNew, onOpen, onRename, onDelete }: Props) {
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState("");

  const save = async (id: string) => {
    const name = draft.trim();
    setEditing(null);
    if (name) await onRename(id, name);
  };

  return (
    <nav className="conversations" aria-label="Conversations">
      <button type="button" className="primary new-chat" onClick={onNew}>
        + New chat
      </button>
      {error ? <p className="error-inline" role="alert">{error}</p> : null}
      {conversations.length === 0 && !error ? <p className="muted small">No conversations yet.</p> : null}
      <ul>
        {conversations.map((c) => (
          <li key={c.id} className={c.id === currentId ? "current" : undefined}>
            {editing === c.id ? (
              <form
                className="rename"
                onSubmit={(event) => {
                  event.preventDefault();
                  void save(c.id);
                }}
              >
                <label className="visually-hidden" htmlFor={`rename-${c.id}`}>
                  New name
                </label>
                <input
                  id={`rename-${c.id}`}
                  autoFocus
                  value={draft}
                  onChange={(event) => setDraft(event.target.value)}
                  onKeyDown={(event) => {
                    if (event.key === "Escape") setEditing(null);
                  }}
                  onBlur={() => void save(c.id)}
                />
              </form>
            ) : (
              <>
                <button
                  type="button"
                  className="conversation-name"
                  aria-current={c.id === currentId ? "page" : undefined}
                  onClick={() => onOpen(c.id)}
                  title={c.name}
                >
                  {c.name || "Untitled"}
                </button>
                <button
                  type="button"
                  className="icon small"
                  aria-label={`Rename ${c.name}`}
                  title="Rename"
                  onClick={() => {
                    setDraft(c.name);
                    setEditing(c.id);
                  }}
                >
                  ✎
                </button>
                <button
                  type="button"
                  className="icon small"
                  aria-label={`Delete ${c.name}`}
                  title="Delete"
                  onClick={() => void onDelete(c.id)}
                >
                  ✕
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
    </nav>
  );
}
