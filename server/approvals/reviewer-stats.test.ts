// Reviewer statistics (issue 12) over a known set of votes in a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { approvals, approvalVotes } from "@/db/schema";
import { createApproval } from "@/server/approvals/approvals";
import { createModel } from "@/server/models/models";
import { createRun } from "@/server/runs/runs";
import { readingSeconds, reviewerStats } from "@/server/approvals/reviewer-stats";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";

let t: TestDb;
let r1: PublicUser;
let r2: PublicUser;
const NOW = Date.now();
const T0 = NOW - 3_600_000;

function request(runId: string, requestedBy: string, preview: Record<string, unknown>): string {
  const a = createApproval(t.db, actorOf(r1), {
    runId,
    kind: "tool",
    tool: "write_file",
    args: { path: "x" },
    preview,
    verdict: "ask",
    reason: "r",
    requestedBy,
  });
  t.db
    .update(approvals)
    .set({ createdAt: new Date(T0) })
    .where(eq(approvals.id, a.id))
    .run();
  return a.id;
}

function vote(approvalId: string, user: PublicUser, decision: "approve" | "deny", afterMs: number) {
  t.db
    .insert(approvalVotes)
    .values({ id: crypto.randomUUID(), approvalId, userId: user.id, decision, createdAt: new Date(T0 + afterMs) })
    .run();
}

beforeAll(async () => {
  t = createTestDb();
  const admin = await addUser(t.db, "admin");
  const operator = await addUser(t.db, "operator");
  r1 = await addUser(t.db, "reviewer", { email: "a-reviewer@example.com" });
  r2 = await addUser(t.db, "reviewer", { email: "b-reviewer@example.com" });
  const modelId = createModel(t.db, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
  const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "t", task: "x", modelId });
  const big = request(run.id, operator.id, { type: "file_diff", additions: 100, deletions: 20 }); // 120 lines: 6 s to read
  const small = request(run.id, operator.id, { type: "file_diff", additions: 8, deletions: 2 }); // 10 lines: the 2 s minimum
  const command = request(run.id, operator.id, { type: "command", command: "make" }); // no diff: the 2 s minimum
  const old = request(run.id, operator.id, { type: "file_diff", additions: 1, deletions: 0 });
  vote(big, r1, "approve", 3_000); // too fast (3 s < 6 s)
  vote(small, r1, "approve", 10_000);
  vote(command, r1, "deny", 1_000); // too fast (1 s < 2 s)
  vote(big, r2, "approve", 7_000);
  vote(small, r2, "approve", 2_000); // exactly the minimum: not too fast
  // A vote 40 days ago falls outside a 30-day window.
  t.db
    .update(approvals)
    .set({ createdAt: new Date(NOW - 40 * 86_400_000) })
    .where(eq(approvals.id, old))
    .run();
  t.db
    .insert(approvalVotes)
    .values({ id: crypto.randomUUID(), approvalId: old, userId: r2.id, decision: "approve", createdAt: new Date(NOW - 40 * 86_400_000 + 100) })
    .run();
});
afterAll(() => t?.close());

describe("issue 12: reviewer statistics", () => {
  it("reading time is max(2 s, changed lines / 20 per second)", () => {
    expect([0, 10, 40, 120, 1000].map(readingSeconds)).toEqual([2, 2, 2, 6, 50]);
  });

  it("counts decisions, the median time to decide and the decisions faster than the diff could be read, per reviewer", () => {
    const stats = reviewerStats(t.db, { days: 30, now: NOW });
    expect(stats.formula).toMatch(/max\(2 s, changed lines ÷ 20 per second\)/);
    expect(stats.items).toEqual([
      {
        userId: r1.id,
        email: "a-reviewer@example.com",
        role: "reviewer",
        decisions: 3,
        approvals: 2,
        denials: 1,
        medianMs: 3_000,
        tooFast: 2,
        lastDecisionAt: new Date(T0 + 10_000),
      },
      {
        userId: r2.id,
        email: "b-reviewer@example.com",
        role: "reviewer",
        decisions: 2,
        approvals: 2,
        denials: 0,
        medianMs: 4_500,
        tooFast: 0,
        lastDecisionAt: new Date(T0 + 7_000),
      },
    ]);
  });

  it("a wider window takes in older votes", () => {
    const r2Stats = reviewerStats(t.db, { days: 60, now: NOW }).items.find((s) => s.userId === r2.id)!;
    expect(r2Stats.decisions).toBe(3);
    expect(r2Stats.tooFast).toBe(1); // 0.1 s for a one-line diff
  });
});
