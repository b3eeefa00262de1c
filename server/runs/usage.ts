// Live resource use of running sandboxes (memory, CPU, processes, workspace
// disk) against the run's limits and the workspace quota, for the run page and the runs list. The engine takes
// about a second per sample (it measures CPU over an interval), so samples
// are cached for a few seconds and concurrent requests share one.
import { and, inArray, isNotNull, notInArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs } from "@/db/schema";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { TERMINAL_STATES } from "@/server/runs/state-machine";
import { lastWorkspaceSize, measureWorkspace, workspaceQuotaBytes } from "@/server/workspace/quota";

export interface RunUsage {
  runId: string;
  sampledAt: Date;
  memoryBytes: number;
  memoryLimitBytes: number;
  /** 100 = one CPU fully busy. */
  cpuPercent: number;
  cpuLimit: number;
  pids: number;
  pidsLimit: number;
  /** Bytes the run's workspace holds on the host disk, against the workspace quota (null: not measured). */
  workspaceBytes: number | null;
  workspaceQuotaBytes: number;
  /** Network bytes since the sandbox started (null: no interface but loopback). */
  netRxBytes: number | null;
  netTxBytes: number | null;
}

const FRESH_MS = 4000;
/** A workspace measured this recently (after a command, or by the quota watch) is not measured again. */
const WORKSPACE_FRESH_MS = 10_000;

async function workspaceBytes(runId: string, workspaceDir: string | null): Promise<number | null> {
  const last = lastWorkspaceSize(runId);
  if (last && Date.now() - last.measuredAt.getTime() < WORKSPACE_FRESH_MS) return last.bytes;
  if (!workspaceDir) return last?.bytes ?? null;
  return (await measureWorkspace(runId, workspaceDir).catch(() => last ?? null))?.bytes ?? null;
}
const MAX_PARALLEL = 8;
export const MAX_USAGE_RUNS = 200;

interface Entry {
  containerId: string;
  at: number;
  value: RunUsage | null;
  pending: Promise<RunUsage | null> | null;
}

const g = globalThis as unknown as { __airlockRunUsage?: Map<string, Entry> };
const cache = () => (g.__airlockRunUsage ??= new Map());

/** Usage of the live runs among `runIds` (all live runs when omitted, at most MAX_USAGE_RUNS); runs without a running container are left out. */
export async function runUsage(db: Db, runtime: SandboxRuntime, runIds?: string[], now = Date.now()): Promise<RunUsage[]> {
  const live = db
    .select({ id: runs.id, containerId: runs.containerId, limits: runs.limits, workspaceDir: runs.workspaceDir })
    .from(runs)
    .where(
      and(notInArray(runs.state, [...TERMINAL_STATES]), isNotNull(runs.containerId), runIds ? inArray(runs.id, runIds.slice(0, MAX_USAGE_RUNS)) : undefined),
    )
    .limit(MAX_USAGE_RUNS)
    .all();
  const entries = cache();
  for (const id of entries.keys()) if (!live.some((r) => r.id === id)) entries.delete(id);
  const out: (RunUsage | null)[] = [];
  for (let i = 0; i < live.length; i += MAX_PARALLEL) {
    const batch = live.slice(i, i + MAX_PARALLEL);
    out.push(
      ...(await Promise.all(
        batch.map((run) => {
          let entry = entries.get(run.id);
          if (!entry || entry.containerId !== run.containerId) {
            entry = { containerId: run.containerId!, at: 0, value: null, pending: null };
            entries.set(run.id, entry);
          }
          if (now - entry.at < FRESH_MS) return entry.value;
          if (entry.pending) return entry.pending;
          const e = entry;
          e.pending = Promise.all([runtime.stats(run.containerId!), workspaceBytes(run.id, run.workspaceDir)])
            .then(([s, wsBytes]) => {
              e.value = s
                ? {
                    runId: run.id,
                    sampledAt: new Date(),
                    memoryBytes: s.memoryBytes,
                    memoryLimitBytes: run.limits.memoryMb * 1024 * 1024,
                    cpuPercent: Math.round(s.cpuPercent * 10) / 10,
                    cpuLimit: run.limits.cpus,
                    pids: s.pids,
                    pidsLimit: run.limits.pids,
                    workspaceBytes: wsBytes,
                    workspaceQuotaBytes: workspaceQuotaBytes(),
                    netRxBytes: s.netRxBytes ?? null,
                    netTxBytes: s.netTxBytes ?? null,
                  }
                : null;
              e.at = Date.now();
              return e.value;
            })
            .catch(() => null)
            .finally(() => {
              e.pending = null;
            });
          return e.pending;
        }),
      )),
    );
  }
  return out.filter((u): u is RunUsage => u !== null);
}
