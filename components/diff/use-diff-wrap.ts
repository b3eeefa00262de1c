"use client";
// Whether diffs wrap long lines or scroll sideways inside the diff: a choice
// remembered in this browser (localStorage); until made, phones wrap and wide
// screens scroll.
import { useCallback, useSyncExternalStore } from "react";

export const DIFF_WRAP_STORAGE_KEY = "airlock:diff-wrap";
const listeners = new Set<() => void>();

function read(): "wrap" | "scroll" | null {
  try {
    const v = window.localStorage.getItem(DIFF_WRAP_STORAGE_KEY);
    return v === "wrap" || v === "scroll" ? v : null;
  } catch {
    return null;
  }
}

function subscribe(onChange: () => void) {
  listeners.add(onChange);
  window.addEventListener("storage", onChange);
  return () => {
    listeners.delete(onChange);
    window.removeEventListener("storage", onChange);
  };
}

export function useDiffWrap(defaultWrap: boolean): [boolean, (wrap: boolean) => void] {
  const stored = useSyncExternalStore(subscribe, read, () => null);
  const setWrap = useCallback((wrap: boolean) => {
    try {
      window.localStorage.setItem(DIFF_WRAP_STORAGE_KEY, wrap ? "wrap" : "scroll");
    } catch {
      // Private mode without storage: the choice lasts only while listeners hear it.
    }
    for (const l of listeners) l();
  }, []);
  return [stored === null ? defaultWrap : stored === "wrap", setWrap];
}
