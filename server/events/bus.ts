// Run events: persisted first (so a reconnecting client can replay them by
// id), then published on an in-process bus for live subscribers. The bus is
// the one piece that moves to PostgreSQL LISTEN/NOTIFY with several replicas.
import { EventEmitter } from "node:events";
import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runEvents, type RunEvent } from "@/db/schema";

export type RunEventType =
  | "state"
  | "model_delta"
  | "model_message"
  | "tool_call"
  | "decision"
  | "approval"
  | "output"
  | "tool_result"
  | "plan"
  | "error"
  | "note"
  | "checkpoint"
  | "egress_grant"
  | "egress"
  // Issue 13: a queued run's place or reason changed ({position, reason}).
  | "queue"
  | "service"
  | "service_output";

interface Bus {
  emitter: EventEmitter;
  /** Live runs.events subscriptions per run (AIRLOCK_MAX_SUBSCRIBERS_PER_RUN bounds them). */
  subscribers: Map<string, number>;
}

const g = globalThis as unknown as { __airlockBus?: Bus };
function bus(): Bus {
  if (!g.__airlockBus) {
    const emitter = new EventEmitter();
    emitter.setMaxListeners(0);
    g.__airlockBus = { emitter, subscribers: new Map() };
  }
  return g.__airlockBus;
}

type Tx = Pick<Db, "insert">;

/** Inserts an event; call `announce` after the surrounding transaction commits. */
export function insertRunEvent(tx: Tx, runId: string, type: RunEventType, payload: Record<string, unknown>): RunEvent {
  return tx.insert(runEvents).values({ runId, type, payload, at: new Date() }).returning().get();
}

export function announce(event: RunEvent): void {
  bus().emitter.emit(`run:${event.runId}`, event);
  bus().emitter.emit("run:*", event);
}

/** Persist and publish in one go (for events that are not part of a larger transaction). */
export function publishRunEvent(db: Db, runId: string, type: RunEventType, payload: Record<string, unknown>): RunEvent {
  const event = insertRunEvent(db, runId, type, payload);
  announce(event);
  return event;
}

/** Signals that are not run events (approval list changed, etc.). */
export function emitSignal(name: string, payload: unknown): void {
  bus().emitter.emit(name, payload);
}

export function onSignal(name: string, listener: (payload: unknown) => void): () => void {
  bus().emitter.on(name, listener);
  return () => bus().emitter.off(name, listener);
}

/**
 * A live feed of one signal: "ready" once it listens, then "changed" after
 * any number of `name` signals (a burst while the reader is busy is one
 * "changed"; the reader reads the current state itself), until `signal` aborts.
 */
export async function* streamSignal(name: string, signal: AbortSignal): AsyncGenerator<"ready" | "changed"> {
  let pending = false;
  let wake: (() => void) | null = null;
  const onEvent = () => {
    pending = true;
    wake?.();
  };
  const onAbort = () => wake?.();
  bus().emitter.on(name, onEvent);
  signal.addEventListener("abort", onAbort);
  try {
    yield "ready";
    while (!signal.aborted) {
      if (pending) {
        pending = false;
        yield "changed";
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (pending || signal.aborted) resolve();
      });
      wake = null;
    }
  } finally {
    bus().emitter.off(name, onEvent);
    signal.removeEventListener("abort", onAbort);
  }
}

export function listRunEvents(db: Db, runId: string, afterId = 0, limit = 5000): RunEvent[] {
  return db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, runId), gt(runEvents.id, afterId)))
    .orderBy(asc(runEvents.id))
    .limit(limit)
    .all();
}

/**
 * Takes one of the run's `max` live-viewer places: a release function, or
 * null when all are taken. Each viewer holds an HTTP connection and re-reads
 * the run's events on every new one, so an unbounded number of them (a
 * script reconnecting in a loop, many open tabs) would starve the server.
 */
export function holdSubscriberPlace(runId: string, max: number): (() => void) | null {
  const places = bus().subscribers;
  const held = places.get(runId) ?? 0;
  if (held >= max) return null;
  places.set(runId, held + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (places.get(runId) ?? 1) - 1;
    if (left > 0) places.set(runId, left);
    else places.delete(runId);
  };
}

/** Events a live viewer's stream reads from the database at a time (it reads page after page until it has them all). */
export const STREAM_PAGE_EVENTS = 1000;

/**
 * Every event of a run after `afterId`: subscribes first, then reads from the
 * database (the source of truth) whenever the bus says something new arrived,
 * so events are never duplicated, skipped or reordered across reconnects.
 */
export async function* streamRunEvents(db: Db, runId: string, afterId: number, signal?: AbortSignal): AsyncGenerator<RunEvent> {
  let pending = true; // read once at start
  let wake: (() => void) | null = null;
  const onEvent = () => {
    pending = true;
    wake?.();
  };
  const onAbort = () => wake?.();
  bus().emitter.on(`run:${runId}`, onEvent);
  signal?.addEventListener("abort", onAbort);
  try {
    let last = afterId;
    while (!signal?.aborted) {
      if (pending) {
        pending = false;
        for (;;) {
          const page = listRunEvents(db, runId, last, STREAM_PAGE_EVENTS);
          for (const e of page) {
            last = e.id;
            yield e;
          }
          if (page.length < STREAM_PAGE_EVENTS) break;
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (pending || signal?.aborted) resolve();
      });
      wake = null;
    }
  } finally {
    bus().emitter.off(`run:${runId}`, onEvent);
    signal?.removeEventListener("abort", onAbort);
  }
}
