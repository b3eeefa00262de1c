// Issue 12, item 6: bounded grants against approval fatigue, through the one
// gateway with a real container, real policy, real SQLite and the scripted
// model server. A grant answers the policy's generic "every file change is
// reviewed" question for one run, until its time or its calls run out or a
// reviewer revokes it; it never overrides a deny.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, asc, eq } from "drizzle-orm";
import { type TestDb } from "@/test/helpers/db";
import { actorOf } from "@/test/helpers/users";
import { startScriptedModelServer, type Script, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { getRun, registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitFor, waitForState } from "@/test/helpers/runs";
import { decideApproval } from "@/server/approvals/approvals";
import { createGrant, listGrants, revokeGrant } from "@/server/grants/grants";
import { approvals, auditEvents, runGrants, toolCalls, type Approval, type Run } from "@/db/schema";
import type { PublicUser } from "@/server/users/users";
import type { Supervisor } from "@/server/supervisor/supervisor";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];

const plan: ScriptStep = {
  type: "tool_calls",
  calls: [{ name: "submit_plan", arguments: { steps: [{ title: "write files", risk: "low", risk_note: "only src/" }] } }],
};
const write = (path: string, delayMs?: number): ScriptStep => ({
  type: "tool_calls",
  calls: [{ name: "write_file", arguments: { path, content: `content of ${path}\n` } }],
  ...(delayMs ? { delayMs } : {}),
});
const finish: ScriptStep = { type: "tool_calls", calls: [{ name: "finish", arguments: { summary: "done", status: "success" } }] };

const asReviewer = () => ({ ...actorOf(reviewer), userId: reviewer.id });

/**
 * Runs a script; the plan is approved, every other request goes to `onRequest`
 * (which may create grants first) and is approved unless it answers "deny".
 */
async function drive(script: Script, onRequest: (a: Approval, run: Run) => "approve" | "deny" = () => "approve", during?: (run: Run) => Promise<void>) {
  const server = await startScriptedModelServer(script);
  servers.push(server);
  const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl));
  const side = during?.(run);
  for (;;) {
    const current = getRun(t.db, run.id);
    if (["succeeded", "failed", "killed"].includes(current.state)) break;
    const pending = t.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.runId, run.id), eq(approvals.state, "pending")))
      .get();
    if (pending) {
      const verdict = pending.kind === "plan" ? "approve" : onRequest(pending, current);
      decideApproval(t.db, asReviewer(), { id: pending.id, decision: verdict, reason: verdict === "deny" ? "not in this test" : undefined });
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  await side;
  const done = await waitForState(t.db, run.id, ["succeeded", "failed", "killed"]);
  const calls = t.db.select().from(toolCalls).where(eq(toolCalls.runId, run.id)).orderBy(asc(toolCalls.seq)).all();
  const writes = calls.filter((c) => c.tool === "write_file");
  return { run: done, calls, writes };
}

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("issue 12: bounded grants", () => {
  it("a grant ends by count: its calls run without asking, and the call after the last use asks again", async () => {
    let grantId = "";
    const { run, writes } = await drive([plan, write("src/a.txt"), write("src/b.txt"), write("src/c.txt"), write("src/d.txt"), finish], (a, r) => {
      if (!grantId && a.tool === "write_file") {
        grantId = createGrant(t.db, asReviewer(), reviewer, {
          runId: r.id,
          tool: "write_file",
          path: "src/",
          minutes: 15,
          maxCalls: 2,
          fromApprovalId: a.id,
        }).id;
        return "approve";
      }
      return "deny"; // anything asked after the grant's two calls
    });
    expect(run.state).toBe("succeeded");
    expect(writes.map((w) => [w.args.path, w.verdict, w.rule, w.state])).toEqual([
      ["src/a.txt", "ask", "workspace-write", "succeeded"],
      ["src/b.txt", "allow", `grant:${grantId}`, "succeeded"],
      ["src/c.txt", "allow", `grant:${grantId}`, "succeeded"],
      ["src/d.txt", "ask", "workspace-write", "refused"],
    ]);
    expect(writes[1]!.reason).toMatch(/Allowed by grant .* call 1 of 2/);
    expect(writes[1]!.reason).toContain(`while approving approval ${writes[0]!.approvalId}`);
    expect(writes[3]!.errorCode).toBe("DENIED_BY_REVIEWER");
    expect(listGrants(t.db, run.id)[0]).toMatchObject({ id: grantId, usedCalls: 2, remainingCalls: 0, status: "used_up" });
    // The grant-allowed calls never created an approval request.
    expect(writes[1]!.approvalId).toBeNull();
    const audit = t.db.select().from(auditEvents).where(eq(auditEvents.targetId, writes[1]!.id)).all();
    expect(audit.some((e) => e.action === "tool.decision" && JSON.parse(e.details).grantId === grantId)).toBe(true);
  });

  it("a grant ends by time: a call after its expiry asks again", async () => {
    let grantId = "";
    let expiresAt = 0;
    const steps = [plan, write("src/a.txt"), write("src/b.txt"), write("src/late.txt"), finish];
    // The late write is sent only once the grant's end has passed (by the wall clock the gateway reads), instead of
    // after a fixed sleep.
    const script: Script = async (_req, i) => {
      if (i === 3) {
        expect(expiresAt, "the grant exists before the late write").toBeGreaterThan(0);
        const wait = expiresAt + 250 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      return steps[i];
    };
    const { writes } = await drive(script, (a, r) => {
      if (!grantId && a.tool === "write_file") {
        // One minute is the shortest grant a reviewer can give; its clock is started 48 s ago so it ends 12 s from now:
        // room for the granted call (about 2 s end to end in CI) on a loaded machine.
        const grant = createGrant(
          t.db,
          asReviewer(),
          reviewer,
          { runId: r.id, tool: "write_file", path: "src", minutes: 1, maxCalls: 20 },
          Date.now() - 48_000,
        );
        grantId = grant.id;
        expiresAt = new Date(grant.expiresAt).getTime();
        return "approve";
      }
      return "deny";
    });
    expect(writes.map((w) => [w.args.path, w.rule, w.state])).toEqual([
      ["src/a.txt", "workspace-write", "succeeded"],
      ["src/b.txt", `grant:${grantId}`, "succeeded"],
      ["src/late.txt", "workspace-write", "refused"],
    ]);
    const grant = listGrants(t.db, writes[0]!.runId)[0]!;
    expect(grant).toMatchObject({ usedCalls: 1, status: "expired" });
  });

  it("a revoked grant allows nothing more: the next call asks", async () => {
    let grantId = "";
    const { writes } = await drive(
      [plan, write("src/a.txt"), write("src/b.txt"), write("src/c.txt", 2000), finish],
      (a, r) => {
        if (!grantId && a.tool === "write_file") {
          grantId = createGrant(t.db, asReviewer(), reviewer, { runId: r.id, tool: "write_file", path: "src/", minutes: 15, maxCalls: 20 }).id;
          return "approve";
        }
        return "deny";
      },
      async (run) => {
        // Revoke as soon as the grant was used once (the model waits 2 s before its next call).
        await waitFor("the granted write", () =>
          t.db
            .select()
            .from(toolCalls)
            .where(and(eq(toolCalls.runId, run.id), eq(toolCalls.state, "succeeded")))
            .all()
            .some((c) => c.rule?.startsWith("grant:")),
        );
        revokeGrant(t.db, asReviewer(), grantId);
      },
    );
    expect(writes.map((w) => [w.args.path, w.rule, w.state])).toEqual([
      ["src/a.txt", "workspace-write", "succeeded"],
      ["src/b.txt", `grant:${grantId}`, "succeeded"],
      ["src/c.txt", "workspace-write", "refused"],
    ]);
    expect(listGrants(t.db, writes[0]!.runId)[0]).toMatchObject({ usedCalls: 1, status: "revoked" });
  });

  it("a deny rule is never overridden by a grant, and a more specific ask (a secret file) still asks", async () => {
    let grantId = "";
    const asked: string[] = [];
    const { writes } = await drive([plan, write("src/first.txt"), write(".git/config"), write("src/.env"), write("src/ok.txt"), finish], (a, r) => {
      asked.push(String(a.args.path));
      if (!grantId) {
        // The widest grant there is: the whole workspace.
        grantId = createGrant(t.db, asReviewer(), reviewer, { runId: r.id, tool: "write_file", path: ".", minutes: 15, maxCalls: 50 }).id;
        return "approve";
      }
      return "deny";
    });
    expect(writes.map((w) => [w.args.path, w.verdict, w.rule, w.errorCode])).toEqual([
      ["src/first.txt", "ask", "workspace-write", null],
      [".git/config", "deny", "git-internals-write", "DENIED_BY_POLICY"],
      ["src/.env", "ask", "secret-file", "DENIED_BY_REVIEWER"],
      ["src/ok.txt", "allow", `grant:${grantId}`, null],
    ]);
    expect(asked).toEqual(["src/first.txt", "src/.env"]);
    expect(t.db.select().from(runGrants).where(eq(runGrants.id, grantId)).get()!.usedCalls).toBe(1);
  });

  it("a grant is only for the run it belongs to: another run's same write asks", async () => {
    let grantId = "";
    const first = await drive([plan, write("src/a.txt"), finish], (a, r) => {
      grantId = createGrant(t.db, asReviewer(), reviewer, { runId: r.id, tool: "write_file", path: "src/", minutes: 15, maxCalls: 20 }).id;
      return "approve";
    });
    expect(listGrants(t.db, first.run.id)[0]).toMatchObject({ id: grantId, status: "active", usedCalls: 0 });
    const second = await drive([plan, write("src/a.txt"), finish], () => "deny");
    expect(second.writes.map((w) => [w.verdict, w.rule, w.errorCode])).toEqual([["ask", "workspace-write", "DENIED_BY_REVIEWER"]]);
    expect(t.db.select().from(runGrants).where(eq(runGrants.id, grantId)).get()!.usedCalls).toBe(0);
  });
});
