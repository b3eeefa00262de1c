"use client";
// Desktop keyboard shortcuts for deciding a queue of requests: j / k move
// between the pending requests you may decide, a approves the focused one,
// d opens its deny form, ? shows the list. Never while typing in a field or
// with a dialog open. The keys press the card's own buttons, so a high-risk
// request still asks for its second confirmation.
import { useCallback, useEffect, useState } from "react";
import { cn } from "@/lib/cn";

const CARD = '[data-testid="approval-card"][data-decidable="true"]';

function decidableCards(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>(CARD)];
}

function typingIn(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/** Moves focus to the request after `card` (or before it, when it was the last): what comes next once `card` is decided. */
export function focusNextDecidable(card: HTMLElement | null) {
  if (!card) return;
  const cards = decidableCards();
  const i = cards.indexOf(card);
  const next = i === -1 ? undefined : (cards[i + 1] ?? cards[i - 1]);
  next?.focus();
}

export function useApprovalShortcuts(onHelp: () => void) {
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target)) return;
      if (document.querySelector("dialog[open]")) return;
      if (e.key === "?") {
        e.preventDefault();
        onHelp();
        return;
      }
      if (!["j", "k", "a", "d"].includes(e.key)) return;
      const cards = decidableCards();
      if (cards.length === 0) return;
      const current = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>(CARD) ?? null;
      const i = current ? cards.indexOf(current) : -1;
      if (e.key === "j" || e.key === "k") {
        e.preventDefault();
        const next = i === -1 ? cards[0] : cards[Math.min(cards.length - 1, Math.max(0, i + (e.key === "j" ? 1 : -1)))];
        next?.focus();
        next?.scrollIntoView({ block: "nearest" });
        return;
      }
      if (!current) return;
      const button = current.querySelector<HTMLButtonElement>(`[data-action="${e.key === "a" ? "approve" : "deny"}"]`);
      if (button && !button.disabled) {
        e.preventDefault();
        button.click();
      }
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onHelp]);
}

const KEYS: [string, string][] = [
  ["j", "next request"],
  ["k", "previous request"],
  ["a", "approve the focused request"],
  ["d", "deny the focused request"],
  ["?", "show or hide this list"],
];

/** The shortcuts, and a small "?" button that lists them (wide screens only: phones have no keyboard). */
export function ApprovalShortcuts({ className }: { className?: string }) {
  const [open, setOpen] = useState(false);
  const toggle = useCallback(() => setOpen((o) => !o), []);
  useApprovalShortcuts(toggle);
  return (
    <div className={cn("relative max-md:hidden", className)}>
      <button
        type="button"
        aria-expanded={open}
        aria-controls="approval-shortcuts"
        onClick={toggle}
        className="inline-flex h-7 min-w-7 items-center justify-center rounded-md border border-border-strong bg-surface px-2 text-xs font-medium text-fg-muted hover:bg-surface-muted hover:text-fg"
      >
        <span aria-hidden="true">?</span>
        <span className="sr-only">Keyboard shortcuts</span>
      </button>
      {open ? (
        <div
          id="approval-shortcuts"
          role="region"
          aria-label="Keyboard shortcuts"
          className="absolute right-0 z-20 mt-1 w-64 rounded-lg border border-border bg-surface p-3 text-sm shadow-lg"
        >
          <ul className="space-y-1">
            {KEYS.map(([k, what]) => (
              <li key={k} className="flex items-center gap-2">
                <kbd className="inline-grid min-w-6 place-items-center rounded border border-border-strong bg-surface-muted px-1 font-mono text-xs">{k}</kbd>
                <span>{what}</span>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
