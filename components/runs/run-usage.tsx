"use client";
// Live resource use of a running sandbox against the run's limits: memory,
// CPU, processes and the workspace's size against its quota, sampled every few seconds. A bar turns amber past 70 %
// and red past 90 % of its limit, so a reviewer sees a run heading for its
// memory limit (an OOM kill) before it happens.
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { cn } from "@/lib/cn";
import { useTRPC } from "@/lib/trpc/client";

type Usage = inferRouterOutputs<AppRouter>["runs"]["usage"]["items"][number];

const POLL_MS = 5000;

function mb(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)}`;
}

function tone(fraction: number) {
  return fraction > 0.9 ? "bg-danger" : fraction > 0.7 ? "bg-warning" : "bg-accent";
}

function Meter({ label, value, max, fraction }: { label: string; value: string; max: string; fraction: number }) {
  const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  return (
    <div className="min-w-0 rounded-xl border border-border bg-surface px-2 py-2">
      <dt className="text-[11px] font-medium tracking-wide text-fg-muted uppercase">{label}</dt>
      <dd className="mt-0.5 text-sm font-semibold tabular-nums">
        {value}
        <span className="ml-1 text-xs font-normal text-fg-muted">/ {max}</span>
        <div
          className="mt-1 h-1.5 overflow-hidden rounded-full bg-surface-muted"
          role="meter"
          aria-label={label}
          aria-valuenow={pct}
          aria-valuemin={0}
          aria-valuemax={100}
        >
          <div className={cn("h-full rounded-full", tone(fraction))} style={{ width: `${pct}%` }} />
        </div>
      </dd>
    </div>
  );
}

export function useRunsUsage(ids: string[] | undefined, enabled = true) {
  const trpc = useTRPC();
  return useQuery({
    ...trpc.runs.usage.queryOptions(ids ? { ids } : undefined),
    enabled: enabled && (ids === undefined || ids.length > 0),
    refetchInterval: POLL_MS,
  });
}

/** The run page's meters (only while the run has a running sandbox). */
export function RunUsageMeters({ runId }: { runId: string }) {
  const usage = useRunsUsage([runId]);
  const u = usage.data?.items.find((x) => x.runId === runId);
  if (!u) return null;
  return (
    <dl className="grid grid-cols-2 gap-2 text-center sm:max-w-2xl sm:grid-cols-4" aria-label="Sandbox resources" data-testid="run-usage">
      <Meter label="Memory (MB)" value={mb(u.memoryBytes)} max={mb(u.memoryLimitBytes)} fraction={u.memoryBytes / u.memoryLimitBytes} />
      <Meter label="CPU" value={`${Math.round(u.cpuPercent)}%`} max={`${u.cpuLimit * 100}%`} fraction={u.cpuPercent / (u.cpuLimit * 100)} />
      <Meter label="Processes" value={String(u.pids)} max={String(u.pidsLimit)} fraction={u.pids / u.pidsLimit} />
      {u.workspaceBytes !== null && (
        <Meter label="Workspace (MB)" value={mb(u.workspaceBytes)} max={mb(u.workspaceQuotaBytes)} fraction={u.workspaceBytes / u.workspaceQuotaBytes} />
      )}
    </dl>
  );
}

/** One line for a runs-list row: "85 MB · 12 % CPU". */
export function UsageSummary({ usage }: { usage: Usage | undefined }) {
  if (!usage) return <span className="text-fg-muted">—</span>;
  const memFraction = usage.memoryBytes / usage.memoryLimitBytes;
  return (
    <span
      className="tabular-nums"
      title={`${mb(usage.memoryBytes)} of ${mb(usage.memoryLimitBytes)} MB memory, ${usage.cpuPercent}% CPU (limit ${usage.cpuLimit * 100}%), ${usage.pids} of ${usage.pidsLimit} processes`}
    >
      <span className={cn(memFraction > 0.9 ? "font-semibold text-danger" : memFraction > 0.7 ? "font-semibold text-warning" : undefined)}>
        {mb(usage.memoryBytes)} MB
      </span>
      <span className="text-fg-muted"> · </span>
      {Math.round(usage.cpuPercent)}% CPU
    </span>
  );
}

function MiniBar({ label, fraction, text }: { label: string; fraction: number; text: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  return (
    <span className="flex items-center gap-1" title={`${label}: ${text}`}>
      <span className="w-7 text-[10px] font-medium tracking-wide text-fg-muted uppercase">{label}</span>
      <span
        className="h-1.5 w-10 overflow-hidden rounded-full bg-surface-muted"
        role="meter"
        aria-label={`${label} ${text}`}
        aria-valuenow={pct}
        aria-valuemin={0}
        aria-valuemax={100}
      >
        <span className={cn("block h-full rounded-full", tone(fraction))} style={{ width: `${pct}%` }} />
      </span>
    </span>
  );
}

/** The fleet view's resources cell: "85 MB · 12% CPU" and bars for memory, CPU and processes against the run's caps. */
export function UsageBars({ usage }: { usage: Usage | undefined }) {
  if (!usage) return <span className="text-fg-muted max-md:hidden">—</span>;
  const cpuCap = usage.cpuLimit * 100;
  return (
    <span className="flex flex-col gap-0.5">
      <UsageSummary usage={usage} />
      {/* The bars need room: the phone row keeps the one-line summary. */}
      <span className="flex flex-wrap gap-x-2 gap-y-0.5 max-md:hidden">
        <MiniBar label="Mem" fraction={usage.memoryBytes / usage.memoryLimitBytes} text={`${mb(usage.memoryBytes)} of ${mb(usage.memoryLimitBytes)} MB`} />
        <MiniBar label="CPU" fraction={usage.cpuPercent / cpuCap} text={`${Math.round(usage.cpuPercent)}% of ${cpuCap}%`} />
        <MiniBar label="Pids" fraction={usage.pids / usage.pidsLimit} text={`${usage.pids} of ${usage.pidsLimit}`} />
      </span>
    </span>
  );
}
