// Small charts drawn as plain SVG (no chart library). Each is an image with an
// accessible name that states its figures; callers also print the figures as
// text next to it, so nothing is only in the drawing.
import { cn } from "@/lib/cn";

const W = 300;
const H = 64;
const PAD = 2;

/** A line over time with an optional cap drawn as a dashed line; `capHit` colours the line. */
export function LineChart({
  label,
  points,
  cap,
  capHit = false,
  className,
  series,
}: {
  /** The accessible name: what the chart shows and its figures in words. */
  label: string;
  points: [number, number][];
  cap?: number | null;
  capHit?: boolean;
  className?: string;
  /** Extra lines on the same axes (e.g. p95 beside p50), each with a Tailwind text colour class. */
  series?: { points: [number, number][]; className: string }[];
}) {
  const all = [points, ...(series ?? []).map((s) => s.points)].flat();
  if (all.length === 0) return null;
  const xs = all.map((p) => p[0]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const yMax = Math.max(1, cap ?? 0, ...all.map((p) => p[1])) * 1.05;
  const sx = (x: number) => (x1 === x0 ? W / 2 : PAD + ((x - x0) / (x1 - x0)) * (W - 2 * PAD));
  const sy = (y: number) => H - PAD - (y / yMax) * (H - 2 * PAD);
  const path = (ps: [number, number][]) =>
    ps.length === 1 ? `M${sx(ps[0]![0]) - 3},${sy(ps[0]![1])}h6` : ps.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
  return (
    <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label} className={cn("h-16 w-full overflow-visible", className)}>
      <title>{label}</title>
      <line x1={0} x2={W} y1={H - PAD} y2={H - PAD} className="stroke-border" strokeWidth={1} vectorEffect="non-scaling-stroke" />
      {cap ? (
        <line
          x1={0}
          x2={W}
          y1={sy(cap)}
          y2={sy(cap)}
          className="stroke-danger"
          strokeWidth={1}
          strokeDasharray="4 3"
          vectorEffect="non-scaling-stroke"
          data-testid="chart-cap"
        />
      ) : null}
      {points.length ? (
        <path d={path(points)} fill="none" className={capHit ? "stroke-danger" : "stroke-accent"} strokeWidth={1.8} vectorEffect="non-scaling-stroke" />
      ) : null}
      {(series ?? []).map((s, i) =>
        s.points.length ? (
          <path key={i} d={path(s.points)} fill="none" className={cn("stroke-current", s.className)} strokeWidth={1.8} vectorEffect="non-scaling-stroke" />
        ) : null,
      )}
    </svg>
  );
}

export interface StackPart {
  key: string;
  label: string;
  /** A Tailwind fill class for the bar (fill-success, fill-danger …). */
  fill: string;
}

/** Columns over time, each stacked from parts (runs by outcome per day, red-team outcomes per report). */
export function StackedColumns({ label, columns, parts }: { label: string; columns: { key: string; values: Record<string, number> }[]; parts: StackPart[] }) {
  if (columns.length === 0) return null;
  const max = Math.max(1, ...columns.map((c) => parts.reduce((n, p) => n + (c.values[p.key] ?? 0), 0)));
  const slot = W / columns.length;
  const bar = Math.max(1, slot * 0.7);
  return (
    <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label} className="h-20 w-full">
      <title>{label}</title>
      <line x1={0} x2={W} y1={H - 0.5} y2={H - 0.5} className="stroke-border" strokeWidth={1} vectorEffect="non-scaling-stroke" />
      {columns.map((c, i) => {
        let y = H;
        return (
          <g key={c.key}>
            {parts.map((p) => {
              const v = c.values[p.key] ?? 0;
              if (!v) return null;
              const h = (v / max) * (H - 2);
              y -= h;
              return <rect key={p.key} x={i * slot + (slot - bar) / 2} y={y} width={bar} height={h} className={p.fill} />;
            })}
          </g>
        );
      })}
    </svg>
  );
}

/** The key to a chart's colours, as text. */
export function Legend({ parts }: { parts: StackPart[] }) {
  return (
    <ul className="mt-1 flex flex-wrap gap-x-3 gap-y-1 text-xs text-fg-muted">
      {parts.map((p) => (
        <li key={p.key} className="inline-flex items-center gap-1">
          <svg width="10" height="10" aria-hidden="true" focusable="false">
            <rect width="10" height="10" rx="2" className={p.fill} />
          </svg>
          {p.label}
        </li>
      ))}
    </ul>
  );
}

/** Horizontal bars with their figures as text (deny rate by rule, tokens by model): readable at 375 px. */
export function BarList({ label, rows }: { label: string; rows: { key: string; name: string; fraction: number; figure: string; fill?: string }[] }) {
  return (
    <ul aria-label={label} className="space-y-2">
      {rows.map((r) => (
        <li key={r.key} className="min-w-0">
          <div className="flex items-baseline justify-between gap-2 text-sm">
            <span className="min-w-0 truncate font-medium" title={r.name}>
              {r.name}
            </span>
            <span className="shrink-0 text-xs text-fg-muted tabular-nums">{r.figure}</span>
          </div>
          <svg viewBox="0 0 100 4" preserveAspectRatio="none" className="mt-1 h-1.5 w-full" aria-hidden="true" focusable="false">
            <rect width="100" height="4" rx="2" className="fill-surface-muted" />
            <rect width={Math.max(0, Math.min(1, r.fraction)) * 100} height="4" rx="2" className={r.fill ?? "fill-accent"} />
          </svg>
        </li>
      ))}
    </ul>
  );
}
