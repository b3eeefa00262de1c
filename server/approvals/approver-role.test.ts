// A policy rule may require an admin to approve (approverRole); reviewers may
// still deny such a request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApproval, decideApproval, listApprovals } from "@/server/approvals/approvals";
import { createModel } from "@/server/models/models";
import { createRun } from "@/server/runs/runs";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";

let t: TestDb;
let admin: PublicUser;
let reviewer: PublicUser;
let runId: string;

beforeAll(async () => {
  t = createTestDb();
  admin = await addUser(t.db, "admin");
  reviewer = await addUser(t.db, "reviewer");
  const operator = await addUser(t.db, "operator");
  const modelId = createModel(t.db, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
  runId = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "t", task: "x", modelId }).id;
});
afterAll(() => t?.close());

function adminOnlyRequest() {
  return createApproval(
    t.db,
    { userId: null, label: "agent" },
    {
      runId,
      kind: "tool",
      tool: "run_command",
      args: { command: "deploy" },
      verdict: "ask",
      rule: "deploys",
      reason: "deploys need an admin",
      approverRole: "admin",
      requestedBy: "someone-else",
    },
  );
}

describe("which roles may approve", () => {
  it("a reviewer cannot approve a request whose rule needs an admin, and is told so", () => {
    const request = adminOnlyRequest();
    expect(() => decideApproval(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { id: request.id, decision: "approve" })).toThrow(
      /needs an admin to approve this request; a reviewer may only deny it/,
    );
    expect(listApprovals(t.db, reviewer, { runId }).find((a) => a.id === request.id)).toMatchObject({ approverRole: "admin", canDecide: false });
  });

  it("an admin can approve it", () => {
    const request = adminOnlyRequest();
    expect(decideApproval(t.db, { ...actorOf(admin), userId: admin.id }, { id: request.id, decision: "approve" }).state).toBe("approved");
  });

  it("a reviewer can still deny it", () => {
    const request = adminOnlyRequest();
    expect(decideApproval(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { id: request.id, decision: "deny", reason: "not now" }).state).toBe("denied");
  });
});
