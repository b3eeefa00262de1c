"use client";
// One approval request on its own page: the address every notification and
// email links to (/approvals/<id>). Everything needed to decide is on the
// card; Deny / Approve sit in a bar at the bottom of the screen. A request
// that was already decided, expired or cancelled says so first, with its run.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { InlineAlert } from "@/components/ui/alert";
import { Button, buttonClasses } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { ApprovalsIcon } from "@/components/ui/icons";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { formatDateTime, formatRelative } from "@/lib/format";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { ApprovalCard } from "@/components/approvals/approval-card";
import { ApprovalShortcuts } from "@/components/approvals/shortcuts";
import type { ApprovalItem } from "@/components/approvals/types";

export function ApprovalPage({ approvalId, user }: { approvalId: string; user: SessionUser }) {
  const trpc = useTRPC();
  // approvals.list refetches on every approvals.changes ping (ApprovalsLiveUpdates in the shell).
  const query = useQuery(trpc.approvals.list.queryOptions({ id: approvalId }));

  if (query.isPending) return <SkeletonRows rows={3} label="Loading the approval request…" />;
  if (!query.data) {
    return (
      <InlineAlert title="The request could not be loaded">
        <p>{errorMessage(query.error)}</p>
        <Button variant="secondary" size="sm" className="mt-2" onClick={() => query.refetch()}>
          Try again
        </Button>
      </InlineAlert>
    );
  }
  const approval = query.data.items[0];
  if (!approval) {
    return (
      <EmptyState
        icon={<ApprovalsIcon size={26} />}
        title="Approval request not found"
        actions={
          <Link href="/approvals" className={buttonClasses("secondary")}>
            Open approvals
          </Link>
        }
      >
        <p>There is no approval request with id {approvalId}. The link may be incomplete.</p>
      </EmptyState>
    );
  }

  const decidable = approval.state === "pending" && approval.canDecide;
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <Link href="/approvals" className="inline-flex items-center gap-1 text-sm text-fg-muted hover:text-fg">
          <span aria-hidden="true">←</span> Approvals
        </Link>
        {decidable ? <ApprovalShortcuts /> : null}
      </div>
      <div className="space-y-1">
        <h1 className="text-xl font-semibold tracking-tight sm:text-2xl">{decidable ? "Waiting for your decision" : "Approval request"}</h1>
        <p className="text-sm text-fg-muted">
          Run{" "}
          <Link href={`/runs/${approval.runId}`} className="font-medium break-words text-fg hover:text-accent hover:underline">
            {approval.runTitle}
          </Link>
        </p>
      </div>
      {approval.state !== "pending" ? <Outcome approval={approval} user={user} /> : null}
      <ApprovalCard approval={approval} user={user} sticky={decidable} />
      {/* Room for the decision bar, so the end of the card is never under it. */}
      {decidable ? <div aria-hidden="true" className="h-16" /> : null}
    </div>
  );
}

function Outcome({ approval, user }: { approval: ApprovalItem; user: SessionUser }) {
  const by = approval.decidedBy === user.id ? "you" : approval.decidedBy === "system" ? "Airlock" : (approval.decidedByEmail ?? "a reviewer");
  const when = approval.decidedAt ?? approval.expiresAt;
  const time = (
    <time dateTime={when.toISOString()} title={formatDateTime(when)}>
      {formatRelative(when)}
    </time>
  );
  const text =
    approval.state === "approved" ? (
      <>
        Approved by {by} {time}.
      </>
    ) : approval.state === "denied" ? (
      <>
        Denied by {by} {time}
        {approval.decisionReason ? <>: “{approval.decisionReason}”</> : "."}
      </>
    ) : approval.state === "expired" ? (
      <>Expired {time}: nobody decided in time, and the agent was told the request expired.</>
    ) : (
      <>Cancelled {time}: the run ended before anyone decided.</>
    );
  return (
    <InlineAlert tone={approval.state === "approved" ? "success" : approval.state === "denied" ? "warning" : "info"} title="This request is no longer waiting">
      <p data-testid="approval-outcome">{text}</p>
      <Link href={`/runs/${approval.runId}`} className={buttonClasses("secondary", "sm", "mt-2")}>
        Open the run
      </Link>
    </InlineAlert>
  );
}
