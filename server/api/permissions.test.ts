// Issue 10 (one place for each rule): the procedures answer "who may do X"
// with the functions the UI reads (lib/permissions.ts). Called through the real
// router as every role, on a run of their own and on someone else's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type { Role } from "@/db/schema";
import { runs } from "@/db/schema";
import { approvalPermissions, runPermissions } from "@/lib/permissions";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { createApproval } from "@/server/approvals/approvals";
import { createModel } from "@/server/models/models";
import { createRun } from "@/server/runs/runs";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

const ROLES: Role[] = ["viewer", "operator", "reviewer", "admin"];
let t: TestDb;
let other: PublicUser;
let modelId: string;
const users = new Map<Role, PublicUser>();

beforeAll(async () => {
  t = createTestDb();
  const admin = await addUser(t.db, "admin");
  other = await addUser(t.db, "operator");
  modelId = createModel(t.db, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
  for (const role of ROLES) users.set(role, await addUser(t.db, role));
});
afterAll(() => t?.close());

async function callerFor(user: PublicUser) {
  const identity = await identityOfToken(t.db, issueToken(t.db, user.id).token);
  return createCallerFactory(appRouter)({ db: t.db, identity, sourceIp: "192.0.2.7" });
}

// A run of `owner` (runs of a viewer stand for an operator who was demoted since).
function runOf(owner: PublicUser, operatorMayRollback = false) {
  const run = createRun(t.db, { ...actorOf(owner), userId: owner.id }, { title: "t", task: "x", modelId });
  if (operatorMayRollback) t.db.update(runs).set({ operatorMayRollback: true }).where(eq(runs.id, run.id)).run();
  return t.db.select().from(runs).where(eq(runs.id, run.id)).get()!;
}

const CASES = ROLES.flatMap((role) => [true, false].map((owner) => ({ role, owner })));

describe("issue 10: the server and the UI answer 'who may' with the same rules", () => {
  it.each(CASES)("runs.kill as $role, owner=$owner refuses exactly when runPermissions says canStop is false", async ({ role, owner }) => {
    const user = users.get(role)!;
    const run = runOf(owner ? user : other);
    const caller = await callerFor(user);
    const outcome = await caller.runs.kill({ id: run.id }).then(
      () => "stopped",
      (err: { code?: string; message: string }) => err.message,
    );
    if (runPermissions(user, run).canStop) {
      // Past the permission check it needs the supervisor, which this process does not run.
      expect(outcome).toMatch(/supervisor is not running/);
    } else {
      expect(outcome).toMatch(role === "viewer" ? /operator/ : /Operators can stop only their own runs/);
    }
    // Written out: who may stop.
    expect(runPermissions(user, run).canStop).toBe(role === "reviewer" || role === "admin" || (role === "operator" && owner));
  });

  it.each(CASES)(
    "runs.checkpoints tells $role (owner=$owner) mayRollback as runPermissions does, with and without the run's permission",
    async ({ role, owner }) => {
      const user = users.get(role)!;
      const caller = await callerFor(user);
      for (const allowed of [false, true]) {
        const run = runOf(owner ? user : other, allowed);
        const { mayRollback } = await caller.runs.checkpoints({ id: run.id });
        expect(mayRollback).toBe(runPermissions(user, run).canRollback);
        expect(mayRollback).toBe(role === "reviewer" || role === "admin" || (role === "operator" && owner && allowed));
      }
    },
  );

  it("approvals.list offers a request to decide exactly to those approvalPermissions names", async () => {
    const run = runOf(users.get("reviewer")!);
    const forReviewer = createApproval(
      t.db,
      { userId: null, label: "agent" },
      {
        runId: run.id,
        kind: "tool",
        tool: "run_command",
        args: { command: "make" },
        verdict: "ask",
        rule: "r",
        reason: "ask",
        requestedBy: users.get("reviewer")!.id,
      },
    );
    const forAdmin = createApproval(
      t.db,
      { userId: null, label: "agent" },
      {
        runId: run.id,
        kind: "tool",
        tool: "run_command",
        args: { command: "deploy" },
        verdict: "ask",
        rule: "deploys",
        reason: "ask",
        approverRole: "admin",
        requestedBy: other.id,
      },
    );
    const seen: Record<string, boolean[]> = {};
    for (const role of ROLES) {
      const user = users.get(role)!;
      const items = (await (await callerFor(user)).approvals.list({ runId: run.id })).items;
      seen[role] = [forReviewer, forAdmin].map((a) => {
        const item = items.find((i) => i.id === a.id)!;
        expect(item.canDecide).toBe(approvalPermissions(user, item).canDecide);
        return item.canDecide;
      });
    }
    // The reviewer started the run (no self-approval); the second needs an admin.
    expect(seen).toEqual({ viewer: [false, false], operator: [false, false], reviewer: [false, false], admin: [true, true] });
  });
});
