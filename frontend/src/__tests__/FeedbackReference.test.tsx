import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import FeedbackPage, { canBeReference } from "../admin/FeedbackPage";
import { adminCaller } from "../admin/session";
import type { FeedbackStats } from "../lib/types";

const rating = (overrides: Partial<FeedbackStats["latest"][number]>): FeedbackStats["latest"][number] => ({
  message_id: "m1", question: "When does a refund reach my card?", verdict: "like", comment: "Exactly the policy.",
  voted_at: "2026-05-02T10:00:00+00:00", sources: {}, ...overrides,
});

const STATS: FeedbackStats = {
  total: 4, likes: 3, dislikes: 1, by_day: [{ day: "2026-05-02", likes: 3, dislikes: 1 }],
  latest: [
    rating({}),
    rating({ message_id: "m2", question: "Do you ship to the US?", comment: null }),
    rating({ message_id: "m3", question: "Who is Miso?", verdict: "dislike", comment: "Wrong cat." }),
    rating({ message_id: "m4", question: "What does express cost?", comment: "Right price." }),
  ],
};

interface Sent { url: string; method: string; body: unknown; auth: string | null }

/** The stats route and the references route of the server, in memory (the page and its fetches are real). */
function fakeServer() {
  const sent: Sent[] = [];
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  vi.stubGlobal("fetch", vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    const body = init.body ? JSON.parse(init.body as string) : undefined;
    sent.push({ url, method, body, auth: (init.headers as Record<string, string>)?.Authorization ?? null });
    if (url === "/api/admin/feedback/stats") return json(STATS);
    if (url === "/api/admin/evaluation/references" && method === "POST") {
      if (body.message_id === "m4") {
        return json({ error: "The ratings of this message make no chunk relevant: the answer cites no source and no source is marked helpful; mark the sources that answer it, then try again." }, 409);
      }
      return json({
        query_id: "e0123456789ab", question: "When does a refund reach my card?", relevant: ["chunk-refund"],
        origin: "feedback", reference_answer: "Refunds reach the original card within five business days.",
        reference_origin: "feedback", added_at: "2026-05-02T10:01:00+00:00", updated_at: "2026-05-02T10:01:00+00:00",
        added: true,
      });
    }
    return json({ error: "unexpected" }, 500);
  }));
  return { sent };
}

const call = adminCaller("admin-token", () => {});

afterEach(() => vi.unstubAllGlobals());

describe("Use as reference answer", () => {
  it("is offered for liked answers with a comment only", () => {
    expect(canBeReference({ verdict: "like", comment: "Good." })).toBe(true);
    expect(canBeReference({ verdict: "like", comment: "  " })).toBe(false);
    expect(canBeReference({ verdict: "like", comment: null })).toBe(false);
    expect(canBeReference({ verdict: "dislike", comment: "Wrong." })).toBe(false);
    expect(canBeReference({ verdict: null, comment: "Hm." })).toBe(false);
  });

  it("shows the button on those rows, posts the message and shows what was kept", async () => {
    const { sent } = fakeServer();
    render(<FeedbackPage call={call} token="admin-token" />);
    const rows = await screen.findAllByTestId("latest-rating");
    expect(rows).toHaveLength(4);
    const buttons = rows.map((row) => within(row).queryByRole("button", { name: "Use as reference answer" }));
    expect(buttons.map(Boolean)).toEqual([true, false, false, true]);

    fireEvent.click(buttons[0]!);

    const kept = await within(rows[0]).findByRole("status");
    expect(kept.textContent).toContain("Kept as the reference answer of this question, added to the evaluation set (1 relevant chunk)");
    expect(kept.textContent).toContain("“Refunds reach the original card within five business days.”");
    expect(within(rows[0]).getByRole("button", { name: "Update reference answer" })).toBeTruthy();
    const posted = sent.filter((s) => s.url === "/api/admin/evaluation/references");
    expect(posted).toEqual([{ url: "/api/admin/evaluation/references", method: "POST", body: { message_id: "m1" }, auth: "Bearer admin-token" }]);
  });

  it("shows the server's reason when it refuses", async () => {
    fakeServer();
    render(<FeedbackPage call={call} token="admin-token" />);
    const rows = await screen.findAllByTestId("latest-rating");

    fireEvent.click(within(rows[3]).getByRole("button", { name: "Use as reference answer" }));

    const alert = await within(rows[3]).findByRole("alert");
    expect(alert.textContent).toContain("make no chunk relevant");
    await waitFor(() => expect(within(rows[3]).getByRole("button", { name: "Use as reference answer" })).toHaveProperty("disabled", false));
    expect(within(rows[3]).queryByRole("status")).toBeNull();
  });
});
