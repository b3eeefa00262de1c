// Issue 17: a run on a remote engine keeps its /workspace in a Docker volume
// on that engine; <data>/workspaces/<runId> is then a mirror on the Airlock
// host, which the shadow repository (checkpoints, diffs, downloads,
// merge-back) reads and rollbacks write. These are the moves between the two,
// called by the workspace code paths; on the local engine they do nothing
// (the host directory is the bind-mounted workspace itself).
import type { Run } from "@/db/schema";
import { LOCAL_ENGINE, parseEngineRef } from "@/server/engines/types";
import type { SandboxRuntime } from "@/server/sandbox/runtime";

type RunPlace = Pick<Run, "engine" | "containerId">;

/** Whether the run's sandbox is on a remote engine (its container ref, else the engine it was placed on). */
export function onRemoteEngine(run: RunPlace): boolean {
  const engine = run.containerId ? parseEngineRef(run.containerId).engine : (run.engine ?? LOCAL_ENGINE);
  return engine !== LOCAL_ENGINE;
}

/**
 * Sandbox → mirror (a full copy, extracted safely), for a run on a remote
 * engine whose sandbox still exists; works with the sandbox paused. Returns
 * whether it copied: a run whose sandbox is gone keeps the mirror as it is
 * (its last pull: what its last checkpoint saw).
 */
export async function pullRunWorkspace(runtime: SandboxRuntime | undefined, run: RunPlace, hostDir: string): Promise<boolean> {
  if (!runtime?.pullWorkspace || !run.containerId || !onRemoteEngine(run)) return false;
  if (!(await runtime.inspectSandbox(run.containerId))) return false;
  await runtime.pullWorkspace(run.containerId, hostDir);
  return true;
}

/**
 * Mirror → sandbox, after the mirror was filled, restored or written (seeding,
 * rollback, restart from a snapshot). The sandbox must be running, not
 * paused, and nothing of the agent's may run in it. false when there is no
 * sandbox to copy into (a finished run: its restored mirror is what remains).
 */
export async function pushRunWorkspace(runtime: SandboxRuntime | undefined, run: RunPlace, hostDir: string): Promise<boolean> {
  if (!runtime?.pushWorkspace || !run.containerId || !onRemoteEngine(run)) return false;
  if (!(await runtime.inspectSandbox(run.containerId))?.running) return false;
  await runtime.pushWorkspace(run.containerId, hostDir);
  return true;
}
