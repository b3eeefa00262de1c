"use client";
// The fleet view's one live subscription (runs.changes): each change is
// written into the runs.list cache in place, so a row shows a new state as
// soon as the server announces it; the list is fetched again (once per burst)
// only when rows may have to move, appear or leave. Resource use arrives on
// the same stream, so no row polls anything.
import { useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useCallback, useEffect, useState } from "react";
import type { AppRouter } from "@/server/api/root";
import type { FleetEvent, RunChange } from "@/server/runs/changes";
import type { RunUsage } from "@/server/runs/usage";
import { useTRPC } from "@/lib/trpc/client";

type ListPage = inferRouterOutputs<AppRouter>["runs"]["list"];
export type FleetUsage = RunUsage;

/** How long after a change the list is read again so rows can move to their new place (a burst of changes is one read). */
const RESORT_AFTER_MS = 1500;

/** Runs `fn` once, `delay` ms after the first of any number of calls; later calls before then change nothing. */
function debounced(fn: () => void) {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return {
    schedule(delay: number) {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        fn();
      }, delay);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

/**
 * `mayShow` tells whether a run the page does not show now could belong in
 * its list (its filters); changes of other runs then cost nothing.
 */
export function useFleetChanges(mayShow: (change: RunChange) => boolean) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [usage, setUsage] = useState<Map<string, FleetUsage>>(() => new Map());
  const [resort] = useState(() => debounced(() => void queryClient.invalidateQueries({ queryKey: trpc.runs.list.pathKey() })));
  useEffect(() => resort.cancel, [resort]);

  const onData = useCallback(
    (event: FleetEvent) => {
      const refetchSoon = resort.schedule;
      if (event.type === "ready") {
        // (Re)connected: whatever changed while the stream was down is read once.
        refetchSoon(0);
        return;
      }
      if (event.type === "usage") {
        setUsage(new Map(event.items.map((u) => [u.runId, u])));
        return;
      }
      const changes = new Map<string, RunChange>(event.items.map((c) => [c.id, c]));
      const seen = new Set<string>();
      queryClient.setQueriesData<InfiniteData<ListPage>>({ queryKey: trpc.runs.list.pathKey() }, (data) => {
        if (!data?.pages) return data;
        let touched = false;
        const pages = data.pages.map((page) => ({
          ...page,
          items: page.items.map((row) => {
            const change = changes.get(row.id);
            if (!change) return row;
            seen.add(row.id);
            touched = true;
            return { ...row, ...change };
          }),
        }));
        return touched ? { ...data, pages } : data;
      });
      // New runs appear, ended ones leave the Active view, waiting ones move up: read the list again shortly.
      // Changes of runs this list does not show and could not show (other filters) cost nothing.
      if (event.items.some((c) => !seen.has(c.id) && mayShow(c))) refetchSoon(300);
      else if (seen.size > 0) refetchSoon(RESORT_AFTER_MS);
    },
    [queryClient, trpc, resort, mayShow],
  );
  const subscription = useSubscription(trpc.runs.changes.subscriptionOptions(undefined, { onData }));
  return { usage, status: subscription.status, error: subscription.error };
}
