"use client";
// Search hits link to a place in a run (#event-N, #checkpoint-N). The run's
// activity is rendered on the client after its events load, so the browser's
// own jump to the fragment finds nothing yet: this waits (briefly) for the
// element to appear, then scrolls to it and outlines it.
import { useEffect } from "react";

const WAIT_MS = 15_000;

export function ScrollToHash() {
  useEffect(() => {
    let observer: MutationObserver | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const stop = () => {
      observer?.disconnect();
      observer = null;
      if (timer) clearTimeout(timer);
    };
    const seek = () => {
      stop();
      const id = decodeURIComponent(window.location.hash.slice(1));
      if (!/^(event|checkpoint)-\d+$/.test(id)) return;
      const found = () => {
        const el = document.getElementById(id);
        if (!el) return false;
        stop();
        el.setAttribute("data-search-target", "true");
        // scroll-mt: below the sticky header.
        el.classList.add("scroll-mt-20", "rounded-xl", "outline-2", "outline-offset-2", "outline-accent");
        el.scrollIntoView({ block: "start" });
        return true;
      };
      if (found()) return;
      observer = new MutationObserver(() => void found());
      observer.observe(document.body, { childList: true, subtree: true });
      timer = setTimeout(stop, WAIT_MS);
    };
    seek();
    window.addEventListener("hashchange", seek);
    return () => {
      stop();
      window.removeEventListener("hashchange", seek);
    };
  }, []);
  return null;
}
