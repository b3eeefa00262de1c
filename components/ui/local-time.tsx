"use client";
// A date shown in the viewer's time zone (with the zone named) or in UTC.
// The server does not know the viewer's zone, so the server and the first
// client render show the same zone-free UTC text and the browser formats the
// date after hydration; this keeps React's hydration check (#418) quiet.
import { useSyncExternalStore } from "react";
import { formatDate, formatDateTime, formatRelative, formatTime, formatUtcStable } from "@/lib/format";
import { useNow } from "@/components/ui/use-now";

export type LocalTimeFormat = "datetime" | "date" | "time" | "relative";

const subscribeNever = () => () => {};

/** False on the server and during hydration, true once the page runs in the browser. */
export function useMounted(): boolean {
  return useSyncExternalStore(
    subscribeNever,
    () => true,
    () => false,
  );
}

export function LocalTime({
  date,
  format = "datetime",
  utc = false,
  now,
  className,
}: {
  date: Date;
  format?: LocalTimeFormat;
  utc?: boolean;
  /** For relative times: the caller's clock (else one that ticks every 30 s). */
  now?: number | null;
  className?: string;
}) {
  const mounted = useMounted();
  const clock = useNow(30_000);
  const iso = date.toISOString();
  if (!mounted) {
    return (
      <time dateTime={iso} className={className}>
        {formatUtcStable(date)}
      </time>
    );
  }
  const full = formatDateTime(date, { utc });
  const text =
    format === "datetime"
      ? full
      : format === "date"
        ? formatDate(date, { utc })
        : format === "time"
          ? formatTime(date, { utc })
          : formatRelative(date, now ?? clock ?? undefined);
  return (
    <time dateTime={iso} title={full} className={className} data-local-time="">
      {text}
    </time>
  );
}
