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

/**
 * Per run: the digest of the sandbox's /workspace (SandboxRuntime.workspaceListing)
 * when it was last copied into the mirror. A pull whose fresh digest equals it
 * has nothing to copy: that is the "only what changed" a remote engine allows
 * here (all or nothing; an incremental copy is not done yet).
 */
const g = globalThis as unknown as { __airlockPulledListings?: Map<string, string> };
const pulledListings = () => (g.__airlockPulledListings ??= new Map());

/** The digest of a remote run's /workspace now; null on the local engine, when the sandbox is gone, or when it cannot be made. Not while frozen. */
export async function sandboxListing(runtime: SandboxRuntime | undefined, run: RunPlace): Promise<string | null> {
  if (!runtime?.workspaceListing || !run.containerId || !onRemoteEngine(run)) return null;
  return runtime.workspaceListing(run.containerId);
}

/** Whether the run's sandbox is on a remote engine (its container ref, else the engine it was placed on). */
export function onRemoteEngine(run: RunPlace): boolean {
  const engine = run.containerId ? parseEngineRef(run.containerId).engine : (run.engine ?? LOCAL_ENGINE);
  return engine !== LOCAL_ENGINE;
}

/**
 * Sandbox → mirror (a full copy, extracted safely), for a run on a remote
 * engine whose sandbox still exists; works with the sandbox paused. `listing`:
 * the sandbox's digest taken before (sandboxListing, before any freeze); when
 * it equals the one of the last copy, the mirror is already the sandbox's
 * tree and nothing is copied (a change after the digest was taken makes the
 * next digest differ). Returns whether it copied: a run whose sandbox is gone
 * keeps the mirror as it is (its last pull: what its last checkpoint saw).
 */
export async function pullRunWorkspace(
  runtime: SandboxRuntime | undefined,
  run: RunPlace & Pick<Run, "id">,
  hostDir: string,
  listing: string | null = null,
): Promise<boolean> {
  if (!runtime?.pullWorkspace || !run.containerId || !onRemoteEngine(run)) return false;
  if (listing !== null && pulledListings().get(run.id) === listing) return false;
  if (!(await runtime.inspectSandbox(run.containerId))) return false;
  pulledListings().delete(run.id);
  await runtime.pullWorkspace(run.containerId, hostDir);
  if (listing !== null) pulledListings().set(run.id, listing);
  return true;
}

/**
 * Mirror → sandbox, after the mirror was filled, restored or written (seeding,
 * rollback, restart from a snapshot). The sandbox must be running, not
 * paused, and nothing of the agent's may run in it. false when there is no
 * sandbox to copy into (a finished run: its restored mirror is what remains).
 */
export async function pushRunWorkspace(runtime: SandboxRuntime | undefined, run: RunPlace & Pick<Run, "id">, hostDir: string): Promise<boolean> {
  if (!runtime?.pushWorkspace || !run.containerId || !onRemoteEngine(run)) return false;
  if (!(await runtime.inspectSandbox(run.containerId))?.running) return false;
  // The volume is rewritten: whatever digest was copied last no longer describes it.
  pulledListings().delete(run.id);
  await runtime.pushWorkspace(run.containerId, hostDir);
  return true;
}

/** Forgets a run's last copied digest (its sandbox or workspace is going away). */
export function forgetPulledListing(runId: string): void {
  pulledListings().delete(runId);
}
