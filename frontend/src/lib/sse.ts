// Reads `POST /stream`: `data: {json}\n\n` frames from a fetch body, as they arrive.
import { errorFrom } from "./api";

export type StreamEvent =
  | { type: "message_id"; message_id: string; conversation_id: string } // first, as DocsGPT sends it
  | { type: "answer"; answer: string }
  | { type: "source"; source: import("./types").Source[] }
  | { type: "id"; id: string; message_id?: string }
  | { type: "end" }
  | { type: "error"; error: string; conversation_id?: string; message_id?: string };

/** Split a growing text buffer into complete frames; returns the frames and the unfinished rest. */
export function splitFrames(buffer: string): { frames: StreamEvent[]; rest: string } {
  const frames: StreamEvent[] = [];
  const normalised = buffer.replace(/\r\n/g, "\n");
  const blocks = normalised.split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    const data = block
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (!data) continue;
    try {
      frames.push(JSON.parse(data) as StreamEvent);
    } catch {
      // a frame that is not JSON is not ours to show
    }
  }
  return { frames, rest };
}

export interface AskBody {
  question: string;
  conversation_id?: string | null;
  chunks?: number;
}

/** Ask a question; calls `onEvent` for each frame until the stream ends. Abort with `signal`. */
export async function streamAnswer(
  body: AskBody,
  onEvent: (event: StreamEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch("/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new Error("Cannot reach the server; check that it is running and try again.");
  }
  if (!response.ok) throw await errorFrom(response);
  if (!response.body) throw new Error("The server sent no answer stream.");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const { frames, rest } = splitFrames(buffer);
    buffer = rest;
    frames.forEach(onEvent);
  }
  const { frames } = splitFrames(buffer + decoder.decode() + "\n\n");
  frames.forEach(onEvent);
}
