// `POST /api/feedback`: a verdict, per-source marks and a comment; keys left out keep their value.
import { apiJson } from "../lib/api";
import type { Mark, Rating, Verdict } from "../lib/types";

export interface FeedbackChange {
  feedback?: Verdict | null;
  sources?: Record<string, Mark | null>;
  comment?: string | null;
}

export async function sendFeedback(messageId: string, change: FeedbackChange): Promise<Rating> {
  const state = await apiJson<Partial<Rating>>("/api/feedback", { body: { message_id: messageId, ...change } });
  return { feedback: state.feedback ?? null, sources: state.sources ?? {}, comment: state.comment ?? null };
}

export const emptyRating: Rating = { feedback: null, sources: {}, comment: null };
