// A run's timeline and totals over a real SQLite file: seeded events, tool
// calls, approvals, checkpoints and resource samples give exact figures.
import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { approvals, checkpoints, runEvents, runResourceSamples, runs, toolCalls } from "@/db/schema";
import { createRun } from "@/server/runs/runs";
import { downsample, recordResourceSamples, resourceHistory } from "@/server/runs/resource-history";
import { runTimeline, unionMs } from "@/server/runs/timeline";
import type { RunUsage } from "@/server/runs/usage";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";
import type { PublicUser } from "@/server/users/users";

const T0 = Date.UTC(2026, 5, 1, 10, 0, 0);
const S = 1000;
let t: TestDb;
let operator: PublicUser;
let reviewer: PublicUser;

beforeEach(async () => {
  t = createTestDb();
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer", { email: "rev@example.test" });
});
afterEach(() => t.close());

function newRun(): string {
  const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "Fix the tests", task: "t", agent: "external" });
  t.db
    .update(runs)
    .set({ createdAt: new Date(T0) })
    .where(eq(runs.id, run.id))
    .run();
  // The "queued" event createRun wrote, moved to the run's (seeded) creation time.
  t.db
    .update(runEvents)
    .set({ at: new Date(T0) })
    .where(eq(runEvents.runId, run.id))
    .run();
  return run.id;
}

function event(runId: string, type: string, at: number, payload: Record<string, unknown>) {
  t.db
    .insert(runEvents)
    .values({ runId, type, payload, at: new Date(T0 + at) })
    .run();
}

function approval(runId: string, kind: "plan" | "tool", from: number, to: number | null, state: "approved" | "denied" | "pending" | "expired") {
  t.db
    .insert(approvals)
    .values({
      id: crypto.randomUUID(),
      runId,
      kind,
      tool: kind === "plan" ? "submit_plan" : "run_command",
      args: {},
      verdict: "ask",
      reason: "asks",
      state,
      requestedBy: operator.id,
      createdAt: new Date(T0 + from),
      expiresAt: new Date(T0 + from + 600 * S),
      decidedAt: to === null ? null : new Date(T0 + to),
      decidedBy: state === "approved" || state === "denied" ? reviewer.id : null,
    })
    .run();
}

let seq = 0;
function call(runId: string, verdict: "allow" | "ask" | "deny", at: number, ranMs: number | null, errorCode: string | null = null) {
  t.db
    .insert(toolCalls)
    .values({
      id: crypto.randomUUID(),
      runId,
      seq: ++seq,
      tool: "run_command",
      args: {},
      verdict,
      rule: "r",
      state: errorCode ? "failed" : "succeeded",
      errorCode,
      createdAt: new Date(T0 + at),
      startedAt: ranMs === null ? null : new Date(T0 + at),
      finishedAt: ranMs === null ? null : new Date(T0 + at + ranMs),
    })
    .run();
}

function usage(runId: string, at: number, over: Partial<RunUsage> = {}): RunUsage {
  return {
    runId,
    sampledAt: new Date(T0 + at),
    memoryBytes: 100 * 2 ** 20,
    memoryLimitBytes: 512 * 2 ** 20,
    cpuPercent: 20,
    cpuLimit: 1,
    pids: 5,
    pidsLimit: 64,
    workspaceBytes: 4096,
    workspaceQuotaBytes: 2 ** 30,
    netRxBytes: null,
    netTxBytes: null,
    ...over,
  };
}

describe("run timeline", () => {
  it("lists state changes, plan, model turns, tool calls, approvals and checkpoints in time order with their figures", () => {
    const id = newRun();
    event(id, "state", 1 * S, { from: "queued", to: "starting", by: "system" });
    event(id, "plan", 5 * S, { state: "submitted", steps: [{}, {}] });
    event(id, "model_message", 4 * S, {
      content: "Plan first.",
      toolCalls: [{ id: "c1" }],
      usage: { promptTokens: 900, completionTokens: 80 },
      latencyMs: 1234,
    });
    approval(id, "plan", 5 * S, 35 * S, "approved");
    call(id, "ask", 40 * S, 2500);
    t.db
      .insert(checkpoints)
      .values({
        id: crypto.randomUUID(),
        runId: id,
        seq: 1,
        label: "after run_command",
        kind: "tool",
        commitSha: "abc",
        filesChanged: 2,
        additions: 10,
        deletions: 3,
        createdAt: new Date(T0 + 43 * S),
      })
      .run();

    const tl = runTimeline(t.db, id, T0 + 60 * S);
    expect(tl.items.map((i) => i.kind)).toEqual(["state", "state", "model", "plan", "approval", "tool", "checkpoint"]);
    expect(tl.items[0]).toMatchObject({ kind: "state", from: null, to: "queued" });
    expect(tl.items[1]).toMatchObject({ kind: "state", from: "queued", to: "starting", by: "system" });
    expect(tl.items[2]).toMatchObject({ kind: "model", tokensIn: 900, tokensOut: 80, latencyMs: 1234, toolCalls: 1, excerpt: "Plan first." });
    expect(tl.items[4]).toMatchObject({ kind: "approval", approvalKind: "plan", state: "approved", decidedBy: "rev@example.test", waitMs: 30 * S });
    expect(tl.items[5]).toMatchObject({ kind: "tool", verdict: "ask", durationMs: 2500 });
    expect(tl.items[6]).toMatchObject({ kind: "checkpoint", filesChanged: 2, additions: 10, deletions: 3 });
  });

  it("totals: wall time, time waiting for people (overlaps once), tokens, calls by verdict and tool time", () => {
    const id = newRun();
    event(id, "model_message", 2 * S, { content: "", toolCalls: [], usage: { promptTokens: 1000, completionTokens: 100 } });
    event(id, "model_message", 9 * S, { content: "", toolCalls: [], usage: { promptTokens: 1200, completionTokens: 150 } });
    approval(id, "plan", 10 * S, 70 * S, "approved"); // 60 s on the plan
    approval(id, "tool", 100 * S, 130 * S, "approved"); // two requests asked together: 100–130 and 110–150 → 50 s
    approval(id, "tool", 110 * S, 150 * S, "denied");
    approval(id, "tool", 200 * S, null, "pending"); // still waiting at "now" (240 s): 40 s
    call(id, "allow", 80 * S, 1000);
    call(id, "allow", 85 * S, 500);
    call(id, "ask", 100 * S, 3000);
    call(id, "ask", 110 * S, null, "DENIED_BY_REVIEWER");
    call(id, "deny", 160 * S, null, "DENIED_BY_POLICY");

    const totals = runTimeline(t.db, id, T0 + 240 * S).totals;
    expect(totals).toMatchObject({
      wallMs: 240 * S,
      live: true,
      planWaitMs: 60 * S,
      approvalWaitMs: 90 * S,
      waitingForPeopleMs: 150 * S,
      approvals: 4,
      modelTurns: 2,
      tokensIn: 2200,
      tokensOut: 250,
      calls: { total: 5, allow: 2, ask: 2, deny: 1, unjudged: 0 },
      toolTimeMs: 4500,
    });
    expect(totals.capsHit).toEqual([]);
  });

  it("a finished run's wall time ends when it ended, and the caps it hit are named", () => {
    const id = newRun();
    const run = t.db.select().from(runs).where(eq(runs.id, id)).get()!;
    t.db
      .update(runs)
      .set({ state: "failed", endedAt: new Date(T0 + 90 * S), tokensUsed: run.limits.tokenBudget, endedReason: "The agent used its token budget." })
      .where(eq(runs.id, id))
      .run();
    call(id, "allow", 10 * S, 5000, "TIMEOUT");
    recordResourceSamples(t.db, [usage(id, 20 * S), usage(id, 25 * S, { memoryBytes: 510 * 2 ** 20 })]);

    const tl = runTimeline(t.db, id, T0 + 999 * S);
    expect(tl.totals.wallMs).toBe(90 * S);
    expect(tl.totals.live).toBe(false);
    expect(tl.totals.capsHit.map((c) => c.cap)).toEqual(["Token budget", "Command time", "Memory"]);
    expect(tl.totals.capsHit[2]!.at).toBe(T0 + 25 * S);
  });

  it("unionMs counts overlapping intervals once", () => {
    expect(
      unionMs([
        [0, 10],
        [5, 15],
        [20, 30],
        [25, 26],
      ]),
    ).toBe(25);
  });
});

describe("resource history", () => {
  it("a long run's samples stay under the row cap and keep every peak, so a cap hit early in the run is still shown", () => {
    const id = newRun();
    const batch: RunUsage[] = [];
    for (let i = 0; i < 1000; i++) batch.push(usage(id, i * 5 * S, i === 7 ? { pids: 64 } : {}));
    for (let i = 0; i < batch.length; i += 50) {
      recordResourceSamples(t.db, batch.slice(i, i + 50), 100);
    }
    const rows = t.db.select().from(runResourceSamples).where(eq(runResourceSamples.runId, id)).all();
    expect(rows.length).toBeLessThanOrEqual(100);
    expect(rows.reduce((n, r) => n + r.span, 0)).toBe(1000);
    const pids = resourceHistory(t.db, id).series.find((s) => s.key === "pids")!;
    expect(pids.peak).toBe(64);
    expect(pids.cap).toBe(64);
    expect(pids.capHitAt).not.toBeNull();
    expect(downsample(t.db, id, 100)).toBe(0);
  });

  it("the samples go with the run", () => {
    const id = newRun();
    recordResourceSamples(t.db, [usage(id, 0)]);
    t.db.delete(runs).where(eq(runs.id, id)).run();
    expect(t.db.select().from(runResourceSamples).all()).toEqual([]);
  });
});
