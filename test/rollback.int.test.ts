// Rollback of real supervised runs (real Docker, git, SQLite and the scripted
// model server): while a command runs, of a finished run and of a rollback,
// who may do it, and the automatic rollbacks (failed runs, failing tests).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { type TestDb } from "@/test/helpers/db";
import { addUser, actorOf, identityOfToken, issueToken } from "@/test/helpers/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { approveEverything, getRun, registerModel, setUpSupervisedWorld, stopSupervisor, waitFor, waitForState } from "@/test/helpers/runs";
import { approvals, runEvents, toolCalls } from "@/db/schema";
import { createRun } from "@/server/runs/runs";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { type Supervisor } from "@/server/supervisor/supervisor";
import { listCheckpoints } from "@/server/workspace/checkpoints";
import { verifyAuditChain } from "@/server/audit/chain";
import type { PublicUser } from "@/server/users/users";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];
const stoppers: (() => void)[] = [];

const plan = (steps = 1): ScriptStep => ({
  type: "tool_calls",
  calls: [
    {
      name: "submit_plan",
      arguments: { steps: Array.from({ length: steps }, (_, i) => ({ title: `step ${i + 1}`, risk: "low", risk_note: "workspace only" })) },
    },
  ],
});
const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
const finish = (): ScriptStep => call("finish", { summary: "done", status: "success" });

async function launch(script: ScriptStep[], extra: { autoRollback?: "off" | "on_failure"; testCommand?: string } = {}) {
  const server = await startScriptedModelServer(script);
  servers.push(server);
  const modelId = registerModel(t.db, admin, server.baseUrl);
  const run = createRun(
    t.db,
    { ...actorOf(operator), userId: operator.id },
    { title: "rollback test", task: "do it", modelId, autoRollback: extra.autoRollback, testCommand: extra.testCommand },
  );
  supervisor.launch(run.id);
  // Reviewers approve everything in these tests (the plan included).
  stoppers.push(approveEverything(t.db, run.id, reviewer));
  return { run, server };
}

async function caller(user: PublicUser) {
  return createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, user.id).token), sourceIp: null });
}

function messagesOf(server: ScriptedModelServer) {
  return server.requests.at(-1)!.body.messages;
}

function stateChanges(runId: string): string[] {
  return t.db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, runId), eq(runEvents.type, "state")))
    .all()
    .map((e) => String(e.payload.to));
}

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld({ global: true }));
});

afterAll(async () => {
  for (const stop of stoppers) stop();
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("rollback", () => {
  it("pauses a running run, kills its command, restores the workspace and tells the agent", async () => {
    const { run, server } = await launch([
      plan(),
      call("write_file", { path: "a.txt", content: "v1\n" }),
      call("run_command", { command: "echo partial > partial.txt; sleep 300" }),
      finish(),
    ]);
    await waitFor("the command to run", () =>
      t.db
        .select()
        .from(toolCalls)
        .where(eq(toolCalls.runId, run.id))
        .all()
        .find((c) => c.tool === "run_command" && c.state === "executing"),
    );
    const workspaceDir = getRun(t.db, run.id).workspaceDir!;
    await waitFor("partial.txt", () => fs.existsSync(path.join(workspaceDir, "partial.txt")));
    const target = listCheckpoints(t.db, run.id).find((c) => c.label === "write_file: a.txt")!;
    expect(target).toBeDefined();

    const started = Date.now();
    const result = await (await caller(reviewer)).runs.rollback({ id: run.id, checkpointId: target.id, reason: "the sleep is pointless" });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(10_000);
    expect(result.state).toBe("running");
    expect(fs.existsSync(path.join(workspaceDir, "partial.txt"))).toBe(false);
    expect(fs.readFileSync(path.join(workspaceDir, "a.txt"), "utf8")).toBe("v1\n");

    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    const sent = messagesOf(server);
    const commandResult = sent
      .filter((m) => m.role === "tool")
      .map((m) => JSON.parse((m as { content: string }).content) as Record<string, unknown>)
      .at(-1);
    expect(commandResult).toMatchObject({ ok: false, code: "ROLLED_BACK" });
    expect(
      sent.some(
        (m) =>
          m.role === "user" &&
          String(m.content).includes(`rolled the workspace back to checkpoint #${target.seq}`) &&
          String(m.content).includes("the sleep is pointless"),
      ),
    ).toBe(true);
    const changes = stateChanges(run.id);
    expect(changes.indexOf("paused")).toBeGreaterThan(0);
    expect(changes[changes.indexOf("paused") + 1]).toBe("running");
    const view = await (await caller(operator)).runs.checkpoints({ id: run.id });
    expect(view.items.map((c) => c.kind)).toContain("rollback");
    expect(view.mayRollback).toBe(false);
    console.log(`[figures] rollback during a running command: ${elapsed} ms`);
  });

  it("rolls a finished run back (rolled_back), rolls the rollback back, and lets an operator do it only when allowed", async () => {
    const { run } = await launch([
      plan(),
      call("write_file", { path: "x.txt", content: "one\n" }),
      call("write_file", { path: "x.txt", content: "two\n" }),
      finish(),
    ]);
    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(done.state).toBe("succeeded");
    const file = path.join(done.workspaceDir!, "x.txt");
    const items = listCheckpoints(t.db, run.id);
    expect(items.map((c) => c.label)).toEqual(["start", "write_file: x.txt", "write_file: x.txt"]);
    expect(items.map((c) => c.approved)).toEqual([true, true, true]);

    const asOperator = await caller(operator);
    const diff = await asOperator.runs.diff({ id: run.id, checkpointId: items[2]!.id });
    expect(diff.diff).toContain("-one\n+two");
    expect((await asOperator.runs.diff({ id: run.id })).diff).toContain("+two");
    await expect(asOperator.runs.rollback({ id: run.id, checkpointId: items[1]!.id })).rejects.toMatchObject({ code: "FORBIDDEN" });

    await (await caller(reviewer)).runs.setOperatorRollback({ id: run.id, allowed: true });
    const first = await asOperator.runs.rollback({ id: run.id, checkpointId: items[1]!.id });
    expect(first.state).toBe("rolled_back");
    expect(fs.readFileSync(file, "utf8")).toBe("one\n");

    const second = await asOperator.runs.rollback({ id: run.id, checkpointId: items[2]!.id });
    expect(second.state).toBe("rolled_back");
    expect(fs.readFileSync(file, "utf8")).toBe("two\n");
    const all = (await asOperator.runs.checkpoints({ id: run.id })).items;
    expect(all.slice(-2).map((c) => c.label)).toEqual(["rollback to #2", "rollback to #3"]);
    expect(verifyAuditChain(t.db).ok).toBe(true);
  });

  it("restores a stopped run to its last approved checkpoint when the run asks for automatic rollback", async () => {
    const { run } = await launch(
      [plan(), call("write_file", { path: "keep.txt", content: "approved\n" }), call("run_command", { command: "echo junk > junk.txt; sleep 300" }), finish()],
      { autoRollback: "on_failure" },
    );
    await waitFor("the command to run", () =>
      t.db
        .select()
        .from(toolCalls)
        .where(eq(toolCalls.runId, run.id))
        .all()
        .find((c) => c.tool === "run_command" && c.state === "executing"),
    );
    const workspaceDir = getRun(t.db, run.id).workspaceDir!;
    await waitFor("junk.txt", () => fs.existsSync(path.join(workspaceDir, "junk.txt")));
    const killed = await supervisor.killRun(run.id, actorOf(reviewer), "enough");
    expect(killed.state).toBe("killed");
    await supervisor.settled(run.id);
    await waitFor("the automatic rollback", () => listCheckpoints(t.db, run.id).find((c) => c.label.startsWith("automatic rollback to #2")));
    expect(fs.existsSync(path.join(workspaceDir, "junk.txt"))).toBe(false);
    expect(fs.readFileSync(path.join(workspaceDir, "keep.txt"), "utf8")).toBe("approved\n");
    expect(getRun(t.db, run.id).state).toBe("killed");
  });

  it("reverts a step whose tests fail before the agent continues, and tells it", async () => {
    const { run, server } = await launch([plan(), call("write_file", { path: "broken.txt", content: "oops\n" }), call("run_tests", {}), finish()], {
      autoRollback: "on_failure",
      testCommand: "test -f ok.txt",
    });
    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    expect(fs.existsSync(path.join(done.workspaceDir!, "broken.txt"))).toBe(false);
    expect(listCheckpoints(t.db, run.id).at(-1)!.label).toBe("tests failed: step 1 reverted to #1");
    expect(messagesOf(server).some((m) => m.role === "user" && String(m.content).includes("the tests failed"))).toBe(true);
  });

  it("is refused to viewers by the API and to anyone for a checkpoint of another run", async () => {
    const viewer = await addUser(t.db, "viewer");
    const some = listCheckpoints(t.db, t.db.select().from(approvals).get()!.runId)[0]!;
    await expect((await caller(viewer)).runs.rollback({ id: some.runId, checkpointId: some.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const other = t.db
      .select()
      .from(approvals)
      .all()
      .find((a) => a.runId !== some.runId)!;
    await expect((await caller(reviewer)).runs.rollback({ id: other.runId, checkpointId: some.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
