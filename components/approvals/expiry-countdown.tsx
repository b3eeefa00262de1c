"use client";
// Time left before a request expires; urgent (red) under five minutes.
import { cn } from "@/lib/cn";
import { formatDateTime } from "@/lib/format";
import { useNow } from "@/components/ui/use-now";

export const URGENT_MS = 5 * 60_000;

function formatLeft(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < URGENT_MS / 1000) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function ExpiryCountdown({ expiresAt, className }: { expiresAt: Date; className?: string }) {
  const now = useNow(1000);
  if (now === null) return null;
  const left = expiresAt.getTime() - now;
  const urgent = left < URGENT_MS;
  return (
    <span
      role="timer"
      aria-live="off"
      data-urgent={urgent || undefined}
      title={`Expires ${formatDateTime(expiresAt)}`}
      className={cn(
        "inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap tabular-nums ring-1 ring-inset",
        left <= 0
          ? "bg-surface-muted text-fg-muted ring-border"
          : urgent
            ? "bg-danger text-white ring-danger dark:text-bg"
            : "bg-surface-muted text-fg-muted ring-border",
        className,
      )}
    >
      <svg width="12" height="12" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true">
        <circle cx="12" cy="13" r="8" />
        <path d="M12 9v4l2 2M9 2h6" />
      </svg>
      {left <= 0 ? "Expired" : `Expires in ${formatLeft(left)}`}
    </span>
  );
}
