// Dates and numbers as people read them, in the browser's locale and time zone
// (with the zone shown), or in UTC on request. Only call these in the browser:
// components show dates through <LocalTime>, which renders them after mount so
// the server's zone never reaches the page (a mismatch breaks hydration, #418).
const DATE_PARTS = { year: "numeric", month: "short", day: "numeric" } as const;
const TIME_PARTS = { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" } as const;
const formatters = new Map<string, Intl.DateTimeFormat>();
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export interface ZoneOptions {
  /** Format in UTC instead of the viewer's zone. */
  utc?: boolean;
}

function formatter(kind: "datetime" | "date" | "time", utc: boolean): Intl.DateTimeFormat {
  const key = `${kind}:${utc}`;
  let f = formatters.get(key);
  if (!f) {
    const parts = kind === "datetime" ? { ...DATE_PARTS, ...TIME_PARTS } : kind === "date" ? DATE_PARTS : TIME_PARTS;
    f = new Intl.DateTimeFormat(undefined, { ...parts, ...(utc ? { timeZone: "UTC" } : {}) });
    formatters.set(key, f);
  }
  return f;
}

/** "Dec 4, 2026, 14:03:05 CET". */
export function formatDateTime(d: Date, opts: ZoneOptions = {}): string {
  return formatter("datetime", Boolean(opts.utc)).format(d);
}

/** "Dec 4, 2026" (a calendar day in the viewer's zone). */
export function formatDate(d: Date, opts: ZoneOptions = {}): string {
  return formatter("date", Boolean(opts.utc)).format(d);
}

/** "14:03:05 CET". */
export function formatTime(d: Date, opts: ZoneOptions = {}): string {
  return formatter("time", Boolean(opts.utc)).format(d);
}

/** The same text on server and client (no locale, no zone): what <LocalTime> shows until the browser formats it. */
export function formatUtcStable(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

const STEPS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ["second", 60],
  ["minute", 60],
  ["hour", 24],
  ["day", 30],
  ["month", 12],
  ["year", Infinity],
];

/** "3 minutes ago", "in 2 days". */
export function formatRelative(d: Date, now = Date.now()): string {
  let value = (d.getTime() - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
    value /= size;
  }
  return formatDate(d);
}

/** A Date as the value of an <input type="datetime-local"> (local time, minutes). */
export function toDateTimeLocal(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Parses an ISO string from the URL; null when missing or not a date. */
export function parseIsoDate(value: string | null | undefined): Date | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Sizes for people: 512 B, 3.4 KB, 12.0 MB (powers of 1024). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
