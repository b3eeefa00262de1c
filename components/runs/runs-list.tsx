"use client";
// The fleet view (/runs). "Active": every run that has not ended, runs
// waiting for a decision first, then working runs, then queued runs by their
// place. "All": every run, filtered, searched and sorted. The view, filters,
// search and sort live in the URL so a view can be shared. Rows change live
// through one subscription (runs.changes, see use-fleet-changes.ts). Two rows
// can be picked for a side-by-side comparison.
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useState, type SelectHTMLAttributes } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { z } from "zod";
import type { listRunsInput, RunSort } from "@/server/runs/runs";
import type { RunChange } from "@/server/runs/changes";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Button, buttonClasses } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { controlClasses } from "@/components/ui/field";
import { RunsIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/page-header";
import { Segmented } from "@/components/ui/segmented";
import { SkeletonRows } from "@/components/ui/skeleton";
import { useNow } from "@/components/ui/use-now";
import { cn } from "@/lib/cn";
import { UsageBars } from "@/components/runs/run-usage";
import { errorMessage } from "@/lib/errors";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { atLeast } from "@/lib/permissions";
import { formatDuration, shortId } from "@/components/runs/format";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { RUN_STATE_META, RUN_STATE_OPTIONS, stateMeta } from "@/components/runs/run-state";
import { StopAllRunsButton } from "@/components/runs/stop-run";
import { useFleetChanges, type FleetUsage } from "@/components/runs/use-fleet-changes";
import type { RunState } from "@/db/schema";
import { LocalTime } from "@/components/ui/local-time";

type RunItem = inferRouterOutputs<AppRouter>["runs"]["list"]["items"][number];
type ListInput = z.input<typeof listRunsInput>;
type Sort = RunSort;

const PAGE_SIZE = 50;
const SORTS: { value: Sort; label: string }[] = [
  { value: "attention", label: "Waiting first" },
  { value: "newest", label: "Newest" },
  { value: "oldest", label: "Oldest" },
  { value: "longest", label: "Longest running" },
  { value: "pending", label: "Most pending" },
];

function parseState(value: string | null): RunState | undefined {
  return RUN_STATE_OPTIONS.includes(value as RunState) ? (value as RunState) : undefined;
}

/** The view as the URL states it (unknown values fall back to the defaults). */
function readView(params: URLSearchParams) {
  const view: "active" | "all" = params.get("view") === "all" || params.get("state") ? "all" : "active";
  const sort = SORTS.find((s) => s.value === params.get("sort"))?.value ?? "attention";
  return {
    view,
    state: parseState(params.get("state")),
    project: params.get("project") ?? "",
    operator: params.get("operator") ?? "",
    model: params.get("model") ?? "",
    q: params.get("q") ?? "",
    sort,
  };
}

export function RunsList({ user }: { user: SessionUser }) {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const v = readView(new URLSearchParams(searchParams.toString()));
  const [stoppedMessage, setStoppedMessage] = useState<string | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const [search, setSearch] = useState(v.q);

  const input: ListInput = {
    limit: PAGE_SIZE,
    sort: v.view === "active" ? "attention" : v.sort,
    ...(v.view === "active" ? { active: true } : {}),
    ...(v.view === "all" && v.state ? { state: v.state } : {}),
    ...(v.project ? { projectId: v.project } : {}),
    ...(v.operator ? { createdBy: v.operator } : {}),
    ...(v.model ? { modelId: v.model } : {}),
    ...(v.q ? { q: v.q } : {}),
  };
  const runs = useInfiniteQuery(
    trpc.runs.list.infiniteQueryOptions(input, {
      getNextPageParam: (last) => last.nextCursor ?? undefined,
      // Changing a filter keeps the rows shown until the new ones arrive (no flash of a skeleton).
      placeholderData: (previous) => previous,
    }),
  );
  const live = useFleetChanges(
    useCallback(
      (c: RunChange) =>
        (v.view === "active" ? !stateMeta(c.state).terminal : !v.state || c.state === v.state) &&
        (!v.project || c.projectId === v.project) &&
        (!v.operator || c.createdBy === v.operator) &&
        (!v.model || c.modelId === v.model),
      [v.view, v.state, v.project, v.operator, v.model],
    ),
  );
  const items = runs.data?.pages.flatMap((p) => p.items) ?? [];

  function setParams(patch: Record<string, string | undefined>) {
    const params = new URLSearchParams(searchParams.toString());
    for (const [key, value] of Object.entries(patch)) {
      if (value) params.set(key, value);
      else params.delete(key);
    }
    const qs = params.toString();
    router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  }

  // The search box writes the URL a moment after typing stops.
  useEffect(() => {
    if (search.trim() === v.q) return;
    const timer = setTimeout(() => setParams({ q: search.trim() || undefined }), 300);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search]);

  const canStart = atLeast(user.role, "operator");
  const isAdmin = atLeast(user.role, "admin");
  const filtered = Boolean(v.state || v.project || v.operator || v.model || v.q);

  function togglePick(id: string) {
    setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));
  }

  return (
    <>
      <PageHeader
        title="Runs"
        description="Every agent at work: what it is doing, what waits for a decision, and what it uses."
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

      <section aria-label="View and filters" className="mb-3 space-y-2">
        <div className="flex flex-wrap items-center justify-between gap-2">
          <Segmented
            label="Which runs"
            value={v.view}
            onChange={(next) => setParams({ view: next === "all" ? "all" : undefined, state: undefined, sort: undefined })}
            options={[
              { value: "active", label: "Active" },
              { value: "all", label: "All" },
            ]}
          />
          <p className="text-xs text-fg-muted" aria-live="polite" data-testid="fleet-live">
            <span
              aria-hidden="true"
              className={cn("mr-1.5 inline-block size-2 rounded-full align-middle", live.status === "pending" ? "bg-success" : "bg-fg-muted")}
            />
            {live.status === "pending" ? "Live" : live.status === "error" ? "Live updates lost; reconnecting…" : "Connecting…"}
          </p>
        </div>
        <div className="grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-6">
          <label className="col-span-2 sm:col-span-3 lg:col-span-2">
            <span className="sr-only">Search runs by title, task or id</span>
            <input
              type="search"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              placeholder="Search title, task or id"
              className={controlClasses()}
              maxLength={200}
            />
          </label>
          {v.view === "all" ? (
            <FilterSelect label="State" value={v.state ?? ""} onChange={(e) => setParams({ state: e.target.value || undefined, view: "all" })}>
              <option value="">All states</option>
              {RUN_STATE_OPTIONS.map((s) => (
                <option key={s} value={s}>
                  {RUN_STATE_META[s].label}
                </option>
              ))}
            </FilterSelect>
          ) : null}
          <FacetFilters project={v.project} operator={v.operator} model={v.model} onChange={setParams} />
          {v.view === "all" ? (
            <FilterSelect label="Sort" value={v.sort} onChange={(e) => setParams({ sort: e.target.value === "attention" ? undefined : e.target.value })}>
              {SORTS.map((s) => (
                <option key={s.value} value={s.value}>
                  Sort: {s.label}
                </option>
              ))}
            </FilterSelect>
          ) : null}
        </div>
      </section>

      {picked.length > 0 ? (
        <div className="sticky top-2 z-10 mb-3 flex items-center justify-between gap-2 rounded-xl border border-border bg-surface px-3 py-2 text-sm shadow-sm">
          <span>{picked.length === 1 ? "Pick one more run to compare." : "Two runs picked."}</span>
          <span className="flex gap-2">
            <Button variant="ghost" size="sm" onClick={() => setPicked([])}>
              Clear
            </Button>
            {picked.length === 2 ? (
              <Link href={`/runs/compare?a=${picked[0]}&b=${picked[1]}`} className={buttonClasses("primary", "sm")}>
                Compare
              </Link>
            ) : null}
          </span>
        </div>
      ) : null}

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
          title={filtered ? "No run matches" : v.view === "active" ? "No active runs" : "No runs yet"}
          actions={
            filtered || v.view === "active" ? (
              <Link href={`${pathname}?view=all`} className={buttonClasses("secondary")}>
                Show all runs
              </Link>
            ) : canStart ? (
              <Link href="/runs/new" className={buttonClasses("primary")}>
                Start the first run
              </Link>
            ) : null
          }
        >
          {filtered ? (
            <p>Nothing matches these filters{v.state ? ` in the state ${stateMeta(v.state).label.toLowerCase()}` : ""}.</p>
          ) : v.view === "active" ? (
            <p>No run is queued or working right now. Finished runs are under All.</p>
          ) : canStart ? (
            <p>Give an agent a task and a model endpoint; it plans first, and a reviewer approves the plan before it changes anything.</p>
          ) : (
            <p>Operators start runs; they will show up here with their state, plan and every tool call.</p>
          )}
        </EmptyState>
      ) : (
        <>
          <FleetRows items={items} usage={live.usage} picked={picked} onPick={togglePick} />
          <div className="mt-4 flex flex-col items-center gap-2 text-sm text-fg-muted">
            <p>
              {items.length} run{items.length === 1 ? "" : "s"} shown{runs.hasNextPage ? "" : v.view === "active" ? "" : " · no older runs"}
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

/** A filter's select; its label is read by screen readers (the first option says what it filters, for everyone else). */
function FilterSelect({ label, children, ...props }: { label: string } & SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <label className="min-w-0">
      <span className="sr-only">{label}</span>
      <select {...props} className={controlClasses()}>
        {children}
      </select>
    </label>
  );
}

/** Project, operator and model filters, each with the choices the server knows. */
function FacetFilters({
  project,
  operator,
  model,
  onChange,
}: {
  project: string;
  operator: string;
  model: string;
  onChange: (patch: Record<string, string | undefined>) => void;
}) {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const operators = useQuery(trpc.runs.operators.queryOptions());
  const models = useQuery(trpc.models.list.queryOptions());
  return (
    <>
      <FilterSelect label="Project" value={project} onChange={(e) => onChange({ project: e.target.value || undefined })}>
        <option value="">All projects</option>
        {(projects.data?.items ?? []).map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </FilterSelect>
      <FilterSelect label="Operator" value={operator} onChange={(e) => onChange({ operator: e.target.value || undefined })}>
        <option value="">All operators</option>
        {(operators.data?.items ?? []).map((o) => (
          <option key={o.id} value={o.id}>
            {o.email}
          </option>
        ))}
      </FilterSelect>
      <FilterSelect label="Model" value={model} onChange={(e) => onChange({ model: e.target.value || undefined })}>
        <option value="">All models</option>
        {(models.data?.items ?? []).map((m) => (
          <option key={m.id} value={m.id}>
            {m.name}
          </option>
        ))}
      </FilterSelect>
    </>
  );
}

// Desktop: one grid row per run; phone: title and state on the first line, the rest on a second (about 60 px a run).
const DESKTOP_COLUMNS = "md:grid-cols-[1.5rem_minmax(0,2.2fr)_minmax(0,1.2fr)_minmax(0,1fr)_minmax(0,1.2fr)_5.5rem_6rem_minmax(0,1.6fr)]";

function FleetRows({ items, usage, picked, onPick }: { items: RunItem[]; usage: Map<string, FleetUsage>; picked: string[]; onPick: (id: string) => void }) {
  const now = useNow(1000);
  return (
    <div className="overflow-hidden rounded-xl border border-border bg-surface md:shadow-xs">
      <div
        aria-hidden="true"
        className={cn("hidden gap-3 border-b border-border px-3 py-2 text-xs font-medium tracking-wide text-fg-muted uppercase md:grid", DESKTOP_COLUMNS)}
      >
        <span />
        <span>Run</span>
        <span>State</span>
        <span>Pending</span>
        <span>Operator</span>
        <span>Age</span>
        <span>Duration</span>
        <span>Resources</span>
      </div>
      <ul aria-label="Runs" className="divide-y divide-border">
        {items.map((run) => (
          <FleetRow key={run.id} run={run} usage={usage.get(run.id)} now={now} picked={picked.includes(run.id)} onPick={() => onPick(run.id)} />
        ))}
      </ul>
    </div>
  );
}

function FleetRow({
  run,
  usage,
  now,
  picked,
  onPick,
}: {
  run: RunItem;
  usage: FleetUsage | undefined;
  now: number | null;
  picked: boolean;
  onPick: () => void;
}) {
  const meta = stateMeta(run.state);
  const waiting = Boolean(meta.waiting) || run.pendingApprovals > 0;
  const end = run.endedAt?.getTime() ?? (meta.terminal ? run.updatedAt.getTime() : now);
  const duration = run.startedAt && end !== null ? formatDuration(end - run.startedAt.getTime()) : null;
  return (
    <li
      data-testid="run-row"
      data-run-id={run.id}
      className={cn(
        "grid grid-cols-[1.25rem_minmax(0,1fr)_auto] items-center gap-x-2 gap-y-0.5 px-3 py-1.5 md:gap-x-3 md:py-2",
        DESKTOP_COLUMNS,
        waiting && "border-l-4 border-l-warning bg-warning-soft/30",
      )}
    >
      <input
        type="checkbox"
        checked={picked}
        onChange={onPick}
        aria-label={`Pick ${run.title} to compare`}
        className="size-4 accent-[var(--color-accent)] max-md:row-span-2"
      />
      <div className="min-w-0">
        <Link href={`/runs/${run.id}`} className="block truncate text-sm font-medium text-fg hover:text-accent hover:underline" title={run.title}>
          {run.title}
        </Link>
        <span className="block truncate text-[11px] text-fg-muted max-md:hidden">
          <span className="font-mono">{shortId(run.id)}</span>
          {run.projectId !== "default" ? <> · {run.projectId}</> : null}
          {run.rerunOf ? (
            <>
              {" "}
              · re-run of <span className="font-mono">{shortId(run.rerunOf)}</span>
            </>
          ) : null}
        </span>
      </div>
      <div className="flex min-w-0 justify-end md:justify-start">
        <RunStateBadge state={run.state} deniedCalls={run.deniedCalls} />
      </div>
      {/* Phone: the second line (pending, age, duration, resources, operator); desktop: a cell each. */}
      <div className="col-start-2 col-end-4 flex min-w-0 items-center gap-x-2 overflow-hidden text-xs whitespace-nowrap text-fg-muted md:contents md:text-sm">
        <span className="flex gap-2 text-xs max-md:empty:hidden md:flex-col md:gap-0.5">
          <RunDecisionCounts pending={run.pendingApprovals} denied={run.deniedCalls} succeeded={run.state === "succeeded"} />
          <QueuePlace run={run} />
        </span>
        <span className="min-w-0 truncate max-md:order-last md:text-fg" title={run.createdByEmail ?? undefined}>
          {run.createdByEmail ?? "—"}
        </span>
        <span className="md:text-fg">
          <LocalTime date={run.createdAt} format="relative" now={now} />
        </span>
        <span className="tabular-nums md:text-fg">{duration ?? <span className="max-md:hidden">—</span>}</span>
        <span className="min-w-0 md:text-fg" data-testid="run-resources">
          {meta.terminal ? <span className="max-md:hidden">—</span> : <UsageBars usage={usage} />}
        </span>
      </div>
    </li>
  );
}

function QueuePlace({ run }: { run: RunItem }) {
  if (!run.queuePosition) return null;
  return (
    <span className="text-fg-muted" data-testid="run-queue-position" title={run.queueReason ?? undefined}>
      #{run.queuePosition} in queue
    </span>
  );
}

/** Pending requests and denied calls of a run, as counts (the badge already names denials on a success claim). */
function RunDecisionCounts({ pending, denied, succeeded }: { pending: number; denied: number; succeeded: boolean }) {
  return (
    <>
      {pending > 0 ? (
        <span className="font-medium text-warning" data-testid="run-pending-count">
          {pending} pending
        </span>
      ) : null}
      {denied > 0 && !succeeded ? (
        <span className="text-danger" data-testid="run-denied-count">
          {denied} denied
        </span>
      ) : null}
    </>
  );
}
