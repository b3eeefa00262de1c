// Policy throughput: how many decisions per second the built-in policy makes
// for typical and adversarial calls, and the latency of one decision after
// warm-up: on the corpus from the policy-precision work (issue 12's
// server/policy/corpus, read-only and unsafe entries), the red-team table, a
// few hand-picked calls, and the longest commands the size cap allows. There
// is no raw baseline (nothing else decides); the figures are held against
// issue 14's target (p99 under 5 ms). Each group also records the CPU time
// of one decision and the GC pauses during the group, so a slow p99 can be
// told apart: CPU time high = the work itself; wall time high with CPU time
// low = the thread was not scheduled (a loaded machine) or waited on GC.
// Asserts nothing.
//
//   npx tsx bench/policy.bench.ts [seconds-per-group]
import os from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import { decide, normaliseToolCall, REDTEAM_CASES, type ToolCallForPolicy } from "@/server/policy";
import { POLICY_CORPUS } from "@/server/policy/corpus/policy-corpus";
import { note, numericArgs, params, record, stats } from "./support";

const [seconds] = numericArgs(1);
params({ secondsPerGroup: seconds });

const TYPICAL = [
  "ls -la",
  "cat README.md",
  "git status",
  "git diff HEAD~1 -- src",
  "grep -rn TODO src | head -20",
  "find . -name '*.ts' -not -path './node_modules/*'",
  "npm test",
  "echo hi > notes.txt",
  "cd src && ls",
];

const ADVERSARIAL = [
  "ls && rm -rf ~",
  "echo cm0gLXJmIC8= | base64 -d | sh",
  "bash -c 'ls; rm -rf /'",
  "a=r; b=m; $a$b -rf /",
  "find . -exec rm {} \\;",
  ":(){ :|:& };:",
  "timeout 5 nice env rm -rf /",
  "echo x > .git/hooks/pre-commit",
];

function commandCalls(commands: string[]): ToolCallForPolicy[] {
  return commands.map((command) => ({ tool: "run_command", command, cwd: "/workspace" }));
}

function redteamCalls(): ToolCallForPolicy[] {
  const calls: ToolCallForPolicy[] = [];
  for (const c of REDTEAM_CASES) {
    const prepared = normaliseToolCall(c.tool, c.args);
    if (prepared.ok) calls.push(prepared.call.tool === "run_command" ? { tool: "run_command", command: String(c.args.command) } : prepared.call);
  }
  return calls;
}

/** The palette's cap on run_command (server/tools/palette.ts), below the parser's own 64 KiB. */
const COMMAND_CAP = 16_384;

function repeatUpTo(unit: string, separator: string): string {
  let command = unit;
  while (command.length + separator.length + unit.length <= COMMAND_CAP) command += separator + unit;
  return command;
}

/** Commands as long as the cap allows, of the shapes that cost the parser and walker most. */
const LONGEST = [
  `echo ${"a".repeat(COMMAND_CAP - 5)}`,
  repeatUpTo("ls", " | "),
  repeatUpTo("git status", " && "),
  repeatUpTo("a=$a$a", "; "),
  repeatUpTo("eval ls", " && "),
  repeatUpTo("find . -exec rm {} \\;", " ; "),
  `cat <<EOF\n${"line\n".repeat(Math.floor((COMMAND_CAP - 20) / 5))}EOF`,
];

let gcPauses: number[] = [];
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push(entry.duration);
}).observe({ entryTypes: ["gc"] });

async function measure(id: string, label: string, calls: ToolCallForPolicy[], opts: { warmupMs?: number } = {}): Promise<void> {
  // Warm-up: the GopherJS parser is large and needs the JIT before it is fast.
  const warmUntil = performance.now() + (opts.warmupMs ?? 300);
  do for (const call of calls) decide(call);
  while (performance.now() < warmUntil);

  const latencies: number[] = [];
  const cpu: number[] = [];
  // GC entries reach the observer only when the event loop turns: let the warm-up's arrive before counting.
  await turn();
  gcPauses = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  while (performance.now() < until) {
    for (const call of calls) {
      // process.cpuUsage counts every thread of the process, V8's GC helpers included.
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      decide(call);
      latencies.push((performance.now() - t0) * 1000);
      const c = process.cpuUsage(c0);
      cpu.push(c.user + c.system);
    }
  }
  const elapsed = performance.now() - started;
  await turn();
  const perSecond = Math.round(latencies.length / (elapsed / 1000));
  const gcTotal = gcPauses.reduce((sum, ms) => sum + ms, 0);
  const cpuStats = stats(cpu);
  record({
    id,
    label: `one decision: ${label}`,
    unit: "µs",
    samples: latencies,
    target: { metric: "p99", max: 5000, source: "issue 14" },
    note:
      `${perSecond} decisions/s on one core; CPU time per decision median ${cpuStats.median} µs, p99 ${cpuStats.p99 ?? cpuStats.max} µs; ` +
      `${gcPauses.length} GC pauses, ${gcTotal.toFixed(0)} ms in all (${((100 * gcTotal) / elapsed).toFixed(0)} % of the time), longest ${Math.max(0, ...gcPauses).toFixed(1)} ms`,
  });
}

// What limits p99 (measured at issue 14 on the loaded 2-core machine): the
// CPU time of one decision stays around 0.1-0.2 ms at the median and 1.5-2.5
// ms at p99 (a decision that meets a young-generation GC pause: the GopherJS
// parser and the rule matcher allocate ~70 KB per decision); wall-time p99
// beyond that is the thread waiting for a core. Commands at the size cap
// cost tens of ms of CPU, nearly all in mvdan-sh's parse (GopherJS, ~12 µs
// a statement) and the walk of the tree it returns.
console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} on ${os.cpus().length} CPUs`,
);
const coldStart = performance.now();
decide({ tool: "run_command", command: "ls -la" });
note(`first decision (cold, includes parser start-up): ${(performance.now() - coldStart).toFixed(1)} ms`);

async function main(): Promise<void> {
  const corpus = (label: "read-only" | "unsafe") => commandCalls(POLICY_CORPUS.filter((e) => e.label === label).map((e) => e.command));
  await measure("corpusReadOnly", `corpus, read-only (${corpus("read-only").length} commands, issue 12)`, corpus("read-only"));
  await measure("corpusUnsafe", `corpus, unsafe (${corpus("unsafe").length} commands, issue 12)`, corpus("unsafe"));
  await measure("typical", "typical commands", commandCalls(TYPICAL));
  await measure("adversarial", "adversarial commands", commandCalls(ADVERSARIAL));
  await measure("redteam", `red-team table (${REDTEAM_CASES.length} calls)`, redteamCalls());
  await measure("longest", `the longest commands the cap allows (${LONGEST.length} shapes of ${COMMAND_CAP} characters)`, commandCalls(LONGEST), {
    warmupMs: 0,
  });
  await measure("fileTools", "file tools", [
    { tool: "read_file", path: "/workspace/src/app.ts" },
    { tool: "write_file", path: "/workspace/.git/hooks/pre-commit" },
    { tool: "list_files", path: "/workspace" },
  ]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
