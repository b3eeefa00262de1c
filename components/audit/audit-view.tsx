"use client";
// The audit trail: filterable (filters in the URL), paged with "Load more",
// chain verification and downloads with the same filters.
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Button, buttonClasses } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { AuditIcon, DownloadIcon, FilterIcon, ShieldCheckIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/page-header";
import { SkeletonRows } from "@/components/ui/skeleton";
import { Spinner } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { errorMessage } from "@/lib/errors";
import { LocalTime } from "@/components/ui/local-time";
import { Switch } from "@/components/ui/switch";
import { useTRPC } from "@/lib/trpc/client";
import { AuditEventRows } from "@/components/audit/audit-event-rows";
import { AuditFiltersForm } from "@/components/audit/audit-filters-form";
import {
  FILTER_KEYS,
  FILTER_LABELS,
  activeFilterCount,
  exportHref,
  filtersFromSearchParams,
  filtersToInput,
  filtersToSearchParams,
  type AuditFilterValues,
} from "@/components/audit/filters";

const PAGE_SIZE = 50;

export function AuditView() {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const filters = filtersFromSearchParams(new URLSearchParams(searchParams.toString()));
  const filterKey = filtersToSearchParams(filters).toString();
  const [filtersOpen, setFiltersOpen] = useState(false);
  // Times read in the viewer's zone by default; UTC lines them up with server logs.
  const [utc, setUtc] = useState(false);

  const events = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions({ ...filtersToInput(filters), limit: PAGE_SIZE }, { getNextPageParam: (last) => last.nextCursor ?? undefined }),
  );
  const verify = useQuery({ ...trpc.audit.verify.queryOptions(), enabled: false, staleTime: 0, gcTime: 0 });

  function navigate(next: AuditFilterValues) {
    const qs = filtersToSearchParams(next).toString();
    router.push(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  }

  function hrefWith(key: "actor" | "action" | "target", value: string) {
    const params = filtersToSearchParams({ ...filters, [key]: value });
    return `${pathname}?${params.toString()}`;
  }

  const items = events.data?.pages.flatMap((p) => p.items) ?? [];
  const activeCount = activeFilterCount(filters);

  return (
    <>
      <PageHeader
        title="Audit trail"
        description="Every sign-in, change and decision, hash-chained so that any edit or deletion shows up."
        actions={
          <>
            <Button variant="secondary" onClick={() => verify.refetch()} loading={verify.isFetching}>
              {verify.isFetching ? null : <ShieldCheckIcon size={16} />}
              Verify chain
            </Button>
            <a href={exportHref("jsonl", filters)} download className={buttonClasses("secondary")}>
              <DownloadIcon size={16} />
              Export JSONL
            </a>
            <a href={exportHref("csv", filters)} download className={buttonClasses("secondary")}>
              <DownloadIcon size={16} />
              Export CSV
            </a>
          </>
        }
      />

      <VerifyResult state={verify} />

      <section aria-label="Filters" className="mb-4 rounded-xl border border-border bg-surface p-3 sm:p-4">
        <div className="flex items-center justify-between gap-2 md:hidden">
          <Button
            variant="ghost"
            size="sm"
            aria-expanded={filtersOpen}
            aria-controls="audit-filters"
            onClick={() => setFiltersOpen((o) => !o)}
            className="text-fg"
          >
            <FilterIcon size={16} />
            Filters
            {activeCount ? <span className="rounded-full bg-accent px-1.5 text-[11px] text-accent-fg">{activeCount}</span> : null}
          </Button>
        </div>
        <div id="audit-filters" className={cn(!filtersOpen && "max-md:hidden", "max-md:mt-3")}>
          {/* Re-mount on URL change so the form shows what is applied. */}
          <AuditFiltersForm
            key={filterKey}
            value={filters}
            onApply={navigate}
            onClear={() => navigate({ actor: "", action: "", target: "", from: "", to: "" })}
          />
        </div>
        {activeCount ? <ActiveFilters filters={filters} onRemove={(key) => navigate({ ...filters, [key]: "" })} /> : null}
      </section>

      {events.isPending ? (
        <SkeletonRows rows={6} label="Loading audit events…" />
      ) : !events.data ? (
        <InlineAlert title="The audit trail could not be loaded">
          <p>{errorMessage(events.error)}</p>
          <Button variant="secondary" size="sm" className="mt-2" onClick={() => events.refetch()}>
            Try again
          </Button>
        </InlineAlert>
      ) : items.length === 0 ? (
        <EmptyState
          icon={<AuditIcon size={24} />}
          title={activeCount ? "No events match these filters" : "No events yet"}
          actions={
            activeCount ? (
              <Link href={pathname} className={buttonClasses("secondary")}>
                Clear filters
              </Link>
            ) : null
          }
        >
          {activeCount ? <p>Widen the time range or remove a filter.</p> : <p>Sign-ins, user and token changes will show up here as they happen.</p>}
        </EmptyState>
      ) : (
        <>
          <Switch
            className="mb-3"
            label="Show times in UTC"
            description="Otherwise times are in your browser's time zone."
            checked={utc}
            onCheckedChange={setUtc}
          />
          <div className="md:overflow-x-auto md:rounded-xl md:border md:border-border md:bg-surface md:shadow-xs">
            <table className="w-full text-sm max-md:block">
              <caption className="sr-only">Audit events, newest first</caption>
              <thead className="max-md:hidden">
                <tr className="text-left text-xs font-medium tracking-wide text-fg-muted uppercase">
                  <th scope="col" className="px-3 py-2.5 font-medium">
                    Time
                  </th>
                  <th scope="col" className="px-3 py-2.5 font-medium">
                    Actor
                  </th>
                  <th scope="col" className="px-3 py-2.5 font-medium">
                    Action
                  </th>
                  <th scope="col" className="px-3 py-2.5 font-medium">
                    Target
                  </th>
                  <th scope="col" className="px-3 py-2.5 font-medium">
                    Source
                  </th>
                  <th scope="col" className="px-3 py-2.5 text-right font-medium">
                    <span className="sr-only">Details</span>
                  </th>
                </tr>
              </thead>
              {items.map((event) => (
                <AuditEventRows key={event.seq} event={event} filterHref={hrefWith} utc={utc} />
              ))}
            </table>
          </div>
          <div className="mt-4 flex flex-col items-center gap-2 text-sm text-fg-muted">
            <p aria-live="polite">
              {items.length} event{items.length === 1 ? "" : "s"} shown{events.hasNextPage ? "" : " · no older events"}
              {events.isRefetching && !events.isFetchingNextPage ? <Spinner className="ml-2 align-middle" label="Refreshing" /> : null}
            </p>
            {events.hasNextPage ? (
              <Button variant="secondary" onClick={() => events.fetchNextPage()} loading={events.isFetchingNextPage}>
                Load more
              </Button>
            ) : null}
            {events.error ? <InlineAlert>{errorMessage(events.error)}</InlineAlert> : null}
          </div>
        </>
      )}
    </>
  );
}

function ActiveFilters({ filters, onRemove }: { filters: AuditFilterValues; onRemove: (key: keyof AuditFilterValues) => void }) {
  const display = (key: keyof AuditFilterValues) => {
    const v = filters[key];
    if (key === "from" || key === "to") {
      const d = new Date(v);
      return Number.isNaN(d.getTime()) ? v : <LocalTime date={d} />;
    }
    return v;
  };
  return (
    <ul aria-label="Active filters" className="mt-3 flex flex-wrap gap-1.5 border-t border-border pt-3">
      {FILTER_KEYS.filter((k) => filters[k]).map((key) => (
        <li key={key} className="flex max-w-full min-w-0 items-center gap-1 rounded-full border border-border bg-surface-muted py-0.5 pr-1 pl-2.5 text-xs">
          <span className="text-fg-muted">{FILTER_LABELS[key]}:</span>
          <span className="truncate font-medium">{display(key)}</span>
          <button
            type="button"
            onClick={() => onRemove(key)}
            aria-label={`Remove ${FILTER_LABELS[key].toLowerCase()} filter`}
            className="grid size-5 shrink-0 place-items-center rounded-full text-fg-muted hover:bg-surface hover:text-fg"
          >
            <span aria-hidden="true">×</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

type VerifyOutput = inferRouterOutputs<AppRouter>["audit"]["verify"];

function VerifyResult({ state }: { state: { data?: VerifyOutput; error: unknown; isFetching: boolean; dataUpdatedAt: number } }) {
  if (state.isFetching && !state.data) {
    return (
      <div className="mb-4 flex items-center gap-2 rounded-lg border border-border bg-surface px-3 py-2.5 text-sm text-fg-muted" role="status">
        <Spinner /> Checking every event&apos;s hash…
      </div>
    );
  }
  if (state.error) {
    return (
      <InlineAlert className="mb-4" title="Verification could not run">
        {errorMessage(state.error)}
      </InlineAlert>
    );
  }
  if (!state.data) return null;
  const r = state.data;
  const checkedAt = state.dataUpdatedAt ? <LocalTime date={new Date(state.dataUpdatedAt)} /> : "";
  return r.ok ? (
    <InlineAlert tone="success" className="mb-4" title="Chain intact">
      All {r.count} event{r.count === 1 ? "" : "s"} link up and match their hashes. Checked {checkedAt}.
    </InlineAlert>
  ) : (
    <InlineAlert className="mb-4" title={`Chain broken at event #${r.firstBrokenSeq ?? "?"}`}>
      <p>{r.problem}</p>
      {r.firstBrokenId ? <p className="mt-1 font-mono text-xs break-all">Event id: {r.firstBrokenId}</p> : null}
      <p className="mt-1 text-xs text-fg-muted">
        {r.count} events checked {checkedAt}. Keep the database file as evidence and compare it with an earlier export.
      </p>
    </InlineAlert>
  );
}
