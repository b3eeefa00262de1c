"use client";
// On phones the bottom tab bar covers the lower part of the screen, where the
// on-screen keyboard pushes the deny form's buttons; while focus is inside the
// form the shell hides it (app-shell.tsx reads html[data-hide-tab-bar]).
import { useCallback, useEffect, useRef, type FocusEvent } from "react";

const ATTR = "data-hide-tab-bar";

export function useHideTabBarWhileFocused() {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
      document.documentElement.removeAttribute(ATTR);
    },
    [],
  );
  const onFocus = useCallback(() => {
    if (timer.current) clearTimeout(timer.current);
    document.documentElement.setAttribute(ATTR, "");
  }, []);
  const onBlur = useCallback((e: FocusEvent<HTMLElement>) => {
    const form = e.currentTarget;
    if (e.relatedTarget instanceof Node && form.contains(e.relatedTarget)) return;
    // A tap on the form's own buttons may blur first and focus later: show the bar again only if focus really left.
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      if (!form.isConnected || !form.contains(document.activeElement)) document.documentElement.removeAttribute(ATTR);
    }, 250);
  }, []);
  return { onFocus, onBlur };
}
