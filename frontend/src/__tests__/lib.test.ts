import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../lib/markdown";
import { parseRoute } from "../lib/router";
import { splitFrames } from "../lib/sse";
import { metricCell } from "../admin/Models";
import { statsFromExport } from "../admin/FeedbackPage";

describe("splitFrames", () => {
  it("returns complete SSE frames and keeps the unfinished rest", () => {
    const { frames, rest } = splitFrames('data: {"type": "answer", "answer": "Hel"}\n\ndata: {"type": "answer", "ans');
    expect(frames).toEqual([{ type: "answer", answer: "Hel" }]);
    expect(rest).toBe('data: {"type": "answer", "ans');
  });

  it("reads the message_id frame that comes first", () => {
    const { frames } = splitFrames('data: {"type": "message_id", "message_id": "m1", "conversation_id": "c1"}\n\n');
    expect(frames).toEqual([{ type: "message_id", message_id: "m1", conversation_id: "c1" }]);
  });

  it("reads CRLF frames and skips what is not JSON", () => {
    const { frames } = splitFrames('data: {"type": "end"}\r\n\r\n: comment\n\ndata: not json\n\n');
    expect(frames).toEqual([{ type: "end" }]);
  });
});

describe("renderMarkdown", () => {
  it("removes scripts, event handlers and javascript: links from untrusted text", () => {
    const html = renderMarkdown('Hi <script>alert(1)</script><img src=x onerror="alert(2)"> [x](javascript:alert(3)) <b onclick="x()">b</b>');
    expect(html).not.toMatch(/script|onerror|onclick|javascript:|<img/i);
    expect(html).toContain("<b>b</b>");
  });

  it("links citations to this message's sources only", () => {
    const html = renderMarkdown("Steps [1], and [7], and [a link](https://example.com) [2]", "src-m1", new Set([1, 2]));
    expect(html).toContain('href="#src-m1-1"');
    expect(html).toContain('data-cite="2"');
    expect(html).toContain("[7]");
    expect(html).not.toContain("src-m1-7");
    expect(html).toContain('href="https://example.com"');
  });
});

describe("parseRoute", () => {
  it("reads the conversation and the admin section from the URL", () => {
    expect(parseRoute("/")).toEqual({ page: "chat", conversationId: null });
    expect(parseRoute("/c/abc-123")).toEqual({ page: "chat", conversationId: "abc-123" });
    expect(parseRoute("/admin")).toEqual({ page: "admin", section: "documents" });
    expect(parseRoute("/admin/models")).toEqual({ page: "admin", section: "models" });
    expect(parseRoute("/admin/nope")).toEqual({ page: "admin", section: "documents" });
  });
});

describe("metricCell", () => {
  it("shows the candidate's value and its change against the parent", () => {
    const metrics = { candidate: { "mrr@10": 0.65 }, baseline: { "mrr@10": 0.6 } };
    expect(metricCell(metrics, "mrr@10")).toEqual({ value: "0.650", delta: "+0.050", sign: 1 });
    expect(metricCell({ candidate: { "mrr@10": 0.5 }, baseline: { "mrr@10": 0.6 } }, "mrr@10").sign).toBe(-1);
    expect(metricCell(null, "mrr@10").value).toBe("—");
  });
});

describe("statsFromExport", () => {
  it("counts likes and dislikes per day and lists the latest first", () => {
    const jsonl = [
      { message_id: "a", question: "q1", verdict: "like", comment: null, voted_at: "2026-05-01T10:00:00+00:00", sources: {} },
      { message_id: "b", question: "q2", verdict: "dislike", comment: "no", voted_at: "2026-05-02T10:00:00+00:00", sources: { c1: "irrelevant" } },
      { message_id: "c", question: "q3", verdict: "like", comment: null, voted_at: "2026-05-02T11:00:00+00:00", sources: {} },
    ].map((r) => JSON.stringify(r)).join("\n");
    const stats = statsFromExport(jsonl);
    expect([stats.total, stats.likes, stats.dislikes]).toEqual([3, 2, 1]);
    expect(stats.by_day).toEqual([
      { day: "2026-05-01", likes: 1, dislikes: 0 },
      { day: "2026-05-02", likes: 1, dislikes: 1 },
    ]);
    expect(stats.latest.map((r) => r.message_id)).toEqual(["c", "b", "a"]);
  });
});
