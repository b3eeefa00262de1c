// Issue 17: losing an engine and its return. When an engine stops answering,
// the supervisor fails the runs placed on it with "engine X unreachable since
// …" (their checkpoints live in the shadow repository on the Airlock host, so
// they stay restorable); every call it still makes to that engine is bounded,
// so ending the runs never hangs on it. When the engine answers again, this
// instance's containers there whose run is not live, and its orphaned
// workspace volumes, are removed.
import { and, eq, notInArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs, type Run } from "@/db/schema";
import { TERMINAL_STATES, isTerminal } from "@/server/runs/state-machine";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { withTimeout } from "@/server/sandbox/docker";
import { findRun } from "@/server/runs/lookup";
import { checkEngine, engineHealth } from "./health";
import { PooledRuntime } from "./pooled-runtime";
import { engineConfig } from "./registry";
import { LOCAL_ENGINE } from "./types";

/** How long one call to an engine that is lost may take before it is given up. */
export const LOST_ENGINE_CALL_MS = 3000;

/** A run's reason when its engine is lost (also its audit's). */
export function engineLostReason(engine: string, since: Date): string {
  return `engine ${engine} unreachable since ${since.toISOString()}`;
}

/** The engine a run was placed on (runs older than the pool, and unplaced ones: the local engine). */
export function runEngine(run: Pick<Run, "engine">): string {
  return run.engine ?? LOCAL_ENGINE;
}

/** Runs placed on the engine that hold it: past the queue and not ended. */
export function liveRunsOn(db: Db, engine: string): Run[] {
  return db
    .select()
    .from(runs)
    .where(and(eq(runs.engine, engine), notInArray(runs.state, ["queued", ...TERMINAL_STATES])))
    .all();
}

/** When a remote engine was seen lost (the monitor's last look says so); null while it answers or for the local engine. */
export function engineDownSince(engine: string): Date | null {
  if (engine === LOCAL_ENGINE) return null;
  const health = engineHealth(engine);
  // Lost means it stopped answering (downSince); an engine that answers but is not ready (its sandbox image loading or wrong) is not lost.
  if (!health || health.healthy) return null;
  return health.downSince;
}

/**
 * Asks a remote engine now (bounded): when it does not answer, since when it
 * is down (the monitor's first failed look, or now). null when it answers, or
 * for the local engine, whose loss the sandbox watcher reports.
 */
export async function probeEngineDown(db: Db, engine: string, timeoutMs = LOST_ENGINE_CALL_MS): Promise<Date | null> {
  if (engine === LOCAL_ENGINE) return null;
  const cfg = engineConfig(db, engine);
  if (!cfg) return engineDownSince(engine) ?? new Date();
  const look = await checkEngine(cfg, { timeoutMs, loadImage: false });
  return look.healthy ? null : look.downSince;
}

/**
 * The runtime with every call that returns a promise bounded to `ms`: a call
 * to an engine that is gone rejects instead of waiting for TCP to give up.
 */
export function boundedRuntime(runtime: SandboxRuntime, ms: number, what: string): SandboxRuntime {
  return new Proxy(runtime, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const out: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        return out instanceof Promise ? withTimeout(out, ms, what) : out;
      };
    },
  });
}

/**
 * An engine answers again: removes this instance's containers on it whose run
 * is not live (failed while the engine was away, or unknown), and the
 * workspace volumes of runs that are not live. Only through the pool (a
 * single-engine runtime has no other engines). Returns what was removed.
 */
export async function removeEngineOrphans(
  db: Db,
  runtime: SandboxRuntime,
  engine: string,
  isLive: (runId: string) => boolean,
): Promise<{ containers: string[]; volumes: number }> {
  if (!(runtime instanceof PooledRuntime) || engine === LOCAL_ENGINE) return { containers: [], volumes: 0 };
  const rt = runtime.engine(engine);
  const containers: string[] = [];
  for (const c of await rt.listSandboxes()) {
    if (isLive(c.runId)) continue;
    const run = findRun(db, c.runId);
    if (run && !isTerminal(run.state)) continue;
    await rt
      .removeSandbox(c.containerId)
      .catch((err: unknown) => console.error(`airlock: could not remove container ${c.containerId} on engine ${engine}:`, err));
    containers.push(c.containerId);
  }
  const keep = new Set(
    db
      .select({ id: runs.id })
      .from(runs)
      .where(and(eq(runs.engine, engine), notInArray(runs.state, [...TERMINAL_STATES])))
      .all()
      .map((r) => r.id),
  );
  const volumes = await runtime.pruneEngineVolumes(engine, keep);
  return { containers, volumes };
}
