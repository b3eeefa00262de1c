"use client";
// The approvals inbox: what waits for a decision first (live), then what was
// decided and what expired. Each request links to its run.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button, buttonClasses } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { ApprovalsIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/page-header";
import { SkeletonRows } from "@/components/ui/skeleton";
import { tabIds, Tabs } from "@/components/ui/tabs";
import { errorMessage } from "@/lib/errors";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { ApprovalCard } from "@/components/approvals/approval-card";
import { usePendingApprovals } from "@/components/approvals/live";
import { ApprovalShortcuts } from "@/components/approvals/shortcuts";
import { approvalSubject, type ApprovalItem } from "@/components/approvals/types";
import { atLeast } from "@/lib/permissions";
import { LocalTime } from "@/components/ui/local-time";

type Tab = "pending" | "decided" | "expired";
const TABS: Tab[] = ["pending", "decided", "expired"];

export function ApprovalsInbox({ user }: { user: SessionUser }) {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const tabParam = searchParams.get("tab");
  const tab: Tab = TABS.includes(tabParam as Tab) ? (tabParam as Tab) : "pending";
  const pending = usePendingApprovals();
  const [notice, setNotice] = useState<string | null>(null);
  const reviewer = atLeast(user.role, "reviewer");
  const pendingItems = pending.data?.items ?? [];
  // Requests you can decide first, oldest first within each group (they expire first).
  const sorted = [...pendingItems].sort((a, b) => Number(b.canDecide) - Number(a.canDecide) || a.expiresAt.getTime() - b.expiresAt.getTime());

  function selectTab(next: Tab) {
    const params = new URLSearchParams(searchParams.toString());
    if (next === "pending") params.delete("tab");
    else params.set("tab", next);
    const qs = params.toString();
    router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  }

  const ids = tabIds("approvals", tab);

  return (
    <>
      <PageHeader
        title="Approvals"
        actions={reviewer ? <ApprovalShortcuts /> : undefined}
        description={
          reviewer
            ? "Tool calls, plans and steps that the policy says a person must approve. Decide from here or from the run page."
            : "Tool calls, plans and steps waiting for a reviewer. Reviewers and admins decide; you can follow them here."
        }
      />
      <Tabs<Tab>
        idBase="approvals"
        label="Approval requests"
        value={tab}
        onChange={selectTab}
        className="mb-4"
        items={[
          {
            value: "pending",
            label: "Pending",
            badge: pendingItems.length ? <Badge tone="warning">{pendingItems.length}</Badge> : null,
          },
          { value: "decided", label: "Decided" },
          { value: "expired", label: "Expired" },
        ]}
      />
      {notice ? (
        <InlineAlert tone="warning" title="Someone else got there first" className="mb-4">
          <p>{notice}</p>
          <Button size="sm" variant="secondary" className="mt-2" onClick={() => setNotice(null)}>
            Dismiss
          </Button>
        </InlineAlert>
      ) : null}
      <div role="tabpanel" id={ids.panel} aria-labelledby={ids.tab}>
        {tab === "pending" ? (
          pending.isPending ? (
            <SkeletonRows rows={3} label="Loading pending approvals…" />
          ) : pending.isError && !pending.data ? (
            <LoadError error={pending.error} retry={() => pending.refetch()} />
          ) : sorted.length === 0 ? (
            <EmptyState
              icon={<ApprovalsIcon size={26} />}
              title="Nothing waiting for a decision"
              actions={
                <Link href="/runs" className={buttonClasses("secondary")}>
                  Open runs
                </Link>
              }
            >
              <p>New requests appear here the moment an agent asks; this page updates by itself.</p>
            </EmptyState>
          ) : (
            <div className="space-y-4">
              {sorted.map((a) => (
                <ApprovalCard key={a.id} approval={a} user={user} showRunLink onConflict={setNotice} />
              ))}
            </div>
          )
        ) : (
          <HistoryList state={tab} user={user} />
        )}
      </div>
    </>
  );
}

function LoadError({ error, retry }: { error: unknown; retry: () => void }) {
  return (
    <InlineAlert title="Approvals could not be loaded">
      <p>{errorMessage(error)}</p>
      <Button variant="secondary" size="sm" className="mt-2" onClick={retry}>
        Try again
      </Button>
    </InlineAlert>
  );
}

const HISTORY_TONE = { approved: "success", denied: "danger", cancelled: "neutral", expired: "neutral", pending: "warning" } as const;

function HistoryList({ state, user }: { state: "decided" | "expired"; user: SessionUser }) {
  const trpc = useTRPC();
  const list = useQuery(trpc.approvals.list.queryOptions({ state }));
  const [open, setOpen] = useState<string | null>(null);
  if (list.isPending) return <SkeletonRows rows={4} label="Loading approvals…" />;
  if (!list.data) return <LoadError error={list.error} retry={() => list.refetch()} />;
  const items = list.data.items;
  if (items.length === 0) {
    return (
      <EmptyState icon={<ApprovalsIcon size={26} />} title={state === "decided" ? "No decisions yet" : "Nothing has expired"}>
        <p>
          {state === "decided"
            ? "Approved, denied and cancelled requests are listed here."
            : "Requests nobody decided in time are listed here; the agent was told they expired."}
        </p>
      </EmptyState>
    );
  }
  return (
    <ul className="space-y-2.5" aria-label={state === "decided" ? "Decided requests" : "Expired requests"}>
      {items.map((a) => (
        <li key={a.id}>
          <HistoryRow approval={a} user={user} open={open === a.id} onToggle={() => setOpen(open === a.id ? null : a.id)} />
        </li>
      ))}
    </ul>
  );
}

function HistoryRow({ approval, user, open, onToggle }: { approval: ApprovalItem; user: SessionUser; open: boolean; onToggle: () => void }) {
  const when = approval.decidedAt ?? approval.expiresAt;
  const by = approval.decidedBy === user.id ? "you" : approval.state === "expired" ? null : approval.state === "cancelled" ? null : "a reviewer";
  return (
    <div className="rounded-xl border border-border bg-surface shadow-xs" data-testid="approval-history-row">
      <div className="flex flex-col gap-2 px-4 py-3 sm:flex-row sm:items-start sm:justify-between">
        <div className="min-w-0 flex-1">
          <p className="font-mono text-[13px] font-medium break-all">{approvalSubject(approval)}</p>
          <p className="mt-0.5 text-xs text-fg-muted">
            Run{" "}
            <Link href={`/runs/${approval.runId}`} className="font-medium text-fg hover:text-accent hover:underline">
              {approval.runTitle}
            </Link>{" "}
            · rule <code className="font-mono">{approval.rule ?? "default"}</code>
          </p>
          {approval.decisionReason ? <p className="mt-1 text-sm break-words">“{approval.decisionReason}”</p> : null}
        </div>
        <div className="flex shrink-0 flex-wrap items-center gap-x-2 gap-y-1 text-xs text-fg-muted sm:flex-col sm:items-end">
          <span className="flex items-center gap-1.5">
            {approval.edit ? <Badge>edited</Badge> : null}
            <Badge tone={HISTORY_TONE[approval.state] ?? "neutral"} className="capitalize">
              {approval.state}
            </Badge>
          </span>
          <span>
            {by ? `by ${by} · ` : ""}
            <LocalTime date={when} format="relative" />
          </span>
        </div>
      </div>
      <div className="border-t border-border px-4 py-2">
        <button type="button" aria-expanded={open} onClick={onToggle} className="text-xs font-medium text-fg-muted hover:text-fg">
          {open ? "Hide request" : "Show request"}
          <span className="sr-only"> {approvalSubject(approval)}</span>
        </button>
        {open ? (
          <div className="mt-2 pb-2">
            <ApprovalCard approval={approval} user={user} />
          </div>
        ) : null}
      </div>
    </div>
  );
}
