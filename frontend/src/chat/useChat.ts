// The state of one conversation: its messages, the answer streaming in, stop and retry.
import { useCallback, useEffect, useRef, useState } from "react";
import { apiJson, errorText } from "../lib/api";
import { streamAnswer } from "../lib/sse";
import type { Conversation, Rating, Source, StoredMessage } from "../lib/types";

export type MessageStatus = "streaming" | "done" | "error" | "stopped";

export interface ChatMessage {
  key: string;
  id: string | null;
  question: string;
  answer: string;
  sources: Source[];
  status: MessageStatus;
  error: string | null;
  rating: Rating | null;
}

let counter = 0;
const newKey = () => `m${Date.now().toString(36)}${(counter++).toString(36)}`;

export function fromStored(message: StoredMessage): ChatMessage {
  const failed = message.status === "failed";
  return {
    key: message.id,
    id: message.id,
    question: message.question,
    answer: message.answer ?? "",
    sources: [...(message.sources ?? [])].filter((s) => s.shown !== false).sort((a, b) => a.n - b.n),
    // "partial": the client left (or pressed stop) mid-answer; "streaming": it never finished
    status: failed ? "error" : message.status === "partial" || message.status === "streaming" ? "stopped" : "done",
    error: failed ? (message.error ?? "The answer failed.") : null,
    rating: message.feedback
      ? { feedback: message.feedback.feedback ?? null, sources: message.feedback.sources ?? {}, comment: message.feedback.comment ?? null }
      : null,
  };
}

interface Options {
  conversationId: string | null;
  /** a new conversation got its id from the server */
  onCreated: (id: string) => void;
  /** an answer finished (the conversation list may have changed) */
  onSettled: () => void;
}

export function useChat({ conversationId, onCreated, onSettled }: Options) {
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const controller = useRef<AbortController | null>(null);
  // the conversation this page created itself: its messages are already here, do not reload them
  const created = useRef<string | null>(null);
  const streaming = messages.some((m) => m.status === "streaming");

  useEffect(() => {
    if (conversationId && conversationId === created.current) return;
    controller.current?.abort();
    created.current = null;
    setLoadError(null);
    if (!conversationId) {
      setMessages([]);
      return;
    }
    const abort = new AbortController();
    setLoading(true);
    apiJson<Conversation>(`/api/conversations/${encodeURIComponent(conversationId)}`, { signal: abort.signal })
      .then((conversation) => setMessages(conversation.messages.map(fromStored)))
      .catch((err) => {
        if ((err as Error).name === "AbortError") return;
        setMessages([]);
        setLoadError(errorText(err));
      })
      .finally(() => setLoading(false));
    return () => abort.abort();
  }, [conversationId]);

  const update = (key: string, change: (m: ChatMessage) => Partial<ChatMessage>) =>
    setMessages((all) => all.map((m) => (m.key === key ? { ...m, ...change(m) } : m)));

  const ask = useCallback(
    async (question: string, replaceKey?: string) => {
      const key = newKey();
      const message: ChatMessage = {
        key, id: null, question, answer: "", sources: [], status: "streaming", error: null, rating: null,
      };
      setMessages((all) => [...all.filter((m) => m.key !== replaceKey), message]);
      const abort = new AbortController();
      controller.current = abort;
      let target = conversationId;
      try {
        await streamAnswer(
          { question, conversation_id: conversationId },
          (event) => {
            if (event.type === "answer") update(key, (m) => ({ answer: m.answer + event.answer }));
            else if (event.type === "source") update(key, () => ({ sources: [...event.source].sort((a, b) => a.n - b.n) }));
            else if (event.type === "id") {
              update(key, () => ({ id: event.message_id ?? null }));
              target = event.id;
            } else if (event.type === "error") {
              update(key, () => ({ status: "error", error: event.error, id: event.message_id ?? null }));
              if (event.conversation_id) target = event.conversation_id;
            } else if (event.type === "end") update(key, (m) => (m.status === "streaming" ? { status: "done" } : {}));
          },
          abort.signal,
        );
        update(key, (m) => (m.status === "streaming" ? { status: "done" } : {}));
      } catch (err) {
        if ((err as Error).name === "AbortError") update(key, () => ({ status: "stopped" }));
        else update(key, () => ({ status: "error", error: errorText(err) }));
      } finally {
        if (controller.current === abort) controller.current = null;
        if (target && target !== conversationId) {
          created.current = target;
          onCreated(target);
        }
        onSettled();
      }
    },
    [conversationId, onCreated, onSettled],
  );

  const stop = useCallback(() => controller.current?.abort(), []);

  const retry = useCallback(
    (key: string) => {
      const message = messages.find((m) => m.key === key);
      if (message) void ask(message.question, key);
    },
    [messages, ask],
  );

  const setRating = useCallback((key: string, rating: Rating) => update(key, () => ({ rating })), []);

  return { messages, loading, loadError, streaming, ask, stop, retry, setRating };
}
