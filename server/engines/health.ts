// Issue 17: what Airlock last saw of each engine, and who wants to know when
// that changes (placement reads it; the supervisor fails the runs of an engine
// that is lost and cleans up when it returns).
//
// The state lives on globalThis (Next compiles route handlers and
// instrumentation.ts as separate entries). `startEngineMonitor` checks every
// engine on an interval; `checkEngine` is one look.
import type Docker from "dockerode";
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { engines } from "@/db/schema";
import { dockerClientFor, engineConfigs } from "./registry";
import type { EngineConfig, EngineHealth } from "./types";

type Listener = (engine: string, health: EngineHealth, previous: EngineHealth | null) => void;

const g = globalThis as unknown as {
  __airlockEngineHealth?: Map<string, EngineHealth>;
  __airlockEngineHealthListeners?: Set<Listener>;
  __airlockEngineMonitor?: { stop: () => void };
};
const healthMap = () => (g.__airlockEngineHealth ??= new Map());
const listeners = () => (g.__airlockEngineHealthListeners ??= new Set());

/** The last look at an engine (null: never checked). */
export function engineHealth(name: string): EngineHealth | null {
  return healthMap().get(name) ?? null;
}

export function allEngineHealth(): ReadonlyMap<string, EngineHealth> {
  return healthMap();
}

/** Called with every new look whose `healthy` differs from the previous one (and the first look). Returns the unsubscribe. */
export function onEngineHealthChange(fn: Listener): () => void {
  listeners().add(fn);
  return () => listeners().delete(fn);
}

/** Records a look; tells the listeners when healthy changed. Tests may call it to play an engine's state. */
export function setEngineHealth(name: string, health: EngineHealth): void {
  const previous = healthMap().get(name) ?? null;
  healthMap().set(name, health);
  if (!previous || previous.healthy !== health.healthy) {
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

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** One look at an engine: ping, version and info (runtimes, cores, memory). Never throws. */
export async function checkEngine(cfg: EngineConfig, opts: { client?: Docker; timeoutMs?: number; now?: () => Date } = {}): Promise<EngineHealth> {
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
    return {
      healthy: true,
      downSince: null,
      checkedAt: now,
      error: null,
      apiVersion: version.ApiVersion ?? null,
      runtimes: Object.keys(info.Runtimes ?? {}).sort(),
      ncpu: info.NCPU ?? null,
      memTotalMb: info.MemTotal ? Math.floor(info.MemTotal / (1024 * 1024)) : null,
      image: previous?.image ?? { present: false, id: null, loading: false, error: null },
    };
  } catch (err) {
    return {
      healthy: false,
      downSince: previous && !previous.healthy && previous.downSince ? previous.downSince : now,
      checkedAt: now,
      error: (err as Error).message,
      apiVersion: previous?.apiVersion ?? null,
      runtimes: previous?.runtimes ?? [],
      ncpu: previous?.ncpu ?? null,
      memTotalMb: previous?.memTotalMb ?? null,
      image: previous?.image ?? { present: false, id: null, loading: false, error: null },
    };
  }
}

/** Looks at every engine once, records the looks (and downSince in the table). */
export async function checkAllEngines(db: Db, opts: { timeoutMs?: number } = {}): Promise<void> {
  const configs = engineConfigs(db);
  await Promise.all(
    configs.map(async (cfg) => {
      const health = await checkEngine(cfg, opts);
      const before = engineHealth(cfg.name);
      setEngineHealth(cfg.name, health);
      if (!before || before.healthy !== health.healthy) {
        db.update(engines).set({ downSince: health.downSince }).where(eq(engines.name, cfg.name)).run();
      }
    }),
  );
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
