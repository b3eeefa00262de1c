// Resource history of a real run (real Docker, real SQLite): the supervisor's
// sampler records the live sandbox's use against the run's caps, stops while
// Airlock is down and carries on after a restart, and records nothing once
// the run ended. The timeline procedure serves the samples as chart series,
// and the model turn's latency the agent now records.
import fs from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { runResourceSamples } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { runUsage } from "@/server/runs/usage";
import { type Supervisor } from "@/server/supervisor/supervisor";
import { type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer } from "@/test/helpers/model-server";
import {
  newSupervisor,
  registerModel,
  setUpSupervisedWorld,
  startRun,
  stopSupervisor,
  waitFor,
  waitForPendingApproval,
  waitForState,
} from "@/test/helpers/runs";
import { addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import type { PublicUser } from "@/server/users/users";

const SAMPLE_MS = 500;
let t: TestDb;
let dataDir: string;
let supervisor: Supervisor;
let operator: PublicUser;
let admin: PublicUser;
let server: ScriptedModelServer | undefined;

beforeAll(async () => {
  ({ t, dataDir, supervisor, operator, admin } = await setUpSupervisedWorld({ supervisor: { resourceSampleMs: SAMPLE_MS } }));
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await server?.close();
  t?.close();
});

const sampleCount = (runId: string) =>
  t.db
    .select({ n: sql<number>`count(*)` })
    .from(runResourceSamples)
    .where(eq(runResourceSamples.runId, runId))
    .get()!.n;

/** dockerd's CPU time in ms (utime + stime from /proc), or null where it cannot be read. */
function dockerdCpuMs(): number | null {
  try {
    const pid = fs.readFileSync("/var/run/docker.pid", "utf8").trim();
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms (USER_HZ 100)
  } catch {
    return null;
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than runUsage's shared sample (4 s) plus a few sampler ticks: long enough for a new row to appear if any would. */
const QUIET_MS = 6000;

describe("resource history", () => {
  it("the sampler records a live sandbox's use against its caps, pauses while Airlock is down, resumes after a restart and stops when the run ends", async () => {
    // A built-in run whose first model turn (answered after 400 ms) submits a plan: it then waits for a reviewer,
    // its sandbox up and idle, for as long as the test needs.
    server = await startScriptedModelServer([
      {
        type: "tool_calls",
        delayMs: 400,
        usage: { promptTokens: 321, completionTokens: 12 },
        calls: [{ name: "submit_plan", arguments: { steps: [{ title: "wait", risk: "low", risk_note: "nothing runs" }] } }],
      },
    ]);
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl), { limits: { memoryMb: 256, pids: 96 } });
    await waitForPendingApproval(t.db, run.id, "plan", 90_000);

    await waitFor("two samples", () => sampleCount(run.id) >= 2, 30_000);
    const first = t.db.select().from(runResourceSamples).where(eq(runResourceSamples.runId, run.id)).all()[0]!;
    expect(first).toMatchObject({ memoryCapBytes: 256 * 1024 * 1024, pidsCap: 96, cpuCapPercent: 100, span: 1 });
    expect(first.memoryBytes).toBeGreaterThan(0);
    expect(first.pids).toBeGreaterThanOrEqual(1);
    // Network "none": no interface but loopback, so no network figures rather than zeros.
    expect([first.netRxBytes, first.netTxBytes]).toEqual([null, null]);

    // Cost, for the report (not asserted): one sampling pass over this run, past the usage cache — the wall time (the
    // engine measures CPU over an interval), this process's CPU time and the engine's (dockerd's, when readable).
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const [wall0, cpu0, engine0] = [performance.now(), process.cpuUsage(), dockerdCpuMs()];
    const fresh = await runUsage(t.db, supervisor.runtime, [run.id], Date.now() + 60_000);
    const cpu = process.cpuUsage(cpu0);
    const engine1 = dockerdCpuMs();
    loop.disable();
    expect(fresh.map((u) => u.runId)).toEqual([run.id]);
    console.info(
      `resource sampler, one run: ${Math.round(performance.now() - wall0)} ms wall, ${Math.round((cpu.user + cpu.system) / 1000)} ms CPU in this process` +
        (engine0 !== null && engine1 !== null ? `, ${engine1 - engine0} ms CPU in dockerd` : "") +
        `, event-loop delay max ${Math.round(loop.max / 1e6)} ms`,
    );

    // Airlock stops: the run keeps its state and its sandbox, and nothing is sampled while no supervisor runs.
    await supervisor.shutdown();
    await pause(SAMPLE_MS * 2); // a tick in flight when it stopped records nothing
    const whileDown = sampleCount(run.id);
    await pause(QUIET_MS);
    expect(sampleCount(run.id)).toBe(whileDown);

    // A restarted supervisor adopts the run and samples it again.
    supervisor = newSupervisor(t.db, dataDir, { resourceSampleMs: SAMPLE_MS });
    await supervisor.start();
    await waitFor("a sample after the restart", () => sampleCount(run.id) > whileDown, 30_000);

    await supervisor.killRun(run.id, { userId: null, label: "test" }, "done sampling");
    await waitForState(t.db, run.id, "killed");
    await pause(SAMPLE_MS * 2);
    const atEnd = sampleCount(run.id);
    await pause(QUIET_MS);
    expect(sampleCount(run.id)).toBe(atEnd);

    // The timeline serves them as series with the caps drawn; memory never reached its cap here.
    const viewer = await addUser(t.db, "viewer");
    const caller = createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, viewer.id).token), sourceIp: null });
    const timeline = await caller.timeline.run({ id: run.id });
    const memory = timeline.resources.series.find((s) => s.key === "memory")!;
    expect(memory.points.length).toBe(atEnd);
    expect(memory.cap).toBe(256 * 1024 * 1024);
    expect(memory.capHitAt).toBeNull();
    expect(timeline.totals.live).toBe(false);
    expect(timeline.items.filter((i) => i.kind === "state").map((i) => (i.kind === "state" ? i.to : ""))).toContain("killed");
    // The model turn's latency is recorded (the scripted server answered after 400 ms), with its tokens.
    const turn = timeline.items.find((i) => i.kind === "model");
    expect(turn).toMatchObject({ kind: "model", tokensIn: 321, tokensOut: 12, toolCalls: 1 });
    expect(turn?.kind === "model" && turn.latencyMs).toBeGreaterThanOrEqual(400);
    // The plan waited for people from its request until the run was stopped (which cancelled it).
    const plan = timeline.items.find((i) => i.kind === "approval");
    expect(plan).toMatchObject({ kind: "approval", approvalKind: "plan", state: "cancelled", pending: false });
    expect(timeline.totals.planWaitMs).toBeGreaterThan(QUIET_MS);
  }, 180_000);
});
