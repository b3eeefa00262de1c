// The container runtime the sandbox-level integration suites run under:
// AIRLOCK_RUNTIME as a user would set it (read by server/config/env.ts).
// vitest.config.ts runs these suites twice: the "integration" project with the
// default (auto: gVisor wherever the engine offers it, as users get it) and
// "integration-runc" with AIRLOCK_RUNTIME=runc.
import type { SandboxRuntimeName } from "@/db/schema";
import { readRuntimeSetting } from "@/server/config/env";
import { docker } from "@/server/sandbox/docker";
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
    if (offered.includes("runsc")) return "runsc";
    if (setting === "runsc") {
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
