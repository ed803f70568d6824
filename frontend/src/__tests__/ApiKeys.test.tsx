import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import ApiKeys, { sourceNames, widgetSnippet } from "../admin/ApiKeys";
import { adminCaller } from "../admin/session";
import { parseRoute } from "../lib/router";
import type { ApiKey, DocumentSource } from "../lib/types";

const SOURCES: DocumentSource[] = [
  { id: "s1", uri: "upload://handbook.md", title: "Handbook", kind: "md", size_bytes: 10, chunk_count: 2, created_at: null },
  { id: "s2", uri: "upload://faq.md", title: null, kind: "md", size_bytes: 10, chunk_count: 1, created_at: null },
];

const key = (overrides: Partial<ApiKey> = {}): ApiKey => ({
  id: "k1", name: "docs widget", prefix: "dtk_AbCd", sources: null, created_at: "2026-05-01T10:00:00+00:00", last_used_at: null, ...overrides,
});

interface Sent { url: string; method: string; body: unknown; auth: string | null }

/** A small in-memory stand-in for the server's API keys routes (the component and its fetches are real). */
function fakeServer(initial: ApiKey[]) {
  let keys = [...initial];
  const sent: Sent[] = [];
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  const fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    const body = init.body ? JSON.parse(init.body as string) : undefined;
    sent.push({ url, method, body, auth: (init.headers as Record<string, string>)?.Authorization ?? null });
    if (url === "/api/sources") return json(SOURCES);
    if (url === "/api/admin/api_keys" && method === "GET") return json(keys);
    if (url === "/api/admin/api_keys" && method === "POST") {
      if (!/^[\x20-\x7e]+$/.test(body.name)) return json({ error: "'name' must be at most 200 printable characters." }, 400);
      const made = key({ id: "k2", name: body.name, prefix: "dtk_Zz9_", sources: body.sources ?? null });
      keys = [...keys, made];
      return json({ ...made, key: "dtk_Zz9_the-whole-secret-key" }, 201);
    }
    const revoke = url.match(/^\/api\/admin\/api_keys\/(.+)$/);
    if (revoke && method === "DELETE") {
      if (revoke[1] === "gone") return json({ error: "No API key with id 'gone'; GET /api/admin/api_keys lists them." }, 404);
      keys = keys.filter((k) => k.id !== revoke[1]);
      return json({});
    }
    return json({ error: "unexpected" }, 500);
  });
  vi.stubGlobal("fetch", fetchMock);
  return { sent };
}

const call = adminCaller("admin-token", () => {});

afterEach(() => vi.unstubAllGlobals());

describe("sourceNames and widgetSnippet", () => {
  it("has its own admin section at /admin/api-keys", () => {
    expect(parseRoute("/admin/api-keys")).toEqual({ page: "admin", section: "api-keys" });
  });

  it("names a key's sources by title (else location), and says when one was deleted", () => {
    expect(sourceNames(null, SOURCES)).toBe("all sources");
    expect(sourceNames(["s1", "s2", "s9"], SOURCES)).toBe("Handbook, upload://faq.md, s9 (deleted)");
  });

  it("gives the widget this server and the key", () => {
    const html = widgetSnippet("https://docs.example.com", "dtk_x");
    expect(html).toContain('apiHost: "https://docs.example.com"');
    expect(html).toContain('apiKey: "dtk_x"');
    expect(html).toContain("docsgpt@0.5.1/dist/modern/browser.js");
  });
});

describe("ApiKeys", () => {
  it("lists keys with their prefix and sources by title", async () => {
    fakeServer([key(), key({ id: "k3", name: "handbook bot", prefix: "dtk_Qq11", sources: ["s1"], last_used_at: "2026-05-02T10:00:00+00:00" })]);
    render(<ApiKeys call={call} />);
    const rows = await screen.findAllByTestId("api-key-row");
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain("dtk_AbCd…");
    expect(rows[0].textContent).toContain("all sources");
    expect(rows[0].textContent).toContain("never");
    expect(rows[1].textContent).toContain("Handbook");
    expect(rows[1].textContent).not.toContain("never");
  });

  it("creates a key with the ticked sources and shows it once, with the note and the snippet", async () => {
    const { sent } = fakeServer([]);
    render(<ApiKeys call={call} />);
    await screen.findByText("No API keys yet: create one above.");
    expect(screen.getByTestId("widget-snippet").textContent).toContain("<your API key>");
    expect(screen.getByTestId("widget-snippet").textContent).toContain("CORS_ALLOWED_ORIGINS");
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "harbour site" } });
    fireEvent.click(screen.getByLabelText(/Handbook/));
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));

    const shown = await screen.findByTestId("new-key");
    expect((within(shown).getByLabelText("The new API key") as HTMLInputElement).value).toBe("dtk_Zz9_the-whole-secret-key");
    expect(shown.textContent).toContain("it will not be shown again");
    expect(screen.getByTestId("widget-snippet").textContent).toContain('apiKey: "dtk_Zz9_the-whole-secret-key"');
    expect(screen.getByTestId("widget-snippet").textContent).toContain(`apiHost: "${window.location.origin}"`);
    const post = sent.find((s) => s.method === "POST")!;
    expect(post.body).toEqual({ name: "harbour site", sources: ["s1"] });
    expect(post.auth).toBe("Bearer admin-token");
    const row = await screen.findByTestId("api-key-row");
    expect(row.textContent).toContain("harbour site");
    expect(row.textContent).toContain("Handbook");
    expect(row.textContent).not.toContain("the-whole-secret-key");

    fireEvent.click(within(shown).getByRole("button", { name: "Done" }));
    expect(screen.queryByTestId("new-key")).toBeNull();
    expect(document.body.textContent).not.toContain("the-whole-secret-key");
  });

  it("copies the new key to the clipboard", async () => {
    fakeServer([]);
    const writeText = vi.fn(async () => {});
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    render(<ApiKeys call={call} />);
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "cli" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    fireEvent.click(await screen.findByRole("button", { name: "Copy" }));
    expect(await screen.findByText("Copied to the clipboard.")).toBeTruthy();
    expect(writeText).toHaveBeenCalledWith("dtk_Zz9_the-whole-secret-key");
  });

  it("shows the API's error when creating fails, and keeps what was typed", async () => {
    fakeServer([]);
    render(<ApiKeys call={call} />);
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "bell\u0007" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect((await screen.findByRole("alert")).textContent).toBe("'name' must be at most 200 printable characters.");
    expect((screen.getByLabelText("Name") as HTMLInputElement).value).toBe("bell\u0007");
    expect(screen.queryByTestId("new-key")).toBeNull();
  });

  it("revokes a key only after a confirmation", async () => {
    const { sent } = fakeServer([key()]);
    render(<ApiKeys call={call} />);
    fireEvent.click(await screen.findByRole("button", { name: "Revoke docs widget" }));
    expect(sent.some((s) => s.method === "DELETE")).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "Keep it" }));
    expect(screen.getAllByTestId("api-key-row")).toHaveLength(1);

    fireEvent.click(screen.getByRole("button", { name: "Revoke docs widget" }));
    fireEvent.click(within(screen.getByRole("group", { name: "Confirm revoking docs widget" })).getByRole("button", { name: "Yes, revoke" }));
    await screen.findByText("No API keys yet: create one above.");
    expect(sent.filter((s) => s.method === "DELETE").map((s) => s.url)).toEqual(["/api/admin/api_keys/k1"]);
  });

  it("shows the API's error when revoking fails", async () => {
    fakeServer([key({ id: "gone", name: "old" })]);
    render(<ApiKeys call={call} />);
    fireEvent.click(await screen.findByRole("button", { name: "Revoke old" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, revoke" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("No API key with id 'gone'"));
  });
});
