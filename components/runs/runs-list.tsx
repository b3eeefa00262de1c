"use client";
// The runs list: newest first, filterable by state (in the URL), refreshed
// every few seconds while open. A table on wide screens, cards on phones.
import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Button, buttonClasses } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { SelectField } from "@/components/ui/field";
import { RunsIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/page-header";
import { rt } from "@/components/ui/responsive-table";
import { SkeletonRows } from "@/components/ui/skeleton";
import { Spinner } from "@/components/ui/spinner";
import { useNow } from "@/components/ui/use-now";
import { cn } from "@/lib/cn";
import { UsageSummary, useRunsUsage } from "@/components/runs/run-usage";
import { errorMessage } from "@/lib/errors";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { atLeast } from "@/lib/permissions";
import { formatCount, formatDuration, shortId } from "@/components/runs/format";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { RUN_STATE_META, RUN_STATE_OPTIONS, stateMeta } from "@/components/runs/run-state";
import { StopAllRunsButton } from "@/components/runs/stop-run";
import type { RunState } from "@/db/schema";
import { LocalTime } from "@/components/ui/local-time";

type RunItem = inferRouterOutputs<AppRouter>["runs"]["list"]["items"][number];

const PAGE_SIZE = 50;

function parseState(value: string | null): RunState | undefined {
  return RUN_STATE_OPTIONS.includes(value as RunState) ? (value as RunState) : undefined;
}

export function RunsList({ user }: { user: SessionUser }) {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const state = parseState(searchParams.get("state"));
  const [stoppedMessage, setStoppedMessage] = useState<string | null>(null);

  const runs = useInfiniteQuery(
    trpc.runs.list.infiniteQueryOptions(
      { limit: PAGE_SIZE, ...(state ? { state } : {}) },
      { getNextPageParam: (last) => last.nextCursor ?? undefined, refetchInterval: 5000 },
    ),
  );
  const items = waitingFirst(runs.data?.pages.flatMap((p) => p.items) ?? []);

  function setStateFilter(next: string) {
    const params = new URLSearchParams(searchParams.toString());
    if (next) params.set("state", next);
    else params.delete("state");
    const qs = params.toString();
    router.push(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  }

  const canStart = atLeast(user.role, "operator");
  const isAdmin = atLeast(user.role, "admin");

  return (
    <>
      <PageHeader
        title="Runs"
        description="Agents working on tasks inside sealed containers, with their plans, diffs and live logs."
        actions={
          <>
            {isAdmin ? (
              <StopAllRunsButton
                onStopped={(n) => setStoppedMessage(n === 0 ? "No run was active; nothing to stop." : `Stopped ${n} run${n === 1 ? "" : "s"}.`)}
              />
            ) : null}
            {canStart ? (
              <Link href="/runs/new" className={buttonClasses("primary")}>
                <span aria-hidden="true" className="text-lg leading-none">
                  +
                </span>
                New run
              </Link>
            ) : null}
          </>
        }
      />

      {stoppedMessage ? (
        <InlineAlert tone="success" className="mb-4">
          {stoppedMessage}
        </InlineAlert>
      ) : null}

      <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
        <SelectField label="State" fieldClassName="w-full sm:w-64" value={state ?? ""} onChange={(e) => setStateFilter(e.target.value)}>
          <option value="">All states</option>
          {RUN_STATE_OPTIONS.map((s) => (
            <option key={s} value={s}>
              {RUN_STATE_META[s].label}
            </option>
          ))}
        </SelectField>
        <p className="text-xs text-fg-muted" aria-live="polite">
          {runs.isFetching && !runs.isPending ? <Spinner className="mr-1.5 align-middle" /> : null}
          Updates every few seconds
        </p>
      </div>

      {runs.isPending ? (
        <SkeletonRows rows={5} label="Loading runs…" />
      ) : !runs.data ? (
        <InlineAlert title="The runs could not be loaded">
          <p>{errorMessage(runs.error)}</p>
          <Button variant="secondary" size="sm" className="mt-2" onClick={() => runs.refetch()}>
            Try again
          </Button>
        </InlineAlert>
      ) : items.length === 0 ? (
        <EmptyState
          icon={<RunsIcon size={26} />}
          title={state ? `No ${stateMeta(state).label.toLowerCase()} runs` : "No runs yet"}
          actions={
            state ? (
              <Link href={pathname} className={buttonClasses("secondary")}>
                Show all runs
              </Link>
            ) : canStart ? (
              <Link href="/runs/new" className={buttonClasses("primary")}>
                Start the first run
              </Link>
            ) : null
          }
        >
          {state ? (
            <p>Nothing is in this state right now.</p>
          ) : canStart ? (
            <p>Give an agent a task and a model endpoint; it plans first, and a reviewer approves the plan before it changes anything.</p>
          ) : (
            <p>Operators start runs; they will show up here with their state, plan and every tool call.</p>
          )}
        </EmptyState>
      ) : (
        <>
          <RunsTable items={items} />
          <div className="mt-4 flex flex-col items-center gap-2 text-sm text-fg-muted">
            <p>
              {items.length} run{items.length === 1 ? "" : "s"} shown{runs.hasNextPage ? "" : " · no older runs"}
            </p>
            {runs.hasNextPage ? (
              <Button variant="secondary" onClick={() => runs.fetchNextPage()} loading={runs.isFetchingNextPage}>
                Load more
              </Button>
            ) : null}
            {runs.error ? <InlineAlert>{errorMessage(runs.error)}</InlineAlert> : null}
          </div>
        </>
      )}
    </>
  );
}

/** Runs that wait for a person (a pending request or a waiting state) first; otherwise newest first, as the server sent them. */
function waitingFirst(items: RunItem[]): RunItem[] {
  const waits = (r: RunItem) => r.pendingApprovals > 0 || Boolean(stateMeta(r.state).waiting);
  return [...items.filter(waits), ...items.filter((r) => !waits(r))];
}

function RunsTable({ items }: { items: RunItem[] }) {
  const now = useNow(1000);
  const liveIds = items.filter((r) => !stateMeta(r.state).terminal).map((r) => r.id);
  const usageQuery = useRunsUsage(liveIds);
  const usage = new Map((usageQuery.data?.items ?? []).map((u) => [u.runId, u]));
  return (
    <div className={cn(rt.wrapper, "md:shadow-xs")}>
      <table className={rt.table}>
        <caption className="sr-only">Runs waiting for a decision first, then newest first</caption>
        <thead className={rt.thead}>
          <tr>
            <th scope="col" className={rt.th}>
              Run
            </th>
            <th scope="col" className={rt.th}>
              State
            </th>
            <th scope="col" className={rt.th}>
              Operator
            </th>
            <th scope="col" className={rt.th}>
              Started
            </th>
            <th scope="col" className={rt.th}>
              Duration
            </th>
            <th scope="col" className={cn(rt.th, "text-right")}>
              Tool calls
            </th>
            <th scope="col" className={rt.th}>
              Resources
            </th>
          </tr>
        </thead>
        <tbody className={rt.tbody}>
          {items.map((run) => {
            const meta = stateMeta(run.state);
            const waiting = meta.waiting || run.pendingApprovals > 0;
            const started = run.startedAt ?? run.createdAt;
            const end = run.endedAt?.getTime() ?? (meta.terminal ? run.updatedAt.getTime() : now);
            return (
              <tr
                key={run.id}
                data-testid="run-row"
                className={cn(rt.row, "md:hover:bg-surface-muted/50", waiting && "max-md:border-warning max-md:border-l-4 md:bg-warning-soft/40")}
              >
                <td className={cn(rt.bareCell, "max-md:pb-1.5", waiting && "md:border-l-4 md:border-l-warning")}>
                  <Link href={`/runs/${run.id}`} className="font-medium break-words text-fg hover:text-accent hover:underline">
                    {run.title}
                  </Link>
                  <span className="block font-mono text-[11px] text-fg-muted">{shortId(run.id)}</span>
                </td>
                <td data-label="State" className={rt.cell}>
                  <span className="flex flex-col items-end gap-1 md:items-start">
                    <RunStateBadge state={run.state} deniedCalls={run.deniedCalls} />
                    <RunDecisionCounts pending={run.pendingApprovals} denied={run.deniedCalls} succeeded={run.state === "succeeded"} />
                    {run.queuePosition ? (
                      <span className="text-xs text-fg-muted" data-testid="run-queue-position" title={run.queueReason ?? undefined}>
                        #{run.queuePosition} in queue
                      </span>
                    ) : null}
                  </span>
                </td>
                <td data-label="Operator" className={rt.cell}>
                  <span className="min-w-0 truncate text-fg" title={run.createdByEmail ?? undefined}>
                    {run.createdByEmail ?? "—"}
                  </span>
                </td>
                <td data-label="Started" className={cn(rt.cell, "md:whitespace-nowrap")}>
                  <LocalTime date={started} format="relative" now={now} />
                </td>
                <td data-label="Duration" className={cn(rt.cell, "tabular-nums md:whitespace-nowrap")}>
                  {run.startedAt && end !== null ? formatDuration(end - run.startedAt.getTime()) : <span className="text-fg-muted">—</span>}
                </td>
                <td data-label="Tool calls" className={cn(rt.cell, "tabular-nums md:text-right")}>
                  {formatCount(run.toolCallsUsed)}
                </td>
                <td data-label="Resources" className={cn(rt.cell, "md:whitespace-nowrap")} data-testid="run-resources">
                  {meta.terminal ? <span className="text-fg-muted">—</span> : <UsageSummary usage={usage.get(run.id)} />}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Pending requests and denied calls of a run, as counts (the badge already names denials on a success claim). */
function RunDecisionCounts({ pending, denied, succeeded }: { pending: number; denied: number; succeeded: boolean }) {
  const parts: { text: string; className: string; testId: string }[] = [];
  if (pending > 0) parts.push({ text: `${pending} pending`, className: "font-medium text-warning", testId: "run-pending-count" });
  if (denied > 0 && !succeeded) parts.push({ text: `${denied} denied`, className: "text-danger", testId: "run-denied-count" });
  if (parts.length === 0) return null;
  return (
    <span className="flex gap-2 text-xs">
      {parts.map((p) => (
        <span key={p.testId} className={p.className} data-testid={p.testId}>
          {p.text}
        </span>
      ))}
    </span>
  );
}
