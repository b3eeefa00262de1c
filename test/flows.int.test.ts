// Full supervised-run flows against real Docker, a real SQLite file and the
// scripted OpenAI-compatible model server over HTTP.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { type TestDb } from "@/test/helpers/db";
import { actorOf } from "@/test/helpers/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep, toolResultsSent } from "@/test/helpers/model-server";
import {
  getRun,
  newSupervisor,
  registerModel,
  setUpSupervisedWorld,
  startRun,
  stopSupervisor,
  waitFor,
  waitForPendingApproval,
  waitForState,
} from "@/test/helpers/runs";
import { decideApproval } from "@/server/approvals/approvals";
import { toolCalls, approvals, runEvents } from "@/db/schema";
import { verifyAuditChain } from "@/server/audit/chain";
import type { PublicUser } from "@/server/users/users";
import type { Supervisor } from "@/server/supervisor/supervisor";
import { docker } from "@/server/sandbox/docker";
import { instanceIdForDataDir } from "@/server/sandbox/runtime";

let t: TestDb;
let dataDir: string;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];

const plan = (steps = 1) => ({
  type: "tool_calls" as const,
  calls: [
    {
      name: "submit_plan",
      arguments: { steps: Array.from({ length: steps }, (_, i) => ({ title: `step ${i + 1}`, risk: "low", risk_note: "only touches the workspace" })) },
    },
  ],
});
const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
const finish = (status: "success" | "failure" = "success"): ScriptStep => call("finish", { summary: "done", status });

async function modelWith(script: ScriptStep[]) {
  const server = await startScriptedModelServer(script);
  servers.push(server);
  return { server, modelId: registerModel(t.db, admin, server.baseUrl) };
}

const approve = (id: string, by = reviewer, extra: { edit?: Record<string, unknown>; reason?: string } = {}) =>
  decideApproval(t.db, { ...actorOf(by), userId: by.id }, { id, decision: "approve", ...extra });
const deny = (id: string, reason: string, by = reviewer) => decideApproval(t.db, { ...actorOf(by), userId: by.id }, { id, decision: "deny", reason });

beforeAll(async () => {
  ({ t, dataDir, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("a supervised run", () => {
  it("goes from an approved plan through an approved write and a command to a successful finish", async () => {
    const { server, modelId } = await modelWith([
      plan(),
      call("write_file", { path: "hello.txt", content: "hello airlock\n" }),
      call("run_command", { command: "cat hello.txt && echo from-the-sandbox | tee log.txt" }),
      finish(),
    ]);
    const run = startRun(t.db, supervisor, operator, modelId);

    const planApproval = await waitForPendingApproval(t.db, run.id, "plan");
    expect(getRun(t.db, run.id).state).toBe("awaiting_plan_approval");
    approve(planApproval.id);

    const write = await waitForPendingApproval(t.db, run.id, "tool");
    expect(write.tool).toBe("write_file");
    expect(String(write.preview?.diff)).toContain("+hello airlock");
    expect(write.preview?.status).toBe("created");
    approve(write.id);

    const cmd = await waitForPendingApproval(t.db, run.id, "tool");
    expect(cmd.tool).toBe("run_command");
    expect(cmd.rule).toBeTruthy();
    approve(cmd.id);

    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    expect(fs.readFileSync(path.join(done.workspaceDir!, "hello.txt"), "utf8")).toBe("hello airlock\n");
    const output = t.db
      .select()
      .from(runEvents)
      .where(eq(runEvents.runId, run.id))
      .all()
      .filter((e) => e.type === "output")
      .map((e) => String(e.payload.text))
      .join("");
    expect(output).toContain("from-the-sandbox");
    const results = toolResultsSent(server);
    expect(results.at(-1)).toMatchObject({ ok: true, exit_code: 0 });
    expect(verifyAuditChain(t.db).ok).toBe(true);
    // The container is removed once the run ends (the workspace stays).
    await expect
      .poll(
        () =>
          docker()
            .getContainer(done.containerId!)
            .inspect()
            .then(
              () => "exists",
              (e: { statusCode?: number }) => e.statusCode,
            ),
        { timeout: 10_000 },
      )
      .toBe(404);
  });

  it("answers PLAN_REQUIRED to a write before the plan, and lets the agent resubmit a rejected plan", async () => {
    const { server, modelId } = await modelWith([call("write_file", { path: "x.txt", content: "x" }), plan(1), plan(2), finish()]);
    const run = startRun(t.db, supervisor, operator, modelId);
    const first = await waitForPendingApproval(t.db, run.id, "plan");
    expect(toolResultsSent(server)[0]).toMatchObject({ ok: false, code: "PLAN_REQUIRED" });
    deny(first.id, "split it into two steps");
    const second = await waitForPendingApproval(t.db, run.id, "plan");
    expect(second.id).not.toBe(first.id);
    const rejected = toolResultsSent(server).at(-1)!;
    expect(rejected).toMatchObject({ ok: false, code: "DENIED_BY_REVIEWER" });
    expect(String(rejected.message)).toContain("split it into two steps");
    approve(second.id);
    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(done.state).toBe("succeeded");
    expect(done.plan).toHaveLength(2);
  });

  it("tells the agent DENIED_BY_REVIEWER with the reason and writes nothing when a write is denied", async () => {
    const { server, modelId } = await modelWith([plan(), call("write_file", { path: "secret.txt", content: "nope" }), finish("failure")]);
    const run = startRun(t.db, supervisor, operator, modelId);
    approve((await waitForPendingApproval(t.db, run.id, "plan")).id);
    const write = await waitForPendingApproval(t.db, run.id, "tool");
    deny(write.id, "do not create secrets");
    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(toolResultsSent(server).at(-1)).toMatchObject({ ok: false, code: "DENIED_BY_REVIEWER", reason: "do not create secrets" });
    expect(fs.existsSync(path.join(done.workspaceDir!, "secret.txt"))).toBe(false);
  });

  it("reports APPROVAL_EXPIRED to the agent when nobody decides in time", async () => {
    process.env.AIRLOCK_APPROVAL_TTL_S = "1";
    try {
      const { server, modelId } = await modelWith([plan(), call("write_file", { path: "late.txt", content: "x" }), finish("failure")]);
      const run = startRun(t.db, supervisor, operator, modelId);
      const p = await waitForPendingApproval(t.db, run.id, "plan");
      approve(p.id);
      const write = await waitForPendingApproval(t.db, run.id, "tool");
      await waitForState(t.db, run.id, ["succeeded", "failed"]);
      expect(t.db.select().from(approvals).where(eq(approvals.id, write.id)).get()!.state).toBe("expired");
      expect(toolResultsSent(server).at(-1)).toMatchObject({ ok: false, code: "APPROVAL_EXPIRED" });
    } finally {
      delete process.env.AIRLOCK_APPROVAL_TTL_S;
    }
  });

  it("pauses after each plan step in step mode until a reviewer says continue", async () => {
    const { server, modelId } = await modelWith([
      plan(2),
      call("complete_step", { step: 1, note: "looked around" }),
      call("complete_step", { step: 2 }),
      finish(),
    ]);
    const run = startRun(t.db, supervisor, operator, modelId, { stepMode: true });
    approve((await waitForPendingApproval(t.db, run.id, "plan")).id);
    const step1 = await waitForPendingApproval(t.db, run.id, "step");
    expect(getRun(t.db, run.id).state).toBe("awaiting_approval");
    expect(step1.preview).toMatchObject({ step: 1, next: "step 2" });
    // Still waiting: the model was not called again.
    const calls = server.requests.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(server.requests.length).toBe(calls);
    approve(step1.id);
    approve((await waitForPendingApproval(t.db, run.id, "step")).id);
    expect((await waitForState(t.db, run.id, ["succeeded", "failed"])).state).toBe("succeeded");
  });

  it("stops a run during a long command: container killed, run killed with who and why", async () => {
    // `sleep 300` alone is read-only and runs without a question (issue 12); the write makes it ask, as this test needs.
    const { modelId } = await modelWith([plan(), call("run_command", { command: "sleep 300; touch too-late.txt" }), finish()]);
    const run = startRun(t.db, supervisor, operator, modelId);
    approve((await waitForPendingApproval(t.db, run.id, "plan")).id);
    approve((await waitForPendingApproval(t.db, run.id, "tool")).id);
    await waitFor("the command to execute", () =>
      t.db
        .select()
        .from(toolCalls)
        .where(eq(toolCalls.runId, run.id))
        .all()
        .find((c) => c.tool === "run_command" && c.state === "executing"),
    );
    const containerId = getRun(t.db, run.id).containerId!;
    const started = Date.now();
    const killed = await supervisor.killRun(run.id, { ...actorOf(reviewer) }, "runaway sleep");
    const elapsed = Date.now() - started;
    expect(killed.state).toBe("killed");
    expect(killed.endedReason).toBe("runaway sleep");
    expect(killed.endedBy).toBe(reviewer.email);
    expect(elapsed).toBeLessThan(5000);
    await expect(docker().getContainer(containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("survives a restart while waiting for approval and executes the approved call exactly once", async () => {
    const { modelId } = await modelWith([plan(), call("run_command", { command: "echo once >> count.txt" }), finish()]);
    const run = startRun(t.db, supervisor, operator, modelId);
    approve((await waitForPendingApproval(t.db, run.id, "plan")).id);
    const pending = await waitForPendingApproval(t.db, run.id, "tool");

    await supervisor.shutdown(); // the Airlock process "dies"
    expect(getRun(t.db, run.id).state).toBe("awaiting_approval");
    supervisor = newSupervisor(t.db, dataDir);
    const reconciled = await supervisor.start();
    void reconciled;
    expect(t.db.select().from(approvals).where(eq(approvals.id, pending.id)).get()!.state).toBe("pending");

    approve(pending.id);
    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    expect(fs.readFileSync(path.join(done.workspaceDir!, "count.txt"), "utf8")).toBe("once\n");
    expect(
      t.db
        .select()
        .from(toolCalls)
        .where(eq(toolCalls.runId, run.id))
        .all()
        .filter((c) => c.tool === "run_command"),
    ).toHaveLength(1);
  });
});

describe("a reviewer's edit approved after a restart", () => {
  // Restart while a command waits for a reviewer, then approve it with an edit.
  async function approveEditAfterRestart(edit: Record<string, unknown>) {
    const { modelId } = await modelWith([plan(), call("run_command", { command: "echo once >> count.txt" }), finish()]);
    const run = startRun(t.db, supervisor, operator, modelId);
    approve((await waitForPendingApproval(t.db, run.id, "plan")).id);
    const pending = await waitForPendingApproval(t.db, run.id, "tool");
    await supervisor.shutdown();
    supervisor = newSupervisor(t.db, dataDir);
    await supervisor.start();
    approve(pending.id, reviewer, { edit });
    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    const [command] = t.db
      .select()
      .from(toolCalls)
      .where(eq(toolCalls.runId, run.id))
      .all()
      .filter((c) => c.tool === "run_command");
    return { done, command: command! };
  }

  it("I2: an edit that policy denies is refused in the same words as before a restart, naming the rule", async () => {
    const { done, command } = await approveEditAfterRestart({ command: "rm -rf /" });
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    expect(command.state).toBe("refused");
    expect(command.startedAt).toBeNull();
    expect(command.result).toMatchObject({ ok: false, code: "DENIED_BY_POLICY", rule: "destructive-delete" });
    expect((command.result as { message: string }).message).toMatch(/^The edited call is denied by policy rule destructive-delete: /);
    expect(fs.existsSync(path.join(done.workspaceDir!, "count.txt"))).toBe(false);
  });

  it("I2: an edit that breaks the tool's arguments is validated again after a restart and refused; nothing runs", async () => {
    const { done, command } = await approveEditAfterRestart({ timeout_s: "soon" });
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    expect(command.state).toBe("refused");
    expect(command.startedAt).toBeNull();
    expect(command.result).toMatchObject({ ok: false, code: "INVALID_INPUT" });
    expect((command.result as { message: string }).message).toContain("The reviewer's edit is not valid for run_command");
    expect(fs.existsSync(path.join(done.workspaceDir!, "count.txt"))).toBe(false);
  });
});

describe("restart while the plan waits for review", () => {
  it("keeps the plan request pending across a restart and continues once it is approved", async () => {
    const { modelId } = await modelWith([plan(), finish()]);
    const run = startRun(t.db, supervisor, operator, modelId);
    const pending = await waitForPendingApproval(t.db, run.id, "plan");
    await supervisor.shutdown();
    supervisor = newSupervisor(t.db, dataDir);
    await supervisor.start();
    expect(getRun(t.db, run.id).state).toBe("awaiting_plan_approval");
    expect(t.db.select().from(approvals).where(eq(approvals.runId, run.id)).all()).toHaveLength(1);
    approve(pending.id);
    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    expect(done.planApprovedAt).not.toBeNull();
  });
});

describe("reconciliation after a restart", () => {
  it("fails a run whose container is gone and removes its own containers that belong to no active run, leaving other Airlocks' alone", async () => {
    const { modelId } = await modelWith([plan(), finish()]);
    const run = startRun(t.db, supervisor, operator, modelId);
    await waitForPendingApproval(t.db, run.id, "plan");
    await supervisor.shutdown();
    const containerId = getRun(t.db, run.id).containerId!;
    await docker().getContainer(containerId).remove({ force: true });
    const orphan = await docker().createContainer({
      Image: (await import("@/server/sandbox/image")).sandboxImageName(),
      Cmd: ["sleep", "300"],
      Labels: { "airlock.run": "no-such-run", "airlock.managed": "true", "airlock.instance": instanceIdForDataDir(dataDir) },
      NetworkDisabled: true,
    });
    await orphan.start();
    const foreign = await docker().createContainer({
      Image: (await import("@/server/sandbox/image")).sandboxImageName(),
      Cmd: ["sleep", "300"],
      Labels: { "airlock.run": "someone-elses-run", "airlock.managed": "true", "airlock.instance": "another-airlock" },
      NetworkDisabled: true,
    });
    await foreign.start();

    supervisor = newSupervisor(t.db, dataDir);
    await supervisor.start();

    const failed = getRun(t.db, run.id);
    expect(failed.state).toBe("failed");
    expect(failed.endedReason).toMatch(/container was lost/);
    expect(
      t.db
        .select()
        .from(approvals)
        .where(eq(approvals.runId, run.id))
        .all()
        .every((a) => a.state !== "pending"),
    ).toBe(true);
    await expect(orphan.inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect((await foreign.inspect()).State.Running).toBe(true);
    await foreign.remove({ force: true });
  });
});

describe("stop all", () => {
  it("stops every active run at once and records who did it", async () => {
    const a = await modelWith([plan(), finish()]);
    const b = await modelWith([plan(), finish()]);
    const runA = startRun(t.db, supervisor, operator, a.modelId);
    const runB = startRun(t.db, supervisor, operator, b.modelId);
    await waitForPendingApproval(t.db, runA.id, "plan");
    await waitForPendingApproval(t.db, runB.id, "plan");
    const stopped = await supervisor.stopAll(actorOf(admin), "incident: stop everything");
    expect(stopped).toBeGreaterThanOrEqual(2);
    for (const id of [runA.id, runB.id]) {
      const r = getRun(t.db, id);
      expect(r.state).toBe("killed");
      expect(r.endedBy).toBe(admin.email);
      expect(r.endedReason).toBe("incident: stop everything");
      expect(
        t.db
          .select()
          .from(approvals)
          .where(eq(approvals.runId, id))
          .all()
          .every((x) => x.state === "cancelled"),
      ).toBe(true);
    }
  });
});
