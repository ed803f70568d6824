import { useCallback, useEffect, useRef, useState } from "react";
import { apiJson, errorText } from "../lib/api";
import { navigate } from "../lib/router";
import type { ConversationSummary } from "../lib/types";
import Composer from "./Composer";
import ConversationList from "./ConversationList";
import MessageView from "./MessageView";
import { useChat } from "./useChat";

export default function ChatPage({ conversationId }: { conversationId: string | null }) {
  const [conversations, setConversations] = useState<ConversationSummary[]>([]);
  const [listError, setListError] = useState<string | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  const input = useRef<HTMLTextAreaElement>(null);
  const bottom = useRef<HTMLDivElement>(null);

  const loadConversations = useCallback(() => {
    apiJson<ConversationSummary[]>("/api/conversations")
      .then((rows) => {
        setConversations(rows);
        setListError(null);
      })
      .catch((err) => setListError(errorText(err)));
  }, []);
  useEffect(loadConversations, [loadConversations]);

  const onCreated = useCallback((id: string) => navigate(`/c/${encodeURIComponent(id)}`), []);
  const onSettled = useCallback(() => {
    loadConversations();
    setAnnouncement("Answer finished.");
  }, [loadConversations]);
  const chat = useChat({ conversationId, onCreated, onSettled });

  const last = chat.messages[chat.messages.length - 1];
  useEffect(() => {
    bottom.current?.scrollIntoView?.({ block: "end" });
  }, [chat.messages.length, last?.answer.length === 0]);

  const current = conversations.find((c) => c.id === conversationId);
  useEffect(() => {
    document.title = current ? `${current.name} · DocsTune` : "DocsTune";
  }, [current]);

  const open = (id: string | null) => {
    setMenuOpen(false);
    navigate(id ? `/c/${encodeURIComponent(id)}` : "/");
    input.current?.focus();
  };

  const rename = async (id: string, name: string) => {
    try {
      await apiJson(`/api/conversations/${encodeURIComponent(id)}`, { method: "PATCH", body: { name } });
    } catch (err) {
      setListError(errorText(err));
    }
    loadConversations();
  };

  const remove = async (id: string) => {
    try {
      await apiJson(`/api/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
      if (id === conversationId) navigate("/");
    } catch (err) {
      setListError(errorText(err));
    }
    loadConversations();
  };

  return (
    <div className={`chat-layout${menuOpen ? " menu-open" : ""}`}>
      <header className="topbar">
        <button
          type="button"
          className="icon menu-button"
          aria-label="Conversations"
          aria-expanded={menuOpen}
          onClick={() => setMenuOpen(!menuOpen)}
        >
          ☰
        </button>
        <a className="brand" href="/" onClick={(event) => { event.preventDefault(); open(null); }}>
          DocsTune
        </a>
        <span className="topbar-title">{current?.name ?? (conversationId ? "" : "New chat")}</span>
        <a className="admin-link" href="/admin" onClick={(event) => { event.preventDefault(); navigate("/admin"); }}>
          Admin
        </a>
      </header>
      <aside className="sidebar">
        <ConversationList
          conversations={conversations}
          currentId={conversationId}
          error={listError}
          onNew={() => open(null)}
          onOpen={open}
          onRename={rename}
          onDelete={remove}
        />
      </aside>
      <main className="chat-main">
        <div className="thread">
          {chat.loadError ? (
            <div className="error" role="alert">
              <span>{chat.loadError}</span>
              <button type="button" onClick={() => open(null)}>Start a new chat</button>
            </div>
          ) : null}
          {chat.loading ? <p className="muted">Loading the conversation…</p> : null}
          {!chat.loading && !chat.loadError && chat.messages.length === 0 ? (
            <div className="empty">
              <h1>Ask your documents</h1>
              <p className="muted">
                Answers cite their sources as [n]. Rate the answer and each source: your ratings teach the search
                model what helps.
              </p>
            </div>
          ) : null}
          {chat.messages.map((message) => (
            <MessageView
              key={message.key}
              message={message}
              onRetry={() => chat.retry(message.key)}
              onRated={(rating) => chat.setRating(message.key, rating)}
            />
          ))}
          <div ref={bottom} />
        </div>
        <Composer
          ref={input}
          streaming={chat.streaming}
          onSend={(question) => {
            setAnnouncement("Answering…");
            void chat.ask(question);
          }}
          onStop={chat.stop}
        />
        <div className="visually-hidden" role="status" aria-live="polite">
          {announcement}
        </div>
      </main>
    </div>
  );
}
