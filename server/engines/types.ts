// Issue 17: the engine pool's shared vocabulary. Runs are placed on Docker
// engines; "local" is the engine next to Airlock (workspaces bind-mounted from
// the data directory); every other engine is remote (workspaces are Docker
// volumes on it, moved through the archive API, never a host bind mount).
//
// Who owns what (see docs/ARCHITECTURE.md "Engines"):
// - server/engines/registry.ts: the engines table + AIRLOCK_ENGINES, clients, health, the sandbox image on each engine;
// - server/engines/pooled-runtime.ts: one SandboxRuntime over every engine, routed by container id (below);
// - server/runs/queue.ts: placement (labels, capacity, drain, health);
// - the supervisor: runs of an engine that is lost fail; its orphans are removed when it returns.

/** The built-in engine's name (DOCKER_HOST or the local socket). */
export const LOCAL_ENGINE = "local";

/** Engine names: what the UI, the file and runs.engine use. */
export const ENGINE_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** Engine labels (on engines, required by projects): gpu, big-memory, gvisor. */
export const ENGINE_LABEL = /^[a-z0-9][a-z0-9._-]{0,39}$/;

export interface EngineCapacity {
  /** Runs at once (null: from the engine's cores and memory). */
  runs: number | null;
  /** CPUs the runs' limits may add up to (null: the engine's cores). */
  cpus: number | null;
  /** MB the runs' memory limits may add up to (null: the engine's memory × the run memory ratio). */
  memoryMb: number | null;
}

export interface EngineCredentials {
  /** tcp:// with TLS: PEM. */
  ca?: string;
  cert?: string;
  key?: string;
  /** ssh://: a private key (PEM or OpenSSH). */
  privateKey?: string;
}

export interface EngineConfig {
  name: string;
  endpoint: string;
  local: boolean;
  labels: string[];
  capacity: EngineCapacity;
  draining: boolean;
  credentials: EngineCredentials | null;
  source: "builtin" | "file" | "ui";
}

/** What the health check last saw of an engine. */
export interface EngineHealth {
  healthy: boolean;
  /** When it stopped answering (null while it answers). */
  downSince: Date | null;
  checkedAt: Date | null;
  error: string | null;
  apiVersion: string | null;
  /** Runtimes the engine offers (runc, runsc, …). */
  runtimes: string[];
  ncpu: number | null;
  memTotalMb: number | null;
  /** The sandbox image on that engine: its id (content digest) once present and verified. */
  image: { present: boolean; id: string | null; loading: boolean; error: string | null };
}

// ------------------------------------------------------------ container ids
//
// A container on a remote engine is known to the rest of Airlock as
// "@<engine>:<docker id>" (runs.containerId, service ids, snapshot images);
// a local one keeps its plain docker id, so rows written before the pool
// still mean the local engine.

const REMOTE_REF = /^@([a-z0-9][a-z0-9-]{0,39}):(.+)$/;

export function engineRef(engine: string, dockerId: string): string {
  return engine === LOCAL_ENGINE ? dockerId : `@${engine}:${dockerId}`;
}

export function parseEngineRef(ref: string): { engine: string; id: string } {
  const m = REMOTE_REF.exec(ref);
  return m ? { engine: m[1]!, id: m[2]! } : { engine: LOCAL_ENGINE, id: ref };
}
