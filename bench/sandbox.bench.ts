// Sandbox latency: Airlock's Docker runtime (dockerode) against the raw
// docker CLI, in the same run on the same engine. Prints figures and ratios;
// asserts nothing (timings depend on the machine).
//
//   npx tsx bench/sandbox.bench.ts [iterations]
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { readFile } from "@/server/sandbox/files";
import { sandboxImageName } from "@/server/sandbox/image";
import { DEFAULT_LIMITS, dockerRuntime } from "@/server/sandbox/runtime";
import { AGENT_GID, AGENT_UID, AGENT_USER } from "@/server/sandbox/layout";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { time } from "./support";

const run = promisify(execFile);
const iterations = Number(process.argv[2] ?? 10);

interface Figures {
  median: number;
  p90: number;
  min: number;
}

function summarise(samples: number[]): Figures {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p90: at(0.9), min: s[0]! };
}

function row(label: string, f: Figures): string {
  return `${label.padEnd(44)} median ${f.median.toFixed(1).padStart(7)} ms   p90 ${f.p90.toFixed(1).padStart(7)} ms   min ${f.min.toFixed(1).padStart(7)} ms`;
}

async function main(): Promise<void> {
  const image = sandboxImageName();
  const runtime = dockerRuntime();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-bench-"));
  const toRemove: string[] = [];
  const limits = DEFAULT_LIMITS;
  // The same hardening as the runtime, so the CLI does comparable work.
  const cliFlags = (ws: string) => [
    "run",
    "-d",
    "--init",
    "--user",
    AGENT_USER,
    "--read-only",
    "--network",
    "none",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--ipc",
    "private",
    "--tmpfs",
    "/tmp:rw,exec,nosuid,nodev,size=256m",
    "--tmpfs",
    `/home/agent:rw,nosuid,nodev,size=256m,uid=${AGENT_UID},gid=${AGENT_GID}`,
    "--memory",
    `${limits.memoryMb}m`,
    "--memory-swap",
    `${limits.memoryMb}m`,
    "--cpus",
    String(limits.cpus),
    "--pids-limit",
    String(limits.pids),
    "--log-driver",
    "none",
    "--label",
    "airlock.bench=true",
    "--mount",
    `type=bind,source=${ws},target=/workspace`,
    "--entrypoint",
    "sleep",
    image,
    "infinity",
  ];

  try {
    console.log(`sandbox benchmark: ${iterations} iterations, image ${image}, ${os.cpus().length} CPUs`);
    // Warm-up: first container start pays for page cache and layer setup.
    {
      const ws = await prepareWorkspace(dataDir, "warmup");
      const { containerId } = await runtime.createSandbox({ runId: "bench-warmup", image, workspaceDir: ws, limits });
      toRemove.push(containerId);
      await runtime.exec(containerId, { cmd: ["true"], timeoutS: 30 });
    }

    const createRuntime: number[] = [];
    const createCli: number[] = [];
    const ids: string[] = [];
    const cliIds: string[] = [];
    for (let i = 0; i < iterations; i++) {
      const ws = await prepareWorkspace(dataDir, `rt-${i}`);
      createRuntime.push(
        await time(async () => {
          const { containerId } = await runtime.createSandbox({ runId: `bench-${i}`, image, workspaceDir: ws, limits });
          ids.push(containerId);
          toRemove.push(containerId);
        }),
      );
      const cliWs = await prepareWorkspace(dataDir, `cli-${i}`);
      createCli.push(
        await time(async () => {
          const { stdout } = await run("docker", cliFlags(cliWs));
          cliIds.push(stdout.trim());
          toRemove.push(stdout.trim());
        }),
      );
    }

    const execRuntime: number[] = [];
    const execCli: number[] = [];
    const readRuntime: number[] = [];
    const target = ids[0]!;
    const cliTarget = cliIds[0]!;
    await runtime.exec(target, { cmd: ["bash", "-c", "head -c 65536 /dev/urandom > blob"], timeoutS: 30 });
    for (let i = 0; i < iterations * 3; i++) {
      execRuntime.push(await time(() => runtime.exec(target, { cmd: ["true"], timeoutS: 30 })));
      execCli.push(await time(() => run("docker", ["exec", "--user", AGENT_USER, "-w", "/workspace", cliTarget, "true"])));
      readRuntime.push(await time(() => readFile(runtime, target, "blob", { encoding: "base64" })));
    }

    const cr = summarise(createRuntime);
    const cc = summarise(createCli);
    const er = summarise(execRuntime);
    const ec = summarise(execCli);
    console.log(row("create+start  runtime.createSandbox", cr));
    console.log(row("create+start  docker run -d (CLI)", cc));
    console.log(`  ratio runtime/CLI (median): ${(cr.median / cc.median).toFixed(2)}`);
    console.log(row("exec `true`   runtime.exec", er));
    console.log(row("exec `true`   docker exec (CLI)", ec));
    console.log(`  ratio runtime/CLI (median): ${(er.median / ec.median).toFixed(2)}`);
    console.log(row("readFile 64 KiB (python3 in the sandbox)", summarise(readRuntime)));
  } finally {
    await Promise.all(toRemove.map((id) => runtime.removeSandbox(id).catch(() => undefined)));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
