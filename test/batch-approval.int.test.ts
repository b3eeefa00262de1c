// Issue 12, item 6: batch approval through the one gateway (real container,
// real policy, real SQLite, the scripted model server). A turn's writes are
// asked about together; a reviewer decides exactly the requests the page
// showed, each bound to the hash of what it showed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, asc, eq } from "drizzle-orm";
import { type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { getRun, registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitFor, waitForPendingApproval, waitForState } from "@/test/helpers/runs";
import { decideApproval } from "@/server/approvals/approvals";
import { decideBatch, pendingWrites } from "@/server/approvals/batch";
import { approvals, approvalVotes, auditEvents, toolCalls } from "@/db/schema";
import type { PublicUser } from "@/server/users/users";
import type { Supervisor } from "@/server/supervisor/supervisor";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let secondReviewer: PublicUser;
const servers: ScriptedModelServer[] = [];

const plan: ScriptStep = {
  type: "tool_calls",
  calls: [{ name: "submit_plan", arguments: { steps: [{ title: "write files", risk: "low", risk_note: "a few files" }] } }],
};
const writes = (...paths: string[]): ScriptStep => ({
  type: "tool_calls",
  calls: paths.map((path) => ({ name: "write_file", arguments: { path, content: `content of ${path}\n` } })),
});
const finish: ScriptStep = { type: "tool_calls", calls: [{ name: "finish", arguments: { summary: "done", status: "success" } }] };
const as = (u: PublicUser) => ({ ...actorOf(u), userId: u.id });

async function startWith(script: ScriptStep[]) {
  const server = await startScriptedModelServer(script);
  servers.push(server);
  const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl));
  const planRequest = await waitForPendingApproval(t.db, run.id, "plan");
  decideApproval(t.db, as(reviewer), { id: planRequest.id, decision: "approve" });
  return run;
}

function pendingWriteCount(runId: string): number {
  return t.db
    .select()
    .from(approvals)
    .where(and(eq(approvals.runId, runId), eq(approvals.state, "pending"), eq(approvals.tool, "write_file")))
    .all().length;
}

function callsOf(runId: string) {
  return t.db.select().from(toolCalls).where(eq(toolCalls.runId, runId)).orderBy(asc(toolCalls.seq)).all();
}

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
  secondReviewer = await addUser(t.db, "reviewer");
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("issue 12: batch approval", () => {
  it("a batch applies to exactly the writes the reviewer saw, never to one that arrived after the page was rendered", async () => {
    const run = await startWith([plan, writes("src/a.txt", "src/b.txt", "src/c.txt"), finish]);
    await waitFor("three writes waiting together", () => pendingWriteCount(run.id) === 3);
    expect(getRun(t.db, run.id).state).toBe("awaiting_approval");

    // The reviewer's page showed a and b (c is the request that arrived after it was rendered).
    const page = pendingWrites(t.db, reviewer, run.id);
    expect(page.map((p) => p.path)).toEqual(["src/a.txt", "src/b.txt", "src/c.txt"]);
    const shown = page.filter((p) => p.path !== "src/c.txt");
    const late = page.find((p) => p.path === "src/c.txt")!;
    expect(shown.every((p) => p.canDecide)).toBe(true);

    const batch = decideBatch(t.db, as(reviewer), {
      runId: run.id,
      approvalIds: shown.map((p) => p.id),
      hashes: Object.fromEntries(shown.map((p) => [p.id, p.contentHash])),
      decision: "approve",
    });
    expect(batch.items).toEqual(shown.map((p) => ({ id: p.id, outcome: "approved" })));

    // The late request is untouched: still pending, nobody voted on it, and the run still waits for it.
    const untouched = t.db.select().from(approvals).where(eq(approvals.id, late.id)).get()!;
    expect(untouched.state).toBe("pending");
    expect(t.db.select().from(approvalVotes).where(eq(approvalVotes.approvalId, late.id)).all()).toEqual([]);
    await waitFor("a and b written", () => callsOf(run.id).filter((c) => c.tool === "write_file" && c.state === "succeeded").length === 2);
    expect(getRun(t.db, run.id).state).toBe("awaiting_approval");

    decideApproval(t.db, as(reviewer), { id: late.id, decision: "deny", reason: "decided on its own" });
    await waitForState(t.db, run.id, "succeeded");
    const written = callsOf(run.id).filter((c) => c.tool === "write_file");
    expect(written.map((c) => [c.args.path, c.state, c.errorCode])).toEqual([
      ["src/a.txt", "succeeded", null],
      ["src/b.txt", "succeeded", null],
      ["src/c.txt", "refused", "DENIED_BY_REVIEWER"],
    ]);

    // Each vote is in the audit trail with the shared batch id; the batch event lists exactly the two.
    const votes = t.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "approval.vote"))
      .all()
      .map((e) => JSON.parse(e.details) as { batchId?: string });
    expect(votes.filter((v) => v.batchId === batch.batchId)).toHaveLength(2);
    const event = t.db.select().from(auditEvents).where(eq(auditEvents.action, "approval.batch")).all().at(-1)!;
    expect(JSON.parse(event.details)).toMatchObject({ batchId: batch.batchId, decision: "approve", items: batch.items });
  });

  it("a batch refuses a request edited since the page showed it and decides the others", async () => {
    // The CI workflow needs two reviewers (ci-config-write), so a first reviewer's edit can land while it waits.
    const run = await startWith([plan, writes("src/x.txt", ".github/workflows/ci.yml"), finish]);
    await waitFor("two writes waiting together", () => pendingWriteCount(run.id) === 2);
    const page = pendingWrites(t.db, reviewer, run.id);
    const ci = page.find((p) => p.path === ".github/workflows/ci.yml")!;

    // After the page was rendered, another reviewer approves the workflow with an edit of its content.
    decideApproval(t.db, as(secondReviewer), { id: ci.id, decision: "approve", edit: { content: "name: edited\n" } });

    const batch = decideBatch(t.db, as(reviewer), {
      runId: run.id,
      approvalIds: page.map((p) => p.id),
      hashes: Object.fromEntries(page.map((p) => [p.id, p.contentHash])),
      decision: "approve",
    });
    const byPath = Object.fromEntries(page.map((p) => [p.path, batch.items.find((i) => i.id === p.id)]));
    expect(byPath["src/x.txt"]).toMatchObject({ outcome: "approved" });
    expect(byPath[".github/workflows/ci.yml"]).toMatchObject({ outcome: "refused", message: expect.stringMatching(/changed after your page showed it/) });
    // The refused item kept only the other reviewer's vote.
    expect(
      t.db
        .select()
        .from(approvalVotes)
        .where(eq(approvalVotes.approvalId, ci.id))
        .all()
        .map((v) => v.userId),
    ).toEqual([secondReviewer.id]);

    // Seen again with its edit (a fresh hash), it is decided on its own.
    const again = pendingWrites(t.db, reviewer, run.id);
    expect(again.map((p) => p.id)).toEqual([ci.id]);
    expect(again[0]!.contentHash).not.toBe(ci.contentHash);
    decideApproval(t.db, as(reviewer), { id: ci.id, decision: "deny", reason: "no CI changes in this run" });
    await waitForState(t.db, run.id, "succeeded");
    expect(callsOf(run.id).map((c) => [c.args.path, c.state])).toContainEqual(["src/x.txt", "succeeded"]);
  });

  it("a batch decides only file writes of the named run", async () => {
    const run = await startWith([plan, writes("src/one.txt", "src/two.txt"), finish]);
    await waitFor("two writes waiting together", () => pendingWriteCount(run.id) === 2);
    const page = pendingWrites(t.db, reviewer, run.id);
    const otherRunId = "not-this-run";
    const batch = decideBatch(t.db, as(reviewer), {
      runId: otherRunId,
      approvalIds: page.map((p) => p.id),
      hashes: Object.fromEntries(page.map((p) => [p.id, p.contentHash])),
      decision: "approve",
    });
    expect(batch.items.map((i) => i.outcome)).toEqual(["refused", "refused"]);
    expect(pendingWriteCount(run.id)).toBe(2);
    decideBatch(t.db, as(reviewer), {
      runId: run.id,
      approvalIds: page.map((p) => p.id),
      hashes: Object.fromEntries(page.map((p) => [p.id, p.contentHash])),
      decision: "deny",
      reason: "not needed",
    });
    await waitForState(t.db, run.id, "succeeded");
    expect(callsOf(run.id).map((c) => c.errorCode)).toEqual([null, "DENIED_BY_REVIEWER", "DENIED_BY_REVIEWER", null]);
  });
});
