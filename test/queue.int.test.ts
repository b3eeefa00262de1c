// Issue 13, the run queue: limits on how many runs execute at once (instance,
// project, user) and on the memory their limits reserve, FIFO order, a queued
// run cancelled, and a restart that keeps the queue. Real supervisor, real
// Docker sandboxes, a real SQLite file and the scripted model server; every
// run is a plan that waits for a reviewer (holding its slot) and then finishes.
import os from "node:os";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { and, eq, notInArray } from "drizzle-orm";
import { runEvents, runs, type Run } from "@/db/schema";
import { decideApproval } from "@/server/approvals/approvals";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { onSignal } from "@/server/events/bus";
import { createProject } from "@/server/projects/projects";
import { getRunView, listRunViews } from "@/server/runs/runs";
import { updateQueueSettings } from "@/server/runs/queue-settings";
import { TERMINAL_STATES } from "@/server/runs/state-machine";
import type { Supervisor } from "@/server/supervisor/supervisor";
import { setSupervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import type { TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer } from "@/test/helpers/model-server";
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
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

let t: TestDb;
let dataDir: string;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let model: ScriptedModelServer;
let modelId: string;

beforeAll(async () => {
  ({ t, dataDir, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld({ global: true }));
  // Every conversation: a one-step plan, then finish once the plan's answer came back.
  model = await startScriptedModelServer((req) =>
    req.body.messages.some((m) => m.role === "tool")
      ? { type: "tool_calls", calls: [{ name: "finish", arguments: { summary: "done", status: "success" } }] }
      : { type: "tool_calls", calls: [{ name: "submit_plan", arguments: { steps: [{ title: "look", risk: "low", risk_note: "reads only" }] } }] },
  );
  modelId = registerModel(t.db, admin, model.baseUrl);
});

afterEach(async () => {
  // Every test starts with an empty queue and the defaults.
  await supervisor.stopAll({ userId: null, label: "test-cleanup" }, "test cleanup");
  updateQueueSettings(t.db, actorOf(admin), { maxConcurrentRuns: null, maxConcurrentRunsPerUser: null, memoryRatio: null });
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await model?.close();
  t?.close();
});

const setLimits = (input: Parameters<typeof updateQueueSettings>[2]) => updateQueueSettings(t.db, actorOf(admin), input);
const approvePlan = async (runId: string) =>
  decideApproval(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { id: (await waitForPendingApproval(t.db, runId, "plan")).id, decision: "approve" });
const holdingSlots = () =>
  t.db
    .select({ id: runs.id })
    .from(runs)
    .where(notInArray(runs.state, ["queued", ...TERMINAL_STATES]))
    .all().length;
/** The most runs that held slots at once, sampled at every state change, until the returned function is called. */
function watchConcurrency(): { max: () => number; stop: () => void } {
  let max = holdingSlots();
  const stop = onSignal("run:*", (payload) => {
    if ((payload as { type: string }).type === "state") max = Math.max(max, holdingSlots());
  });
  return { max: () => max, stop };
}
const queueEventsOf = (runId: string) =>
  t.db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, runId), eq(runEvents.type, "queue")))
    .orderBy(runEvents.id)
    .all()
    .map((e) => e.payload as { position: number; reason: string });
const waitForQueued = (runId: string, reason: RegExp | string) =>
  waitFor(`run ${runId} to wait with reason ${String(reason)}`, () => {
    const view = getRunView(t.db, runId);
    const ok = view.state === "queued" && (typeof reason === "string" ? view.queueReason === reason : reason.test(view.queueReason ?? ""));
    return ok ? view : undefined;
  });

describe("the run queue", () => {
  it("with 2 slots and 5 runs: 2 execute, 3 wait in order with their place and reason, and each starts in order as another ends", async () => {
    setLimits({ maxConcurrentRuns: 2 });
    const watch = watchConcurrency();
    const five = [1, 2, 3, 4, 5].map((n) => startRun(t.db, supervisor, operator, modelId, { title: `run ${n}` }));
    const [r1, r2, r3, r4, r5] = five as [Run, Run, Run, Run, Run];
    await waitForPendingApproval(t.db, r1.id, "plan");
    await waitForPendingApproval(t.db, r2.id, "plan");
    const slotReason = "waiting for a slot: 2 of 2 runs are executing on this instance";
    for (const [i, r] of [r3, r4, r5].entries()) {
      const view = await waitForQueued(r.id, slotReason);
      expect(view.queuePosition).toBe(i + 1);
    }
    expect(
      listRunViews(t.db, { limit: 10 })
        .items.filter((i) => i.state === "queued")
        .map((i) => [i.title, i.queuePosition]),
    ).toEqual([
      ["run 5", 3],
      ["run 4", 2],
      ["run 3", 1],
    ]);

    await approvePlan(r1.id);
    expect((await waitForState(t.db, r1.id, ["succeeded", "failed"])).state).toBe("succeeded");
    await waitForPendingApproval(t.db, r3.id, "plan");
    expect(getRun(t.db, r4.id).state).toBe("queued");
    expect(getRunView(t.db, r4.id).queuePosition).toBe(1);
    expect(getRunView(t.db, r3.id)).toMatchObject({ queuePosition: null, queueReason: null });
    // The page learns of the move live: r4's queue events go from place 2 to place 1.
    await waitFor("r4's move to place 1 to be announced", () => queueEventsOf(r4.id).at(-1)?.position === 1);
    expect(queueEventsOf(r4.id).map((e) => e.position)).toEqual([2, 1]);

    for (const r of [r2, r3, r4, r5]) {
      await approvePlan(r.id);
      expect((await waitForState(t.db, r.id, ["succeeded", "failed"])).state).toBe("succeeded");
    }
    watch.stop();
    expect(watch.max()).toBe(2);
    // The order in which runs left the queue (their sandboxes may get ready in another order).
    const leftQueue = t.db
      .select()
      .from(runEvents)
      .where(eq(runEvents.type, "state"))
      .orderBy(runEvents.id)
      .all()
      .filter((e) => (e.payload as { to: string }).to === "starting" && five.some((r) => r.id === e.runId))
      .map((e) => e.runId);
    expect(leftQueue).toEqual(five.map((r) => r.id));
  });

  it("a project limit of 1 keeps the project's second run waiting, naming the project, while a later run of another project starts", async () => {
    setLimits({ maxConcurrentRuns: 10 });
    const project = createProject(t.db, actorOf(admin), { slug: "one-at-a-time", name: "One at a time", maxConcurrentRuns: 1 });
    const first = startRun(t.db, supervisor, operator, modelId, { projectId: project.id });
    const second = startRun(t.db, supervisor, operator, modelId, { projectId: project.id });
    const other = startRun(t.db, supervisor, operator, modelId);
    await waitForPendingApproval(t.db, first.id, "plan");
    await waitForPendingApproval(t.db, other.id, "plan");
    const waiting = await waitForQueued(second.id, "project One at a time allows 1 run at a time (1 executing)");
    expect(waiting.queuePosition).toBe(1);

    await approvePlan(first.id);
    await waitForState(t.db, first.id, "succeeded");
    await waitForPendingApproval(t.db, second.id, "plan");
    expect(getRunView(t.db, second.id).queueReason).toBeNull();
  });

  it("projects.create and projects.update take maxConcurrentRuns from 1 to 1000 or null, and refuse anything else saying so", async () => {
    const identity = await identityOfToken(t.db, issueToken(t.db, admin.id).token);
    const caller = createCallerFactory(appRouter)({ db: t.db, identity, sourceIp: "192.0.2.7" });
    const { id } = await caller.projects.create({ slug: "limited", name: "Limited", maxConcurrentRuns: 3 });
    expect((await caller.projects.get({ id })).maxConcurrentRuns).toBe(3);
    expect((await caller.projects.update({ id, maxConcurrentRuns: null })).maxConcurrentRuns).toBeNull();
    await expect(caller.projects.update({ id, maxConcurrentRuns: 0 })).rejects.toThrow(/maxConcurrentRuns must allow at least 1 run/);
    await expect(caller.projects.update({ id, maxConcurrentRuns: 1001 })).rejects.toThrow(/at most 1000/);
    await expect(caller.projects.update({ id, maxConcurrentRuns: 1.5 })).rejects.toThrow(/whole number/);
  });

  it("a per-user limit keeps a user's extra run waiting, naming the user, while another user's later run starts", async () => {
    setLimits({ maxConcurrentRuns: 10, maxConcurrentRunsPerUser: 1 });
    const colleague = await addUser(t.db, "operator");
    const mine = startRun(t.db, supervisor, operator, modelId);
    const mineToo = startRun(t.db, supervisor, operator, modelId);
    const theirs = startRun(t.db, supervisor, colleague, modelId);
    await waitForPendingApproval(t.db, mine.id, "plan");
    await waitForPendingApproval(t.db, theirs.id, "plan");
    await waitForQueued(mineToo.id, `${operator.email} may have 1 run executing at a time (1 executing)`);

    await approvePlan(mine.id);
    await waitForState(t.db, mine.id, "succeeded");
    await waitForPendingApproval(t.db, mineToo.id, "plan");
  });

  it("does not oversubscribe memory: a run whose limit does not fit waits, its start says why, and it starts once memory is freed", async () => {
    const hostMb = Math.floor(os.totalmem() / 1024 / 1024);
    // Room for one run of 1 GiB and a half more: the second 1 GiB run must wait.
    const view = setLimits({ maxConcurrentRuns: 10, memoryRatio: 1600 / hostMb });
    expect(view.memoryBudgetMb).toBeGreaterThanOrEqual(1536);
    expect(view.memoryBudgetMb).toBeLessThan(2048);
    const first = startRun(t.db, supervisor, operator, modelId, { limits: { memoryMb: 1024 } });
    const second = startRun(t.db, supervisor, operator, modelId, { limits: { memoryMb: 1024 } });
    await waitForPendingApproval(t.db, first.id, "plan");
    const waiting = await waitForQueued(second.id, /^waiting for memory: 1 of 1\.5\d? GiB reserved by running runs; this run needs 1 GiB$/);
    expect(waiting.queuePosition).toBe(1);
    expect(queueEventsOf(second.id).at(-1)?.reason).toBe(waiting.queueReason);
    expect(holdingSlots()).toBe(1);

    await supervisor.killRun(first.id, actorOf(reviewer), "make room");
    await waitForPendingApproval(t.db, second.id, "plan");
    expect(getRunView(t.db, second.id).queueReason).toBeNull();
  });

  it("raising the instance limit in Settings starts a waiting run at once, without waiting for another run to end", async () => {
    setLimits({ maxConcurrentRuns: 1 });
    const executing = startRun(t.db, supervisor, operator, modelId);
    const waiting = startRun(t.db, supervisor, operator, modelId);
    await waitForPendingApproval(t.db, executing.id, "plan");
    await waitForQueued(waiting.id, "waiting for a slot: 1 of 1 runs are executing on this instance");

    setLimits({ maxConcurrentRuns: 2 });
    await waitForPendingApproval(t.db, waiting.id, "plan", 15_000);
    expect(getRun(t.db, executing.id).state).toBe("awaiting_plan_approval");
  });

  it("a queued run is cancelled with runs.kill: killed with who and why, no container, and the run behind it moves up", async () => {
    setLimits({ maxConcurrentRuns: 1 });
    const executing = startRun(t.db, supervisor, operator, modelId);
    const cancelled = startRun(t.db, supervisor, operator, modelId);
    const behind = startRun(t.db, supervisor, operator, modelId);
    await waitForPendingApproval(t.db, executing.id, "plan");
    await waitForQueued(cancelled.id, /waiting for a slot/);
    expect(getRunView(t.db, behind.id).queuePosition).toBe(2);

    const identity = await identityOfToken(t.db, issueToken(t.db, operator.id).token);
    const caller = createCallerFactory(appRouter)({ db: t.db, identity, sourceIp: "192.0.2.7" });
    expect(await caller.runs.kill({ id: cancelled.id, reason: "not needed any more" })).toEqual({ state: "killed" });
    const after = getRun(t.db, cancelled.id);
    expect(after).toMatchObject({ state: "killed", endedReason: "not needed any more", endedBy: operator.email, containerId: null, startedAt: null });
    expect(getRunView(t.db, cancelled.id)).toMatchObject({ queuePosition: null, queueReason: null });
    await waitFor("the run behind to move to place 1", () => queueEventsOf(behind.id).at(-1)?.position === 1);
    expect(getRunView(t.db, behind.id).queuePosition).toBe(1);
    expect(getRun(t.db, behind.id).state).toBe("queued");
  });

  it("a restart keeps the queue: the executing run resumes, queued runs keep their order and start one by one as slots free", async () => {
    setLimits({ maxConcurrentRuns: 1 });
    const executing = startRun(t.db, supervisor, operator, modelId);
    const next = startRun(t.db, supervisor, operator, modelId);
    const last = startRun(t.db, supervisor, operator, modelId);
    await waitForPendingApproval(t.db, executing.id, "plan");
    await waitForQueued(last.id, /waiting for a slot/);

    await supervisor.shutdown(); // the Airlock process "dies"
    supervisor = newSupervisor(t.db, dataDir);
    setSupervisor(supervisor);
    await supervisor.start();

    expect(getRun(t.db, executing.id).state).toBe("awaiting_plan_approval");
    expect(getRun(t.db, next.id).state).toBe("queued");
    expect(getRun(t.db, last.id).state).toBe("queued");
    expect([getRunView(t.db, next.id).queuePosition, getRunView(t.db, last.id).queuePosition]).toEqual([1, 2]);

    await approvePlan(executing.id);
    await waitForState(t.db, executing.id, "succeeded");
    await waitForPendingApproval(t.db, next.id, "plan");
    expect(getRun(t.db, last.id).state).toBe("queued");
    expect(getRunView(t.db, last.id).queuePosition).toBe(1);
    await approvePlan(next.id);
    await waitForState(t.db, next.id, "succeeded");
    await waitForPendingApproval(t.db, last.id, "plan");
  });
});
