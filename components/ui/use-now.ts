"use client";
// The current time for countdowns and live durations, re-rendering every
// `intervalMs`. One shared timer per interval for the whole page; null on the
// server (and during hydration) so server and client markup agree.
import { useCallback, useSyncExternalStore } from "react";

interface Clock {
  now: number;
  listeners: Set<() => void>;
  timer: ReturnType<typeof setInterval> | null;
}

const clocks = new Map<number, Clock>();

function clockFor(intervalMs: number): Clock {
  let clock = clocks.get(intervalMs);
  if (!clock) {
    clock = { now: Date.now(), listeners: new Set(), timer: null };
    clocks.set(intervalMs, clock);
  }
  return clock;
}

function subscribeClock(intervalMs: number, onChange: () => void): () => void {
  const clock = clockFor(intervalMs);
  clock.listeners.add(onChange);
  if (!clock.timer) {
    clock.now = Date.now();
    clock.timer = setInterval(() => {
      clock.now = Date.now();
      for (const l of clock.listeners) l();
    }, intervalMs);
  }
  return () => {
    clock.listeners.delete(onChange);
    if (clock.listeners.size === 0 && clock.timer) {
      clearInterval(clock.timer);
      clock.timer = null;
    }
  };
}

function readClock(intervalMs: number): number {
  return clockFor(intervalMs).now;
}

const onServer = () => null;

export function useNow(intervalMs = 1000): number | null {
  const subscribe = useCallback((onChange: () => void) => subscribeClock(intervalMs, onChange), [intervalMs]);
  const read = useCallback(() => readClock(intervalMs), [intervalMs]);
  return useSyncExternalStore(subscribe, read, onServer);
}
