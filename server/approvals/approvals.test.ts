import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { openDatabase } from "@/db/client";
import { approvals, models, runs } from "@/db/schema";
import { createApproval, decideApproval, expireOverdueApprovals, listApprovals } from "@/server/approvals/approvals";
import { DEFAULT_RUN_LIMITS } from "@/server/runs/limits";
import { DomainError } from "@/server/errors/domain-error";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { addUser, actorOf } from "@/test/helpers/users";
import type { PublicUser } from "@/server/users/users";

let t: TestDb;
let operator: PublicUser;
let alice: PublicUser;
let bob: PublicUser;
const RUN = "run-1";

beforeEach(async () => {
  t = createTestDb();
  operator = await addUser(t.db, "operator");
  alice = await addUser(t.db, "reviewer");
  bob = await addUser(t.db, "reviewer");
  t.db.insert(models).values({ id: "m", name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).run();
  t.db
    .insert(runs)
    .values({
      id: RUN,
      title: "r",
      task: "t",
      modelId: "m",
      state: "awaiting_approval",
      createdBy: operator.id,
      limits: DEFAULT_RUN_LIMITS,
      updatedAt: new Date(),
    })
    .run();
});
afterEach(() => t.close());

const request = (extra: Partial<Parameters<typeof createApproval>[2]> = {}) =>
  createApproval(
    t.db,
    { userId: null, label: "agent" },
    {
      runId: RUN,
      kind: "tool",
      tool: "run_command",
      args: { command: "make" },
      verdict: "ask",
      rule: "commands-ask",
      reason: "commands ask",
      requestedBy: operator.id,
      ...extra,
    },
  );
const vote = (user: PublicUser, id: string, decision: "approve" | "deny", reason?: string) =>
  decideApproval(t.db, { ...actorOf(user), userId: user.id }, { id, decision, reason });

describe("approval requests", () => {
  it("take exactly one decision when two reviewers decide at once from two connections", () => {
    const a = request();
    const second = openDatabase(t.file);
    try {
      const first = vote(alice, a.id, "approve");
      expect(first.state).toBe("approved");
      expect(() => decideApproval(second, { ...actorOf(bob), userId: bob.id }, { id: a.id, decision: "deny", reason: "no" })).toThrow(/already approved by/);
    } finally {
      second.$client.close();
    }
    expect(t.db.select().from(approvals).where(eq(approvals.id, a.id)).get()!.state).toBe("approved");
  });

  it("cannot be approved by the run's own operator unless the policy allows self-approval", async () => {
    const a = request();
    expect(() => vote(operator, a.id, "approve")).toThrow(DomainError);
    expect(() => vote(operator, a.id, "approve")).toThrow(/another reviewer must decide/);
    const selfOk = request({ allowSelfApproval: true });
    expect(vote(operator, selfOk.id, "approve").state).toBe("approved");
  });

  it("need N approvals from different reviewers when the rule asks for N", () => {
    const a = request({ requiredApprovals: 2 });
    expect(vote(alice, a.id, "approve").state).toBe("pending");
    expect(() => vote(alice, a.id, "approve")).toThrow(/already voted/);
    expect(vote(bob, a.id, "approve").state).toBe("approved");
  });

  it("need a reason to deny, which is stored for the agent", () => {
    const a = request();
    expect(() => vote(alice, a.id, "deny")).toThrow(/Say why/);
    const denied = vote(alice, a.id, "deny", "too risky");
    expect(denied.state).toBe("denied");
    expect(t.db.select().from(approvals).where(eq(approvals.id, a.id)).get()!.decisionReason).toBe("too risky");
  });

  it("expire when nobody decides in time, and a late decision is refused", () => {
    const a = request({ ttlMs: 1 });
    const late = Date.now() + 10;
    expect(expireOverdueApprovals(t.db, late)).toBe(1);
    expect(t.db.select().from(approvals).where(eq(approvals.id, a.id)).get()!.state).toBe("expired");
    expect(() => vote(alice, a.id, "approve")).toThrow(/already expired/);
  });

  it("are listed with who may decide them", () => {
    const a = request();
    const forOperator = listApprovals(t.db, operator, { state: "pending" });
    const forAlice = listApprovals(t.db, alice, { state: "pending" });
    expect(forOperator.find((x) => x.id === a.id)?.canDecide).toBe(false);
    expect(forAlice.find((x) => x.id === a.id)?.canDecide).toBe(true);
  });

  it("a deep link reads one request with the run's task, operator and plan step", () => {
    t.db
      .update(runs)
      .set({ plan: [{ title: "Install", risk: "high", risk_note: "pipes a script into bash" }], planApprovedAt: new Date(), currentStep: 1 })
      .where(eq(runs.id, RUN))
      .run();
    const a = request();
    request();
    const one = listApprovals(t.db, alice, { id: a.id });
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({
      id: a.id,
      runTask: "t",
      runCreatedByEmail: operator.email,
      runPlanApproved: true,
      runCurrentStep: 1,
      runPlan: [{ title: "Install", risk: "high", risk_note: "pipes a script into bash" }],
    });
    expect(listApprovals(t.db, alice, { id: "no-such-request" })).toEqual([]);
  });
});
