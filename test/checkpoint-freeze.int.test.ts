// Found by bench/load.bench.ts (20 runs on a loaded 2-core machine): the
// engine's cgroup freezer sometimes gives up ("OCI runtime pause failed:
// unable to freeze") and the checkpoint after that tool call was lost. The
// freezer cannot be made to fail on demand, so the engine's refusal is
// injected once in front of the real runtime; the pause that follows, and
// the container it freezes, are real.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";
import { DEFAULT_LIMITS, dockerRuntime, instanceIdForDataDir, SandboxError, type SandboxRuntime } from "@/server/sandbox/runtime";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { withFrozenSandbox } from "@/server/workspace/checkpoints";
import { requireDocker } from "@/test/helpers/docker";

let dataDir: string;
let runtime: SandboxRuntime;
let containerId: string;

/** The real runtime, whose first `failures` pauses are refused as the engine refuses them under load. */
function refusingPauses(failures: number, message: string): SandboxRuntime & { attempts: number } {
  const wrapped = Object.create(runtime) as SandboxRuntime & { attempts: number };
  wrapped.attempts = 0;
  wrapped.pauseSandbox = async (id: string) => {
    wrapped.attempts += 1;
    if (wrapped.attempts <= failures) throw new SandboxError("ENGINE_ERROR", `pausing the sandbox: (HTTP code 500) server error - ${message}`);
    return runtime.pauseSandbox(id);
  };
  return wrapped;
}

const paused = async () => (await docker().getContainer(containerId).inspect()).State.Paused;

beforeAll(async () => {
  await requireDocker();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-freeze-"));
  runtime = dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) });
  const workspaceDir = await prepareWorkspace(dataDir, "freeze-check");
  ({ containerId } = await runtime.createSandbox({
    runId: `freeze-check-${Date.now()}`,
    image: sandboxImageName(),
    workspaceDir,
    limits: DEFAULT_LIMITS,
    runtime: "runc",
  }));
}, 120_000);

afterAll(async () => {
  if (containerId) await runtime.removeSandbox(containerId).catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("freezing a sandbox for a checkpoint", () => {
  it("L9: a checkpoint whose freeze the engine refuses with 'unable to freeze' tries again and runs frozen, not lost", async () => {
    const flaky = refusingPauses(2, `Cannot pause container ${containerId}: OCI runtime pause failed: unable to freeze: unknown`);
    const seen = await withFrozenSandbox(flaky, containerId, paused);
    expect(flaky.attempts).toBe(3);
    expect(seen).toBe(true); // the checkpoint's work ran while the container was really frozen
    expect(await paused()).toBe(false); // and thawed afterwards
  }, 60_000);

  it("L10: any other pause failure is not retried: the checkpoint reports it at once", async () => {
    const broken = refusingPauses(5, "Cannot pause container: permission denied");
    await expect(withFrozenSandbox(broken, containerId, paused)).rejects.toThrow(/permission denied/);
    expect(broken.attempts).toBe(1);
    expect(await paused()).toBe(false);
  }, 60_000);
});
