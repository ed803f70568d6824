import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import Evaluate, { placeLabels, seconds, specOf, usd, type AnswerEvaluation, type ConfigResult } from "../admin/Evaluate";
import { adminCaller } from "../admin/session";
import { parseRoute } from "../lib/router";

const config = (name: string, overrides: Partial<ConfigResult> = {}): ConfigResult => ({
  name, spec: {}, questions: 3, answered: 3, errors: 0, judged: 0, judge_score: null, similarity: 0.61,
  faithfulness: { supported_citations: null, unsupported_sentences: null, uncited_answers: 0 },
  latency: { first_token_p50: 0.012, full_p50: 0.25, full_p95: 1.5 },
  tokens: { input: 812.4, output: 95 }, cost_per_question: 0, monthly_cost: 0, ...overrides,
});

const SUMMARY: AnswerEvaluation = {
  dataset: "the frozen evaluation set", questions: 3, reference: "relevant-chunk", similarity_method: "bertscore-f1 (all-MiniLM-L6-v2)",
  judge: null, judge_note: "No judge: set ANTHROPIC_API_KEY (or OPENAI_BASE_URL) to get judge scores.",
  traffic: { users: 250, questions_per_day: 4 }, interrupted: false,
  configs: [config("serving"), config("dense", { similarity: 0.52, latency: { first_token_p50: null, full_p50: 0.1, full_p95: 0.2 } }),
    config("hybrid", { similarity: null, cost_per_question: 0.0042, monthly_cost: 126 })],
  report_url: "/api/admin/answer-evaluations/j1/report",
};

interface Sent { url: string; method: string; body: any }

/** The server's routes this page uses, in memory (the component and its fetches are real). */
function fakeServer({ questions = 12 }: { questions?: number } = {}) {
  const sent: Sent[] = [];
  let jobReads = 0;
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  const job = (status: string, extra: object = {}) => ({
    id: "j1", kind: "evaluate_answers", status, params: {}, result: null, error: null, cancel_requested: false,
    created_at: "2026-05-01T10:00:00+00:00", started_at: null, finished_at: null,
    progress: { done: 2, total: 9, percent: 22.2, message: "serving: question 2 of 3" }, ...extra,
  });
  vi.stubGlobal("fetch", vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    const body = init.body ? JSON.parse(init.body as string) : undefined;
    sent.push({ url, method, body });
    if (url === "/api/admin/evaluation") return json({ questions, fingerprint: "f", feedback: questions, import: 0, serving: null });
    if (url === "/api/admin/models") return json({ versions: [{ version: "v0002" }, { version: "v0001" }] });
    if (url.startsWith("/api/jobs?")) return json({ jobs: [] });
    if (url === "/api/admin/answer-evaluations" && method === "POST") {
      if (body.configs.some((c: { name: string }) => c.name === "bad")) return json({ error: "'configs[0].model': no model version 'v9'." }, 400);
      return json({ job_id: "j1", status: "queued" }, 202);
    }
    if (url === "/api/jobs/j1") {
      jobReads += 1;
      return json(jobReads < 2 ? job("running") : job("done", { result: SUMMARY, progress: { done: 9, total: 9, percent: 100, message: "done" } }));
    }
    if (url === SUMMARY.report_url) return new Response("# Answer evaluation\n", { status: 200, headers: { "Content-Type": "text/markdown" } });
    return json({ error: "unexpected" }, 500);
  }));
  return { sent, posted: () => sent.filter((s) => s.method === "POST" && s.url === "/api/admin/answer-evaluations") };
}

const call = adminCaller("admin-token", () => {});

afterEach(() => vi.unstubAllGlobals());

describe("formatting", () => {
  it("shows seconds, money and a spec as the server takes them", () => {
    expect(seconds(null)).toBe("—");
    expect(seconds(0.0123)).toBe("12 ms");
    expect(seconds(2.345)).toBe("2.35 s");
    expect(usd(null)).toBe("—");
    expect(usd(0)).toBe("$0");
    expect(usd(0.00042)).toBe("$0.00042");
    expect(usd(1234.5)).toBe("$1,234.50");
    expect(specOf({ name: " dense ", model: "", mode: "dense", weight: "0.3", k: 4 })).toEqual({ name: "dense", mode: "dense", k: 4 });
    expect(specOf({ name: "h", model: "v0002", mode: "hybrid", weight: "0.3", k: 6 })).toEqual({ name: "h", model: "v0002", mode: "hybrid", weight: 0.3, k: 6 });
  });

  it("has its own admin section at /admin/evaluate", () => {
    expect(parseRoute("/admin/evaluate")).toEqual({ page: "admin", section: "evaluate" });
  });
});

describe("placeLabels", () => {
  it("moves a label down past one it would overlap, and leaves distant ones beside their point", () => {
    const [a, b, c] = placeLabels([{ name: "serving", x: 100, y: 50 }, { name: "dense", x: 104, y: 50 }, { name: "far", x: 400, y: 50 }]);
    expect(a).toEqual({ x: 108, y: 42 });
    expect(b).toEqual({ x: 112, y: 56 });
    expect(c).toEqual({ x: 408, y: 42 });
  });
});

describe("Evaluate", () => {
  it("runs the preset on the frozen set, follows the job and shows the table and the plot", async () => {
    const server = fakeServer();
    render(<Evaluate call={call} token="admin-token" />);
    expect((await screen.findByTestId("frozen-size")).textContent).toBe("(12 questions)");
    await screen.findByRole("option", { name: "v0002" });

    fireEvent.click(screen.getByRole("button", { name: "Preset: serving / dense / hybrid" }));
    expect(screen.getAllByTestId("pipeline-row")).toHaveLength(3);
    expect((screen.getByLabelText("Weight of pipeline 2") as HTMLInputElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText("Model of pipeline 3"), { target: { value: "v0002" } });
    fireEvent.change(screen.getByLabelText("Weight of pipeline 3"), { target: { value: "0.7" } });
    fireEvent.change(screen.getByLabelText("Reference"), { target: { value: "relevant-chunk" } });
    fireEvent.change(screen.getByLabelText("Users"), { target: { value: "250" } });
    fireEvent.change(screen.getByLabelText("Questions per user per day"), { target: { value: "4" } });
    fireEvent.click(screen.getByRole("button", { name: "Run" }));

    await waitFor(() => expect(server.posted()).toHaveLength(1));
    expect(server.posted()[0].body).toEqual({
      dataset: "frozen", reference: "relevant-chunk", users: 250, questions_per_day: 4,
      configs: [{ name: "serving", k: 4 }, { name: "dense", mode: "dense", k: 4 }, { name: "hybrid", model: "v0002", mode: "hybrid", weight: 0.7, k: 4 }],
    });
    expect(await screen.findByRole("progressbar", { name: "Evaluation progress" })).toBeTruthy();
    expect(screen.getByText(/serving: question 2 of 3/)).toBeTruthy();

    const rows = await screen.findAllByTestId("evaluation-row", {}, { timeout: 4000 });
    expect(rows.map((r) => within(r).getByRole("rowheader").textContent)).toEqual(["serving", "dense", "hybrid"]);
    const cells = (r: HTMLElement) => within(r).getAllByRole("cell").map((c) => c.textContent);
    expect(cells(rows[0])).toEqual(["3/3", "—", "0.610", "—", "—", "0%", "12 ms", "250 ms", "1.50 s", "812 / 95", "$0", "$0"]);
    expect(cells(rows[2])).toContain("$126.00");
    expect(screen.getByTestId("similarity-method").textContent).toBe("bertscore-f1 (all-MiniLM-L6-v2)");
    expect(screen.getByTestId("judge-note").textContent).toContain("No judge");

    // y is the similarity (no judge), x the full p50: hybrid has no similarity, so two points
    const plot = screen.getByRole("img", { name: /^similarity to the reference against full answer latency/ });
    const points = within(plot).getAllByTestId("plot-point");
    expect(points.map((p) => p.textContent)).toEqual(["serving: 0.610 at 250 msserving", "dense: 0.520 at 100 msdense"]);
    const [serving, dense] = points.map((p) => p.querySelector("circle")!);
    expect(Number(dense.getAttribute("cx"))).toBeLessThan(Number(serving.getAttribute("cx")));  // faster
    expect(Number(dense.getAttribute("cy"))).toBeGreaterThan(Number(serving.getAttribute("cy")));  // scored lower
    expect(screen.getByText(/Not plotted .*: hybrid/)).toBeTruthy();
  });

  it("refuses two pipelines with one name, and shows the server's refusal", async () => {
    const server = fakeServer();
    render(<Evaluate call={call} token="admin-token" />);
    await screen.findByTestId("pipeline-row");
    fireEvent.click(screen.getByRole("button", { name: "Add a pipeline" }));
    fireEvent.change(screen.getByLabelText("Name of pipeline 2"), { target: { value: "serving" } });
    expect(screen.getByText("Two pipelines are named “serving”; names must differ.")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Run" }) as HTMLButtonElement).disabled).toBe(true);

    fireEvent.click(screen.getByRole("button", { name: "Remove pipeline 2" }));
    fireEvent.change(screen.getByLabelText("Name of pipeline 1"), { target: { value: "bad" } });
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    expect((await screen.findByRole("alert")).textContent).toContain("no model version 'v9'");
    expect(server.posted()).toHaveLength(1);
  });

  it("sends an uploaded IR JSON file with its name", async () => {
    const server = fakeServer();
    render(<Evaluate call={call} token="admin-token" />);
    await screen.findByTestId("frozen-size");
    fireEvent.click(screen.getByLabelText("an IR JSON file"));
    expect((screen.getByRole("button", { name: "Run" }) as HTMLButtonElement).disabled).toBe(true);

    const bad = new File(["{\"queries\": {}}"], "broken.json", { type: "application/json" });
    fireEvent.change(screen.getByLabelText("IR JSON file"), { target: { files: [bad] } });
    expect((await screen.findByRole("alert")).textContent).toBe("broken.json is not IR JSON: it lacks corpus, relevant_docs.");

    const ir = { queries: { q1: "When does the bakery open?", q2: "How many steps?" }, corpus: { c1: "six", c2: "212" },
      relevant_docs: { q1: ["c1"], q2: ["c2"] }, answers: { q1: "At six." } };
    fireEvent.change(screen.getByLabelText("IR JSON file"), { target: { files: [new File([JSON.stringify(ir)], "harbour.json")] } });
    expect((await screen.findByTestId("upload-size")).textContent).toBe("harbour.json: 2 questions");
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    await waitFor(() => expect(server.posted()).toHaveLength(1));
    expect(server.posted()[0].body).toMatchObject({ dataset: ir, dataset_name: "harbour.json", configs: [{ name: "serving", k: 4 }] });
  });
});
