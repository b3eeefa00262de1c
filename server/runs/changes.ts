// runs.changes (issue 16): one live stream per fleet page of what changes on
// the runs list — a run's state, its pending requests, its place in the
// queue — plus a resource summary of the running sandboxes every few
// seconds. The page applies each change to its rows in place, so a state
// change reaches the row as fast as the navigation badge (approvals.changes)
// instead of waiting for the next poll of runs.list.
import { and, eq, inArray, or, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, runs, type RunEvent, type RunState } from "@/db/schema";
import { onSignal } from "@/server/events/bus";
import { queuePositions } from "@/server/runs/queue";
import { DEFAULT_PROJECT_ID } from "@/server/projects/projects";
import type { RunUsage } from "@/server/runs/usage";

/** Live runs.changes streams one user may hold at once in this process (several tabs, a wall screen). */
export const MAX_FLEET_STREAMS_PER_USER = 20;
/** How often the stream sends the running sandboxes' resource use (the engine samples over about a second; usage.ts caches it for 4 s). */
export const FLEET_USAGE_INTERVAL_MS = 5000;

/** The fields of a runs-list row that change while the run lives. */
export interface RunChange {
  id: string;
  /** Not changing, but a page showing a filtered list needs them to tell whether a run it does not show now belongs in it. */
  projectId: string;
  createdBy: string;
  modelId: string | null;
  state: RunState;
  pendingApprovals: number;
  queuePosition: number | null;
  queueReason: string | null;
  toolCallsUsed: number;
  tokensUsed: number;
  updatedAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  endedReason: string | null;
}

export type FleetEvent = { type: "ready" } | { type: "runs"; items: RunChange[] } | { type: "usage"; items: RunUsage[] };

/** Run events that change a row of the list (others, such as model output, do not). */
const ROW_EVENTS = new Set(["state", "queue", "approval", "decision", "tool_result"]);

/** The current row fields of `ids`; with `queued`, every queued run too (one start moves all the places behind it). */
export function runChanges(db: Db, ids: string[], opts: { queued?: boolean } = {}): RunChange[] {
  if (!opts.queued && ids.length === 0) return [];
  const byId = ids.length ? inArray(runs.id, ids) : undefined;
  const where = opts.queued ? or(byId, eq(runs.state, "queued")) : byId;
  const rows = db
    .select({
      id: runs.id,
      projectId: runs.projectId,
      createdBy: runs.createdBy,
      modelId: runs.modelId,
      state: runs.state,
      queueReason: runs.queueReason,
      toolCallsUsed: runs.toolCallsUsed,
      tokensUsed: runs.tokensUsed,
      updatedAt: runs.updatedAt,
      startedAt: runs.startedAt,
      endedAt: runs.endedAt,
      endedReason: runs.endedReason,
    })
    .from(runs)
    .where(where)
    .all();
  if (rows.length === 0) return [];
  const pending = new Map(
    db
      .select({ runId: approvals.runId, n: sql<number>`count(*)` })
      .from(approvals)
      .where(
        and(
          inArray(
            approvals.runId,
            rows.map((r) => r.id),
          ),
          eq(approvals.state, "pending"),
        ),
      )
      .groupBy(approvals.runId)
      .all()
      .map((p) => [p.runId, Number(p.n)]),
  );
  const positions = rows.some((r) => r.state === "queued") ? queuePositions(db) : new Map<string, number>();
  return rows.map((r) => {
    const queued = r.state === "queued";
    return {
      ...r,
      projectId: r.projectId ?? DEFAULT_PROJECT_ID,
      pendingApprovals: pending.get(r.id) ?? 0,
      queuePosition: queued ? (positions.get(r.id) ?? null) : null,
      queueReason: queued ? r.queueReason : null,
    };
  });
}

const g = globalThis as unknown as { __airlockFleetPlaces?: Map<string, number> };

/**
 * Takes one of the user's MAX_FLEET_STREAMS_PER_USER places: a release
 * function, or null when all are taken. Each stream holds a connection and
 * reads the database on every change, so a script reconnecting in a loop
 * must not open them without bound.
 */
export function holdFleetPlace(userId: string, max = MAX_FLEET_STREAMS_PER_USER): (() => void) | null {
  const places = (g.__airlockFleetPlaces ??= new Map());
  const held = places.get(userId) ?? 0;
  if (held >= max) return null;
  places.set(userId, held + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (places.get(userId) ?? 1) - 1;
    if (left > 0) places.set(userId, left);
    else places.delete(userId);
  };
}
/**
 * "ready" once it listens, then the changed rows after any run event that
 * changes a row or any approval change (a burst while the reader is busy is
 * read once, as the current state), and the sandboxes' usage every
 * `usageEveryMs` when `sampleUsage` is given, until `signal` aborts.
 */
export async function* streamRunChanges(
  db: Db,
  signal: AbortSignal,
  opts: { sampleUsage?: () => Promise<RunUsage[]>; usageEveryMs?: number } = {},
): AsyncGenerator<FleetEvent> {
  const dirty = new Set<string>();
  let queueMoved = false;
  let usageDue = Boolean(opts.sampleUsage);
  let lastUsageEmpty = false;
  let wake: (() => void) | null = null;
  const poke = () => wake?.();
  const offRun = onSignal("run:*", (payload) => {
    const event = payload as RunEvent;
    if (!ROW_EVENTS.has(event.type)) return;
    dirty.add(event.runId);
    if (event.type === "state" || event.type === "queue") queueMoved = true;
    poke();
  });
  const offApprovals = onSignal("approvals:changed", (payload) => {
    const runId = (payload as { runId?: unknown } | null)?.runId;
    if (typeof runId !== "string") return;
    dirty.add(runId);
    poke();
  });
  const timer = opts.sampleUsage
    ? setInterval(() => {
        usageDue = true;
        poke();
      }, opts.usageEveryMs ?? FLEET_USAGE_INTERVAL_MS)
    : null;
  timer?.unref?.();
  signal.addEventListener("abort", poke);
  try {
    yield { type: "ready" };
    while (!signal.aborted) {
      if (dirty.size > 0 || queueMoved) {
        const ids = [...dirty];
        const queued = queueMoved;
        dirty.clear();
        queueMoved = false;
        const items = runChanges(db, ids, { queued });
        if (items.length) yield { type: "runs", items };
        continue;
      }
      if (usageDue && opts.sampleUsage) {
        usageDue = false;
        const items = await opts.sampleUsage().catch(() => null);
        // Nothing running, as last time: nothing to send.
        if (items && !signal.aborted && !(items.length === 0 && lastUsageEmpty)) yield { type: "usage", items };
        if (items) lastUsageEmpty = items.length === 0;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (dirty.size > 0 || queueMoved || usageDue || signal.aborted) resolve();
      });
      wake = null;
    }
  } finally {
    offRun();
    offApprovals();
    if (timer) clearInterval(timer);
    signal.removeEventListener("abort", poke);
  }
}
