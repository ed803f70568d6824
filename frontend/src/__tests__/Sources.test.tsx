import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import Documents, { ACCEPTED_FILE_TYPES } from "../admin/Documents";
import Sources, { newSourceBody, optionsSummary, reportSummary } from "../admin/Sources";
import { adminCaller } from "../admin/session";
import { splitList } from "../lib/api";
import type { DocumentSource, Job, SyncSource } from "../lib/types";

const source = (overrides: Partial<SyncSource> = {}): SyncSource => ({
  id: "src-web",
  kind: "web",
  name: "Handbook site",
  location: "https://handbook.example.com/",
  schedule: "daily",
  status: "ok",
  options: { mode: "crawl", max_depth: 2, max_pages: 200 },
  document_count: 12,
  chunk_count: 80,
  missing_count: 0,
  last_sync_at: "2026-05-01T10:00:00+00:00",
  next_sync_at: "2026-05-02T10:00:00+00:00",
  last_error: null,
  last_report: null,
  created_at: "2026-04-01T10:00:00+00:00",
  job: null,
  ...overrides,
});

const GIT = source({
  id: "src-git", kind: "git", name: "platform docs", location: "https://github.com/example/platform.git", schedule: "hourly",
  status: "partial", options: { branch: "main", include: ["docs/**"], exclude: [] }, document_count: 3, missing_count: 2,
  last_error: "2 files could not be read.",
  last_report: {
    added: 1, updated: 2, unchanged: 40, removed: 0, chunks_embedded: 9,
    failed: [{ path: "docs/big.pdf", reason: "encrypted PDF: export it without a password" }],
    skipped: [{ path: "docs/logo.svg", reason: "not a supported type" }],
  },
});

const UPLOAD = source({ id: "src-up", kind: "upload", name: "Uploads", location: "upload://", schedule: "never", options: {}, document_count: 2, next_sync_at: null });

const DOCS: DocumentSource[] = [
  { id: "d1", uri: "https://handbook.example.com/refunds", title: "Refunds", kind: "html", size_bytes: 10, chunk_count: 2, created_at: null,
    sync_source_id: "src-web", missing_since: "2026-05-01T10:00:00+00:00", origin: "https://handbook.example.com/refunds" },
];

interface Sent { url: string; method: string; body: unknown; auth: string | null }

/** An in-memory stand-in for the sync sources routes; a sync runs for `steps` job polls, then reports. */
function fakeServer(initial: SyncSource[], { steps = 2 } = {}) {
  let sources = [...initial];
  const jobPolls: Record<string, number> = {};
  const sent: Sent[] = [];
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  const job = (id: string, status: Job["status"], done: number): Job => ({
    id, kind: "sync", status, progress: { done, total: 4, message: done < 4 ? "fetching docs/install.md" : null },
    created_at: null, started_at: null, finished_at: null, error: null, result: null, params: {}, cancel_requested: false,
  });
  const fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    const body = init.body ? JSON.parse(init.body as string) : undefined;
    sent.push({ url, method, body, auth: (init.headers as Record<string, string>)?.Authorization ?? null });
    if (url === "/api/sources") return json(DOCS);
    if (url === "/api/admin/sources" && method === "GET") return json(sources);
    if (url === "/api/admin/sources" && method === "POST") {
      if (!/^https?:\/\//.test(body.location)) return json({ error: "'location' must be an http(s) URL, e.g. https://docs.example.com/." }, 400);
      const made = source({ id: "src-new", kind: body.kind, name: body.name ?? body.location, location: body.location, schedule: body.schedule,
        options: body.options, status: "new", document_count: 0, chunk_count: 0, last_sync_at: null,
        job: { id: "job-new", status: "queued", progress: { done: 0, total: 0, message: null } } });
      sources = [...sources, made];
      return json({ source: made, job_id: "job-new" }, 202);
    }
    const sync = url.match(/^\/api\/admin\/sources\/([^/]+)\/sync$/);
    if (sync && method === "POST") {
      const found = sources.find((s) => s.id === sync[1])!;
      if (found.status === "syncing") return json({ error: "'platform docs' is already syncing; wait for it to finish." }, 409);
      const syncing = { ...found, status: "syncing" as const, job: { id: "job-1", status: "running", progress: { done: 1, total: 4, message: "fetching docs/install.md" } } };
      sources = sources.map((s) => (s.id === found.id ? syncing : s));
      return json({ source: syncing, job_id: "job-1" }, 202);
    }
    const jobUrl = url.match(/^\/api\/jobs\/(.+)$/);
    if (jobUrl) {
      const polls = (jobPolls[jobUrl[1]] = (jobPolls[jobUrl[1]] ?? 0) + 1);
      if (polls < steps) return json(job(jobUrl[1], "running", 1));
      sources = sources.map((s) =>
        s.job?.id === jobUrl[1]
          ? { ...s, status: "ok", job: null, document_count: s.document_count + 1, last_error: null,
              last_report: { added: 1, updated: 0, unchanged: 3, removed: 0, chunks_embedded: 5, failed: [], skipped: [] } }
          : s,
      );
      return json(job(jobUrl[1], "done", 4));
    }
    const one = url.match(/^\/api\/admin\/sources\/([^/]+)$/);
    if (one && method === "PATCH") {
      sources = sources.map((s) => (s.id === one[1] ? { ...s, ...body } : s));
      return json(sources.find((s) => s.id === one[1]));
    }
    if (one && method === "DELETE") {
      const gone = sources.find((s) => s.id === one[1])!;
      sources = sources.filter((s) => s.id !== one[1]);
      return json({ id: gone.id, documents: gone.document_count });
    }
    return json({ error: "unexpected" }, 500);
  });
  vi.stubGlobal("fetch", fetchMock);
  return { sent, set: (next: SyncSource[]) => (sources = next) };
}

const call = adminCaller("admin-token", () => {});
const card = (name: string) => screen.getAllByTestId("sync-source").find((el) => el.textContent?.includes(name))!;

afterEach(() => vi.unstubAllGlobals());

describe("sync source helpers", () => {
  it("splits globs on commas and newlines", () => {
    expect(splitList("docs/**, README.md\n\n  **/*.rst ,")).toEqual(["docs/**", "README.md", "**/*.rst"]);
  });

  it("summarises a report and a source's options", () => {
    expect(reportSummary(GIT.last_report!)).toBe("1 added, 2 updated, 40 unchanged, 9 chunks embedded");
    expect(reportSummary({ added: 0, updated: 0, unchanged: 0, removed: 0, chunks_embedded: 0, failed: [], skipped: [] })).toBe("nothing changed");
    expect(optionsSummary(source())).toBe("crawl · depth 2 · up to 200 pages");
    expect(optionsSummary(GIT)).toBe("branch main · include docs/**");
  });

  it("leaves empty web limits to the server and sends a git branch of null for the default", () => {
    const form = { kind: "web" as const, location: " https://a.example/ ", name: "", schedule: "weekly" as const, mode: "sitemap" as const,
      maxDepth: "", maxPages: "50", branch: "", include: "", exclude: "" };
    expect(newSourceBody(form)).toEqual({ kind: "web", location: "https://a.example/", schedule: "weekly", options: { mode: "sitemap", max_pages: 50 } });
    expect(newSourceBody({ ...form, kind: "git" })).toEqual({ kind: "git", location: "https://a.example/", schedule: "weekly", options: { branch: null, include: [], exclude: [] } });
    expect(newSourceBody({ ...form, kind: "git", name: "Team" })).toMatchObject({ kind: "git", name: "Team" });
  });
});

describe("Sources", () => {
  it("lists each source with its kind, location, schedule, status, counts and last report", async () => {
    fakeServer([source(), GIT, UPLOAD]);
    render(<Sources call={call} />);
    expect(await screen.findAllByTestId("sync-source")).toHaveLength(3);

    const web = card("Handbook site");
    expect(web.textContent).toContain("web");
    expect(web.textContent).toContain("https://handbook.example.com/");
    expect(within(web).getByTestId("document-count").textContent).toBe("12 documents");
    expect(web.textContent).toContain("80 chunks");
    expect(web.textContent).toMatch(/synced .*next /);
    expect((within(web).getByLabelText("Schedule for Handbook site") as HTMLSelectElement).value).toBe("daily");
    expect(within(web).queryByTestId("missing-count")).toBeNull();

    const git = card("platform docs");
    expect(git.querySelector(".status")!.textContent).toBe("partial");
    expect(within(git).getByTestId("missing-count").textContent).toBe("2 missing upstream");
    expect(git.textContent).toContain("2 files could not be read.");
    expect(git.textContent).toContain("Last sync: 1 added, 2 updated, 40 unchanged, 9 chunks embedded.");
    const details = git.querySelector("details")!;
    expect(details.querySelector("summary")!.textContent).toBe("1 failed, 1 skipped");
    expect(details.textContent).toContain("docs/big.pdf: encrypted PDF: export it without a password");
    expect(details.textContent).toContain("docs/logo.svg: not a supported type");

    // an uploaded set has nothing upstream: no schedule, no sync
    const upload = card("Uploads");
    expect(within(upload).queryByRole("button", { name: /Sync/ })).toBeNull();
    expect(within(upload).queryByLabelText(/Schedule for/)).toBeNull();
    expect(within(upload).getByTestId("document-count").textContent).toBe("2 documents");
  });

  it("changes a schedule with PATCH", async () => {
    const { sent } = fakeServer([source()]);
    render(<Sources call={call} />);
    fireEvent.change(await screen.findByLabelText("Schedule for Handbook site"), { target: { value: "weekly" } });
    await waitFor(() => expect(sent.some((s) => s.method === "PATCH")).toBe(true));
    const patch = sent.find((s) => s.method === "PATCH")!;
    expect(patch).toEqual({ url: "/api/admin/sources/src-web", method: "PATCH", body: { schedule: "weekly" }, auth: "Bearer admin-token" });
    await waitFor(() => expect((screen.getByLabelText("Schedule for Handbook site") as HTMLSelectElement).value).toBe("weekly"));
  });

  it("syncs now, shows the job's progress, then the report, and tells the page its documents changed", async () => {
    const { sent } = fakeServer([GIT], { steps: 3 });
    const changed = vi.fn();
    render(<Sources call={call} pollMs={20} onDocumentsChanged={changed} />);
    fireEvent.click(await screen.findByRole("button", { name: "Sync platform docs now" }));
    const bar = await screen.findByRole("progressbar", { name: "Syncing platform docs" });
    expect(bar.getAttribute("aria-valuenow")).toBe("25");
    expect(card("platform docs").textContent).toContain("fetching docs/install.md");
    expect(card("platform docs").querySelector(".status")!.textContent).toBe("syncing");
    expect((screen.getByRole("button", { name: "Sync platform docs now" }) as HTMLButtonElement).disabled).toBe(true);

    await waitFor(() => expect(card("platform docs").querySelector(".status")!.textContent).toBe("ok"));
    expect(screen.queryByRole("progressbar")).toBeNull();
    expect(card("platform docs").textContent).toContain("Last sync: 1 added, 3 unchanged, 5 chunks embedded.");
    expect(within(card("platform docs")).getByTestId("document-count").textContent).toBe("4 documents");
    expect(changed).toHaveBeenCalled();
    expect(sent.filter((s) => s.method === "POST").map((s) => s.url)).toEqual(["/api/admin/sources/src-git/sync"]);
    expect(sent.some((s) => s.url === "/api/jobs/job-1")).toBe(true);
  });

  it("offers no second sync, and no delete, while the list says a source is syncing", async () => {
    fakeServer([{ ...GIT, status: "syncing", job: null }]);
    render(<Sources call={call} pollMs={20} />);
    await screen.findAllByTestId("sync-source");
    expect((screen.getByRole("button", { name: "Sync platform docs now" }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Delete source platform docs" }) as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByRole("progressbar", { name: "Syncing platform docs" })).toBeTruthy();
  });

  it("reports a refused sync (409) as the API's line", async () => {
    const server = fakeServer([GIT]);
    render(<Sources call={call} />);
    const button = await screen.findByRole("button", { name: "Sync platform docs now" });
    server.set([{ ...GIT, status: "syncing" }]); // another admin started one since the page loaded
    fireEvent.click(button);
    expect((await within(card("platform docs")).findByRole("alert")).textContent).toBe("'platform docs' is already syncing; wait for it to finish.");
  });

  it("deletes a source only after a confirmation, and says how many documents went with it", async () => {
    const { sent } = fakeServer([source(), GIT]);
    const changed = vi.fn();
    render(<Sources call={call} onDocumentsChanged={changed} />);
    fireEvent.click(await screen.findByRole("button", { name: "Delete source platform docs" }));
    expect(sent.some((s) => s.method === "DELETE")).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "Keep it" }));
    expect(screen.getAllByTestId("sync-source")).toHaveLength(2);

    fireEvent.click(screen.getByRole("button", { name: "Delete source platform docs" }));
    const confirm = screen.getByRole("group", { name: "Confirm deleting platform docs" });
    expect(confirm.textContent).toContain("Its 3 documents and their chunks go too.");
    fireEvent.click(within(confirm).getByRole("button", { name: "Yes, delete" }));
    expect((await screen.findByRole("status")).textContent).toBe("Deleted platform docs and its 3 documents.");
    await waitFor(() => expect(screen.getAllByTestId("sync-source")).toHaveLength(1));
    expect(sent.filter((s) => s.method === "DELETE").map((s) => s.url)).toEqual(["/api/admin/sources/src-git"]);
    expect(changed).toHaveBeenCalled();
  });

  it("adds a crawled web site with its limits and schedule, and follows its first sync", async () => {
    const { sent } = fakeServer([], { steps: 2 });
    render(<Sources call={call} pollMs={20} />);
    await screen.findByText(/No sources yet/);
    fireEvent.change(screen.getByLabelText("URL"), { target: { value: "https://docs.example.com/" } });
    fireEvent.change(screen.getByLabelText("Mode"), { target: { value: "crawl" } });
    fireEvent.change(screen.getByLabelText("Max depth"), { target: { value: "3" } });
    fireEvent.change(screen.getByLabelText("Max pages"), { target: { value: "150" } });
    fireEvent.change(screen.getByLabelText("Schedule"), { target: { value: "weekly" } });
    fireEvent.click(screen.getByRole("button", { name: "Add source" }));

    expect((await screen.findByRole("status")).textContent).toContain("its first sync has started");
    const post = sent.find((s) => s.method === "POST")!;
    expect(post.url).toBe("/api/admin/sources");
    expect(post.auth).toBe("Bearer admin-token");
    expect(post.body).toEqual({ kind: "web", location: "https://docs.example.com/", schedule: "weekly", options: { mode: "crawl", max_depth: 3, max_pages: 150 } });
    expect((screen.getByLabelText("URL") as HTMLInputElement).value).toBe("");
    await waitFor(() => expect(card("https://docs.example.com/").querySelector(".status")!.textContent).toBe("ok"));
    expect(sent.some((s) => s.url === "/api/jobs/job-new")).toBe(true);
  });

  it("adds a git repository with a branch and include/exclude globs", async () => {
    const { sent } = fakeServer([]);
    render(<Sources call={call} />);
    await screen.findByText(/No sources yet/);
    fireEvent.change(screen.getByLabelText("What to add"), { target: { value: "git" } });
    expect(screen.queryByLabelText("Mode")).toBeNull();
    fireEvent.change(screen.getByLabelText("Repository URL"), { target: { value: "https://github.com/example/platform.git" } });
    fireEvent.change(screen.getByLabelText("Branch"), { target: { value: "release" } });
    fireEvent.change(screen.getByLabelText("Include"), { target: { value: "docs/**, README.md\nguides/*.rst" } });
    fireEvent.change(screen.getByLabelText("Exclude"), { target: { value: "docs/archive/**" } });
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: "Platform" } });
    fireEvent.click(screen.getByRole("button", { name: "Add source" }));
    await waitFor(() => expect(sent.some((s) => s.method === "POST")).toBe(true));
    expect(sent.find((s) => s.method === "POST")!.body).toEqual({
      kind: "git", location: "https://github.com/example/platform.git", name: "Platform", schedule: "daily",
      options: { branch: "release", include: ["docs/**", "README.md", "guides/*.rst"], exclude: ["docs/archive/**"] },
    });
  });

  it("shows the API's error line when a source is refused, and keeps what was typed", async () => {
    fakeServer([]);
    render(<Sources call={call} />);
    await screen.findByText(/No sources yet/);
    expect(Array.from((screen.getByLabelText("What to add") as HTMLSelectElement).options).map((o) => o.value)).toEqual(["web", "git"]);
    fireEvent.change(screen.getByLabelText("URL"), { target: { value: "docs.example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Add source" }));
    const form = screen.getByRole("form", { name: "Add a source" });
    expect((await within(form).findByRole("alert")).textContent).toBe("'location' must be an http(s) URL, e.g. https://docs.example.com/.");
    expect((screen.getByLabelText("URL") as HTMLInputElement).value).toBe("docs.example.com");
    expect(screen.queryAllByTestId("sync-source")).toHaveLength(0);
  });
});

describe("Documents", () => {
  it("accepts the new formats, lists the sources, and shows where a document came from and that it went missing", async () => {
    fakeServer([source()]);
    render(<Documents call={call} token="admin-token" />);
    const input = document.getElementById("upload-input") as HTMLInputElement;
    for (const ext of [".docx", ".pptx", ".xlsx", ".csv", ".epub", ".ipynb", ".jsonl", ".rst", ".png", ".jpeg"]) {
      expect(input.accept.split(",")).toContain(ext);
    }
    expect(ACCEPTED_FILE_TYPES).toHaveLength(22);
    expect(await screen.findByTestId("sync-source")).toBeTruthy();
    const row = await screen.findByTestId("document-row");
    expect(row.textContent).toContain("missing upstream since");
    expect(row.querySelectorAll("td.num")).toHaveLength(1);
  });
});
