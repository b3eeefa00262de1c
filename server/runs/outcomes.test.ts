import crypto from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { approvals, toolCalls } from "@/db/schema";
import { createRun, getRunView, listRunViews } from "@/server/runs/runs";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";
import type { PublicUser } from "@/server/users/users";

let t: TestDb;
let operator: PublicUser;

beforeEach(async () => {
  t = createTestDb();
  operator = await addUser(t.db, "operator");
});
afterEach(() => t.close());

let seq = 0;
function call(runId: string, tool: string, state: "succeeded" | "refused" | "failed", extra: { errorCode?: string; args?: Record<string, unknown> } = {}) {
  t.db
    .insert(toolCalls)
    .values({ id: crypto.randomUUID(), runId, seq: ++seq, tool, args: extra.args ?? {}, state, errorCode: extra.errorCode ?? null })
    .run();
}

function pending(runId: string) {
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
      state: "pending",
      requestedBy: operator.id,
      expiresAt: new Date(Date.now() + 60_000),
    })
    .run();
}

describe("run outcomes in runs.get and runs.list", () => {
  it("H4: denied calls (policy or reviewer, not a rejected plan), pending requests and the steps reported done are counted per run", () => {
    const actor = { ...actorOf(operator), userId: operator.id };
    const a = createRun(t.db, actor, { title: "a", task: "t", agent: "external" });
    const b = createRun(t.db, actor, { title: "b", task: "t", agent: "external" });
    call(a.id, "run_command", "refused", { errorCode: "DENIED_BY_REVIEWER" });
    call(a.id, "http_fetch", "refused", { errorCode: "DENIED_BY_POLICY" });
    call(a.id, "submit_plan", "failed", { errorCode: "DENIED_BY_REVIEWER" });
    call(a.id, "run_command", "failed", { errorCode: "TIMEOUT" });
    call(a.id, "complete_step", "succeeded", { args: { step: 2 } });
    call(a.id, "complete_step", "failed", { args: { step: 3 }, errorCode: "DENIED_BY_REVIEWER" });
    call(a.id, "complete_step", "succeeded", { args: { step: 1 } });
    pending(b.id);
    pending(b.id);

    const viewA = getRunView(t.db, a.id);
    // The denied complete_step is a denied call too: the reviewer refused to let the run continue.
    expect(viewA).toMatchObject({ deniedCalls: 3, pendingApprovals: 0, stepsDone: [1, 2] });
    const list = listRunViews(t.db, { limit: 50 });
    expect(list.items.find((r) => r.id === a.id)).toMatchObject({ deniedCalls: 3, stepsDone: [1, 2] });
    expect(list.items.find((r) => r.id === b.id)).toMatchObject({ deniedCalls: 0, pendingApprovals: 2, stepsDone: [] });
  });
});
