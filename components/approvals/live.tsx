"use client";
// Keeps every approvals list in the tab fresh: one subscription to
// approvals.changes (rendered once by the shell) refetches approvals.list on
// each ping, including the first one after a (re)connect. The navigation badge
// reads the pending list from the same cache.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { cn } from "@/lib/cn";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { atLeast } from "@/lib/permissions";

export function ApprovalsLiveUpdates() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  useSubscription(
    trpc.approvals.changes.subscriptionOptions(undefined, {
      onData: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.approvals.list.pathKey() });
      },
    }),
  );
  return null;
}

export function usePendingApprovals() {
  const trpc = useTRPC();
  // Live updates come from ApprovalsLiveUpdates; the interval is a safety net.
  return useQuery(trpc.approvals.list.queryOptions({ state: "pending" }, { refetchInterval: 60_000 }));
}

/** The number next to "Approvals" in the navigation: requests you can decide (reviewers), or all pending ones. */
export function PendingApprovalsBadge({ user, className }: { user: SessionUser; className?: string }) {
  const pending = usePendingApprovals();
  const items = pending.data?.items ?? [];
  const reviewer = atLeast(user.role, "reviewer");
  const count = reviewer ? items.filter((a) => a.canDecide).length : items.length;
  if (!count) return null;
  const label = reviewer ? `${count} waiting for your decision` : `${count} pending`;
  return (
    <span
      data-testid="pending-approvals-badge"
      className={cn(
        "inline-flex h-5 min-w-5 items-center justify-center rounded-full px-1.5 text-[11px] leading-none font-semibold tabular-nums",
        reviewer ? "bg-warning text-white dark:text-bg" : "bg-surface-muted text-fg-muted ring-1 ring-border",
        className,
      )}
    >
      <span aria-hidden="true">{count > 99 ? "99+" : count}</span>
      <span className="sr-only">{label}</span>
    </span>
  );
}
