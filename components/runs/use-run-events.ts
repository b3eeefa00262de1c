"use client";
// Subscribes to a run's live events (runs.events over SSE; the link resumes
// with lastEventId after a reconnect) and folds them into a RunTimeline.
// Events are batched per animation frame so a burst of output renders once.
import { useSubscription } from "@trpc/tanstack-react-query";
import { useEffect, useState, useSyncExternalStore } from "react";
import { useTRPC } from "@/lib/trpc/client";
import { RunTimeline, type RunEventLike, type TimelineSnapshot } from "@/components/runs/timeline";

class RunEventStore {
  private readonly timeline = new RunTimeline();
  private readonly listeners = new Set<() => void>();
  private queue: RunEventLike[] = [];
  private scheduled = false;
  private onBatch: ((types: Set<string>) => void) | null = null;

  /** Called with the event types of each applied batch (to refresh the header and approvals). */
  setOnBatch(fn: ((types: Set<string>) => void) | null) {
    this.onBatch = fn;
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): TimelineSnapshot => this.timeline.getSnapshot();

  push(event: RunEventLike) {
    this.queue.push(event);
    if (this.scheduled) return;
    this.scheduled = true;
    // rAF pauses in background tabs; a timeout keeps the queue from growing there.
    const flush = () => this.flush();
    if (typeof document !== "undefined" && document.visibilityState === "visible") requestAnimationFrame(flush);
    else setTimeout(flush, 250);
  }

  private flush() {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (!this.timeline.apply(batch)) return;
    for (const l of this.listeners) l();
    this.onBatch?.(new Set(batch.map((e) => e.type)));
  }
}

const EMPTY: TimelineSnapshot = { items: [], streaming: "", lastEventId: 0, eventCount: 0 };

export function useRunEvents(runId: string, onBatch: (types: Set<string>) => void) {
  const trpc = useTRPC();
  const [store] = useState(() => new RunEventStore());
  useEffect(() => {
    store.setOnBatch(onBatch);
    return () => store.setOnBatch(null);
  }, [store, onBatch]);
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY);
  const subscription = useSubscription(
    trpc.runs.events.subscriptionOptions(
      { id: runId },
      {
        onData: (envelope) => {
          const event = envelope.data;
          store.push({ id: event.id, type: event.type, payload: event.payload, at: new Date(event.at) });
        },
      },
    ),
  );
  return { snapshot, status: subscription.status, error: subscription.error };
}
