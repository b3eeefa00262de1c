// Policy throughput: how many decisions per second the built-in policy makes
// for typical and adversarial calls, and the latency of one decision after
// warm-up. Prints figures; asserts nothing (timings depend on the machine).
//
//   npx tsx bench/policy.bench.ts [seconds-per-group]
import os from "node:os";
import { decide, normaliseToolCall, REDTEAM_CASES, type ToolCallForPolicy } from "@/server/policy";

const seconds = Number(process.argv[2] ?? 1);

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

function measure(label: string, calls: ToolCallForPolicy[]): void {
  // Warm-up: the GopherJS parser is large and needs the JIT before it is fast.
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) for (const call of calls) decide(call);

  const latencies: number[] = [];
  let decisions = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  while (performance.now() < until) {
    for (const call of calls) {
      const t0 = performance.now();
      decide(call);
      latencies.push(performance.now() - t0);
      decisions++;
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  const us = (ms: number): string => `${(ms * 1000).toFixed(0).padStart(5)} µs`;
  console.log(
    `${label.padEnd(28)} ${Math.round(decisions / elapsed)
      .toString()
      .padStart(7)} decisions/s   p50 ${us(at(0.5))}   p99 ${us(at(0.99))}   max ${us(at(1))}`,
  );
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
console.log(`first decision (cold, includes parser start-up): ${(performance.now() - coldStart).toFixed(1)} ms`);

measure("typical commands", commandCalls(TYPICAL));
measure("adversarial commands", commandCalls(ADVERSARIAL));
measure(`red-team table (${REDTEAM_CASES.length})`, redteamCalls());
measure("file tools", [
  { tool: "read_file", path: "/workspace/src/app.ts" },
  { tool: "write_file", path: "/workspace/.git/hooks/pre-commit" },
  { tool: "list_files", path: "/workspace" },
]);
