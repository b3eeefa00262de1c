// Resource history of runs: the supervisor samples every live run's sandbox
// every few seconds into run_resource_samples, and the run's timeline page
// draws them as small charts with the caps. One sampler per process, not one
// per run: a run is sampled while it is live (not terminal, with a container)
// and no longer once it ends, and a restarted supervisor simply carries on
// with the runs it finds. It reads through runUsage, so a tick costs one
// engine stats call per live run and shares it with the run pages' meters.
import { asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runResourceSamples, type RunResourceSample } from "@/db/schema";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { runUsage, type RunUsage } from "@/server/runs/usage";

export const RESOURCE_SAMPLE_MS = 5000;
/** Rows kept per run; past it the older half is merged pairwise (a 5 s run keeps full detail for its last ~25 min). */
export const MAX_SAMPLES_PER_RUN = 600;
/** The newest rows are never merged, so the recent past stays at full resolution. */
const KEEP_RECENT = MAX_SAMPLES_PER_RUN / 2;

/** Appends one sample per usage, then bounds each sampled run's history. */
export function recordResourceSamples(db: Db, usages: RunUsage[], maxPerRun = MAX_SAMPLES_PER_RUN): void {
  if (usages.length === 0) return;
  db.transaction((tx) => {
    for (const u of usages) {
      tx.insert(runResourceSamples)
        .values({
          runId: u.runId,
          at: u.sampledAt,
          cpuPercent: Math.round(u.cpuPercent),
          cpuCapPercent: Math.round(u.cpuLimit * 100),
          memoryBytes: u.memoryBytes,
          memoryCapBytes: u.memoryLimitBytes,
          pids: u.pids,
          pidsCap: u.pidsLimit,
          workspaceBytes: u.workspaceBytes,
          workspaceCapBytes: u.workspaceQuotaBytes,
          netRxBytes: u.netRxBytes,
          netTxBytes: u.netTxBytes,
        })
        .run();
    }
  });
  for (const u of usages) downsample(db, u.runId, maxPerRun);
}

/**
 * Past `maxPerRun` rows, merges the rows older than the newest half in pairs:
 * each pair keeps its first time, the sum of spans and the peak of every
 * measure (a cap hit survives any number of merges), so a run of any length
 * holds at most `maxPerRun` rows.
 */
export function downsample(db: Db, runId: string, maxPerRun = MAX_SAMPLES_PER_RUN): number {
  const count = db
    .select({ n: sql<number>`count(*)` })
    .from(runResourceSamples)
    .where(eq(runResourceSamples.runId, runId))
    .get()!.n;
  if (count <= maxPerRun) return 0;
  const keepRecent = Math.min(KEEP_RECENT, Math.floor(maxPerRun / 2));
  const old = db
    .select()
    .from(runResourceSamples)
    .where(eq(runResourceSamples.runId, runId))
    .orderBy(asc(runResourceSamples.at), asc(runResourceSamples.id))
    .limit(count - keepRecent)
    .all();
  const drop: number[] = [];
  db.transaction((tx) => {
    for (let i = 0; i + 1 < old.length; i += 2) {
      const a = old[i]!;
      const b = old[i + 1]!;
      tx.update(runResourceSamples)
        .set({
          span: a.span + b.span,
          cpuPercent: Math.max(a.cpuPercent, b.cpuPercent),
          cpuCapPercent: Math.max(a.cpuCapPercent, b.cpuCapPercent),
          memoryBytes: Math.max(a.memoryBytes, b.memoryBytes),
          memoryCapBytes: Math.max(a.memoryCapBytes, b.memoryCapBytes),
          pids: Math.max(a.pids, b.pids),
          pidsCap: Math.max(a.pidsCap, b.pidsCap),
          workspaceBytes: maxOrNull(a.workspaceBytes, b.workspaceBytes),
          workspaceCapBytes: Math.max(a.workspaceCapBytes, b.workspaceCapBytes),
          // Counters since the sandbox started: the later one is the pair's value.
          netRxBytes: maxOrNull(a.netRxBytes, b.netRxBytes),
          netTxBytes: maxOrNull(a.netTxBytes, b.netTxBytes),
        })
        .where(eq(runResourceSamples.id, a.id))
        .run();
      drop.push(b.id);
    }
    for (let i = 0; i < drop.length; i += 500)
      tx.delete(runResourceSamples)
        .where(inArray(runResourceSamples.id, drop.slice(i, i + 500)))
        .run();
  });
  return drop.length;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

export interface ResourceSampler {
  /** One sampling pass now (tests; the timer calls it too). Resolves with the runs sampled. */
  tick(): Promise<string[]>;
  stop(): void;
}

/**
 * Samples every live run every `intervalMs`. A pass that is still running
 * when the next is due (a slow engine) makes that one skip, so samples never
 * pile up; a failing pass is logged and the next one tries again.
 */
export function startResourceSampler(db: Db, runtime: SandboxRuntime, opts: { intervalMs?: number } = {}): ResourceSampler {
  let running: Promise<string[]> | null = null;
  let stopped = false;
  // runUsage shares a sample for a few seconds (with the run pages' meters): a sample already recorded is not recorded twice.
  const lastRecorded = new Map<string, number>();
  const tick = (): Promise<string[]> => {
    if (stopped) return Promise.resolve([]);
    running ??= (async () => {
      try {
        const usages = (await runUsage(db, runtime)).filter((u) => u.sampledAt.getTime() > (lastRecorded.get(u.runId) ?? 0));
        if (stopped) return [];
        recordResourceSamples(db, usages);
        const live = new Set(usages.map((u) => u.runId));
        for (const u of usages) lastRecorded.set(u.runId, u.sampledAt.getTime());
        for (const id of lastRecorded.keys()) if (!live.has(id) && lastRecorded.get(id)! < Date.now() - 60_000) lastRecorded.delete(id);
        return usages.map((u) => u.runId);
      } catch (err) {
        console.error("airlock: sampling the runs' resource use failed:", err);
        return [];
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void tick(), opts.intervalMs ?? RESOURCE_SAMPLE_MS);
  timer.unref();
  return {
    tick,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

export interface ResourceSeries {
  key: "cpu" | "memory" | "pids" | "workspace" | "netRx" | "netTx";
  label: string;
  unit: "%" | "bytes" | "count";
  /** [ms since epoch, value] oldest first. */
  points: [number, number][];
  /** The cap drawn as a line (the highest in force), null when the measure has none (network). */
  cap: number | null;
  peak: number | null;
  /** When the measure first reached its cap (≥ 95 % for memory and CPU, the cap itself for processes and the workspace). */
  capHitAt: number | null;
}

/** A run's samples as chart series (oldest first). */
export function resourceHistory(db: Db, runId: string): { samples: number; series: ResourceSeries[] } {
  const rows = db
    .select()
    .from(runResourceSamples)
    .where(eq(runResourceSamples.runId, runId))
    .orderBy(asc(runResourceSamples.at), asc(runResourceSamples.id))
    .all();
  const series = (
    key: ResourceSeries["key"],
    label: string,
    unit: ResourceSeries["unit"],
    value: (r: RunResourceSample) => number | null,
    cap: ((r: RunResourceSample) => number) | null,
    hitFraction: number,
  ): ResourceSeries => {
    const points: [number, number][] = [];
    let capMax: number | null = null;
    let capHitAt: number | null = null;
    for (const r of rows) {
      const v = value(r);
      if (v === null) continue;
      points.push([r.at.getTime(), v]);
      if (cap) {
        const c = cap(r);
        capMax = Math.max(capMax ?? 0, c);
        if (capHitAt === null && c > 0 && v >= c * hitFraction) capHitAt = r.at.getTime();
      }
    }
    const peak = points.length ? Math.max(...points.map((p) => p[1])) : null;
    return { key, label, unit, points, cap: capMax, peak, capHitAt };
  };
  return {
    samples: rows.length,
    series: [
      series(
        "cpu",
        "CPU",
        "%",
        (r) => r.cpuPercent,
        (r) => r.cpuCapPercent,
        0.95,
      ),
      series(
        "memory",
        "Memory",
        "bytes",
        (r) => r.memoryBytes,
        (r) => r.memoryCapBytes,
        0.95,
      ),
      series(
        "pids",
        "Processes",
        "count",
        (r) => r.pids,
        (r) => r.pidsCap,
        1,
      ),
      series(
        "workspace",
        "Workspace",
        "bytes",
        (r) => r.workspaceBytes,
        (r) => r.workspaceCapBytes,
        1,
      ),
      series("netRx", "Network in", "bytes", (r) => r.netRxBytes, null, 1),
      series("netTx", "Network out", "bytes", (r) => r.netTxBytes, null, 1),
    ],
  };
}
