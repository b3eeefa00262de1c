// Issue 17: what Airlock last saw of each engine, and who wants to know when
// that changes (placement reads it; the supervisor fails the runs of an engine
// that is lost and cleans up when it returns).
//
// The state lives on globalThis (Next compiles route handlers and
// instrumentation.ts as separate entries). `startEngineMonitor` checks every
// engine on an interval; `checkEngine` is one look.
//
// Health includes the sandbox image: a remote engine that lacks it gets it
// from the local engine (image save → load, one load per engine at a time, in
// the background) and is then verified by digest (the image Id is the sha256
// of its config, so equal Ids mean the same image). Until the image is there
// and verified the engine answers but is not healthy for placement: `healthy`
// is false, `downSince` stays null and `error` says why.
import type Docker from "dockerode";
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { engines } from "@/db/schema";
import { docker, withTimeout } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";
import { dockerClientFor, engineConfig, engineConfigs } from "./registry";
import type { EngineConfig, EngineHealth } from "./types";
import type { GvisorStatus } from "@/server/sandbox/runtimes";

type Listener = (engine: string, health: EngineHealth, previous: EngineHealth | null) => void;

const g = globalThis as unknown as {
  __airlockEngineHealth?: Map<string, EngineHealth>;
  __airlockEngineHealthListeners?: Set<Listener>;
  __airlockEngineMonitor?: { stop: () => void };
  __airlockEngineImageLoads?: Map<string, ImageLoad>;
};

/** A load of the sandbox image onto one engine: running (promise set) or ended (error and when, to wait before retrying). */
interface ImageLoad {
  promise: Promise<void> | null;
  error: string | null;
  endedAt: number | null;
}
const imageLoads = () => (g.__airlockEngineImageLoads ??= new Map());
/** A failed load is tried again on the first check after this long. */
const LOAD_RETRY_MS = 60_000;
const healthMap = () => (g.__airlockEngineHealth ??= new Map());
const listeners = () => (g.__airlockEngineHealthListeners ??= new Set());

/** The last look at an engine (null: never checked). */
export function engineHealth(name: string): EngineHealth | null {
  return healthMap().get(name) ?? null;
}

export function allEngineHealth(): ReadonlyMap<string, EngineHealth> {
  return healthMap();
}

/** Called with every new look whose `healthy` or lost state (`downSince` set or not) differs from the previous one, and with the first look. Returns the unsubscribe. */
export function onEngineHealthChange(fn: Listener): () => void {
  listeners().add(fn);
  return () => listeners().delete(fn);
}

/** Records a look; tells the listeners when healthy changed. Tests may call it to play an engine's state. */
export function setEngineHealth(name: string, health: EngineHealth): void {
  const previous = healthMap().get(name) ?? null;
  healthMap().set(name, health);
  // Fires on a change of placeable (healthy) or of lost (downSince: the engine stopped answering; an engine that
  // answers but is not ready, its sandbox image loading or wrong, is unhealthy with no downSince).
  if (!previous || previous.healthy !== health.healthy || !previous.downSince !== !health.downSince) {
    for (const fn of [...listeners()]) {
      try {
        fn(name, health, previous);
      } catch (err) {
        console.error(`airlock: an engine health listener failed for ${name}:`, err);
      }
    }
  }
}

export function forgetEngineHealth(name: string): void {
  healthMap().delete(name);
}

type ImageState = EngineHealth["image"];
const NO_IMAGE: ImageState = { present: false, id: null, loading: false, error: null };

function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

/** The local engine's sandbox image id (the digest every other engine must match), or why there is none. */
async function localImageId(image: string, timeoutMs: number): Promise<{ id: string } | { error: string }> {
  try {
    const info = await withTimeout(docker().getImage(image).inspect(), timeoutMs, "the local engine");
    return { id: info.Id };
  } catch (err) {
    if (isNotFound(err))
      return {
        error: `the sandbox image ${image} is not on the local engine either, so it cannot be copied; build it there first (npm start does, or bash scripts/sandbox-image.sh)`,
      };
    return { error: `the local engine could not be asked for the sandbox image ${image}: ${(err as Error).message}` };
  }
}

/** docker save on the local engine → docker load on the remote one; rejects with the engine's message when the load fails. */
async function loadSandboxImage(engine: string, client: Docker, image: string): Promise<void> {
  const source = (await docker().getImage(image).get()) as NodeJS.ReadableStream;
  const response = (await client.loadImage(source, { quiet: true })) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => {
    client.modem.followProgress(
      response,
      (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = err?.message ?? output.find((o) => o.error || o.errorDetail)?.error;
        if (failed) reject(new Error(`loading the sandbox image ${image} onto engine ${engine} failed: ${failed}`));
        else resolve();
      },
      () => undefined,
    );
  });
}

/**
 * The sandbox image on a remote engine: present and verified (its Id equals
 * the local one), loading (started here when missing, in the background), or
 * why not. `onLoaded` is called when a load this call started ends.
 */
export async function checkSandboxImage(
  engine: string,
  client: Docker,
  opts: { timeoutMs?: number; onLoaded?: () => void; /** false: report a missing image without loading it (airlock doctor). */ load?: boolean } = {},
): Promise<ImageState> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const image = sandboxImageName();
  const load = imageLoads().get(engine);
  if (load?.promise) return { ...NO_IMAGE, loading: true };
  const expected = await localImageId(image, timeoutMs);
  if ("error" in expected) return { ...NO_IMAGE, error: expected.error };
  let id: string;
  try {
    id = (await withTimeout(client.getImage(image).inspect(), timeoutMs, `engine ${engine}`)).Id;
  } catch (err) {
    if (!isNotFound(err)) return { ...NO_IMAGE, error: `engine ${engine} could not be asked for the sandbox image ${image}: ${(err as Error).message}` };
    if (opts.load === false)
      return { ...NO_IMAGE, error: `the sandbox image ${image} is not on engine ${engine} yet; the dashboard loads it from the local engine` };
    if (load?.error && load.endedAt && Date.now() - load.endedAt < LOAD_RETRY_MS) return { ...NO_IMAGE, error: load.error };
    const entry: ImageLoad = { promise: null, error: null, endedAt: null };
    entry.promise = loadSandboxImage(engine, client, image).then(
      () => {
        imageLoads().delete(engine);
        opts.onLoaded?.();
      },
      (e: unknown) => {
        entry.promise = null;
        entry.error = (e as Error).message;
        entry.endedAt = Date.now();
        console.error(`airlock: ${entry.error}`);
        opts.onLoaded?.();
      },
    );
    imageLoads().set(engine, entry);
    console.log(`airlock: engine ${engine} has no sandbox image ${image}; loading it from the local engine`);
    return { ...NO_IMAGE, loading: true };
  }
  if (id !== expected.id) return { present: true, id, loading: false, error: `sandbox image on engine ${engine} has digest ${id}, expected ${expected.id}` };
  return { present: true, id, loading: false, error: null };
}

/** Why an engine that answers may not take runs yet (null: it may). */
function imageProblem(engine: string, image: ImageState): string | null {
  if (image.loading) return `the sandbox image is being loaded onto engine ${engine}; runs go there once it is verified`;
  if (image.error) return image.error;
  if (!image.present) return `the sandbox image is not on engine ${engine} yet`;
  return null;
}

/**
 * One look at an engine: ping, version and info (runtimes, cores, memory),
 * and on a remote engine the sandbox image (loaded when missing). Never throws.
 * `downSince`: when the engine was last seen to stop answering (the table's
 * value, so "unreachable since" survives restarts).
 */
export async function checkEngine(
  cfg: EngineConfig,
  opts: { client?: Docker; timeoutMs?: number; now?: () => Date; downSince?: Date | null; onImageLoaded?: () => void; loadImage?: boolean } = {},
): Promise<EngineHealth> {
  const now = opts.now?.() ?? new Date();
  const previous = engineHealth(cfg.name);
  const timeoutMs = opts.timeoutMs ?? 5000;
  try {
    const client = opts.client ?? dockerClientFor(cfg);
    await withTimeout(client.ping(), timeoutMs, `engine ${cfg.name}`);
    const [version, info] = await Promise.all([
      withTimeout(client.version(), timeoutMs, `engine ${cfg.name}`),
      withTimeout(client.info() as Promise<{ Runtimes?: Record<string, unknown>; NCPU?: number; MemTotal?: number }>, timeoutMs, `engine ${cfg.name}`),
    ]);
    const image = cfg.local
      ? await localImageState(timeoutMs)
      : await checkSandboxImage(cfg.name, client, { timeoutMs, onLoaded: opts.onImageLoaded, load: opts.loadImage });
    const problem = cfg.local ? null : imageProblem(cfg.name, image);
    return {
      healthy: problem === null,
      downSince: null,
      checkedAt: now,
      error: problem,
      apiVersion: version.ApiVersion ?? null,
      runtimes: Object.keys(info.Runtimes ?? {}).sort(),
      ncpu: info.NCPU ?? null,
      memTotalMb: info.MemTotal ? Math.floor(info.MemTotal / (1024 * 1024)) : null,
      image,
    };
  } catch (err) {
    // Down since the first failed look: the previous look's, or (first look in this process) the table's.
    const since = previous ? previous.downSince : (opts.downSince ?? null);
    return {
      healthy: false,
      downSince: since ?? now,
      checkedAt: now,
      error: plainConnectionError(cfg, err as Error),
      apiVersion: previous?.apiVersion ?? null,
      runtimes: previous?.runtimes ?? [],
      ncpu: previous?.ncpu ?? null,
      memTotalMb: previous?.memTotalMb ?? null,
      image: previous?.image ? { ...previous.image, loading: false } : NO_IMAGE,
    };
  }
}

/** The local engine's image: informational (the sandbox code says what to do when it is missing). */
async function localImageState(timeoutMs: number): Promise<ImageState> {
  const local = await localImageId(sandboxImageName(), timeoutMs);
  return "id" in local ? { present: true, id: local.id, loading: false, error: null } : { ...NO_IMAGE, error: local.error };
}

/** Node's and the TLS layer's codes as a sentence an admin can act on. */
export function plainConnectionError(cfg: Pick<EngineConfig, "name" | "endpoint">, err: Error): string {
  const code = (err as { code?: string }).code ?? "";
  const msg = err.message;
  const at = `engine ${cfg.name} (${cfg.endpoint})`;
  if (code === "ECONNREFUSED") return `${at} refused the connection: nothing listens there. Check that dockerd runs and listens on that address and port.`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `${at}: the host name does not resolve. Check the endpoint's host.`;
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH")
    return `${at}: no route to the host. Check the address and the network between Airlock and the engine.`;
  if (code === "ENOENT" && cfg.endpoint.startsWith("unix:")) return `${at}: the socket does not exist. Check the path and that dockerd runs.`;
  if (code === "EACCES") return `${at}: permission denied on the socket. Run Airlock as a user that may use it.`;
  if (/HTTP request to an HTTPS server/i.test(msg))
    return `${at} speaks TLS only (it runs with --tlsverify) and Airlock has no TLS material for it: give the CA, the client certificate and its key.`;
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|CERT_|unable to (get|verify)|self[- ]signed/i.test(code + " " + msg))
    return `${at}: its TLS certificate is not signed by the CA Airlock has (${msg}). Give the CA that signed the engine's server certificate.`;
  if (code === "ECONNRESET" || /socket hang up/i.test(msg))
    return `${at} closed the connection (${msg}): it may be stopping, or it refused Airlock's TLS client certificate. Check that dockerd runs and trusts the client certificate.`;
  if (/certificate|handshake|alert|SSL|TLS/i.test(code + " " + msg))
    return `${at}: the TLS handshake failed (${msg}). The engine runs with --tlsverify: give a client certificate and key signed by the CA it trusts.`;
  if (/did not answer within/.test(msg))
    return `${at} did not answer in time (${msg.replace(/^.*did not answer within /, "")}). Check that the engine runs and is reachable.`;
  return `${at}: ${msg}`;
}

/** Records a look: the health map (listeners) and, when it changed, downSince in the table. */
function recordEngineHealth(db: Db, name: string, health: EngineHealth): void {
  const before = engineHealth(name);
  setEngineHealth(name, health);
  if ((before?.downSince?.getTime() ?? null) !== (health.downSince?.getTime() ?? null) || !before) {
    db.update(engines).set({ downSince: health.downSince }).where(eq(engines.name, name)).run();
  }
}

/** Looks at one engine now and records the look (after a change in Settings → Engines; when an image load ends). Null: no such engine. */
export async function checkEngineNow(db: Db, name: string, opts: { timeoutMs?: number } = {}): Promise<EngineHealth | null> {
  const cfg = engineConfig(db, name);
  if (!cfg) {
    forgetEngineHealth(name);
    return null;
  }
  const row = db.select({ downSince: engines.downSince }).from(engines).where(eq(engines.name, name)).get();
  const health = await checkEngine(cfg, {
    ...opts,
    downSince: row?.downSince ?? null,
    onImageLoaded: () => void checkEngineNow(db, name, opts).catch((err: unknown) => console.error(`airlock: checking engine ${name} failed:`, err)),
  });
  // Deleted while we looked: do not bring its health back.
  if (!engineConfig(db, name)) return null;
  recordEngineHealth(db, name, health);
  return health;
}

/** Looks at every engine once, records the looks (and downSince in the table). */
export async function checkAllEngines(db: Db, opts: { timeoutMs?: number } = {}): Promise<void> {
  const configs = engineConfigs(db);
  const known = new Set(configs.map((c) => c.name));
  for (const name of allEngineHealth().keys()) if (!known.has(name)) forgetEngineHealth(name);
  await Promise.all(configs.map((cfg) => checkEngineNow(db, cfg.name, opts)));
}

/** Whether a sandbox image load onto this engine is under way (tests and doctor). */
export function imageLoadInProgress(engine: string): Promise<void> | null {
  return imageLoads().get(engine)?.promise ?? null;
}

export function stopEngineMonitor(): void {
  g.__airlockEngineMonitor?.stop();
  g.__airlockEngineMonitor = undefined;
}

/** Checks every engine every `intervalMs` (default 10 s) until stopped; one pass at a time. */
export function startEngineMonitor(db: Db, opts: { intervalMs?: number; timeoutMs?: number } = {}): { stop: () => void } {
  g.__airlockEngineMonitor?.stop();
  let running = false;
  let stopped = false;
  const tick = async () => {
    if (running || stopped) return;
    running = true;
    try {
      await checkAllEngines(db, opts);
    } catch (err) {
      console.error("airlock: checking the engines failed:", err);
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), opts.intervalMs ?? 10_000);
  timer.unref();
  const handle = {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
  g.__airlockEngineMonitor = handle;
  return handle;
}

/**
 * Whether a remote engine can isolate a run with gVisor, as the runtime choice
 * (chooseRuntime) reads it. The local engine's gVisor is probed with a real
 * container (probeGvisor); a remote one is judged from the runtimes its health
 * check listed, and its tools are not checked there, so AIRLOCK_RUNTIME=auto
 * keeps its runs on runc and only a gVisor requirement (placement sent the
 * run to an engine offering runsc) gets gVisor.
 */
export function remoteGvisorStatus(engine: string): GvisorStatus {
  const health = engineHealth(engine);
  const runtimes = health?.runtimes ?? [];
  const offered = runtimes.includes("runsc");
  return {
    offered,
    works: offered,
    problem: offered ? null : `engine ${engine} does not offer the runsc runtime`,
    toolsProblem: offered ? `its tools are not checked on remote engine ${engine}` : null,
    kernel: null,
    engineRuntimes: runtimes,
    checkedAt: health?.checkedAt ?? new Date(),
    durationMs: 0,
  };
}
