// The container runtime the sandbox-level integration suites run under:
// AIRLOCK_RUNTIME as a user would set it (read by server/config/env.ts).
// vitest.config.ts runs these suites twice: the "integration" project with the
// default (auto, resolved as the supervisor resolves it for users: gVisor where
// it works and keeps tools working, else runc) and "integration-runsc" with
// AIRLOCK_RUNTIME=runsc.
import type { SandboxRuntimeName } from "@/db/schema";
import { readRuntimeSetting } from "@/server/config/env";
import { docker } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";
import { chooseRuntime, probeGvisor } from "@/server/sandbox/runtimes";
import type { SandboxRuntime, SandboxSpec } from "@/server/sandbox/runtime";

let resolved: Promise<SandboxRuntimeName> | undefined;

/** The engine's registered runtimes (`docker info` → Runtimes). */
export async function engineRuntimes(): Promise<string[]> {
  const info = (await docker().info()) as { Runtimes?: Record<string, unknown> };
  return Object.keys(info.Runtimes ?? {});
}

/**
 * runc → runc; runsc → runsc, and a failure (never a fallback, never a skip,
 * in CI or not) when the engine does not offer it; auto → runsc when the
 * engine lists it, else runc.
 */
export function sandboxRuntimeUnderTest(): Promise<SandboxRuntimeName> {
  resolved ??= (async () => {
    const setting = readRuntimeSetting();
    if (setting === "runc") return "runc";
    const offered = await engineRuntimes();
    if (setting === "auto") {
      const decision = chooseRuntime({ setting, project: null }, await probeGvisor(sandboxImageName()));
      return decision.ok ? decision.runtime : "runc";
    }
    if (offered.includes("runsc")) return "runsc";
    {
      throw new Error(
        `AIRLOCK_RUNTIME=runsc, but the Docker engine offers only ${offered.join(", ") || "no runtime"}. ` +
          "Run: bash scripts/ensure-gvisor.sh (it installs Debian's runsc and registers it), or set AIRLOCK_RUNTIME=runc.",
      );
    }
    return "runc";
  })();
  return resolved;
}

/**
 * The same runtime, creating every sandbox under the runtime under test
 * unless the caller names one itself: for suites whose sandboxes are made by
 * the supervisor, the snapshot restart or the red-team runner.
 */
export function withRuntimeUnderTest(runtime: SandboxRuntime): SandboxRuntime {
  return {
    ...runtime,
    createSandbox: async (spec: SandboxSpec) => runtime.createSandbox({ ...spec, runtime: spec.runtime ?? (await sandboxRuntimeUnderTest()) }),
  };
}

/**
 * Every process of a sandbox as the runtime can see it, one "pid args" line
 * each. runc: `docker top` (ps on the engine's host over the container's
 * cgroup). gVisor: `docker top` asks runsc for the pids, which are pids of
 * gVisor's own kernel, and prints the HOST's processes with those numbers
 * (the host's init, kthreadd…), so the listing is ps run as root inside, as
 * the runtime's own listing does there (gvisorProcesses in server/sandbox/runtime.ts).
 */
export async function sandboxProcessListing(containerId: string): Promise<string> {
  const container = docker().getContainer(containerId);
  const info = await container.inspect();
  if (info.HostConfig?.Runtime === "runsc") {
    const exec = await container.exec({ Cmd: ["/bin/ps", "-eo", "pid,args"], User: "0:0", AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out: Buffer[] = [];
    docker().modem.demuxStream(stream, { write: (c: Buffer) => out.push(c) } as unknown as NodeJS.WritableStream, process.stderr);
    await new Promise((resolve) => stream.on("end", resolve));
    return Buffer.concat(out).toString("utf8");
  }
  const top = (await container.top({ ps_args: "-eo pid,args" })) as { Processes: string[][] };
  return top.Processes.map((p) => p.join(" ")).join("\n");
}
