import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import Workbench, { pipelineBody, ranksInOther } from "../admin/Workbench";
import { adminCaller } from "../admin/session";
import { parseRoute } from "../lib/router";
import type { ModelVersion, WorkbenchColumn, WorkbenchHit, WorkbenchPipeline } from "../lib/types";

const hit = (chunk_id: string, rank: number, overrides: Partial<WorkbenchHit> = {}): WorkbenchHit => ({
  chunk_id, rank, score: 1 / rank, dense_score: 0.5, lexical_score: 2.25, title: "Refund policy", source: "refunds.md",
  link: null, page: null, headings: [], location: null, text: `Chunk ${chunk_id} text`, source_id: "s1",
  dense_rank: rank, lexical_rank: rank, rated: { likes: 0, dislikes: 0, relevant: 0, irrelevant: 0 }, ...overrides,
});

const column = (label: string, hits: WorkbenchHit[], pipeline = "hybrid:convex-minmax:0.5"): WorkbenchColumn => ({
  label, hits,
  description: {
    version: null, serving: true, model_name: "all-MiniLM-L6-v2", fingerprint: "fp", pipeline, mode: "hybrid",
    method: "convex", normalise: "minmax", weight: 0.5, candidates: 50, weight_source: "default",
    weight_detail: "the measured default", dense_leg: "the serving collection c", lexical_leg: "bm25-en",
    encoded_now: null, took_ms: 12.5,
  },
});

const VERSIONS = [{ version: "v0002", status: "candidate" }, { version: "v0001", status: "archived" }] as ModelVersion[];

/** The two admin routes the page calls, answered in memory (the component and its fetches are real). */
function fakeServer() {
  const sent: { question: string; k: number; pipelines: WorkbenchPipeline[] }[] = [];
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  vi.stubGlobal("fetch", vi.fn(async (url: string, init: RequestInit = {}) => {
    if (url === "/api/admin/models") return json({ versions: VERSIONS });
    if (url === "/api/admin/workbench" && init.method === "POST") {
      const body = JSON.parse(init.body as string);
      sent.push(body);
      if (body.pipelines.some((p: WorkbenchPipeline) => p.version === "v0001")) {
        return json({ error: "The checkpoint of v0001 is missing on disk; it cannot be compared." }, 409);
      }
      return json({
        question: body.question,
        pipelines: [
          column("serving · hybrid", [
            hit("a", 1, { headings: ["Exceptions"], rated: { likes: 2, dislikes: 1, relevant: 1, irrelevant: 0 } }),
            hit("b", 2, { lexical_rank: null, lexical_score: null }),
            hit("c", 3),
          ]),
          column("v0002 · dense", [hit("b", 1), hit("a", 2), hit("d", 3)], "dense"),
        ],
      });
    }
    return json({ error: "unexpected" }, 500);
  }));
  return { sent };
}

const call = adminCaller("admin-token", () => {});

afterEach(() => vi.unstubAllGlobals());

describe("pipelineBody and ranksInOther", () => {
  it("has its own admin section at /admin/workbench", () => {
    expect(parseRoute("/admin/workbench")).toEqual({ page: "admin", section: "workbench" });
  });

  it("sends only what differs from the serving pipeline", () => {
    expect(pipelineBody({ version: "", mode: "", weight: "" })).toEqual({});
    expect(pipelineBody({ version: "v0002", mode: "hybrid", weight: "0.25" })).toEqual({ version: "v0002", mode: "hybrid", weight: 0.25 });
  });

  it("finds each chunk's rank in the other column", () => {
    const [left, right] = ranksInOther([column("A", [hit("a", 1), hit("b", 2)]), column("B", [hit("b", 1)])]);
    expect(left.get("b")).toBe(1);
    expect(left.get("a")).toBeUndefined();
    expect(right.get("b")).toBe(2);
  });
});

describe("Workbench", () => {
  it("compares two pipelines and shows both ranked lists with leg ranks, scores, heading path, ratings and moves", async () => {
    const { sent } = fakeServer();
    render(<Workbench call={call} />);
    await screen.findAllByRole("option", { name: "v0002 (candidate)" });
    fireEvent.change(screen.getByLabelText("Question"), { target: { value: "How long do refunds take?" } });
    fireEvent.change(screen.getByLabelText("Model of B"), { target: { value: "v0002" } });
    fireEvent.change(screen.getByLabelText("Weight of A"), { target: { value: "0.3" } });
    fireEvent.click(screen.getByRole("button", { name: "Compare" }));

    const left = await screen.findByTestId("workbench-column-A");
    expect(sent).toEqual([{ question: "How long do refunds take?", k: 10, pipelines: [{ weight: 0.3 }, { version: "v0002", mode: "dense" }] }]);
    const right = screen.getByTestId("workbench-column-B");
    expect(within(left).getByRole("heading").textContent).toBe("A: serving · hybrid");
    expect(right.textContent).toContain("dense · weight 0.5 (default: the measured default) · 12.5 ms");

    const rows = within(left).getAllByTestId("workbench-hit");
    expect(rows).toHaveLength(3);
    expect(rows[0].textContent).toContain("#1");
    expect(rows[0].textContent).toContain("Refund policy › Exceptions");
    expect(within(rows[0]).getByTestId("dense-leg").textContent).toBe("dense #1 0.500");
    expect(within(rows[0]).getByTestId("lexical-leg").textContent).toBe("lexical #1 2.250");
    expect(within(rows[0]).getByTestId("rated").textContent).toBe("rated: 2 liked, 1 disliked · marked relevant 1, irrelevant 0");
    expect(within(rows[1]).getByTestId("lexical-leg").textContent).toBe("lexical —");
    expect(within(rows[1]).getByTestId("rated").textContent).toBe("rated: 0 liked, 0 disliked");
    // what moved: a is 2nd in B, b is 1st in B, c is not in B at all
    expect(within(rows[0]).getByTestId("moved").textContent).toBe("▼ B #2");
    expect(within(rows[1]).getByTestId("moved").textContent).toBe("▲ B #1");
    expect(rows[2].textContent).toContain("not in B");
    const rightRows = within(right).getAllByTestId("workbench-hit");
    expect(within(rightRows[0]).getByTestId("moved").textContent).toBe("▼ A #2");
  });

  it("says why a comparison was refused and keeps the form", async () => {
    fakeServer();
    render(<Workbench call={call} />);
    await screen.findAllByRole("option", { name: "v0001 (archived)" });
    fireEvent.change(screen.getByLabelText("Question"), { target: { value: "refunds" } });
    fireEvent.change(screen.getByLabelText("Model of A"), { target: { value: "v0001" } });
    fireEvent.click(screen.getByRole("button", { name: "Compare" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("checkpoint of v0001 is missing"));
    expect(screen.queryByTestId("workbench-column-A")).toBeNull();
    expect((screen.getByLabelText("Question") as HTMLInputElement).value).toBe("refunds");
  });
});
