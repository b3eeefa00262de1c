// Issue 17, placement: which engine a run goes to, draining, and losing an
// engine. The local engine plus a second dockerd on this machine ("pc1",
// test/faults/second-engine.ts) reached over loopback TCP with TLS client
// certificates, registered in the engines table as an admin would; the
// supervisor drives runs through the engine pool (PooledRuntime). A project
// requiring the label "big" (only pc1 has it) runs there; pc1 takes one run at
// a time; drained, it takes none; stopped mid-run, its run fails with the
// engine's reason and its checkpoint still rolls back on the host; back, its
// orphaned container goes. A run there is refused network access plainly.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, asc, eq } from "drizzle-orm";
import { approvals, checkpoints, engines, toolCalls, type Run } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { decideApproval } from "@/server/approvals/approvals";
import { EgressController } from "@/server/egress/controller";
import { checkAllEngines, engineHealth, forgetEngineHealth, setEngineHealth } from "@/server/engines/health";
import { enginePoolRuntime } from "@/server/engines/pooled-runtime";
import { parseEngineRef } from "@/server/engines/types";
import { emitSignal } from "@/server/events/bus";
import { createProject } from "@/server/projects/projects";
import { QUEUE_CHANGED_SIGNAL } from "@/server/runs/queue-settings";
import { getRunView } from "@/server/runs/runs";
import { instanceIdForDataDir } from "@/server/sandbox/runtime";
import { sandboxImageName } from "@/server/sandbox/image";
import { Supervisor } from "@/server/supervisor/supervisor";
import { rollbackRun } from "@/server/workspace/rollback";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer } from "@/test/helpers/model-server";
import { approveEverything, getRun, registerModel, requireDocker, roomyQueue, startRun, tempDataDir, waitFor, waitForState } from "@/test/helpers/runs";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import { startSecondEngine, type SecondEngine } from "@/test/faults/second-engine";
import { registerSecondEngine } from "@/test/helpers/engines";

let engine: SecondEngine;
let t: TestDb;
let dataDir: string;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let model: ScriptedModelServer;
let modelId: string;
let bigProject: string;
const stoppers: (() => void)[] = [];

const ENGINE = "pc1";
/** The grace before a silent engine's runs fail (AIRLOCK_ENGINE_LOST_AFTER_S; 30 s by default), short for the test. */
const LOST_AFTER_MS = 2000;

beforeAll(async () => {
  await requireDocker();
  engine = await startSecondEngine({ name: ENGINE, images: [sandboxImageName()], tls: true });
  t = createTestDb();
  roomyQueue(t.db);
  dataDir = tempDataDir();
  registerSecondEngine(t.db, engine, { labels: ["big"], capacityRuns: 1 });
  forgetEngineHealth(ENGINE);
  await checkAllEngines(t.db);
  expect(engineHealth(ENGINE)?.healthy, engineHealth(ENGINE)?.error ?? "").toBe(true);
  supervisor = new Supervisor({
    db: t.db,
    runtime: enginePoolRuntime(t.db, instanceIdForDataDir(dataDir)),
    dataDir,
    image: sandboxImageName(),
    sweepMs: 200,
    runtimeSetting: "runc", // the second engine registers runc only
    engineLostAfterMs: LOST_AFTER_MS,
  });
  await supervisor.start();
  admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  bigProject = createProject(t.db, actorOf(admin), { slug: "big-jobs", name: "Big jobs", engineLabels: ["big"] }).id;
  // A one-step plan; then by the task: "work" writes a file and sleeps (a run to lose), "install" asks for a package; else finish.
  model = await startScriptedModelServer((req) => {
    const task = String(req.body.messages.find((m) => m.role === "user")?.content ?? "");
    const results = req.body.messages.filter((m) => m.role === "tool").length;
    const call = (name: string, args: Record<string, unknown>) => ({ type: "tool_calls" as const, calls: [{ name, arguments: args }] });
    if (results === 0) return call("submit_plan", { steps: [{ title: "work", risk: "low", risk_note: "test" }] });
    if (task.includes("work") && results === 1) return call("write_file", { path: "made-on-pc1.txt", content: "written on the remote engine\n" });
    // Each time another command (a command cut short by the engine's loss is not repeated word for word, which would read as a stuck agent).
    if (task.includes("work")) return call("run_command", { command: `sleep ${300 + results}` });
    if (task.includes("install") && results === 1) return call("install_package", { manager: "pip", packages: ["requests"] });
    return call("finish", { summary: "done", status: "success" });
  });
  modelId = registerModel(t.db, admin, model.baseUrl);
}, 300_000);

afterAll(async () => {
  for (const stop of stoppers) stop();
  await supervisor?.stopAll({ userId: null, label: "test-cleanup" }, "test cleanup").catch(() => undefined);
  await supervisor?.shutdown();
  await model?.close();
  forgetEngineHealth(ENGINE);
  await engine?.destroy();
  t?.close();
}, 120_000);

/** The run's plan waiting for a reviewer; fails at once when the run ended instead. */
const waitForPlan = (runId: string) =>
  waitFor(`run ${runId} to wait for its plan's approval`, () => {
    const run = getRun(t.db, runId);
    if (run.state === "failed" || run.state === "killed") throw new Error(`run ${runId} ended ${run.state}: ${run.endedReason}`);
    return t.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.runId, runId), eq(approvals.state, "pending"), eq(approvals.kind, "plan")))
      .get();
  });
const approvePlan = async (runId: string) =>
  decideApproval(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { id: (await waitForPlan(runId)).id, decision: "approve" });
const runBig = (task = "look") => startRun(t.db, supervisor, operator, modelId, { projectId: bigProject, task, title: `big: ${task}` });
const waitForQueued = (runId: string, reason: RegExp) =>
  waitFor(`run ${runId} to wait with reason ${String(reason)}`, () => {
    const view = getRunView(t.db, runId);
    return view.state === "queued" && reason.test(view.queueReason ?? "") ? view : undefined;
  });
const setDraining = (draining: boolean) => {
  t.db.update(engines).set({ draining, updatedAt: new Date() }).where(eq(engines.name, ENGINE)).run();
  emitSignal(QUEUE_CHANGED_SIGNAL, null); // what the engines router does on a change
};
const containersOnPc1 = async (runId: string) => engine.docker.listContainers({ all: true, filters: { label: [`airlock.run=${runId}`] } });

describe("placement across engines", () => {
  it("a run of a project requiring a label only pc1 has runs on pc1, in a container on pc1", async () => {
    const run = runBig();
    await waitForPlan(run.id);
    const view = getRunView(t.db, run.id);
    expect(view.engine).toBe(ENGINE);
    const ref = parseEngineRef(view.containerId!);
    expect(ref.engine).toBe(ENGINE);
    const inspected = await engine.docker.getContainer(ref.id).inspect();
    expect(inspected.State.Running).toBe(true);
    // runs.list says where too.
    const caller = createCallerFactory(appRouter)({
      db: t.db,
      identity: (await identityOfToken(t.db, issueToken(t.db, operator.id).token))!,
      sourceIp: "192.0.2.7",
    });
    expect((await caller.runs.list({ limit: 5 })).items.find((i) => i.id === run.id)?.engine).toBe(ENGINE);
    await approvePlan(run.id);
    await waitForState(t.db, run.id, "succeeded");
  }, 120_000);

  it("with room for one run on pc1, a second run of the project waits with the reason and starts when the first ends", async () => {
    const first = runBig();
    await waitForPlan(first.id);
    const second = runBig();
    const waiting = await waitForQueued(second.id, /^engines with labels big are full: pc1 1 of 1 run$/);
    expect(waiting.queuePosition).toBe(1);
    await approvePlan(first.id);
    await waitForState(t.db, first.id, "succeeded");
    await waitForPlan(second.id);
    expect(getRunView(t.db, second.id).engine).toBe(ENGINE);
    await approvePlan(second.id);
    await waitForState(t.db, second.id, "succeeded");
  }, 120_000);

  it("a draining pc1 lets its run finish, takes no new run of the project (it waits, saying so), while other runs go to the local engine", async () => {
    const onPc1 = runBig();
    await waitForPlan(onPc1.id);
    setDraining(true);
    try {
      const waiting = runBig();
      await waitForQueued(waiting.id, /^engines with labels big take no new runs now: pc1 is draining$/);
      const other = startRun(t.db, supervisor, operator, modelId, { title: "anywhere" });
      await waitForPlan(other.id);
      expect(getRunView(t.db, other.id).engine).toBe("local");
      // The run already on the draining engine finishes there.
      await approvePlan(onPc1.id);
      await waitForState(t.db, onPc1.id, "succeeded");
      expect(getRunView(t.db, waiting.id).state).toBe("queued");
      await approvePlan(other.id);
      await waitForState(t.db, other.id, "succeeded");
      setDraining(false);
      await waitForPlan(waiting.id);
      expect(getRunView(t.db, waiting.id).engine).toBe(ENGINE);
      await approvePlan(waiting.id);
      await waitForState(t.db, waiting.id, "succeeded");
    } finally {
      setDraining(false);
    }
  }, 180_000);

  it("a run on pc1 is refused network access with a plain reason, by the reviewer's grant and as the agent's tool result", async () => {
    const run = runBig("install");
    await waitForPlan(run.id);
    const egress = new EgressController({ db: t.db, instance: instanceIdForDataDir(dataDir) });
    const caller = createCallerFactory(appRouter)({
      db: t.db,
      identity: (await identityOfToken(t.db, issueToken(t.db, reviewer.id).token))!,
      sourceIp: "192.0.2.7",
      egress: () => egress,
    });
    const plain = `Network access is not available to runs on remote engines yet (run ${run.id} is on engine pc1). Run it on the local engine to grant network access.`;
    await expect(caller.runs.grantEgress({ id: run.id, domains: ["pypi.org"], reason: "to install requests" })).rejects.toThrow(plain);
    await approvePlan(run.id);
    const refused = await waitFor("the install_package call to be refused", () =>
      t.db
        .select()
        .from(toolCalls)
        .where(and(eq(toolCalls.runId, run.id), eq(toolCalls.tool, "install_package")))
        .get(),
    );
    await waitForState(t.db, run.id, "succeeded");
    const call = t.db.select().from(toolCalls).where(eq(toolCalls.id, refused.id)).get()!;
    expect(call.errorCode).toBe("EGRESS_DENIED");
    expect(JSON.stringify(call.result)).toContain("Network access is not available to runs on remote engines yet");
  }, 120_000);

  it("a blip shorter than the grace (AIRLOCK_ENGINE_LOST_AFTER_S) ends no run: pc1 seen down, then answering again, and its run goes on", async () => {
    const run = runBig();
    await waitForPlan(run.id);
    const healthy = engineHealth(ENGINE)!;
    // One failed look (as the monitor records a timeout), then pc1 answers again before the grace is over.
    setEngineHealth(ENGINE, { ...healthy, healthy: false, downSince: new Date(), error: "engine pc1 did not answer within 5000 ms" });
    await new Promise((r) => setTimeout(r, LOST_AFTER_MS / 2));
    setEngineHealth(ENGINE, { ...healthy, checkedAt: new Date() });
    await new Promise((r) => setTimeout(r, LOST_AFTER_MS + 1000));
    expect(getRun(t.db, run.id).state).toBe("awaiting_plan_approval");
    await approvePlan(run.id);
    await waitForState(t.db, run.id, "succeeded");
  }, 120_000);

  it("pc1 stopped mid-run: the run fails within seconds with 'engine pc1 unreachable since', its checkpoint rolls back on the host, and on pc1's return the orphan goes", async () => {
    const run = runBig("work");
    stoppers.push(approveEverything(t.db, run.id, reviewer));
    // Written and checkpointed, then sleeping in a command on pc1.
    const running = await waitFor("the run to sleep in its command on pc1", () => {
      const calls = t.db.select().from(toolCalls).where(eq(toolCalls.runId, run.id)).all();
      return calls.some((c) => c.tool === "run_command" && c.state === "executing") ? calls : undefined;
    });
    expect(running.some((c) => c.tool === "write_file" && c.state === "succeeded")).toBe(true);
    const workspaceDir = getRun(t.db, run.id).workspaceDir!;
    const containerRef = getRun(t.db, run.id).containerId!;
    const stoppedAt = Date.now();
    await engine.stop();
    await checkAllEngines(t.db, { timeoutMs: 2000 });
    expect(engineHealth(ENGINE)?.healthy).toBe(false);
    const failed: Run = await waitForState(t.db, run.id, "failed", 30_000);
    expect(Date.now() - stoppedAt).toBeLessThan(30_000);
    expect(failed.endedReason).toMatch(/^engine pc1 unreachable since \d{4}-\d\d-\d\dT/);
    // The shadow repository is on the host: the failed run rolls back to its start checkpoint.
    const cps = t.db.select().from(checkpoints).where(eq(checkpoints.runId, run.id)).orderBy(asc(checkpoints.seq)).all();
    expect(cps.length).toBeGreaterThanOrEqual(2);
    expect(fs.existsSync(path.join(workspaceDir, "made-on-pc1.txt"))).toBe(true);
    await rollbackRun(t.db, supervisor, run.id, cps[0]!.id, { ...actorOf(reviewer), userId: reviewer.id });
    expect(fs.existsSync(path.join(workspaceDir, "made-on-pc1.txt"))).toBe(false);
    // A run placed while pc1 is down waits, saying since when.
    const later = runBig();
    await waitForQueued(later.id, /^engines with labels big take no new runs now: pc1 is down since \d{4}-/);
    // Back: the run's container (left when pc1 went away) is removed, and the waiting run starts there.
    await engine.start();
    await checkAllEngines(t.db);
    expect(engineHealth(ENGINE)?.healthy).toBe(true);
    const deadline = Date.now() + 30_000;
    while ((await containersOnPc1(run.id)).length > 0) {
      if (Date.now() > deadline) throw new Error(`the container ${containerRef} of the failed run is still on pc1 after its return`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await waitForPlan(later.id);
    expect(getRunView(t.db, later.id).engine).toBe(ENGINE);
    await approvePlan(later.id);
    await waitForState(t.db, later.id, "succeeded");
  }, 240_000);

  it("after a restart with pc1 gone, reconciliation fails its run for the engine, not for a lost container", async () => {
    const run = runBig();
    await waitForPlan(run.id);
    await supervisor.shutdown(); // the run keeps its state, as on SIGTERM
    await engine.stop();
    supervisor = new Supervisor({
      db: t.db,
      runtime: enginePoolRuntime(t.db, instanceIdForDataDir(dataDir)),
      dataDir,
      image: sandboxImageName(),
      sweepMs: 200,
      runtimeSetting: "runc",
      engineLostAfterMs: LOST_AFTER_MS,
    });
    const started = Date.now();
    const result = await supervisor.start().then(() => getRun(t.db, run.id));
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(result.state).toBe("failed");
    expect(result.endedReason).toMatch(/^engine pc1 unreachable since \d{4}-\d\d-\d\dT/);
    await engine.start();
    await checkAllEngines(t.db);
  }, 120_000);
});
