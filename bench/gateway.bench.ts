// Gateway overhead: one allowed tool call through Airlock's whole gateway
// (validate, resolve paths in the container, parse and judge, record, execute,
// audit, checkpoint) against the raw exec that does the same work straight
// through the engine API (dockerode, not the docker CLI whose own start-up
// would flatter the ratio), in turns on the same container. Held against
// issue 14's targets; asserts nothing.
//
//   npx tsx bench/gateway.bench.ts [iterations]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AGENT_GID, AGENT_UID, AGENT_USER } from "@/server/sandbox/layout";
import { handleToolCall, type GatewaySession } from "@/server/tools/gateway";
import { checkpointRunStart } from "@/server/workspace/hooks";
import { checkpointWorkspace } from "@/server/workspace/checkpoints";
import { docker } from "@/server/sandbox/docker";
import { engineExec, numericArgs, params, record, sideBySide, time, type Target } from "./support";
import { gatewayWorld } from "./gateway-world";

const [iterations] = numericArgs(20);

async function main() {
  const world = await gatewayWorld({
    prefix: "airlock-gwbench-",
    seed: (workspaceDir) => {
      fs.writeFileSync(path.join(workspaceDir, "README.md"), "# bench\n".repeat(200));
      fs.chownSync(path.join(workspaceDir, "README.md"), AGENT_UID, AGENT_GID);
    },
  });
  const { db, runtime, runId, containerId, session } = world;
  await checkpointRunStart(db, runtime, runId); // as a real run: the start checkpoint the others compare with
  try {
    const container = docker().getContainer(containerId);
    const asAgent = { user: AGENT_USER, workingDir: "/workspace" };
    const call = (tool: string, args: Record<string, unknown>) => async () => {
      const r = await handleToolCall(session, { tool, args });
      if (!r.ok) throw new Error(`${tool} was refused: ${JSON.stringify(r)}`);
    };
    const cases: {
      id: string;
      label: string;
      gateway: () => Promise<void>;
      raw: () => Promise<void>;
      rawLabel: string;
      target?: Omit<Target, "value" | "pass">;
    }[] = [
      {
        id: "run_command.true",
        label: "run_command `true` (+ no-change checkpoint)",
        gateway: call("run_command", { command: "true" }),
        raw: () => engineExec(container, ["true"], asAgent),
        rawLabel: "engine API exec `true`",
        target: { metric: "ratio", max: 1.3, source: "issue 14" },
      },
      {
        id: "run_command.ls",
        label: "run_command `ls -la` (+ no-change checkpoint)",
        gateway: call("run_command", { command: "ls -la" }),
        raw: () => engineExec(container, ["bash", "-c", "ls -la"], asAgent),
        rawLabel: "engine API exec `bash -c 'ls -la'`",
      },
      {
        id: "read_file",
        label: "read_file README.md (1.6 KB)",
        gateway: call("read_file", { path: "README.md" }),
        raw: () => engineExec(container, ["cat", "/workspace/README.md"], asAgent),
        rawLabel: "engine API exec `cat`",
        target: { metric: "median", max: 10, source: "issue 14" },
      },
    ];
    params({ iterations, warmup: 2 });
    console.log(`gateway benchmark: ${iterations} iterations, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);
    for (const c of cases) {
      const s = await sideBySide(
        iterations,
        2,
        () => time(c.gateway),
        () => time(c.raw),
      );
      record({
        id: c.id,
        label: c.label,
        runtime: "runc",
        samples: s.airlock,
        baseline: { label: c.rawLabel, samples: s.raw, paired: true },
        target: c.target,
      });
    }
    await recordCheckpointCost(session, container, asAgent);
  } finally {
    await world.close();
  }
}

/**
 * The checkpoint alone, as the gateway takes it after a command: when the
 * command changed nothing (one lstat per entry, nothing committed), and after
 * a small change (one file rewritten by the agent, untimed: freeze, find,
 * git add, write-tree, commit, audit). Reported as Airlock's own figures.
 */
async function recordCheckpointCost(
  session: GatewaySession,
  container: ReturnType<ReturnType<typeof docker>["getContainer"]>,
  asAgent: { user: string; workingDir: string },
) {
  const take = (label: string) => () => checkpointWorkspace(session.db, session.runId, { label, kind: "tool", runtime: session.runtime });
  const unchanged: number[] = [];
  const changed: number[] = [];
  let commits = 0;
  for (let i = -2; i < iterations; i++) {
    await engineExec(container, ["true"], asAgent);
    const a = await time(take("bench: nothing changed"));
    await engineExec(container, ["bash", "-c", `echo ${i} > /workspace/small.txt`], asAgent);
    // The time between a command's last write and its checkpoint (the exec's end, the reap, the result's record) is never zero.
    await new Promise((r) => setTimeout(r, 5));
    const before = performance.now();
    const cp = await checkpointWorkspace(session.db, session.runId, { label: "bench: small change", kind: "tool", runtime: session.runtime });
    const b = performance.now() - before;
    if (i < 0) continue;
    if (cp) commits++;
    unchanged.push(a);
    changed.push(b);
  }
  if (commits !== iterations) throw new Error(`a small change made ${commits} checkpoints in ${iterations} rounds`);
  record({ id: "checkpoint.unchanged", label: "checkpoint after a command, nothing changed", runtime: "runc", samples: unchanged });
  record({ id: "checkpoint.small_change", label: "checkpoint after a command, one small file changed", runtime: "runc", samples: changed });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
