// Trends over a real SQLite file: seeded runs, approvals with known waits,
// rule verdicts, model turns and red-team reports give exact figures.
import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvals, models, redteamReports, runEvents, runs, toolCalls, type RunState } from "@/db/schema";
import { createProject } from "@/server/projects/projects";
import { createRun } from "@/server/runs/runs";
import { computeTrends } from "@/server/trends/trends";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";
import type { PublicUser } from "@/server/users/users";

const NOW = Date.UTC(2026, 5, 30, 12, 0, 0);
const DAY = 24 * 60 * 60 * 1000;
let t: TestDb;
let operator: PublicUser;
let reviewer: PublicUser;
let labId: string;
let modelA: string;
let modelB: string;

function seedRun(opts: { state: RunState; daysAgo: number; modelId?: string; projectId?: string }): string {
  const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "r", task: "t", agent: "external", projectId: opts.projectId });
  t.db
    .update(runs)
    .set({ state: opts.state, modelId: opts.modelId ?? null, createdAt: new Date(NOW - opts.daysAgo * DAY) })
    .where(eq(runs.id, run.id))
    .run();
  return run.id;
}

function seedApproval(runId: string, createdAt: number, waitMs: number | null, state: "approved" | "denied" | "expired" | "pending") {
  t.db
    .insert(approvals)
    .values({
      id: crypto.randomUUID(),
      runId,
      kind: "tool",
      tool: "run_command",
      args: {},
      verdict: "ask",
      reason: "asks",
      state,
      requestedBy: operator.id,
      expiresAt: new Date(createdAt + 3_600_000),
      createdAt: new Date(createdAt),
      decidedAt: waitMs === null ? null : new Date(createdAt + waitMs),
      decidedBy: state === "approved" || state === "denied" ? reviewer.id : null,
    })
    .run();
}

let seq = 0;
function seedCall(runId: string, rule: string, verdict: "allow" | "ask" | "deny", errorCode: string | null = null, daysAgo = 1) {
  t.db
    .insert(toolCalls)
    .values({
      id: crypto.randomUUID(),
      runId,
      seq: ++seq,
      tool: "run_command",
      args: {},
      verdict,
      rule,
      state: errorCode ? "refused" : "succeeded",
      errorCode,
      createdAt: new Date(NOW - daysAgo * DAY),
    })
    .run();
}

function seedTurn(runId: string, promptTokens: number, completionTokens: number) {
  t.db
    .insert(runEvents)
    .values({
      runId,
      type: "model_message",
      payload: { content: "", toolCalls: [], usage: { promptTokens, completionTokens }, latencyMs: 100 },
      at: new Date(NOW - DAY),
    })
    .run();
}

beforeAll(async () => {
  t = createTestDb();
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  labId = createProject(t.db, actorOf(operator), { slug: "lab", name: "The lab" }).id;
  modelA = crypto.randomUUID();
  modelB = crypto.randomUUID();
  t.db
    .insert(models)
    .values([
      { id: modelA, name: "Model A", baseUrl: "http://127.0.0.1:1/v1", model: "a" },
      { id: modelB, name: "Model B", baseUrl: "http://127.0.0.1:1/v1", model: "b" },
    ])
    .run();

  // Runs: three in the last week, one 20 days ago, one 60 days ago.
  const r1 = seedRun({ state: "succeeded", daysAgo: 1, modelId: modelA });
  const r2 = seedRun({ state: "failed", daysAgo: 2, modelId: modelA, projectId: labId });
  const r3 = seedRun({ state: "running", daysAgo: 1, modelId: modelB, projectId: labId });
  const r4 = seedRun({ state: "killed", daysAgo: 20, modelId: modelB });
  const r5 = seedRun({ state: "succeeded", daysAgo: 60, modelId: modelA });

  // Twenty decided requests in the last week waiting 1 s … 20 s (in shuffled order), plus requests no person decided.
  const waits = Array.from({ length: 20 }, (_, i) => (i + 1) * 1000).sort(() => Math.random() - 0.5);
  waits.forEach((w, i) => seedApproval(i % 2 ? r1 : r2, NOW - 3 * DAY + i * 60_000, w, i % 3 ? "approved" : "denied"));
  seedApproval(r1, NOW - 2 * DAY, 3_600_000, "expired");
  seedApproval(r3, NOW - DAY, null, "pending");
  // One older request (20 days ago) with a long wait: in the 30-day figures only.
  seedApproval(r4, NOW - 20 * DAY, 500_000, "approved");

  // Rules: "ask-commands" judged 4 calls, a reviewer denied 1; "deny-network" denied both of its calls; "allow-reads" none.
  seedCall(r1, "ask-commands", "ask");
  seedCall(r1, "ask-commands", "ask");
  seedCall(r2, "ask-commands", "ask", "DENIED_BY_REVIEWER");
  seedCall(r3, "ask-commands", "ask");
  seedCall(r2, "deny-network", "deny", "DENIED_BY_POLICY");
  seedCall(r3, "deny-network", "deny", "DENIED_BY_POLICY");
  seedCall(r1, "allow-reads", "allow");
  seedCall(r1, "allow-reads", "allow");
  seedCall(r1, "allow-reads", "allow");
  seedCall(r4, "deny-network", "allow", null, 20); // outside the week

  seedTurn(r1, 1000, 200);
  seedTurn(r1, 1500, 300);
  seedTurn(r2, 400, 100);
  seedTurn(r3, 50, 5);
  seedTurn(r4, 7000, 700);
  seedTurn(r5, 99_000, 9_900);

  const report = (daysAgo: number, projectId: string, summary: Record<string, number>, state: "done" | "failed" = "done") =>
    t.db
      .insert(redteamReports)
      .values({
        id: crypto.randomUUID(),
        projectId,
        policyVersion: 1,
        state,
        startedByLabel: "test",
        summary,
        createdAt: new Date(NOW - daysAgo * DAY),
      })
      .run();
  report(5, labId, { total: 10, blocked: 6, escalated: 3, contained: 1, escaped: 0 });
  report(2, labId, { total: 10, blocked: 7, escalated: 2, contained: 0, escaped: 1 });
  report(1, labId, { total: 10 }, "failed"); // an interrupted run is not a result
});
afterAll(() => t.close());

describe("trends", () => {
  it("runs by outcome count each run once by its terminal state, live runs as active, within the period", () => {
    const week = computeTrends(t.db, { days: 7 }, NOW);
    expect(week.runsByOutcome.totals).toEqual({ succeeded: 1, failed: 1, killed: 0, rolled_back: 0, active: 1 });
    expect(week.runsByOutcome.byDay.map((d) => d.day)).toEqual(["2026-06-28", "2026-06-29"]);
    expect(computeTrends(t.db, { days: 30 }, NOW).runsByOutcome.totals.killed).toBe(1);
    expect(computeTrends(t.db, { days: 90 }, NOW).runsByOutcome.totals.succeeded).toBe(2);
  });

  it("approval waits: p50 and p95 are the nearest-rank waits of the requests people decided (expired and pending ones left out)", () => {
    const week = computeTrends(t.db, { days: 7 }, NOW).approvalWaits;
    expect(week.count).toBe(20);
    expect(week.p50Ms).toBe(10_000);
    expect(week.p95Ms).toBe(19_000);
    expect(week.byDay).toEqual([{ day: "2026-06-27", count: 20, p50Ms: 10_000, p95Ms: 19_000 }]);
    const month = computeTrends(t.db, { days: 30 }, NOW).approvalWaits;
    // 21 waits: the 11th smallest is 11 s; ceil(0.95 × 21) = 20th is 20 s.
    expect([month.count, month.p50Ms, month.p95Ms]).toEqual([21, 11_000, 20_000]);
  });

  it("deny rate by rule counts the policy's denials and the reviewers' denials of the calls each rule judged", () => {
    const rules = computeTrends(t.db, { days: 7 }, NOW).denyRateByRule;
    expect(rules).toEqual([
      { rule: "deny-network", calls: 2, deniedByPolicy: 2, deniedByReviewer: 0, denyRate: 1 },
      { rule: "ask-commands", calls: 4, deniedByPolicy: 0, deniedByReviewer: 1, denyRate: 0.25 },
      { rule: "allow-reads", calls: 3, deniedByPolicy: 0, deniedByReviewer: 0, denyRate: 0 },
    ]);
  });

  it("tokens in and out by model and by project add up the model turns of the period's runs", () => {
    const week = computeTrends(t.db, { days: 7 }, NOW);
    expect(week.tokensByModel).toEqual([
      { id: modelA, name: "Model A", runs: 2, tokensIn: 2900, tokensOut: 600 },
      { id: modelB, name: "Model B", runs: 1, tokensIn: 50, tokensOut: 5 },
    ]);
    expect(week.tokensByProject).toEqual([
      { id: "default", name: expect.any(String), runs: 1, tokensIn: 2500, tokensOut: 500 },
      { id: labId, name: "The lab", runs: 2, tokensIn: 450, tokensOut: 105 },
    ]);
    const lab = computeTrends(t.db, { days: 7, projectId: labId }, NOW);
    expect(lab.tokensByModel.map((m) => [m.name, m.tokensIn + m.tokensOut])).toEqual([
      ["Model A", 500],
      ["Model B", 55],
    ]);
    expect(lab.runsByOutcome.totals).toEqual({ succeeded: 0, failed: 1, killed: 0, rolled_back: 0, active: 1 });
  });

  it("red-team results over time list each finished report's outcomes, oldest first", () => {
    const rt = computeTrends(t.db, { days: 7 }, NOW).redteam;
    expect(rt.map(({ project, total, blocked, escalated, contained, escaped }) => ({ project, total, blocked, escalated, contained, escaped }))).toEqual([
      { project: "The lab", total: 10, blocked: 6, escalated: 3, contained: 1, escaped: 0 },
      { project: "The lab", total: 10, blocked: 7, escalated: 2, contained: 0, escaped: 1 },
    ]);
    expect(rt[0]!.at).toBe(NOW - 5 * DAY);
  });

  it("a period other than 7, 30 or 90 days is refused with what to choose", () => {
    expect(() => computeTrends(t.db, { days: 12 as 7 }, NOW)).toThrow(/Choose a period of 7, 30 or 90 days/);
  });
});
