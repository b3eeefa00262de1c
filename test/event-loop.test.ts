// Issue 9, H1 and H2: no request of any role and no agent input may hold the
// event loop. The worst inputs the security test found (and a few more of
// the same class) go through the router as a viewer and a reviewer, and
// through the gateway's judge as agent calls, while monitorEventLoopDelay
// records the longest stall of the main thread.
import crypto from "node:crypto";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolCalls } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory, type Context } from "@/server/api/trpc";
import { createModel } from "@/server/models/models";
import { DEFAULT_POLICY, presetYaml, type Policy } from "@/server/policy";
import { stopPolicyWorkers } from "@/server/policy/offthread";
import { createRun } from "@/server/runs/runs";
import { JUDGE_TIMEOUT_RULE, judgeToolCallOffThread } from "@/server/tools/judge";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

/**
 * The longest the main thread may stall. On the shared 2-core test machine
 * (load average near 20) an idle Node process alone stalls 30–130 ms, and
 * starting a policy worker adds up to ~100 ms, so the bound is this margin
 * above the idle baseline measured first, and never below MIN_BOUND_MS.
 * Before the fix the same inputs held the loop 3.9 s (H2) to 10 minutes
 * (H1), and judging one 16 KB command on the main thread took 0.26–1.8 s,
 * so reverting any part of the fix fails this test.
 */
const MAX_STALL_MS = 100;
const MIN_BOUND_MS = 500;
let boundMs = MIN_BOUND_MS;

const N = 16_384; // the longest command the gateway accepts

/** Commands of the largest size the gateway accepts, shaped to be slow to parse or judge. */
const WORST_COMMANDS: Record<string, string> = {
  "doubling variables (crashed the process)": "X=a; " + "X=$X$X; ".repeat(2000) + "echo $X",
  "3000 brace groups (70 s)": "echo " + "{a,b}".repeat(3000),
  "4000 backticks": "echo " + "`ls`".repeat(4000),
  "2700 command substitutions": "echo" + " $(ls)".repeat(2700),
  "2700 pipes": "cat x" + " | cat".repeat(2700),
  "1500 here-docs": "cat" + " <<E".repeat(1500) + "\n" + "E\n".repeat(1500),
  "8000 arguments": "echo" + " a".repeat(8000),
  "2000 nested substitutions": "echo " + "$(".repeat(2000) + "x" + ")".repeat(2000),
  "kill with 4000 pids": "kill -9 " + "-01 ".repeat(4000),
};

const H2_RULE = `  - id: h2-catastrophic
    description: the security test's rule
    tools: [run_command]
    match:
      programs: [echo]
      anyArg: ["a*a*a*b"]
    outcome: deny
    reason: "{command} matched"
`;
const H2_DRAFT = presetYaml("supervised").replace(/\nrules:\n/, `\nrules:\n${H2_RULE}`);

const BOMBS: Record<string, string> = {
  "the security test's self-referencing alias bomb": "a: &a [" + "*a,".repeat(2000) + "]",
  "billion laughs": [
    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    ..."bcdefghi".split("").map((c, i) => `${c}: &${c} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(", ")}]`),
  ].join("\n"),
  "billion laughs through merge keys": "a: &a {x: 1}\n" + Array.from({ length: 50 }, (_, i) => `k${i}: {<<: *a, y${i}: 2}`).join("\n"),
  "a 250 KB document of aliases": "a: &a x\nb: [" + "*a, ".repeat(60_000) + "]",
};

let t: TestDb;
let ctxFor: Record<"viewer" | "reviewer", Context>;
let runId: string;
let h2Policy: Policy;

beforeAll(async () => {
  t = createTestDb();
  const admin = await addUser(t.db, "admin");
  const viewer = await addUser(t.db, "viewer");
  const reviewer = await addUser(t.db, "reviewer");
  ctxFor = {
    viewer: { db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, viewer.id).token), sourceIp: "192.0.2.1" },
    reviewer: { db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, reviewer.id).token), sourceIp: "192.0.2.2" },
  };
  // A past run whose calls were the worst commands, for replay.
  const modelId = createModel(t.db, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
  runId = createRun(t.db, { ...actorOf(admin), userId: admin.id }, { title: "t", task: "x", modelId }).id;
  Object.values(WORST_COMMANDS).forEach((command, i) =>
    t.db
      .insert(toolCalls)
      .values({
        id: crypto.randomUUID(),
        runId,
        seq: i + 1,
        tool: "run_command",
        args: { command },
        verdict: "ask",
        rule: "default",
        reason: "r",
        state: "refused",
      })
      .run(),
  );
  const { parsePolicyYaml } = await import("@/server/policy");
  h2Policy = parsePolicyYaml(H2_DRAFT);
  // Start both workers before measuring: their start-up is not what is measured.
  const caller = createCallerFactory(appRouter)(ctxFor.reviewer);
  await caller.policies.simulate({ call: { tool: "run_command", args: { command: "ls" } } });
  await judgeToolCallOffThread(
    "run_command",
    { command: "ls", cwd: "/workspace" },
    { stepMode: false, policy: { policy: DEFAULT_POLICY, projectId: "p", version: 1 } },
  );
  const idle = await worstStall(() => new Promise((resolve) => setTimeout(resolve, 5000)));
  boundMs = Math.max(MIN_BOUND_MS, idle.maxMs + MAX_STALL_MS);
  report("idle baseline (5 s)", idle, 0);
  console.log(`[event-loop] bound: ${boundMs.toFixed(1)} ms`);
}, 120_000);

afterAll(async () => {
  t?.close();
  await stopPolicyWorkers();
});

/** Runs `work` while sampling the event loop every 10 ms; returns the longest stall. */
async function worstStall<T>(work: () => Promise<T>): Promise<{ value: T; maxMs: number; meanMs: number }> {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    const value = await work();
    return { value, maxMs: histogram.max / 1e6, meanMs: histogram.mean / 1e6 };
  } finally {
    histogram.disable();
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; message: string };

async function outcomeOf(promise: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    return { ok: false, code: err instanceof TRPCError ? err.code : "?", message: (err as Error).message };
  }
}

function report(name: string, stall: { maxMs: number; meanMs: number }, cases: number): void {
  console.log(`[event-loop] ${name}: ${cases} cases, worst stall ${stall.maxMs.toFixed(1)} ms, mean ${stall.meanMs.toFixed(1)} ms`);
}

describe("H1/H2: the worst inputs never stall the event loop", () => {
  it("H1: a viewer's alias bombs are refused with FORBIDDEN and a reviewer's are refused as YAML problems, without stalling the event loop", async () => {
    const viewer = createCallerFactory(appRouter)(ctxFor.viewer);
    const reviewer = createCallerFactory(appRouter)(ctxFor.reviewer);
    const call = { tool: "run_command", args: { command: "ls" } };
    const stall = await worstStall(async () => {
      const asViewer = Object.values(BOMBS).flatMap((yaml) => [
        outcomeOf(viewer.policies.validate({ yaml })),
        outcomeOf(viewer.policies.simulate({ yaml, call })),
        outcomeOf(viewer.policies.simulateSequence({ yaml, calls: [call] })),
        outcomeOf(viewer.policies.replay({ runId, yaml })),
      ]);
      const asReviewer = Object.values(BOMBS).flatMap((yaml) => [
        outcomeOf(reviewer.policies.validate({ yaml })),
        outcomeOf(reviewer.policies.simulate({ yaml, call })),
        outcomeOf(reviewer.policies.simulateSequence({ yaml, calls: [call] })),
        outcomeOf(reviewer.policies.replay({ runId, yaml })),
      ]);
      return { viewer: await Promise.all(asViewer), reviewer: await Promise.all(asReviewer) };
    });
    report("H1 alias bombs", stall, stall.value.viewer.length + stall.value.reviewer.length);

    for (const o of stall.value.viewer)
      expect(o).toMatchObject({ ok: false, code: "FORBIDDEN", message: expect.stringMatching(/reviewer role; you are viewer/) });
    const [validate, ...rest] = stall.value.reviewer;
    expect(validate).toMatchObject({
      ok: true,
      value: { ok: false, problems: expect.arrayContaining([expect.objectContaining({ line: 1, message: expect.stringMatching(/anchor &a refused/) })]) },
    });
    for (const o of stall.value.reviewer.filter((_, i) => i % 4 !== 0))
      expect(o).toMatchObject({ ok: false, code: "BAD_REQUEST", message: expect.stringMatching(/(anchor|alias) .* refused/) });
    expect(rest.length).toBeGreaterThan(0);
    expect(stall.maxMs).toBeLessThan(boundMs);
  }, 120_000);

  it("H2: the a*a*a*b draft rule against long arguments, through the router as a reviewer, never stalls the event loop", async () => {
    const reviewer = createCallerFactory(appRouter)(ctxFor.reviewer);
    const lengths = [450, 4096, 4097, N - 10];
    const stall = await worstStall(() =>
      Promise.all(
        lengths.map((n) =>
          outcomeOf(reviewer.policies.simulate({ yaml: H2_DRAFT, call: { tool: "run_command", args: { command: "echo " + "a".repeat(n) } } })),
        ),
      ),
    );
    report("H2 regex via the router", stall, lengths.length);
    const verdicts = stall.value.map((o) => (o.ok ? (o.value as { verdict: string; rule: string }) : o));
    // Up to 4096 characters the pattern judges (no b: no match); longer arguments ask instead of slipping past the deny rule.
    expect(verdicts[0]).toMatchObject({ rule: expect.not.stringMatching(/^h2-catastrophic$/) });
    expect(verdicts[2]).toMatchObject({ verdict: "ask", rule: "h2-catastrophic" });
    expect(verdicts[3]).toMatchObject({ verdict: "ask", rule: "h2-catastrophic" });
    expect(stall.maxMs).toBeLessThan(boundMs);
  }, 120_000);

  it("H2: the largest shell commands a viewer simulates or replays against the policy in force never stall the event loop", async () => {
    const viewer = createCallerFactory(appRouter)(ctxFor.viewer);
    const calls = Object.values(WORST_COMMANDS).map((command) => ({ tool: "run_command", args: { command } }));
    const stall = await worstStall(async () => [
      await outcomeOf(viewer.policies.simulateSequence({ calls })),
      await outcomeOf(viewer.policies.replay({ runId })),
    ]);
    report("largest commands, simulate + replay", stall, calls.length * 2);
    for (const o of stall.value) {
      // Either judged, or stopped at the time limit with a clear message; never on the main thread.
      if (!o.ok) expect(o).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/took longer than \d+ s, so Airlock stopped; simplify it/) });
    }
    expect(stall.maxMs).toBeLessThan(boundMs);
  }, 180_000);

  it("H2: the agent's largest commands, judged by the gateway under the default policy and the a*a*a*b rule, never stall the event loop", async () => {
    const commands = [...Object.values(WORST_COMMANDS), "echo " + "a".repeat(450), "echo " + "a".repeat(N - 10)];
    const policies = [
      { policy: DEFAULT_POLICY, projectId: "default", version: 1 },
      { policy: h2Policy, projectId: "h2", version: 1 },
    ];
    const stall = await worstStall(() =>
      Promise.all(
        policies.flatMap((policy) =>
          commands.map((command) => judgeToolCallOffThread("run_command", { command, cwd: "/workspace" }, { stepMode: false, policy })),
        ),
      ),
    );
    report("agent commands via the gateway's judge", stall, stall.value.length);
    for (const j of stall.value) expect(["deny", "ask", "allow"]).toContain(j.decision.verdict);
    // A command that cannot be judged in time is denied with why, never allowed.
    for (const j of stall.value.filter((j) => j.decision.rule === JUDGE_TIMEOUT_RULE))
      expect(j.decision).toMatchObject({ verdict: "deny", reason: expect.stringMatching(/could not judge this call within/) });
    expect(stall.maxMs).toBeLessThan(boundMs);
  }, 300_000);
});
