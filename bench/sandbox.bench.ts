// Sandbox start and exec under each container runtime (runc, and gVisor's
// runsc), each against the raw engine-API equivalent under the same runtime
// in the same run (issue 13). Raw means dockerode calls straight to the
// engine, not the docker CLI (whose own start-up would flatter the ratio):
//   start: createContainer + start of the same image, with the same
//          hardening and a long-running first process (`sleep infinity`
//          under the engine's init), against runtime.createSandbox through to
//          a running container;
//   exec:  one exec create/start/inspect of `true`, against runtime.exec of
//          `true` in the same sandbox.
// Rounds alternate Airlock/raw and runc/runsc so load that drifts during the
// run hits every side alike. Also gVisor's cost against runc (runsc/runc) for
// the raw engine and for Airlock. Asserts nothing about timings.
//
//   npx tsx bench/sandbox.bench.ts [start iterations] [exec iterations]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import type { SandboxRuntimeName } from "@/db/schema";
import { docker } from "@/server/sandbox/docker";
import { readFile } from "@/server/sandbox/files";
import { sandboxImageName } from "@/server/sandbox/image";
import { AGENT_GID, AGENT_UID, AGENT_USER } from "@/server/sandbox/layout";
import { DEFAULT_LIMITS, dockerRuntime } from "@/server/sandbox/runtime";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { compare, engineExec, note, numericArgs, params, record, time } from "./support";

const [startIterations, execIterations] = numericArgs(10, 30);
const WARMUP = 2;
const RUNTIMES: SandboxRuntimeName[] = ["runc", "runsc"];

/** The sandbox's host configuration without Airlock's own additions (sentinel, ulimits, DNS, a run's labels). */
function rawConfig(image: string, workspaceDir: string, runtime: SandboxRuntimeName): Docker.ContainerCreateOptions {
  const limits = DEFAULT_LIMITS;
  return {
    Image: image,
    Entrypoint: ["sleep"],
    Cmd: ["infinity"],
    User: AGENT_USER,
    WorkingDir: "/workspace",
    Labels: { "airlock.bench": "true" },
    HostConfig: {
      ...(runtime === "runsc" ? { Runtime: "runsc" } : {}),
      Init: true,
      Mounts: [{ Type: "bind", Source: workspaceDir, Target: "/workspace", ReadOnly: false }],
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,exec,nosuid,nodev,size=256m", "/home/agent": `rw,nosuid,nodev,size=256m,uid=${AGENT_UID},gid=${AGENT_GID}` },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      NetworkMode: "none",
      IpcMode: "private",
      Memory: limits.memoryMb * 1024 * 1024,
      MemorySwap: limits.memoryMb * 1024 * 1024,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.pids,
      LogConfig: { Type: "none", Config: {} },
    },
  };
}

/** Round i's order: runtimes and sides both alternate, so neither always goes first. */
function order<T>(items: readonly T[], i: number, every: number): readonly T[] {
  return Math.floor((i + 100) / every) % 2 === 0 ? items : [...items].reverse();
}

async function main(): Promise<void> {
  const image = sandboxImageName();
  const engine = docker();
  const runtime = dockerRuntime(undefined, { instance: "bench" });
  const offered = Object.keys(((await engine.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
  if (!offered.includes("runsc")) throw new Error(`the engine offers no runsc runtime (it offers ${offered.join(", ")}): run scripts/ensure-gvisor.sh`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-bench-"));
  const live = new Set<string>();
  const remove = async (id: string) => {
    await engine
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
    live.delete(id);
  };
  params({ image, startIterations, execIterations, warmup: WARMUP });
  console.log(
    `sandbox benchmark: image ${image}, runtimes ${RUNTIMES.join(" and ")}, ${startIterations} starts and ${execIterations} execs per side, ${os.cpus().length} CPUs`,
  );
  try {
    const ws = await prepareWorkspace(dataDir, "bench");

    // ---- start: every round starts one Airlock and one raw container under each runtime (removal untimed)
    const startAirlock: Record<string, number[]> = { runc: [], runsc: [] };
    const startRaw: Record<string, number[]> = { runc: [], runsc: [] };
    let seq = 0;
    for (let i = -WARMUP; i < startIterations; i++) {
      for (const rt of order(RUNTIMES, i, 1)) {
        for (const side of order(["airlock", "raw"] as const, i, 2)) {
          let id = "";
          const ms =
            side === "airlock"
              ? await time(async () => {
                  const spec = { runId: `bench-${process.pid}-${seq++}`, image, workspaceDir: ws, limits: DEFAULT_LIMITS, runtime: rt };
                  id = (await runtime.createSandbox(spec)).containerId;
                })
              : await time(async () => {
                  const c = await engine.createContainer(rawConfig(image, ws, rt));
                  id = c.id;
                  live.add(id);
                  await c.start();
                });
          live.add(id);
          await remove(id);
          if (i >= 0) (side === "airlock" ? startAirlock : startRaw)[rt]!.push(ms);
        }
      }
    }
    const starts: Record<string, { airlock: number; raw: number }> = {};
    for (const rt of RUNTIMES) {
      const e = record({
        id: `start.${rt}`,
        label: "start: runtime.createSandbox → running",
        runtime: rt,
        samples: startAirlock[rt]!,
        baseline: { label: "engine API createContainer + start (dockerode)", samples: startRaw[rt]!, paired: true },
      });
      starts[rt] = { airlock: e.airlock.median, raw: e.baseline!.stats.median };
    }

    // ---- exec: one Airlock sandbox per runtime; both sides exec into it
    const sandboxes: Record<string, string> = {};
    for (const rt of RUNTIMES) {
      const spec = { runId: `bench-exec-${rt}-${process.pid}`, image, workspaceDir: ws, limits: DEFAULT_LIMITS, runtime: rt };
      sandboxes[rt] = (await runtime.createSandbox(spec)).containerId;
      live.add(sandboxes[rt]);
    }
    const execAirlock: Record<string, number[]> = { runc: [], runsc: [] };
    const execRaw: Record<string, number[]> = { runc: [], runsc: [] };
    for (let i = -3; i < execIterations; i++) {
      for (const rt of order(RUNTIMES, i, 1)) {
        const id = sandboxes[rt]!;
        const container = engine.getContainer(id);
        for (const side of order(["airlock", "raw"] as const, i, 2)) {
          const ms =
            side === "airlock"
              ? await time(async () => {
                  const r = await runtime.exec(id, { cmd: ["true"], timeoutS: 30 });
                  if (r.exitCode !== 0) throw new Error(`runtime.exec of true exited ${String(r.exitCode)} under ${rt}`);
                })
              : await time(() => engineExec(container, ["true"], { user: AGENT_USER, workingDir: "/workspace" }));
          if (i >= 0) (side === "airlock" ? execAirlock : execRaw)[rt]!.push(ms);
        }
      }
    }
    const execs: Record<string, { airlock: number; raw: number }> = {};
    for (const rt of RUNTIMES) {
      const e = record({
        id: `exec.${rt}`,
        label: "exec `true`: runtime.exec",
        runtime: rt,
        samples: execAirlock[rt]!,
        baseline: { label: "engine API exec create/start/inspect (dockerode)", samples: execRaw[rt]!, paired: true },
      });
      execs[rt] = { airlock: e.airlock.median, raw: e.baseline!.stats.median };
    }

    // ---- readFile of 64 KiB through the runtime's helpers (no raw baseline of its own)
    for (const rt of RUNTIMES) {
      const id = sandboxes[rt]!;
      await runtime.exec(id, { cmd: ["bash", "-c", "head -c 65536 /dev/urandom > blob"], timeoutS: 30 });
      const samples: number[] = [];
      for (let i = -2; i < Math.min(execIterations, 20); i++) {
        const ms = await time(() => readFile(runtime, id, "blob", { encoding: "base64" }));
        if (i >= 0) samples.push(ms);
      }
      record({ id: `readFile64k.${rt}`, label: "readFile 64 KiB (runtime helpers)", runtime: rt, samples });
    }

    compare("gvisor.start.raw", "gVisor cost, start, raw engine (runsc/runc)", starts.runsc!.raw, starts.runc!.raw);
    compare("gvisor.start.airlock", "gVisor cost, start, Airlock (runsc/runc)", starts.runsc!.airlock, starts.runc!.airlock);
    compare("gvisor.exec.raw", "gVisor cost, exec, raw engine (runsc/runc)", execs.runsc!.raw, execs.runc!.raw);
    compare("gvisor.exec.airlock", "gVisor cost, exec, Airlock (runsc/runc)", execs.runsc!.airlock, execs.runc!.airlock);
    note(
      "Start is timed until the engine answers the start call (the first process runs); removal is untimed. " +
        "The raw containers get the same image, hardening and limits, but `sleep infinity` instead of Airlock's sentinel and none of its ulimits, DNS settings or labels; Airlock also inspects the image first.",
    );
  } finally {
    await Promise.all([...live].map(remove));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
