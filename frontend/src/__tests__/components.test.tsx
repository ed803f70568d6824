import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import Composer from "../chat/Composer";
import MessageView from "../chat/MessageView";
import SourcesPanel, { headingPath, location } from "../chat/SourcesPanel";
import type { ChatMessage } from "../chat/useChat";
import type { Source } from "../lib/types";
import { fromStored } from "../chat/useChat";

const source = (n: number, text: string) => ({
  chunk_id: `chunk-${n}`, n, rank: n, score: 0.5 - n / 10, title: `Doc ${n}`, source: `upload://doc${n}.md`, page: n === 2 ? 3 : null, text, cited: n === 1,
});

const message = (overrides: Partial<ChatMessage> = {}): ChatMessage => ({
  key: "m1", id: "msg-1", question: "How many steps?", answer: "The keeper climbs 212 steps [1].",
  sources: [source(1, "climbs 212 steps"), source(2, "<b>bold</b> text")], status: "done", error: null, rating: null, ...overrides,
});

afterEach(() => vi.unstubAllGlobals());

describe("Composer", () => {
  it("sends on Enter and keeps Shift+Enter for a new line", () => {
    const onSend = vi.fn();
    render(<Composer streaming={false} onSend={onSend} onStop={() => {}} />);
    const box = screen.getByLabelText("Ask a question about your documents");
    fireEvent.change(box, { target: { value: "first line" } });
    fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).toHaveBeenCalledWith("first line");
    expect((box as HTMLTextAreaElement).value).toBe("");
  });

  it("offers Stop while an answer streams", () => {
    const onStop = vi.fn();
    render(<Composer streaming onSend={() => {}} onStop={onStop} />);
    fireEvent.click(screen.getByRole("button", { name: "Stop" }));
    expect(onStop).toHaveBeenCalled();
  });
});

describe("MessageView", () => {
  it("shows each source with title, location and score, and opens its text from a citation", () => {
    render(<MessageView message={message()} onRetry={() => {}} onRated={() => {}} />);
    expect(screen.getByText("Doc 1")).toBeTruthy();
    expect(screen.getByText(/doc2\.md, page 3/)).toBeTruthy();
    expect(screen.getByText(/score 0\.40/)).toBeTruthy();
    expect(screen.queryByText("climbs 212 steps")).toBeNull();
    fireEvent.click(screen.getByRole("link", { name: "source 1" }));
    expect(screen.getByText("climbs 212 steps")).toBeTruthy();
    expect(document.getElementById("src-m1-1")!.className).toContain("highlighted");
  });

  it("shows a document's text as text, never as HTML", () => {
    render(<MessageView message={message()} onRetry={() => {}} onRated={() => {}} />);
    fireEvent.click(screen.getAllByRole("button", { name: "Show text" })[1]);
    expect(screen.getByText("<b>bold</b> text")).toBeTruthy();
  });

  it("sends a source mark and reports the rating back", async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ message_id: "msg-1", feedback: null, sources: { "chunk-1": "relevant" }, comment: null }), { status: 200 }));
    vi.stubGlobal("fetch", fetchMock);
    const onRated = vi.fn();
    render(<MessageView message={message()} onRetry={() => {}} onRated={onRated} />);
    fireEvent.click(screen.getByRole("button", { name: "Source 1 helped" }));
    await waitFor(() => expect(onRated).toHaveBeenCalledWith({ feedback: null, sources: { "chunk-1": "relevant" }, comment: null }));
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/feedback");
    expect(JSON.parse(init.body as string)).toEqual({ message_id: "msg-1", sources: { "chunk-1": "relevant" } });
  });

  it("shows the rating it was given as pressed buttons", () => {
    render(<MessageView message={message({ rating: { feedback: "dislike", sources: { "chunk-2": "irrelevant" }, comment: "meh" } })} onRetry={() => {}} onRated={() => {}} />);
    expect(screen.getByRole("button", { name: "Bad answer" }).getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByRole("button", { name: "Good answer" }).getAttribute("aria-pressed")).toBe("false");
    expect(screen.getByRole("button", { name: "Source 2 did not help" }).getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByRole("button", { name: "Edit comment" })).toBeTruthy();
  });

  it("shows an error in place with a retry button", () => {
    const onRetry = vi.fn();
    render(<MessageView message={message({ status: "error", error: "The LLM timed out.", answer: "" })} onRetry={onRetry} onRated={() => {}} />);
    expect(screen.getByRole("alert").textContent).toContain("The LLM timed out.");
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(onRetry).toHaveBeenCalled();
  });

  it("never lets HTML from the answer run", () => {
    const { container } = render(<MessageView message={message({ answer: 'ok <img src=x onerror="alert(1)"><script>alert(2)</script>' })} onRetry={() => {}} onRated={() => {}} />);
    expect(container.querySelector("script, img, [onerror]")).toBeNull();
  });
});

describe("SourcesPanel", () => {
  const chunk = (overrides: Partial<Source> = {}): Source => ({
    chunk_id: "c1", n: 1, rank: 1, score: 0.8, title: "Handbook", source: "upload://handbook.docx", page: null, text: "Refunds are paid within 14 days.",
    headings: [], location: null, ...overrides,
  });
  const panel = (sources: Source[]) =>
    render(
      <SourcesPanel sources={sources} anchorPrefix="src-x" marks={{}} openSources={new Set()} highlighted={null} canRate busy={false} onToggle={() => {}} onMark={() => {}} />,
    );

  it("shows each source's heading path after its title, outermost first", () => {
    panel([chunk({ headings: ["Billing", "Refund policy"] })]);
    const title = screen.getByTestId("source").querySelector(".source-title")!;
    expect(title.textContent).toBe("Handbook › Billing › Refund policy");
    expect(title.getAttribute("title")).toBe("Handbook › Billing › Refund policy");
  });

  it("shows the title alone without headings (and for answers stored before headings existed)", () => {
    const { headings: _none, location: _nowhere, ...old } = chunk();
    panel([chunk({ chunk_id: "c1" }), { ...old, chunk_id: "c2", n: 2 }]);
    const titles = screen.getAllByTestId("source").map((el) => el.querySelector(".source-title")!.textContent);
    expect(titles).toEqual(["Handbook", "Handbook"]);
  });

  it("does not repeat a first heading that is the title", () => {
    expect(headingPath(chunk({ title: "Refund policy", headings: ["Refund policy", "Cards"] }), "Refund policy")).toEqual(["Refund policy", "Cards"]);
  });

  it("shows the location next to the file and page", () => {
    panel([
      chunk({ chunk_id: "c1", n: 1, source: "upload://deck.pptx", location: "slide 3" }),
      chunk({ chunk_id: "c2", n: 2, source: "upload://scan.pdf", page: 3, location: "page 3 (OCR)" }),
      chunk({ chunk_id: "c3", n: 3, source: "/srv/docs/sales.xlsx", location: "sheet Sales, rows 2–41" }),
      chunk({ chunk_id: "c4", n: 4, source: "upload://guide.epub", page: 7, location: "chapter 2: Setup" }),
    ]);
    const where = screen.getAllByTestId("source").map((el) => el.querySelector(".source-where")!.firstChild!.textContent);
    expect(where).toEqual(["deck.pptx, slide 3", "scan.pdf, page 3 (OCR)", "sales.xlsx, sheet Sales, rows 2–41", "guide.epub, page 7, chapter 2: Setup"]);
    expect(location(chunk({ page: 2 }))).toBe("handbook.docx, page 2");
  });
});

describe("fromStored", () => {
  it("turns a stored failed message into an error with its reason and keeps the rating", () => {
    const m = fromStored({ id: "x", question: "q", answer: null, status: "failed", error: "bad key", sources: [], feedback: { feedback: "like", sources: {}, comment: null } });
    expect(m.status).toBe("error");
    expect(m.error).toBe("bad key");
    expect(m.rating?.feedback).toBe("like");
  });

  it("shows a partial message (the client left mid-answer) as stopped, with its text and no error", () => {
    const m = fromStored({ id: "y", question: "q", answer: "Refunds take", status: "partial", error: "the client closed the connection", sources: [], feedback: null });
    expect(m.status).toBe("stopped");
    expect(m.answer).toBe("Refunds take");
    expect(m.error).toBeNull();
  });
});
