"use client";
// Whether a CSS media query matches, kept in sync with the window; `false`
// on the server and during hydration.
import { useSyncExternalStore } from "react";

export function useMediaQuery(query: string): boolean {
  return useSyncExternalStore(
    (onChange) => {
      const media = window.matchMedia(query);
      media.addEventListener("change", onChange);
      return () => media.removeEventListener("change", onChange);
    },
    () => window.matchMedia(query).matches,
    () => false,
  );
}

/** The md breakpoint (768 px) that the layout switches at. */
export function useIsWide(): boolean {
  return useMediaQuery("(min-width: 768px)");
}
