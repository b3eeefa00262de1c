// Policy throughput: how many decisions per second the built-in policy makes
// for typical and adversarial calls, and the latency of one decision after
// warm-up. There is no raw baseline (nothing else decides); the figures are
// held against issue 14's target (p99 under 5 ms). Asserts nothing.
//
//   npx tsx bench/policy.bench.ts [seconds-per-group]
import os from "node:os";
import { decide, normaliseToolCall, REDTEAM_CASES, type ToolCallForPolicy } from "@/server/policy";
import { note, numericArgs, params, record } from "./support";

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

function measure(id: string, label: string, calls: ToolCallForPolicy[]): void {
  // Warm-up: the GopherJS parser is large and needs the JIT before it is fast.
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) for (const call of calls) decide(call);

  const latencies: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  while (performance.now() < until) {
    for (const call of calls) {
      const t0 = performance.now();
      decide(call);
      latencies.push((performance.now() - t0) * 1000);
    }
  }
  const perSecond = Math.round(latencies.length / ((performance.now() - started) / 1000));
  record({
    id,
    label: `one decision: ${label}`,
    unit: "µs",
    samples: latencies,
    target: { metric: "p99", max: 5000, source: "issue 14; on these calls, not its corpus" },
    note: `${perSecond} decisions/s on one core`,
  });
}

// p99 and max are dominated by young-generation GC pauses: the GopherJS
// parser allocates ~150 KB per parse. On a loaded machine those pauses grow.
console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} on ${os.cpus().length} CPUs`,
);
const coldStart = performance.now();
decide({ tool: "run_command", command: "ls -la" });
note(`first decision (cold, includes parser start-up): ${(performance.now() - coldStart).toFixed(1)} ms`);

measure("typical", "typical commands", commandCalls(TYPICAL));
measure("adversarial", "adversarial commands", commandCalls(ADVERSARIAL));
measure("redteam", `red-team table (${REDTEAM_CASES.length} calls)`, redteamCalls());
measure("fileTools", "file tools", [
  { tool: "read_file", path: "/workspace/src/app.ts" },
  { tool: "write_file", path: "/workspace/.git/hooks/pre-commit" },
  { tool: "list_files", path: "/workspace" },
]);
