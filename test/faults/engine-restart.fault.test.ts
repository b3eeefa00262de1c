// Fault: the Docker engine stops (SIGTERM to dockerd, as a service stop or an
// upgrade does) while runs execute commands and wait, then comes back. On a
// second, private engine (test/faults/second-engine.ts): the machine's main
// engine serves the other suites. Runs report the loss plainly and end cleanly,
// nothing hangs (a command in flight returns, new runs fail at once with the
// reason), the dashboard stays up and its health says what is wrong, and after
// the restart new runs work and no container is left without a run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { toolCalls, type Run } from "@/db/schema";
import { dockerRuntime, instanceIdForDataDir } from "@/server/sandbox/runtime";
import { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { requireDocker } from "@/test/helpers/docker";
import { startScriptedModelServer, type Script, type ScriptedModelServer } from "@/test/helpers/model-server";
import { approveEverything, registerModel, roomyQueue, startRun, tempDataDir, waitFor, waitForState } from "@/test/helpers/runs";
import { addUser } from "@/test/helpers/users";
import { checkEnvInvariants } from "@/test/faults/env-invariants";
import { startSecondEngine, type SecondEngine } from "@/test/faults/second-engine";
import { startDashboard, type Dashboard } from "@/test/faults/dashboard";

const FULL = process.env.AIRLOCK_FAULTS === "full";
/** A test of the full form only (npm run test:faults): the short form inside npm test leaves it out, not skipped. */
const itFull = (name: string, fn: () => Promise<void>, timeout?: number) => {
  if (FULL) it(name, fn, timeout);
};
const ENDED = ["failed", "killed", "succeeded"] as const;
const ENGINE_LOST = /the Docker engine stopped answering/i;

let engine: SecondEngine;
let dashboard: Dashboard | undefined;
let t: TestDb;
let dataDir: string;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];

beforeAll(async () => {
  const image = await requireDocker();
  engine = await startSecondEngine({ name: "restart", images: [image] });
  t = createTestDb();
  roomyQueue(t.db);
  dataDir = tempDataDir();
  supervisor = new Supervisor({
    db: t.db,
    runtime: dockerRuntime(engine.docker, { instance: instanceIdForDataDir(dataDir) }),
    dataDir,
    image,
    sweepMs: 200,
    runtimeSetting: "runc", // the private engine registers runc only
  });
  await supervisor.start();
  admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  // The built dashboard on the same engine (DOCKER_HOST, as a user points Airlock at an engine), with a data directory of its own.
  dashboard = await startDashboard(tempDataDir(), { DOCKER_HOST: engine.host, AIRLOCK_RUNTIME: "runc" });
  await dashboard.waitAnswering();
});

afterAll(async () => {
  await dashboard?.stop();
  await supervisor?.stopAll({ userId: null, label: "test-cleanup" }, "test cleanup").catch(() => undefined);
  await supervisor?.shutdown();
  await Promise.all(servers.map((s) => s.close()));
  await engine?.destroy();
  t?.close();
});

async function modelId(script: Script): Promise<string> {
  const s = await startScriptedModelServer(script);
  servers.push(s);
  return registerModel(t.db, admin, s.baseUrl);
}

const PLAN = { type: "tool_calls" as const, calls: [{ name: "submit_plan", arguments: { steps: [{ title: "work", risk: "low", risk_note: "test" }] } }] };
const call = (name: string, args: Record<string, unknown>) => ({ type: "tool_calls" as const, calls: [{ name, arguments: args }] });

function commandCall(runId: string) {
  return t.db
    .select()
    .from(toolCalls)
    .where(and(eq(toolCalls.runId, runId), eq(toolCalls.tool, "run_command")))
    .get();
}

/** A run with a long command in flight and a run waiting on its model, both in "running" on the engine. */
async function busyRuns(): Promise<{ inFlight: Run; waiting: Run }> {
  const inFlight = startRun(t.db, supervisor, operator, await modelId([PLAN, call("run_command", { command: "sleep 60", timeout_s: 120 }), { type: "hang" }]));
  const waiting = startRun(t.db, supervisor, operator, await modelId([PLAN, { type: "hang" }]));
  const stopA = approveEverything(t.db, inFlight.id, reviewer);
  const stopB = approveEverything(t.db, waiting.id, reviewer);
  try {
    await waitForState(t.db, waiting.id, "running");
    await waitFor("the command to be executing", () => commandCall(inFlight.id)?.state === "executing", 60_000);
  } finally {
    stopA();
    stopB();
  }
  await new Promise((r) => setTimeout(r, 500)); // the command is inside `sleep`
  return { inFlight, waiting };
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, describe: () => string = () => ""): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${describe()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function healthWhileDown(): Promise<{ status: number; body: Record<string, unknown> }> {
  return dashboard!.health();
}

async function expectNothingLeft(): Promise<void> {
  // Containers of ended runs are removed once the engine answers again (the event stream's resync).
  const instance = instanceIdForDataDir(dataDir);
  let problems: string[] = [];
  await waitUntil(
    "no container without a run, an intact audit chain and database",
    async () => {
      problems = (await checkEnvInvariants({ db: t.db, docker: engine.docker, instance })).problems;
      return problems.length === 0;
    },
    30_000,
    () => problems.join("; "),
  ).catch(() => undefined);
  expect(problems).toEqual([]);
}

/**
 * A command cut off by the engine's going away: an error naming the engine when
 * its API went first (the exec's end cannot be read), or the signal that the
 * stopping engine killed it with — never a clean exit.
 */
function expectNotACleanExit(cmd: typeof toolCalls.$inferSelect): void {
  const result = (cmd.result ?? {}) as { ok?: boolean; exit_code?: number | null; message?: string; code?: string };
  if (cmd.state === "failed") {
    expect(result.ok).toBe(false);
    expect(`${result.code}: ${result.message}`).toMatch(/RUN_STOPPED|the Docker engine stopped answering/);
  } else {
    expect(cmd.state).toBe("succeeded");
    expect(result.exit_code, JSON.stringify(result)).not.toBe(0);
    expect(result.exit_code, JSON.stringify(result)).not.toBeNull();
  }
}

/** One stop/start cycle of the engine with runs busy on it; returns what was measured. */
async function engineCycle(): Promise<{ endedWithinMs: number }> {
  const { inFlight, waiting } = await busyRuns();
  const t0 = Date.now();
  await engine.stop();
  const a = await waitForState(t.db, inFlight.id, [...ENDED], 30_000);
  const b = await waitForState(t.db, waiting.id, [...ENDED], 30_000);
  const endedWithinMs = Date.now() - t0;
  expect(a.state).toBe("failed");
  expect(a.endedReason).toMatch(ENGINE_LOST);
  expect(b.state).toBe("failed");
  expect(b.endedReason).toMatch(ENGINE_LOST);
  // The command in flight is never left "executing" or reported as a clean exit.
  const cmd = await waitFor("the command's call to end", () => {
    const c = commandCall(inFlight.id);
    return c && c.state !== "executing" ? c : undefined;
  });
  expectNotACleanExit(cmd);
  await engine.start();
  return { endedWithinMs };
}

describe("fault: the Docker engine stops and restarts during runs", () => {
  it("E1: a command in flight and a waiting run fail within seconds with a reason that names the stopped engine", async () => {
    const { inFlight, waiting } = await busyRuns();
    const t0 = Date.now();
    await engine.stop();
    const a = await waitForState(t.db, inFlight.id, [...ENDED], 30_000);
    const b = await waitForState(t.db, waiting.id, [...ENDED], 30_000);
    expect(Date.now() - t0).toBeLessThan(15_000); // the command's own timeout is 120 s
    expect(a.state).toBe("failed");
    expect(a.endedReason).toMatch(ENGINE_LOST);
    expect(a.endedReason).not.toMatch(/stopped unexpectedly \(exit code/);
    expect(b.state).toBe("failed");
    expect(b.endedReason).toMatch(ENGINE_LOST);
    const cmd = await waitFor("the command's call to end", () => {
      const c = commandCall(inFlight.id);
      return c && c.state !== "executing" ? c : undefined;
    });
    expectNotACleanExit(cmd);
  });

  it("E2: while the engine is down the dashboard stays up, health answers 503 naming the engine, and a new run fails at once saying why", async () => {
    expect(engine.running()).toBe(false);
    const health = await healthWhileDown();
    expect(health.status).toBe(503);
    expect((health.body.docker as { ok: boolean; error?: string }).ok).toBe(false);
    expect((health.body.docker as { error?: string }).error).toMatch(/Start the Docker engine/);
    expect((health.body.database as { ok: boolean }).ok).toBe(true);

    const t0 = Date.now();
    const fresh = startRun(t.db, supervisor, operator, await modelId([PLAN, { type: "hang" }]));
    const ended = await waitForState(t.db, fresh.id, [...ENDED], 30_000);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(ended.state).toBe("failed");
    expect(ended.endedReason).toMatch(/^The sandbox could not start: .*the Docker engine stopped answering/);
    expect(ended.endedReason).toMatch(/start it again/);
  });

  it("E3: once the engine is back, health is 200, a new run runs a command and finishes, and no container is left without a run", async () => {
    await engine.start();
    await waitUntil("the dashboard's health to be 200", async () => (await dashboard!.health()).status === 200, 30_000);
    const after = startRun(
      t.db,
      supervisor,
      operator,
      await modelId([PLAN, call("run_command", { command: "echo back" }), call("finish", { summary: "ok", status: "success" })]),
    );
    const stop = approveEverything(t.db, after.id, reviewer);
    const done = await waitForState(t.db, after.id, [...ENDED], 90_000).finally(stop);
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    expect(JSON.stringify(commandCall(after.id)?.result)).toContain("back");
    await expectNothingLeft();
  });

  itFull(
    "E5 (full): after a crash of dockerd (SIGKILL) the red button still stops a run within seconds, and its container is removed once the engine is back",
    async () => {
      const { inFlight, waiting } = await busyRuns();
      await engine.stop("SIGKILL");
      const t0 = Date.now();
      const killed = await supervisor.killRun(waiting.id, { userId: operator.id, label: "operator" }, "stopped while the engine was down");
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(killed.state).toBe("killed");
      // The command in flight lost its engine connection: it returns, not at its 120 s timeout.
      const cmd = await waitFor(
        "the command's call to end",
        () => {
          const c = commandCall(inFlight.id);
          return c && c.state !== "executing" ? c : undefined;
        },
        30_000,
      );
      expectNotACleanExit(cmd);
      await supervisor.killRun(inFlight.id, { userId: operator.id, label: "operator" }, "stopped while the engine was down");
      await engine.start();
      await expectNothingLeft();
    },
  );

  itFull("E4 (full): five stop/start cycles in a row, each ending its runs plainly; the supervisor keeps working after each", async () => {
    for (let i = 0; i < 5; i++) {
      const { endedWithinMs } = await engineCycle();
      expect(endedWithinMs).toBeLessThan(15_000);
    }
    const after = startRun(t.db, supervisor, operator, await modelId([PLAN, call("finish", { summary: "ok", status: "success" })]));
    const stop = approveEverything(t.db, after.id, reviewer);
    const done = await waitForState(t.db, after.id, [...ENDED], 90_000).finally(stop);
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    await expectNothingLeft();
  });
});
