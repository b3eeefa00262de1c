// Scale on one machine (issue 14, benchmark 5): runs waiting on approvals and
// runs executing a command at once, all real (tRPC runs.create, the
// supervisor, one container each, the scripted model server over HTTP).
// Ramps up in steps (waiting/running: 10/2, 25/5, 50/10, 75/15) and at each
// step measures, beside the unloaded figures taken first:
//   - memory: Airlock's RSS and heap (after a GC) per waiting and per running
//     run (deltas between steps), and each container's memory as the engine
//     reports it;
//   - the latency of an allowed run_command("true") through the gateway, of
//     an approval round-trip (a call that asks, the reviewer deciding as soon
//     as it appears, the command's result back), and of a tRPC query
//     (runs.get), from a probe run of its own;
// and stops at the first clear degradation: a run that fails or does not get
// where it should, engine errors, a tool call slower than twice its unloaded
// median, or the host's available memory under 10 %. Every container the
// runs made is removed at the end, also after a failure. Asserts nothing
// about timings. All four steps took 9.5 min on this 2-core machine at load
// average 20–120 from other work (most of it bringing 90 containers up); a
// smaller max step ends sooner.
//
//   npx tsx bench/scale.bench.ts [max step (1-4)]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { and, eq } from "drizzle-orm";
import { migrateDatabase, openDatabase } from "@/db/client";
import { approvals, runs, toolCalls } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { decideApproval } from "@/server/approvals/approvals";
import { onSignal } from "@/server/events/bus";
import { docker } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";
import { dockerRuntime, INSTANCE_LABEL, instanceIdForDataDir } from "@/server/sandbox/runtime";
import { DEFAULT_RUN_LIMITS } from "@/server/runs/limits";
import { setSupervisor, Supervisor } from "@/server/supervisor/supervisor";
import { handleToolCall, type GatewaySession } from "@/server/tools/gateway";
import { prepareRunWorkspace } from "@/server/workspace/hooks";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { startScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { registerModel, roomyQueue } from "@/test/helpers/runs";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import { note, numericArgs, params, record, stats, time } from "./support";

const STEPS = [
  { waiting: 10, running: 2 },
  { waiting: 25, running: 5 },
  { waiting: 50, running: 10 },
  { waiting: 75, running: 15 },
];
const [maxStep] = numericArgs(STEPS.length);
const PROBES = 6;
/** How long one step may take to bring its runs where they should be before that counts as degraded. */
const STEP_DEADLINE_MS = 150_000;

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

function memoryNow(): { rss: number; heap: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/** The host's MemAvailable over MemTotal (/proc/meminfo). */
function hostAvailableShare(): number {
  const info = fs.readFileSync("/proc/meminfo", "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
  return kb("MemAvailable") / kb("MemTotal");
}

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const image = sandboxImageName();
  const engine = docker();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-scale-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
  const db = openDatabase(path.join(dataDir, "airlock.db"));
  migrateDatabase(db);
  roomyQueue(db); // maxConcurrentRuns 1000: the queue admits every run of the ramp
  const instance = instanceIdForDataDir(dataDir);
  const runtime = dockerRuntime(undefined, { instance });
  const supervisor = new Supervisor({ db, runtime, dataDir, image, runtimeSetting: "runc", sweepMs: 1000 });
  setSupervisor(supervisor);

  // Each run's part is in its task: "waiting" runs ask to write a file (and wait on the reviewer), "running" runs sleep.
  const model = await startScriptedModelServer((req): ScriptStep => {
    const task = req.body.messages.find((m) => m.role === "user")?.content ?? "";
    const turn = req.body.messages.filter((m) => m.role === "assistant").length;
    const part = String(task).includes("[waiting]") ? "waiting" : "running";
    if (turn === 0)
      return {
        type: "tool_calls",
        calls: [{ name: "submit_plan", arguments: { steps: [{ title: "work", risk: "low", risk_note: "only touches the workspace" }] } }],
      };
    // A command ends after the run's command timeout (120 s at most): a running run then starts another, so it keeps running one.
    return {
      type: "tool_calls",
      calls: [{ name: "run_command", arguments: { command: part === "waiting" ? "touch waiting.txt" : "sleep 3000" } }],
    };
  });

  const errors: string[] = [];
  let offApprovals: (() => void) | null = null;
  params({
    image,
    steps: STEPS.slice(0, maxStep)
      .map((s) => `${s.waiting}/${s.running}`)
      .join(" "),
    probes: PROBES,
  });
  console.log(
    `scale benchmark: image ${image}, steps (waiting/running) ${STEPS.slice(0, maxStep)
      .map((s) => `${s.waiting}/${s.running}`)
      .join(", ")}, ${os.cpus().length} CPUs, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
  );
  try {
    await supervisor.start();
    const admin = await addUser(db, "admin");
    const operator = await addUser(db, "operator");
    const reviewer = await addUser(db, "reviewer");
    const modelId = registerModel(db, admin, model.baseUrl);
    const caller = createCallerFactory(appRouter)({ db, identity: await identityOfToken(db, issueToken(db, operator.id).token), sourceIp: "127.0.0.1" });
    const decider = { ...actorOf(reviewer), userId: reviewer.id };

    // The reviewer approves every plan at once (so the runs get to their command); the probe's own asks only while it wants them decided.
    let probeApprovalWanted = false;
    const decidePlans = () => {
      for (const a of db.select().from(approvals).where(eq(approvals.state, "pending")).all()) {
        if (a.kind === "plan" || (probeApprovalWanted && a.runId === "scale-probe")) {
          try {
            decideApproval(db, decider, { id: a.id, decision: "approve" });
          } catch {
            // decided meanwhile
          }
        }
      }
    };
    offApprovals = onSignal("approvals:changed", () => setImmediate(decidePlans));
    // The probe: a run of its own with its own sandbox (as bench/gateway.bench.ts), whose tool calls the bench makes through the gateway.
    const probeWs = await prepareWorkspace(dataDir, "scale-probe");
    db.insert(runs)
      .values({
        id: "scale-probe",
        title: "probe",
        task: "probe",
        modelId,
        state: "running",
        createdBy: operator.id,
        limits: DEFAULT_RUN_LIMITS,
        planApprovedAt: new Date(),
        updatedAt: new Date(),
      })
      .run();
    await prepareRunWorkspace(db, "scale-probe", probeWs);
    const { containerId: probeContainer } = await runtime.createSandbox({
      runId: "scale-probe",
      image,
      workspaceDir: probeWs,
      limits: DEFAULT_RUN_LIMITS,
      runtime: "runc",
    });
    db.update(runs).set({ containerId: probeContainer, workspaceDir: probeWs }).where(eq(runs.id, "scale-probe")).run();
    const probeSession: GatewaySession = {
      db,
      runId: "scale-probe",
      runtime,
      containerId: probeContainer,
      signal: new AbortController().signal,
      control: { submitPlan: async () => ({ ok: true }), completeStep: async () => ({ ok: true }), finish: async () => ({ ok: true }) },
    };
    let probeSeq = 0;
    const probe = async () => {
      const tool: number[] = [];
      const approval: number[] = [];
      const trpc: number[] = [];
      for (let i = -2; i < PROBES; i++) {
        const t = await time(async () => {
          const r = await handleToolCall(probeSession, { tool: "run_command", args: { command: "true" } });
          if (!r.ok) throw new Error(`run_command true was refused: ${JSON.stringify(r)}`);
        });
        probeApprovalWanted = true;
        const a = await time(async () => {
          const r = await handleToolCall(probeSession, { tool: "run_command", args: { command: `touch probe-${probeSeq++}.txt` } });
          if (!r.ok) throw new Error(`the approved touch failed: ${JSON.stringify(r)}`);
        });
        probeApprovalWanted = false;
        const q = await time(() => caller.runs.get({ id: "scale-probe" }));
        if (i >= 0) {
          tool.push(t);
          approval.push(a);
          trpc.push(q);
        }
      }
      const asked = db
        .select()
        .from(approvals)
        .where(and(eq(approvals.runId, "scale-probe"), eq(approvals.kind, "tool")))
        .all().length;
      if (asked === 0) throw new Error("the probe's touch never asked: the approval round-trip measured nothing");
      return { tool, approval, trpc };
    };

    // Unloaded figures first.
    const baseMem = memoryNow();
    const unloaded = await probe();
    const unloadedTool = stats(unloaded.tool).median;
    record({ id: "unloaded.run_command", label: "run_command `true`, no load", runtime: "runc", samples: unloaded.tool });
    record({ id: "unloaded.approval", label: "approval round-trip (touch), no load", runtime: "runc", samples: unloaded.approval });
    record({ id: "unloaded.trpc", label: "tRPC runs.get, no load", runtime: "runc", samples: unloaded.trpc });

    const made = { waiting: [] as string[], running: [] as string[] };
    let prevMem = baseMem;
    let prev = { waiting: 0, running: 0 };
    let degradedAt: string | null = null;
    for (const step of STEPS.slice(0, maxStep)) {
      const label = `${step.waiting} waiting + ${step.running} running`;
      const t0 = performance.now();
      // Waiting runs first, then running ones, with Airlock's memory taken after each: the deltas are per waiting and per running run.
      let reached = true;
      const mems: { rss: number; heap: number }[] = [];
      for (const part of ["waiting", "running"] as const) {
        const creates: Promise<{ id: string }>[] = [];
        for (let i = made[part].length; i < step[part]; i++)
          creates.push(caller.runs.create({ title: `${part} ${i}`, task: `${part} [${part}] ${i}`, modelId, limits: { memoryMb: 256 } }));
        for (const { id } of await Promise.all(creates)) made[part].push(id);
        // Every waiting run has a pending tool approval, every running run an executing command.
        try {
          await waitUntil(`${label} to be in place`, STEP_DEADLINE_MS, () => {
            const failed = db
              .select()
              .from(runs)
              .all()
              .filter((r) => (made.waiting.includes(r.id) || made.running.includes(r.id)) && (r.state === "failed" || r.state === "killed"));
            if (failed.length) throw new Error(`${failed.length} run(s) failed: ${failed.map((r) => r.endedReason).join("; ")}`);
            const pending = new Set(
              db
                .select({ runId: approvals.runId })
                .from(approvals)
                .where(and(eq(approvals.state, "pending"), eq(approvals.kind, "tool")))
                .all()
                .map((a) => a.runId),
            );
            const executing = new Set(
              db
                .select({ runId: toolCalls.runId })
                .from(toolCalls)
                .where(eq(toolCalls.state, "executing"))
                .all()
                .map((c) => c.runId),
            );
            return made.waiting.every((id) => pending.has(id)) && made.running.every((id) => executing.has(id)) ? true : undefined;
          });
        } catch (err) {
          errors.push(`${label}: ${(err as Error).message}`);
          reached = false;
          break;
        }
        // Give the runs' commands a moment to settle before measuring memory.
        await new Promise((r) => setTimeout(r, 1000));
        mems.push(memoryNow());
      }
      const rampMs = performance.now() - t0;
      console.log(`${label}: in place after ${(rampMs / 1000).toFixed(1)} s${reached ? "" : " (NOT reached)"}`);
      if (!reached) {
        degradedAt = `${label}: ${errors.at(-1)}`;
        break;
      }
      const [afterWaiting, mem] = mems as [{ rss: number; heap: number }, { rss: number; heap: number }];
      const addedWaiting = step.waiting - prev.waiting;
      const addedRunning = step.running - prev.running;
      // Container memory as the engine reports it (one-shot stats, usage without the page cache).
      const containerMb = async (ids: string[]) => {
        const out: number[] = [];
        await Promise.all(
          ids.map(async (id) => {
            const cid = db.select({ c: runs.containerId }).from(runs).where(eq(runs.id, id)).get()?.c;
            if (!cid) return;
            try {
              const s = (await engine.getContainer(cid).stats({ stream: false, "one-shot": true } as { stream: false })) as {
                memory_stats?: { usage?: number; stats?: { cache?: number; inactive_file?: number } };
              };
              const usage = (s.memory_stats?.usage ?? 0) - (s.memory_stats?.stats?.cache ?? s.memory_stats?.stats?.inactive_file ?? 0);
              out.push(usage / MB);
            } catch (err) {
              errors.push(`engine stats of ${cid.slice(0, 12)}: ${(err as Error).message}`);
            }
          }),
        );
        return out;
      };
      const [waitingMb, runningMb] = await Promise.all([containerMb(made.waiting), containerMb(made.running)]);
      const loaded = await probe();
      const tag = `${step.waiting}w${step.running}r`;
      const toolEntry = record({
        id: `loaded.${tag}.run_command`,
        label: `run_command \`true\`, ${label}`,
        runtime: "runc",
        samples: loaded.tool,
        baseline: { label: "the same with no load", samples: unloaded.tool },
      });
      record({
        id: `loaded.${tag}.approval`,
        label: `approval round-trip, ${label}`,
        runtime: "runc",
        samples: loaded.approval,
        baseline: { label: "the same with no load", samples: unloaded.approval },
      });
      record({
        id: `loaded.${tag}.trpc`,
        label: `tRPC runs.get, ${label}`,
        runtime: "runc",
        samples: loaded.trpc,
        baseline: { label: "the same with no load", samples: unloaded.trpc },
      });
      const per = (to: { rss: number; heap: number }, from: { rss: number; heap: number }, n: number) =>
        `+${((to.rss - from.rss) / MB / n).toFixed(2)} MB RSS, +${((to.heap - from.heap) / MB / n).toFixed(2)} MB heap`;
      const wMed = waitingMb.length ? stats(waitingMb).median : NaN;
      const rMed = runningMb.length ? stats(runningMb).median : NaN;
      const available = hostAvailableShare();
      note(
        `${label} (brought up in ${(rampMs / 1000).toFixed(1)} s): Airlock RSS ${(mem.rss / MB).toFixed(0)} MB, heap ${(mem.heap / MB).toFixed(0)} MB; ` +
          `per waiting run added (${addedWaiting}) ${per(afterWaiting, prevMem, addedWaiting)}; per running run added (${addedRunning}) ${per(mem, afterWaiting, addedRunning)}; ` +
          `container memory (engine, without page cache) median ${wMed.toFixed(1)} MB per waiting run, ${rMed.toFixed(1)} MB per running run; ` +
          `host memory available ${(available * 100).toFixed(0)} %; load average ${os.loadavg()[0]!.toFixed(1)}`,
      );
      const reasons: string[] = [];
      if (toolEntry.airlock.median > 2 * unloadedTool)
        reasons.push(`run_command \`true\` median ${toolEntry.airlock.median.toFixed(0)} ms > 2× unloaded ${unloadedTool.toFixed(0)} ms`);
      if (available < 0.1) reasons.push(`host memory available ${(available * 100).toFixed(0)} %`);
      if (errors.length) reasons.push(errors.join("; "));
      prevMem = mem;
      prev = step;
      if (reasons.length) {
        degradedAt = `${label}: ${reasons.join("; ")}`;
        break;
      }
    }
    note(
      degradedAt
        ? `first degradation at ${degradedAt}`
        : `no degradation up to ${STEPS[Math.min(maxStep, STEPS.length) - 1]!.waiting} waiting + ${STEPS[Math.min(maxStep, STEPS.length) - 1]!.running} running runs`,
    );
  } finally {
    offApprovals?.();
    const t0 = performance.now();
    await supervisor.stopAll({ userId: null, label: "bench-cleanup" }, "bench cleanup").catch(() => undefined);
    await supervisor.shutdown();
    setSupervisor(undefined);
    // Whatever is left of this instance's containers (the probe's, a run whose stop failed).
    const left = await engine.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
    await Promise.all(
      left.map((c) =>
        engine
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined),
      ),
    );
    console.log(`cleanup: ${left.length} leftover container(s) removed, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await model.close();
    db.$client.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function waitUntil<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
