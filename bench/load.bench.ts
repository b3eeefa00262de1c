// Load (issue 15, part 3): 20 active runs and 50 live viewers for 10 minutes,
// all real. The runs are built-in agents driven by the scripted model server
// (test/helpers/model-server.ts) through the real supervisor, one container
// each: every turn a command that prints output, a file write, and now and
// then a command the policy asks a reviewer about; each changing call makes a
// checkpoint. A reviewer decides every request through the tRPC API over
// HTTP (most approved, every fifth denied with a reason) and 50 viewers follow
// the runs' events (runs.events over SSE through the real tRPC route, as the
// run page does), both from a process of their own (bench/load-subscribers.ts). A
// run that ends early is replaced (and counted as an error), so 20 stay
// active; at the end every agent is told to finish.
//
// Measured and recorded with targets:
//   - errors (must be 0): failed run creations, runs that ended other than
//     by finishing, reviewer calls refused, viewer errors, uncaught errors or
//     rejections in the Airlock process;
//   - lost and duplicated events per viewer: each subscription's received
//     ids against the run's run_events rows (none missing, none twice, in order);
//   - the Airlock process's memory every 10 s after a full GC (heap and RSS):
//     the slope over the last 2/3 of the samples in MB/min, and the ratio of
//     their mean to the first third's;
//   - event-loop delay (per-10 s p99, and p99/max over the whole run), events
//     per second delivered to the viewers, tool calls completed, approvals decided.
// Asserts nothing about timings.
//
//   npx tsx bench/load.bench.ts [--minutes=N]   (default 10; the run takes about N + 1 minutes)
import { spawn } from "node:child_process";
import fs from "node:fs";
import inspector from "node:inspector";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { monitorEventLoopDelay } from "node:perf_hooks";
import v8 from "node:v8";
import vm from "node:vm";
import { asc, eq, inArray } from "drizzle-orm";
import { approvals, checkpoints, runEvents, runs, toolCalls } from "@/db/schema";
import { TERMINAL_STATES } from "@/server/runs/state-machine";
import { startScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { registerModel } from "@/test/helpers/runs";
import { issueToken } from "@/test/helpers/users";
import { startLab } from "./lab";
import type { ViewersReport } from "./load-subscribers";
import { note, params, record } from "./support";

const RUNS = 20;
const VIEWERS = 50;
const SAMPLE_MS = 10_000;
/** Targets (issue 15: "no errors, no lost or duplicated events, memory flat"): flat = heap after GC grows under 1 MB/min, RSS under 3 MB/min. */
const HEAP_SLOPE_MAX = 1;
const RSS_SLOPE_MAX = 3;

const minutesArg = process.argv.find((a) => a.startsWith("--minutes="))?.slice("--minutes=".length);
const minutes = minutesArg === undefined ? 10 : Number(minutesArg);
if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`--minutes must be a positive number, got ${minutesArg}`);
const durationMs = minutes * 60_000;
/** Model turns a run may take (limits.maxSteps 100, maxToolCalls 200; two calls a turn): a turn every durationMs / 70 at most. */
const turnMs = Math.max(1500, Math.round(durationMs / 70));

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
const MB = 1024 * 1024;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** What a run's agent does on turn `turn` (1-based after the plan): output, a write, and every third turn a command a reviewer decides. */
function agentTurn(turn: number): ScriptStep {
  const calls = [
    { name: "run_command", arguments: { command: `seq -f "turn ${turn} line %g" 25 && ls -la` } },
    { name: "write_file", arguments: { path: `notes/turn-${turn}.md`, content: `# Turn ${turn}\n\n${"Some notes on the work so far. ".repeat(20)}\n` } },
  ];
  // `touch` outside the write tools: the default policy asks a reviewer (as bench/scale.bench.ts relies on).
  if (turn % 3 === 0) calls[1] = { name: "run_command", arguments: { command: `touch marker-${turn}.txt` } };
  return { type: "tool_calls", calls, delayMs: turnMs };
}

function startViewers(trpcUrl: string, token: string) {
  const child = spawn(process.execPath, [path.join(process.cwd(), "node_modules/tsx/dist/cli.mjs"), path.join(import.meta.dirname, "load-subscribers.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const send = (msg: unknown) => child.stdin.write(JSON.stringify(msg) + "\n");
  send({ settings: { trpcUrl, token } });
  const started = new Set<string>();
  let resolveReport: (r: ViewersReport) => void;
  let rejectReport: (e: Error) => void;
  const report = new Promise<ViewersReport>((resolve, reject) => {
    resolveReport = resolve;
    rejectReport = reject;
  });
  readline.createInterface({ input: child.stdout }).on("line", (l) => {
    if (l.startsWith("started ")) started.add(l.slice("started ".length));
    else if (l.startsWith("{")) resolveReport(JSON.parse(l) as ViewersReport);
  });
  child.once("exit", (code) => rejectReport(new Error(`the viewers' process exited ${String(code)} without a report`)));
  return {
    started,
    follow: (sub: number, runId: string) => send({ follow: { sub, runId } }),
    review: (token: string) => send({ review: { token } }),
    report: (lastIds: Record<string, number>) => {
      send({ report: lastIds });
      return report;
    },
    kill: () => child.kill(),
  };
}

/**
 * An idle Node process beside Airlock that measures only its own event-loop
 * delay in the same 10 s windows: on a shared, loaded machine a late timer is
 * often the scheduler's doing, and this baseline shows how much.
 */
function startControl() {
  const code = `const { monitorEventLoopDelay } = require("node:perf_hooks");
const { spawn } = require("node:child_process");
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
setInterval(() => {
  const t = performance.now(); spawn("true", { stdio: "ignore" }).on("error", () => {}); const s = performance.now() - t;
  console.log(JSON.stringify({ p99: h.percentile(99) / 1e6, spawnMs: s })); h.reset();
}, ${SAMPLE_MS});`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const p99s: number[] = [];
  const spawnMs: number[] = [];
  readline.createInterface({ input: child.stdout }).on("line", (l) => {
    const m = JSON.parse(l) as { p99: number; spawnMs: number };
    p99s.push(m.p99);
    spawnMs.push(m.spawnMs);
  });
  return { p99s, spawnMs, stop: () => child.kill() };
}

/** With --cpu-profile=FILE: a CPU profile of the Airlock process over the measured minutes (where its event loop goes). */
async function startProfile(): Promise<{ stop: () => Promise<void> } | null> {
  const file = process.argv.find((a) => a.startsWith("--cpu-profile="))?.slice("--cpu-profile=".length);
  if (!file) return null;
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
  await post("Profiler.enable");
  await post("Profiler.start");
  return {
    stop: async () => {
      const { profile } = (await post("Profiler.stop")) as { profile: unknown };
      fs.writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

async function main(): Promise<void> {
  const errors: string[] = [];
  // Anything the server throws outside a request is an error of this run, not the end of it.
  process.on("uncaughtException", (err) => errors.push(`uncaught: ${err.message}`));
  process.on("unhandledRejection", (err) => errors.push(`unhandled rejection: ${(err as Error)?.message ?? String(err)}`));

  const lab = await startLab();
  let deadline = Number.POSITIVE_INFINITY;
  const model = await startScriptedModelServer((req): ScriptStep => {
    const turn = req.body.messages.filter((m) => m.role === "assistant").length;
    if (turn === 0)
      return {
        type: "tool_calls",
        calls: [{ name: "submit_plan", arguments: { steps: [{ title: "keep working", risk: "low", risk_note: "only touches the workspace" }] } }],
      };
    if (Date.now() >= deadline) return { type: "tool_calls", calls: [{ name: "finish", arguments: { summary: "load benchmark over", status: "success" } }] };
    return agentTurn(turn);
  });
  const viewers = startViewers(lab.trpcUrl, issueToken(lab.db, lab.reviewer.id).token);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  let sampler: NodeJS.Timeout | undefined;
  let control: ReturnType<typeof startControl> | undefined;
  try {
    const modelId = registerModel(lab.db, lab.admin, model.baseUrl);
    params({ minutes, runs: RUNS, viewers: VIEWERS, turnMs, sampleS: SAMPLE_MS / 1000, memoryMbPerRun: 256 });
    console.log(
      `load: ${RUNS} runs, ${VIEWERS} viewers for ${minutes} min (a turn every ${(turnMs / 1000).toFixed(1)} s per run), ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`,
    );

    // The run queue: startLab() sets it roomy (1000 at once, no per-user limit, memory ratio 4), so all 20 execute at once.
    const slots: string[] = [];
    const allRuns: string[] = [];
    const replaced = new Set<string>();
    const create = async (slot: number) => {
      try {
        const run = await lab.operatorClient.runs.create.mutate({
          title: `load ${slot}`,
          task: `keep working [slot ${slot}]`,
          modelId,
          limits: { memoryMb: 256 },
        });
        slots[slot] = run.id;
        allRuns.push(run.id);
        for (let v = slot; v < VIEWERS; v += RUNS) viewers.follow(v, run.id);
      } catch (err) {
        errors.push(`runs.create: ${(err as Error).message}`);
      }
    };
    await Promise.all(Array.from({ length: RUNS }, (_, i) => create(i)));

    // The reviewer decides every pending request through the API from the viewers' process (every fifth tool request denied).
    viewers.review(issueToken(lab.db, lab.reviewer.id).token);

    // Every plan approved and every viewer connected before the clock starts.
    const t0Wait = Date.now();
    while (viewers.started.size < VIEWERS && Date.now() - t0Wait < 120_000) await new Promise((r) => setTimeout(r, 200));
    if (viewers.started.size < VIEWERS) errors.push(`only ${viewers.started.size} of ${VIEWERS} viewers connected within 120 s`);
    console.log(`${allRuns.length} runs created, ${viewers.started.size} viewers connected after ${((Date.now() - t0Wait) / 1000).toFixed(1)} s`);

    const t0 = Date.now();
    deadline = t0 + durationMs;
    loop.enable();
    const profile = await startProfile();
    const samples: { min: number; rss: number; heap: number; loopP99: number; events: number }[] = [];
    const sample = (): void => {
      // The stand-in model server keeps every request it got (whole conversations) for tests to inspect; nothing here
      // reads them, and kept they would be counted as Airlock's memory.
      model.requests.length = 0;
      gc();
      gc();
      // How long one spawn() holds this process's event loop (checkpoints, quota and permissions spawn git, du, find, chmod).
      const s0 = performance.now();
      spawn("true", { stdio: "ignore" }).on("error", () => undefined);
      spawnMs.push(performance.now() - s0);
      const m = process.memoryUsage();
      const events = lab.db.$client.prepare("select count(*) as n from run_events").get() as { n: number };
      samples.push({ min: (Date.now() - t0) / 60_000, rss: m.rss / MB, heap: m.heapUsed / MB, loopP99: loop.percentile(99) / 1e6, events: events.n });
      const s = samples.at(-1)!;
      console.log(
        `  ${s.min.toFixed(1)} min: rss ${s.rss.toFixed(0)} MB, heap ${s.heap.toFixed(0)} MB, loop p99 ${s.loopP99.toFixed(0)} ms, ${s.events} events, load ${os.loadavg()[0]!.toFixed(1)}, errors ${errors.length}`,
      );
    };
    const perWindowP99: number[] = [];
    const spawnMs: number[] = [];
    control = startControl();
    const overall = monitorEventLoopDelay({ resolution: 10 });
    overall.enable();
    sample();
    loop.reset();
    sampler = setInterval(() => {
      perWindowP99.push(loop.percentile(99) / 1e6);
      sample();
      loop.reset();
    }, SAMPLE_MS);

    // Keep 20 active: a run that ends before the deadline is an error and gets a successor in its slot.
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      const ended = lab.db
        .select({ id: runs.id, state: runs.state, reason: runs.endedReason, endedAt: runs.endedAt })
        .from(runs)
        .where(inArray(runs.id, slots))
        .all()
        .filter((r) => (TERMINAL_STATES as readonly string[]).includes(r.state) && !replaced.has(r.id) && (r.endedAt?.getTime() ?? 0) < deadline);
      for (const r of ended) {
        replaced.add(r.id);
        errors.push(`run ${r.id} ended early: ${r.state} (${r.reason ?? "no reason"})`);
        if (Date.now() < deadline - turnMs) await create(slots.indexOf(r.id));
      }
    }
    clearInterval(sampler);
    control.stop();
    await profile?.stop();
    sample();
    overall.disable();
    const elapsedMin = (Date.now() - t0) / 60_000;
    console.log("deadline reached: every agent is told to finish");

    // Every run ends by finishing (its next turn answers finish).
    const endBy = Date.now() + 180_000;
    for (;;) {
      const live = lab.db
        .select({ id: runs.id, state: runs.state })
        .from(runs)
        .where(inArray(runs.id, allRuns))
        .all()
        .filter((r) => !(TERMINAL_STATES as readonly string[]).includes(r.state));
      if (live.length === 0) break;
      if (Date.now() > endBy) {
        errors.push(`${live.length} run(s) did not finish within 3 min of the deadline: ${live.map((r) => r.state).join(", ")}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    for (const r of lab.db.select().from(runs).where(inArray(runs.id, allRuns)).all())
      if (!replaced.has(r.id) && r.state !== "succeeded") errors.push(`run ${r.id} ended ${r.state}: ${r.endedReason ?? "no reason"}`);

    // Errors the runs reported on their own pages (a checkpoint that failed, an engine error).
    // A model request the agent retried and that then went through is recovered, not an error: counted on its own.
    const retried: string[] = [];
    for (const e of lab.db.select().from(runEvents).where(inArray(runEvents.runId, allRuns)).all()) {
      if (e.type !== "error") continue;
      const p = e.payload as { source?: string; message?: string };
      if (p.source === "model" && /\(retry \d+ in /.test(p.message ?? "")) retried.push(p.message ?? "");
      else errors.push(`run ${e.runId} reported: ${JSON.stringify(e.payload).slice(0, 300)}`);
    }

    // Each viewer's ids against the database's.
    const dbIds = new Map<string, number[]>();
    for (const id of allRuns)
      dbIds.set(
        id,
        lab.db
          .select({ id: runEvents.id })
          .from(runEvents)
          .where(eq(runEvents.runId, id))
          .orderBy(asc(runEvents.id))
          .all()
          .map((e) => e.id),
      );
    const { subscriptions: subs, reviewer } = await viewers.report(Object.fromEntries([...dbIds].map(([id, ids]) => [id, ids.at(-1) ?? 0])));
    const lostPerSub: number[] = [];
    const dupPerSub: number[] = [];
    const outOfOrderPerSub: number[] = [];
    let delivered = 0;
    for (const s of subs) {
      const want = dbIds.get(s.runId) ?? [];
      const got = new Set<number>();
      let dup = 0;
      let disorder = 0;
      for (let i = 0; i < s.ids.length; i++) {
        if (got.has(s.ids[i]!)) dup += 1;
        got.add(s.ids[i]!);
        if (i > 0 && s.ids[i]! <= s.ids[i - 1]!) disorder += 1;
      }
      const lost = want.filter((id) => !got.has(id)).length;
      const foreign = [...got].filter((id) => !want.includes(id)).length;
      lostPerSub.push(lost);
      dupPerSub.push(dup);
      outOfOrderPerSub.push(disorder);
      delivered += s.ids.length;
      if (foreign) errors.push(`viewer ${s.sub} got ${foreign} event id(s) that are not its run's`);
      for (const e of s.errors) errors.push(`viewer ${s.sub} on ${s.runId}: ${e}`);
      if (lost || dup || disorder) console.log(`  viewer ${s.sub} on ${s.runId}: ${lost} lost, ${dup} twice, ${disorder} out of order of ${want.length}`);
    }
    if (subs.length < VIEWERS) errors.push(`only ${subs.length} subscriptions reported`);
    for (const e of reviewer.errors) errors.push(`reviewer: ${e}`);
    const decided = reviewer.decided;

    // Every run ended and every viewer left: what the runs held should be released (a leak stays).
    await new Promise((r) => setTimeout(r, 5000));
    model.requests.length = 0;
    gc();
    gc();
    const after = process.memoryUsage();
    const afterHeap = after.heapUsed / MB;
    const afterRss = after.rss / MB;

    // What the runs did, from the database.
    const calls = lab.db
      .select({ state: toolCalls.state, tool: toolCalls.tool, code: toolCalls.errorCode, reason: toolCalls.reason })
      .from(toolCalls)
      .where(inArray(toolCalls.runId, allRuns))
      .all();
    // Why calls did not succeed (denials by the reviewer are expected; anything else is worth a look).
    const why = new Map<string, number>();
    for (const c of calls)
      if (c.state === "failed" || c.state === "refused") {
        const key = `${c.tool} ${c.state} ${c.code ?? ""}: ${(c.reason ?? "").slice(0, 120)}`;
        why.set(key, (why.get(key) ?? 0) + 1);
      }
    const whyText = [...why]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, n]) => `${n}× ${k}`)
      .join("; ");
    console.log(`  calls that did not succeed: ${whyText}`);
    const byState = (s: string) => calls.filter((c) => c.state === s).length;
    const asked = lab.db.select({ state: approvals.state, kind: approvals.kind }).from(approvals).where(inArray(approvals.runId, allRuns)).all();
    const toolAsked = asked.filter((a) => a.kind === "tool");
    const checkpointCount = lab.db.select({ id: checkpoints.id }).from(checkpoints).where(inArray(checkpoints.runId, allRuns)).all().length;
    const eventCount = [...dbIds.values()].reduce((a, ids) => a + ids.length, 0);

    // Memory: the first third is warm-up; flat means the last 2/3 barely rise.
    const third = Math.max(1, Math.floor(samples.length / 3));
    const first = samples.slice(0, third);
    const rest = samples.slice(third);
    const heapSlope =
      rest.length >= 2
        ? slope(
            rest.map((s) => s.min),
            rest.map((s) => s.heap),
          )
        : 0;
    const rssSlope =
      rest.length >= 2
        ? slope(
            rest.map((s) => s.min),
            rest.map((s) => s.rss),
          )
        : 0;
    const heapRatio = mean(rest.map((s) => s.heap)) / mean(first.map((s) => s.heap));
    const rssRatio = mean(rest.map((s) => s.rss)) / mean(first.map((s) => s.rss));

    const source = "issue 15";
    record({
      id: "errors",
      label: "errors (runs, reviewer, viewers, uncaught)",
      unit: "count",
      samples: [errors.length],
      target: { metric: "max", max: 0, source },
    });
    record({ id: "events.lost", label: "events lost, per viewer subscription", unit: "count", samples: lostPerSub, target: { metric: "max", max: 0, source } });
    record({
      id: "events.duplicated",
      label: "events received twice, per viewer subscription",
      unit: "count",
      samples: dupPerSub,
      target: { metric: "max", max: 0, source },
    });
    record({
      id: "events.out_of_order",
      label: "events out of order, per viewer subscription",
      unit: "count",
      samples: outOfOrderPerSub,
      target: { metric: "max", max: 0, source },
    });
    record({
      id: "memory.heap_slope",
      label: "heap after GC, slope over the last 2/3",
      unit: "MB/min",
      samples: [heapSlope],
      target: { metric: "median", max: HEAP_SLOPE_MAX, source },
    });
    record({
      id: "memory.rss_slope",
      label: "RSS, slope over the last 2/3",
      unit: "MB/min",
      samples: [rssSlope],
      target: { metric: "median", max: RSS_SLOPE_MAX, source },
    });
    record({
      id: "memory.heap_after",
      label: "heap after GC once the runs ended and the viewers left, minus at the start",
      unit: "MB",
      samples: [afterHeap - samples[0]!.heap],
      note: `at the start ${samples[0]!.heap.toFixed(1)} MB, at the peak ${Math.max(...samples.map((s) => s.heap)).toFixed(1)} MB, after ${afterHeap.toFixed(1)} MB; RSS ${samples[0]!.rss.toFixed(0)} → ${afterRss.toFixed(0)} MB`,
    });
    record({ id: "memory.heap", label: "heap after GC, every 10 s", unit: "MB", samples: samples.map((s) => s.heap) });
    record({ id: "memory.rss", label: "RSS, every 10 s", unit: "MB", samples: samples.map((s) => s.rss) });
    record({
      id: "loop.p99",
      label: "event-loop delay p99, per 10 s window",
      samples: perWindowP99.length ? perWindowP99 : [overall.percentile(99) / 1e6],
      ...(control.p99s.length ? { baseline: { label: "an idle Node process beside it, same windows", samples: control.p99s } } : {}),
    });
    record({
      id: "spawn.blocking",
      label: "one spawn() call, time the event loop is held",
      samples: spawnMs,
      ...(control.spawnMs.length ? { baseline: { label: "the same in an idle Node process beside it", samples: control.spawnMs } } : {}),
    });
    record({ id: "events.per_s", label: "events delivered to the viewers per second", unit: "/s", samples: [delivered / (elapsedMin * 60)] });
    note(
      `${minutes} min, ${RUNS} runs kept active (${allRuns.length} in all), ${subs.length} viewer subscriptions: ${errors.length} error(s)` +
        `${errors.length ? ` (${[...new Set(errors)].slice(0, 5).join("; ")}${errors.length > 5 ? "; …" : ""})` : ""}; ` +
        `lost ${lostPerSub.reduce((a, b) => a + b, 0)}, twice ${dupPerSub.reduce((a, b) => a + b, 0)}, out of order ${outOfOrderPerSub.reduce((a, b) => a + b, 0)} ` +
        `of ${delivered} events delivered (${eventCount} events in the runs' run_events, each followed by ${(delivered / Math.max(1, eventCount)).toFixed(1)} viewers on average).`,
    );
    note(
      `Model requests retried by the agent and then answered (recovered, not counted as errors): ${retried.length}` +
        `${retried.length ? `, e.g. "${retried[0]!.slice(0, 200)}"` : ""}.`,
    );
    note(
      `Work done: ${calls.length} tool calls (${byState("succeeded")} succeeded, ${byState("failed")} failed, ${byState("refused")} refused: ${whyText || "none"}), ` +
        `${toolAsked.length} approval requests for tool calls (${asked.filter((a) => a.state !== "pending").length} of ${asked.length} requests decided, plans included; ${decided} decisions by the reviewer), ` +
        `${checkpointCount} checkpoints; events delivered ${(delivered / (elapsedMin * 60)).toFixed(0)}/s to the viewers.`,
    );
    note(
      `Airlock's memory after a full GC every 10 s (${samples.length} samples; the process holds the server, the supervisor, the database and the scripted model server, whose request log is cleared before each sample; the viewers and the reviewer run in their own process): ` +
        `heap ${first[0]!.heap.toFixed(0)} → ${samples.at(-1)!.heap.toFixed(0)} MB, slope over the last 2/3 ${heapSlope.toFixed(2)} MB/min (target ≤ ${HEAP_SLOPE_MAX}), mean of the last 2/3 over the first third ${heapRatio.toFixed(2)}; ` +
        `RSS ${first[0]!.rss.toFixed(0)} → ${samples.at(-1)!.rss.toFixed(0)} MB, slope ${rssSlope.toFixed(2)} MB/min (target ≤ ${RSS_SLOPE_MAX}), ratio ${rssRatio.toFixed(2)}.`,
    );
    note(
      `Event loop over the whole run: delay p99 ${(overall.percentile(99) / 1e6).toFixed(0)} ms, max ${(overall.max / 1e6).toFixed(0)} ms (the forced GC every 10 s is included). ` +
        `Load average at the end ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(" / ")} on ${os.cpus().length} cores; the machine is shared with other work.`,
    );
  } finally {
    if (sampler) clearInterval(sampler);
    viewers.kill();
    control?.stop();
    await lab.close();
    await model.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
