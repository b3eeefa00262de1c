// Issue 15, part 1: the built dashboard is SIGKILLed at the dangerous points
// of scripted runs (a plan waiting, a command running, a checkpoint half
// written, between a reviewer's decision and its execution, a rollback half
// done, subscribers mid-stream), restarted on the same data directory, and
// after each round the invariants of test/faults/invariants.ts must hold.
//
// Kill points come from AIRLOCK_FAILPOINTS (server/faults/failpoints.ts: the
// server kills itself at that exact line) or from outside at a random moment
// the test observes (seeded: AIRLOCK_FAULT_SEED replays a run of the suite).
// Short form (npm test): one round per class of kill point. Full form
// (AIRLOCK_FAULTS=full, npm run test:faults): every kill point, hit variants
// and random timed kills, two runs a round.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "@/db/client";
import { RunTimeline, type ToolCallItem } from "@/components/runs/timeline";
import type { Failpoint } from "@/server/faults/points";
import { startScriptedModelServer, type ReceivedRequest, type ScriptStep, type ScriptedModelServer } from "../helpers/model-server";
import { requireDocker } from "../helpers/docker";
import { AirlockProcess } from "./airlock-process";
import { AirlockApi } from "./client";
import { checkInvariants, EXEC_LOG, removeInstanceContainers, type MadeDecision } from "./invariants";

const FULL = process.env.AIRLOCK_FAULTS === "full";
const SEED = Number(process.env.AIRLOCK_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ROOT = path.resolve(__dirname, "../..");
const UNKNOWN_EFFECT = "Airlock restarted while this call was executing; it was not run again and its effect is unknown";

/** mulberry32: a small seeded PRNG, so a failing round can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Scenario = "basic" | "rollback-live" | "rollback-finished" | "stream";
type Timed = "timed-plan" | "timed-command" | "timed-stream";

interface Round {
  name: string;
  /** A failpoint (optionally @N), or a kill from outside at a random observed moment. */
  kill: `${Failpoint}` | `${Failpoint}@${number}` | Timed;
  scenario: Scenario;
  runs: number;
  /** The round's own seed (derived from the suite's), printed with its outcome. */
  seed: number;
  /** What a person would notice after the restart. */
  expect?: "unknown-effect" | "ran-once" | "rollback-note" | "succeeded";
}

// --- The scripted agent -------------------------------------------------------------------------------

/** Each run's task carries its tag; the model server answers by the tag and by how many turns the agent has had. */
const TAG_RE = /\[fault:([\w-]+)\]/;

function commandOf(tag: string, n: number): string {
  return `echo ${tag}-c${n} >> /workspace/${EXEC_LOG} && echo started && sleep 1 && echo done`;
}

function stepsFor(tag: string, scenario: Scenario): ScriptStep[] {
  const call = (i: number, name: string, args: Record<string, unknown>): ScriptStep => ({
    type: "tool_calls",
    calls: [{ id: `${tag}-s${i}`, name, arguments: args }],
  });
  const steps: ScriptStep[] = [
    call(0, "submit_plan", { steps: [{ title: "Record a line and write notes", risk: "low", risk_note: "appends to a log in the workspace" }] }),
    call(1, "run_command", { command: commandOf(tag, 1) }),
    call(2, "write_file", { path: "/workspace/notes.txt", content: `notes of ${tag}\n` }),
  ];
  // A live rollback needs the run "running" with no call in flight: the model thinks for a while (only the first time it is asked).
  if (scenario === "rollback-live") steps.push({ type: "text", text: "thinking", delayMs: 1 });
  steps.push(call(steps.length, "finish", { summary: `finished ${tag}`, status: "success" }));
  return steps;
}

interface Scripted {
  scenario: Scenario;
  steps: ScriptStep[];
  /** Set once the live rollback's thinking pause was served (a restart asks for the same turn again). */
  paused: boolean;
  /** Resolves the thinking pause early. */
  release?: () => void;
  thinking?: Promise<void>;
}

const scripts = new Map<string, Scripted>();

async function answer(req: ReceivedRequest): Promise<ScriptStep | undefined> {
  const task = req.body.messages.find((m) => m.role === "user" && typeof m.content === "string" && TAG_RE.test(m.content));
  const tag = TAG_RE.exec(String(task?.content ?? ""))?.[1];
  const s = tag ? scripts.get(tag) : undefined;
  if (!s) return { type: "http_error", status: 400, body: { error: { message: "no fault tag in the task" } } };
  const turn = req.body.messages.filter((m) => m.role === "assistant").length;
  const step = s.steps[turn] ?? s.steps.at(-1)!;
  if (step.type === "text" && step.text === "thinking") {
    // The rollback happens while the model "thinks"; then the turn goes on to finish (no text turn is recorded).
    if (!s.paused) {
      s.paused = true;
      s.thinking = new Promise<void>((r) => (s.release = r));
      await Promise.race([s.thinking, sleep(60_000)]);
    }
    return s.steps.at(-1);
  }
  return step;
}

// --- The world: one dashboard, an operator (the admin) and a reviewer, over HTTP ----------------------

/** One dashboard with its own data directory and port; rounds on different lanes run side by side. */
interface Lane {
  airlock: AirlockProcess;
  /** The admin, who starts the runs. */
  operator: AirlockApi;
  reviewer: AirlockApi;
  modelId: string;
  /** Decisions the server confirmed on this lane's dashboard. */
  decisions: MadeDecision[];
}

const LANES = Math.max(1, Number(process.env.AIRLOCK_FAULT_LANES ?? 2));
let model: ScriptedModelServer;
const lanes: Lane[] = [];
const freeLanes: Lane[] = [];
const laneWaiters: ((lane: Lane) => void)[] = [];
const report: string[] = [];

async function withLane<T>(fn: (lane: Lane) => Promise<T>): Promise<T> {
  const lane = freeLanes.pop() ?? (await new Promise<Lane>((resolve) => laneWaiters.push(resolve)));
  try {
    return await fn(lane);
  } finally {
    const next = laneWaiters.shift();
    if (next) next(lane);
    else freeLanes.push(lane);
  }
}

async function createLane(): Promise<Lane> {
  // runc: gVisor's probe would run again at every restart, and the kill points do not depend on the runtime.
  const airlock = await AirlockProcess.create({ env: { AIRLOCK_RUNTIME: "runc" } });
  const [adminToken, reviewerToken] = await Promise.all([
    airlock.cli(["token", "create", "--email", airlock.adminEmail, "--name", "faults"]).then((r) => r.stdout.trim()),
    airlock
      .cli(["user", "create", "--email", "reviewer@faults.test", "--role", "reviewer", "--password", "faults-reviewer-password"])
      .then(() => airlock.cli(["token", "create", "--email", "reviewer@faults.test", "--name", "faults"]))
      .then((r) => r.stdout.trim()),
  ]);
  const operator = new AirlockApi(airlock.url, adminToken);
  const reviewer = new AirlockApi(airlock.url, reviewerToken);
  await airlock.start();
  const modelId = (await operator.mutation<{ id: string }>("models.create", { name: "scripted", baseUrl: model.baseUrl, model: "scripted-model" })).id;
  await airlock.stop();
  return { airlock, operator, reviewer, modelId, decisions: [] };
}

function ensureBuild(): void {
  if (fs.existsSync(path.join(ROOT, ".next", "BUILD_ID"))) return;
  if (process.env.CI === "true") {
    throw new Error("The fault suite runs the built dashboard and .next has no build: run bash scripts/build.sh (npm test builds before this phase).");
  }
  execFileSync("bash", ["scripts/build.sh"], { cwd: ROOT, stdio: "inherit" });
}

/** Decides every pending request of these runs (approve), recording each decision the server confirmed. */
class Reviewer {
  private stopped = false;
  private loop: Promise<void> | null = null;
  held = false;

  constructor(
    private readonly lane: Lane,
    private readonly runIds: Set<string>,
  ) {}

  start(): void {
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        if (!this.held) await this.decideOnce().catch(() => undefined); // the server may be dead right now
        await sleep(250);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  async pending(): Promise<{ id: string; runId: string; kind: string; tool: string }[]> {
    const { items } = await this.lane.reviewer.query<{ items: { id: string; runId: string; kind: string; tool: string }[] }>("approvals.list", {
      state: "pending",
    });
    return items.filter((a) => this.runIds.has(a.runId));
  }

  private async decideOnce(): Promise<void> {
    for (const a of await this.pending()) {
      if (this.stopped || this.held) return;
      await this.lane.reviewer.mutation("approvals.decide", { id: a.id, decision: "approve" });
      this.lane.decisions.push({ approvalId: a.id, runId: a.runId, decision: "approve" }); // only once the server confirmed it
    }
  }
}

interface RunState {
  state: string;
  endedReason?: string | null;
}

async function waitFor<T>(lane: Lane, what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n----- dashboard log -----\n${lane.airlock.logTail(60)}`);
    await sleep(200);
  }
}

const TERMINAL = new Set(["succeeded", "failed", "killed", "rolled_back"]);

interface ToolCallView {
  id: string;
  seq: number;
  tool: string;
  state: string;
  errorCode: string | null;
  result: Record<string, unknown> | null;
}

/** Live subscribers of a run: they resume with lastEventId after each break, and must see every event exactly once. */
class Subscribers {
  readonly seen: string[][] = [];
  private readonly controller = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly lane: Lane,
    private readonly runId: string,
    count: number,
  ) {
    for (let i = 0; i < count; i++) {
      const ids: string[] = [];
      this.seen.push(ids);
      this.loops.push(this.follow(ids));
    }
  }

  private async follow(ids: string[]): Promise<void> {
    while (!this.controller.signal.aborted) {
      await this.lane.operator.streamRunEvents(this.runId, ids.at(-1) ?? null, (id) => ids.push(id), this.controller.signal);
      await sleep(300); // the server is down or restarting: try again, from the last event seen
    }
  }

  async close(): Promise<void> {
    this.controller.abort();
    await Promise.all(this.loops);
  }
}

/** The ids of a run's events as the database holds them, in order, and the id of its last state change (its end). */
function eventIdsOf(lane: Lane, runId: string): { ids: string[]; endId: string } {
  const db = openDatabase(path.join(lane.airlock.dataDir, "airlock.db"));
  try {
    const rows = db.$client.prepare("select id, type from run_events where run_id = ? order by id").all(runId) as { id: number; type: string }[];
    return { ids: rows.map((r) => String(r.id)), endId: String(rows.filter((r) => r.type === "state").at(-1)?.id) };
  } finally {
    db.$client.close();
  }
}

async function createRun(lane: Lane, tag: string, scenario: Scenario): Promise<string> {
  scripts.set(tag, { scenario, steps: stepsFor(tag, scenario), paused: false });
  const { id } = await lane.operator.mutation<{ id: string }>("runs.create", {
    title: `fault ${tag}`,
    task: `Append a line to the exec log and write notes. [fault:${tag}]`,
    modelId: lane.modelId,
  });
  return id;
}

async function runState(lane: Lane, id: string): Promise<RunState> {
  return lane.operator.query<RunState>("runs.get", { id });
}

async function toolCallsOf(lane: Lane, id: string): Promise<ToolCallView[]> {
  return (await lane.operator.query<{ items: ToolCallView[] }>("runs.toolCalls", { id })).items;
}

async function playRound(lane: Lane, round: Round, index: number): Promise<void> {
  const started = Date.now();
  const phases: string[] = [];
  const mark = (what: string) => phases.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)}s`);
  const rand = prng(round.seed);
  const failpoint = round.kill.startsWith("timed-") ? null : round.kill;
  await lane.airlock.start(failpoint ? { AIRLOCK_FAILPOINTS: failpoint } : {});
  const tags = Array.from({ length: round.runs }, (_, i) => `r${index}-${round.seed.toString(36)}-${i}`);
  const runIds: string[] = [];
  mark("started");
  for (const tag of tags) runIds.push(await createRun(lane, tag, round.scenario));
  const ids = new Set(runIds);
  const reviewerLoop = new Reviewer(lane, ids);
  const subscribers = round.scenario === "stream" || round.kill === "timed-stream" ? runIds.map((id) => new Subscribers(lane, id, 2)) : [];
  if (round.kill === "timed-plan") reviewerLoop.held = true;
  reviewerLoop.start();
  let rollbackError: unknown = null;
  try {
    // --- the kill ---
    if (round.scenario === "rollback-live" || round.scenario === "rollback-finished") {
      const target = runIds[0]!;
      const script = scripts.get(tags[0]!)!;
      // After the command's checkpoint (so its line survives the rollback), while the model thinks (live) or once finished.
      await waitFor(
        lane,
        "the run to reach the rollback moment",
        async () =>
          round.scenario === "rollback-live"
            ? script.paused && (await runState(lane, target)).state === "running"
            : TERMINAL.has((await runState(lane, target)).state),
        120_000,
      );
      const { items } = await lane.operator.query<{ items: { id: string; label: string }[] }>("runs.checkpoints", { id: target });
      const afterCommand = items.find((c) => c.label.startsWith("run_command"));
      expect(afterCommand, `checkpoints of run ${target}: ${JSON.stringify(items)}`).toBeDefined();
      rollbackError = await lane.reviewer.mutation("runs.rollback", { id: target, checkpointId: afterCommand!.id }).then(
        () => null,
        (err: unknown) => err,
      );
      script.release?.();
    }
    if (failpoint) {
      const died = await lane.airlock.waitForExit(120_000);
      expect(died, `failpoint ${failpoint} never fired (round ${round.name}, seed ${round.seed})\n${lane.airlock.logTail(60)}`).toBe(true);
      expect(lane.airlock.log()).toContain(`failpoint ${failpoint.split("@")[0]}`);
      if (rollbackError === null && round.scenario.startsWith("rollback")) throw new Error("the rollback answered although the server died during it");
    } else if (round.kill === "timed-plan") {
      await waitFor(lane, "a plan waiting for its reviewer", async () => (await reviewerLoop.pending()).some((a) => a.kind === "plan"), 120_000);
      await sleep(rand() * 400);
      await lane.airlock.kill();
    } else if (round.kill === "timed-command") {
      await waitFor(
        lane,
        "a command executing",
        async () => (await toolCallsOf(lane, runIds[0]!)).some((c) => c.tool === "run_command" && c.state === "executing"),
        120_000,
      );
      await sleep(rand() * 1500); // the command sleeps 1 s: before, during or just after its end
      await lane.airlock.kill();
    } else {
      await sleep(500 + rand() * 6000); // somewhere in the run while two subscribers stream it
      await lane.airlock.kill();
    }
    mark("killed");
    // --- restart; let the runs finish or be reconciled ---
    await reviewerLoop.stop();
    reviewerLoop.held = false;
    await lane.airlock.start();
    reviewerLoop.start();
    const outcomes = await Promise.all(
      runIds.map((id) =>
        waitFor(lane, `run ${id} to end after the restart`, async () => TERMINAL.has((await runState(lane, id)).state) && runState(lane, id), 150_000),
      ),
    );
    mark("ended");
    await reviewerLoop.stop();
    await sleep(500); // the events of the run's end reach the subscribers
    for (const s of subscribers) await s.close();

    // --- the invariants ---
    const violations = await checkInvariants(lane.airlock.dataDir, { decisions: lane.decisions });
    mark("checked");
    const outcome = runIds
      .map((id, i) => `${id.slice(0, 8)} ${outcomes[i]!.state}${outcomes[i]!.endedReason ? ` (${outcomes[i]!.endedReason})` : ""}`)
      .join("; ");
    const line = `round ${index + 1} ${round.name} (lane ${lanes.indexOf(lane) + 1}): kill=${round.kill} seed=${round.seed} outcome=${outcome} (${phases.join(", ")})`;
    report.push(line);
    console.log(line);
    expect(violations, `${line}\n${violations.join("\n")}\n----- dashboard log -----\n${lane.airlock.logTail(60)}`).toEqual([]);

    // --- what a person would notice ---
    let unknownSeen = 0;
    for (const id of runIds) {
      const calls = await toolCallsOf(lane, id);
      const unknown = calls.filter((c) => c.errorCode === "EXECUTION_FAILED" && String(c.result?.message ?? "").includes(UNKNOWN_EFFECT));
      if (round.expect === "unknown-effect" && unknown.length) {
        unknownSeen += 1;
        // Only the command was cut short, and it was not run again.
        expect(
          unknown.map((c) => c.tool),
          `run ${id}: the calls whose effect is unknown (seed ${round.seed})`,
        ).toEqual(["run_command"]);
        // The run page streams the same result: the reviewer sees it in the run's events.
        const events: { id: number; type: string; payload: Record<string, unknown>; at?: unknown }[] = [];
        const ctl = new AbortController();
        const reading = lane.operator.streamRunEvents(id, null, (_, e) => events.push(e), ctl.signal);
        await waitFor(lane, "the run's events", async () => events.some((e) => e.type === "state" && TERMINAL.has(String(e.payload.to))), 30_000);
        ctl.abort();
        await reading;
        // Folded by the run page's own timeline: the command's entry shows the message.
        const timeline = new RunTimeline();
        timeline.apply(events.map((e) => ({ ...e, at: new Date(String(e.at)) })));
        const shown = timeline
          .getSnapshot()
          .items.filter((item): item is ToolCallItem => item.kind === "tool" && item.tool === "run_command")
          .map((item) => item.result?.message ?? "");
        expect(
          shown.some((m) => m.includes(UNKNOWN_EFFECT)),
          `run ${id}: the run page tells the reviewer the command's effect is unknown (it shows ${JSON.stringify(shown)})`,
        ).toBe(true);
      }
      if (round.expect === "ran-once") {
        const cmd = calls.find((c) => c.tool === "run_command");
        expect(cmd?.state, `run ${id}: the approved command ran after the restart (seed ${round.seed})`).toBe("succeeded");
        const log = fs.readFileSync(path.join(lane.airlock.dataDir, "workspaces", id, EXEC_LOG), "utf8");
        expect(log.trim().split("\n"), `run ${id}: the command ran exactly once`).toHaveLength(1);
      }
    }
    if (round.expect === "succeeded")
      expect(
        outcomes.map((o) => o.state),
        `every run finished (seed ${round.seed})`,
      ).toEqual(runIds.map(() => "succeeded"));
    // (Two runs a round in the full form: both commands may have been running.)
    if (round.expect === "unknown-effect") expect(unknownSeen, `a run whose command the kill cut short says so (seed ${round.seed})`).toBeGreaterThanOrEqual(1);
    if (round.expect === "rollback-note") {
      const events: { type: string; payload: Record<string, unknown> }[] = [];
      const ctl = new AbortController();
      const reading = lane.operator.streamRunEvents(runIds[0]!, null, (_, e) => events.push(e), ctl.signal);
      await waitFor(lane, "the run's events", async () => events.some((e) => e.type === "state" && TERMINAL.has(String(e.payload.to))), 30_000);
      ctl.abort();
      await reading;
      if (round.scenario === "rollback-live")
        expect(events.some((e) => e.type === "note" && String(e.payload.text).includes("rollback may be incomplete"))).toBe(true);
    }
    for (const [i, s] of subscribers.entries()) {
      // Every subscriber saw every event of the run exactly once, in order, across the kill: the database is the record.
      const { ids: recorded, endId } = eventIdsOf(lane, runIds[i]!);
      for (const ids of s.seen) {
        expect(new Set(ids).size, `run ${runIds[i]}: a subscriber got an event twice (seed ${round.seed})`).toBe(ids.length);
        expect(ids, `run ${runIds[i]}: a subscriber did not see the run's end (seed ${round.seed})`).toContain(endId);
        // (Events after the subscriber closed, e.g. the container's removal, are not its to see.)
        const upTo = recorded.filter((id) => Number(id) <= Number(ids.at(-1)));
        expect(ids, `run ${runIds[i]}: a subscriber missed events across the kill (seed ${round.seed})`).toEqual(upTo);
      }
    }
  } finally {
    await reviewerLoop.stop();
    for (const s of subscribers) await s.close();
    await lane.airlock.stop();
  }
}

function rounds(): Round[] {
  const rand = prng(SEED);
  const seed = () => Math.floor(rand() * 2 ** 31);
  const streamHit = () => 12 + Math.floor(rand() * 40); // a run streams some 40 events to each of its two subscribers
  const short: Omit<Round, "seed" | "runs">[] = [
    { name: "K1: a kill while a plan waits leaves it waiting; its approval after the restart lets the run finish", kill: "plan-pending", scenario: "basic" },
    {
      name: "K2: a kill during a command does not run it again and tells the reviewer its effect is unknown",
      kill: "after-exec-start",
      scenario: "basic",
      expect: "unknown-effect",
    },
    {
      name: "K3: a kill between the decision and the command's start runs the command once after restart, without asking again",
      kill: "after-decision-before-execute",
      scenario: "basic",
      expect: "ran-once",
    },
    { name: "K4: a kill mid-checkpoint leaves a sound shadow repository and the run goes on", kill: "mid-checkpoint@2", scenario: "basic" },
    { name: "K5: a kill mid-rollback resumes the paused run and tells the agent", kill: "mid-rollback", scenario: "rollback-live", expect: "rollback-note" },
    { name: "K6: subscribers cut off mid-stream resume without losing or repeating an event", kill: `mid-stream@${streamHit()}`, scenario: "stream" },
    {
      name: "K7: a kill after a plan's approval, before its result is recorded, resumes the run instead of failing it",
      kill: "after-exec-before-result",
      scenario: "basic",
      expect: "succeeded",
    },
    {
      name: "K8: a kill while the sandbox starts fails the run with its reason and leaves no container behind",
      kill: "sandbox-started",
      scenario: "basic",
    },
  ];
  if (!FULL) return short.map((r) => ({ ...r, runs: 1, seed: seed() }));
  const more: Omit<Round, "seed" | "runs">[] = [
    { name: "after the first tool call is recorded", kill: "after-tool-call-recorded", scenario: "basic" },
    { name: "after the command is recorded", kill: "after-tool-call-recorded@2", scenario: "basic" },
    { name: "after the write is recorded", kill: "after-tool-call-recorded@3", scenario: "basic" },
    { name: "while the command's approval waits", kill: "approval-pending", scenario: "basic" },
    { name: "while the write's approval waits", kill: "approval-pending@2", scenario: "basic" },
    { name: "between the write's decision and its execution", kill: "after-decision-before-execute@2", scenario: "basic" },
    { name: "after the plan's claim, before it runs", kill: "before-exec", scenario: "basic" },
    { name: "after the command's claim, before it starts", kill: "before-exec@2", scenario: "basic", expect: "unknown-effect" },
    { name: "after the command ended, before its result", kill: "after-exec-before-result@2", scenario: "basic", expect: "unknown-effect" },
    { name: "during the start checkpoint", kill: "mid-checkpoint", scenario: "basic" },
    { name: "during the write's checkpoint", kill: "mid-checkpoint@3", scenario: "basic" },
    { name: "during a rollback of a finished run", kill: "mid-rollback", scenario: "rollback-finished", expect: "rollback-note" },
    { name: "mid-stream, early", kill: `mid-stream@${2 + Math.floor(rand() * 10)}`, scenario: "stream" },
    { name: "mid-stream, late", kill: `mid-stream@${40 + Math.floor(rand() * 30)}`, scenario: "stream" }, // of some 80 events (two subscribers)
    ...Array.from({ length: 4 }, () => ({ name: "at a random moment while a plan waits", kill: "timed-plan" as const, scenario: "basic" as const })),
    ...Array.from({ length: 4 }, () => ({ name: "at a random moment of a command", kill: "timed-command" as const, scenario: "basic" as const })),
    ...Array.from({ length: 3 }, () => ({ name: "at a random moment while subscribers stream", kill: "timed-stream" as const, scenario: "basic" as const })),
  ];
  // Two runs a round in the full form (the kill hits one run in the middle of another's work), but where the hit number
  // names the call (@N) or a rollback picks its run: one.
  return [...short, ...more].map((r) => ({ ...r, runs: r.kill.includes("@") || r.scenario.startsWith("rollback") ? 1 : 2, seed: seed() }));
}

describe(`SIGKILL at the dangerous points (${FULL ? "full" : "short"} form, seed ${SEED}, ${LANES} dashboards side by side)`, () => {
  beforeAll(async () => {
    ensureBuild();
    await requireDocker();
    model = await startScriptedModelServer((req) => answer(req));
    lanes.push(...(await Promise.all(Array.from({ length: LANES }, () => createLane()))));
    freeLanes.push(...lanes);
  });

  afterAll(async () => {
    console.log(`SIGKILL campaign (seed ${SEED}):\n${report.join("\n")}`);
    for (const lane of lanes) {
      await lane.airlock.kill();
      await removeInstanceContainers(lane.airlock.dataDir);
      await lane.airlock.dispose({ keep: process.env.AIRLOCK_FAULT_KEEP === "1" });
    }
    await model?.close();
  });

  const all = rounds();
  // Each round takes a dashboard of its own for its whole length (a kill must hit only its runs); rounds on different
  // dashboards run side by side.
  describe.concurrent("rounds", () => {
    for (const [i, round] of all.entries()) {
      it(`${round.name}: kill at ${round.kill}, restart, the invariants hold (seed ${round.seed})`, async () => {
        await withLane((lane) => playRound(lane, round, i));
      });
    }
  });

  it("the audit chain of every dashboard verifies with the real CLI after the whole campaign", async () => {
    for (const lane of lanes) {
      const { stdout, code } = await lane.airlock.cli(["audit", "verify"], { allowFailure: true });
      expect(code, stdout).toBe(0);
      expect(stdout).toContain("audit chain intact");
    }
  });
});
