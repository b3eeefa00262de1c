"use client";
// The run page: header (state, operator, limits, counters, why it ended, the
// red Stop button), the run's pending approvals, its plan, and the live
// timeline from runs.events.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import Link from "next/link";
import { useCallback, useMemo, useRef, useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Button, buttonClasses } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { ChevronDownIcon, RunsIcon } from "@/components/ui/icons";
import { Skeleton, SkeletonRows } from "@/components/ui/skeleton";
import { Spinner } from "@/components/ui/spinner";
import { useNow } from "@/components/ui/use-now";
import { cn } from "@/lib/cn";
import { errorMessage } from "@/lib/errors";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { RunUsageMeters } from "@/components/runs/run-usage";
import { RunIsolation } from "@/components/runs/run-isolation";
import { ApprovalCard } from "@/components/approvals/approval-card";
import { ApprovalShortcuts } from "@/components/approvals/shortcuts";
import { PlanStepList } from "@/components/approvals/plan-steps";
import type { ApprovalItem, PlanStep } from "@/components/approvals/types";
import { runPermissions } from "@/lib/permissions";
import { formatCount, formatDuration, formatTokens, shortId } from "@/components/runs/format";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { stateMeta } from "@/components/runs/run-state";
import { RunTimeline } from "@/components/runs/run-timeline";
import { RunTabs } from "@/components/runs/run-tabs";
import { StopRunButton } from "@/components/runs/stop-run";
import { EgressPanel } from "@/components/runs/egress-panel";
import { ArmedConfigWarning } from "@/components/runs/armed-config-warning";
import { GrantsPanel } from "@/components/runs/grants-panel";
import { ServicesPanel } from "@/components/runs/services-panel";
import { BatchApprove } from "@/components/approvals/batch-approve";
import { planProgress, SuccessWithDenialsBanner } from "@/components/runs/run-outcome";
import { useRunEvents } from "@/components/runs/use-run-events";
import { LocalTime } from "@/components/ui/local-time";

type Run = inferRouterOutputs<AppRouter>["runs"]["get"];

// "note": an external agent's first MCP request is announced as a note.
// "queue": a queued run's place or reason changed.
const REFRESH_RUN_ON = new Set(["state", "plan", "model_message", "tool_call", "tool_result", "note", "queue"]);

export function RunView({ runId, user }: { runId: string; user: SessionUser }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const run = useQuery(trpc.runs.get.queryOptions({ id: runId }));
  const approvals = useQuery(trpc.approvals.list.queryOptions({ runId }));
  const [notice, setNotice] = useState<string | null>(null);

  // Refresh the header and approvals when events say they changed (coalesced).
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const pendingRefresh = useRef({ run: false, approvals: false, egress: false, services: false });
  const onBatch = useCallback(
    (types: Set<string>) => {
      if ([...types].some((t) => REFRESH_RUN_ON.has(t))) pendingRefresh.current.run = true;
      if (types.has("approval") || types.has("state")) pendingRefresh.current.approvals = true;
      if (types.has("egress") || types.has("egress_grant") || types.has("state")) pendingRefresh.current.egress = true;
      if (types.has("service") || types.has("service_output") || types.has("state")) pendingRefresh.current.services = true;
      if (refreshTimer.current) return;
      refreshTimer.current = setTimeout(() => {
        refreshTimer.current = null;
        const { run: r, approvals: a, egress: e, services: s } = pendingRefresh.current;
        pendingRefresh.current = { run: false, approvals: false, egress: false, services: false };
        if (r) void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ id: runId }) });
        if (e) void queryClient.invalidateQueries({ queryKey: trpc.runs.egress.queryKey({ id: runId }) });
        if (a) void queryClient.invalidateQueries({ queryKey: trpc.approvals.list.queryKey({ runId }) });
        if (s) void queryClient.invalidateQueries({ queryKey: trpc.services.list.queryKey({ runId }) });
      }, 250);
    },
    [queryClient, trpc, runId],
  );
  const events = useRunEvents(runId, onBatch);

  const approvalsByCall = useMemo(() => {
    const map = new Map<string, ApprovalItem>();
    for (const a of approvals.data?.items ?? []) if (a.toolCallId) map.set(a.toolCallId, a);
    return map;
  }, [approvals.data]);
  const pendingApprovals = (approvals.data?.items ?? []).filter((a) => a.state === "pending");
  // The first request this viewer may decide gets the Deny / Approve bar pinned to the bottom of the screen.
  const stickyId = pendingApprovals.find((a) => a.canDecide)?.id;

  if (run.isPending) return <RunSkeleton />;
  if (!run.data) {
    const notFound = run.error instanceof TRPCClientError && (run.error.data as { code?: string } | undefined)?.code === "NOT_FOUND";
    return notFound ? (
      <EmptyState
        icon={<RunsIcon size={26} />}
        title="Run not found"
        actions={
          <Link href="/runs" className={buttonClasses("secondary")}>
            Back to runs
          </Link>
        }
      >
        <p>There is no run with id {runId}. It may have been a typo in the address.</p>
      </EmptyState>
    ) : (
      <InlineAlert title="The run could not be loaded">
        <p>{errorMessage(run.error)}</p>
        <Button variant="secondary" size="sm" className="mt-2" onClick={() => run.refetch()}>
          Try again
        </Button>
      </InlineAlert>
    );
  }

  const r = run.data;
  const ended = Boolean(stateMeta(r.state).terminal);

  return (
    <div className="space-y-5">
      <RunHeader run={r} user={user} />

      <ArmedConfigWarning files={r.armedConfigFiles} />

      {notice ? (
        <InlineAlert tone="warning" title="Someone else got there first">
          <p>{notice}</p>
          <Button size="sm" variant="secondary" className="mt-2" onClick={() => setNotice(null)}>
            Dismiss
          </Button>
        </InlineAlert>
      ) : null}

      <BatchApprove runId={runId} user={user} pendingKey={pendingApprovals.map((a) => a.id).join()} />

      {pendingApprovals.length ? (
        <section aria-labelledby="run-pending-title" className="space-y-3">
          <div className="flex items-center justify-between gap-2">
            <h2 id="run-pending-title" className="flex items-center gap-2 text-base font-semibold">
              <span aria-hidden="true" className="size-2 animate-pulse rounded-full bg-warning" />
              {stickyId ? "Waiting for your decision" : "Waiting for a decision"} ({pendingApprovals.length})
            </h2>
            {stickyId ? <ApprovalShortcuts /> : null}
          </div>
          {pendingApprovals.map((a) => (
            <ApprovalCard key={a.id} approval={a} user={user} onConflict={setNotice} sticky={a.id === stickyId} />
          ))}
        </section>
      ) : null}

      <EgressPanel run={r} user={user} ended={ended} />
      <GrantsPanel run={r} user={user} ended={ended} />
      <ServicesPanel run={r} user={user} />

      {r.plan && r.plan.length ? (
        <PlanSection plan={r.plan} approved={r.planApproved} currentStep={r.currentStep} done={ended} stepsDone={r.stepsDone} />
      ) : null}

      <section aria-labelledby="run-activity-title">
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          <h2 id="run-activity-title" className="text-base font-semibold">
            Activity
          </h2>
          <LiveStatus status={events.status} ended={ended} error={events.error ? errorMessage(events.error) : null} />
        </div>
        {events.snapshot.eventCount === 0 ? (
          events.status === "error" ? (
            <InlineAlert title="Live updates could not start">{events.error ? errorMessage(events.error) : "Reload the page to try again."}</InlineAlert>
          ) : (
            <SkeletonRows rows={3} label="Loading the run's activity…" />
          )
        ) : (
          <RunTimeline
            items={events.snapshot.items}
            streaming={events.snapshot.streaming}
            approvalsByCall={approvalsByCall}
            runEnded={ended}
            deniedCalls={r.deniedCalls}
          />
        )}
      </section>
      {stickyId ? <div aria-hidden="true" className="h-16" /> : null}
    </div>
  );
}

function LiveStatus({ status, ended, error }: { status: string; ended: boolean; error: string | null }) {
  const connected = status === "pending";
  return (
    <span className="inline-flex items-center gap-1.5 text-xs text-fg-muted" role="status" title={error ?? undefined}>
      {connected ? (
        <>
          <span aria-hidden="true" className={cn("size-2 rounded-full", ended ? "bg-fg-muted/50" : "animate-pulse bg-success")} />
          {ended ? "Run ended" : "Live"}
        </>
      ) : status === "error" ? (
        <>
          <span aria-hidden="true" className="size-2 rounded-full bg-danger" />
          Disconnected; retrying…
        </>
      ) : (
        <>
          <Spinner />
          Connecting…
        </>
      )}
    </span>
  );
}

function RunSkeleton() {
  return (
    <div className="space-y-5" role="status" aria-live="polite">
      <span className="sr-only">Loading the run…</span>
      <div className="space-y-2">
        <Skeleton className="h-4 w-20" />
        <Skeleton className="h-7 w-72 max-w-full" />
        <Skeleton className="h-4 w-96 max-w-full" />
      </div>
      <div className="grid grid-cols-3 gap-2">
        <Skeleton className="h-16" />
        <Skeleton className="h-16" />
        <Skeleton className="h-16" />
      </div>
      <SkeletonRows rows={3} label="" />
    </div>
  );
}

function RunHeader({ run, user }: { run: Run; user: SessionUser }) {
  const now = useNow(1000);
  const meta = stateMeta(run.state);
  const [taskOpen, setTaskOpen] = useState(false);
  const end = run.endedAt?.getTime() ?? (meta.terminal ? run.updatedAt.getTime() : now);
  const duration = run.startedAt && end !== null ? formatDuration(end - run.startedAt.getTime()) : null;
  const showStop = !meta.terminal && runPermissions(user, run).canStop;

  return (
    <header className="space-y-4">
      <Link href="/runs" className="inline-flex items-center gap-1 text-sm text-fg-muted hover:text-fg">
        <span aria-hidden="true">←</span> Runs
      </Link>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0 space-y-2">
          <div className="flex flex-wrap items-center gap-2">
            <h1 className="text-xl font-semibold tracking-tight break-words text-fg sm:text-2xl">{run.title}</h1>
            <RunStateBadge state={run.state} size="md" deniedCalls={run.deniedCalls} />
          </div>
          <p className="text-sm text-fg-muted" data-testid="run-meta">
            <span className="font-mono text-xs">{shortId(run.id)}</span> · started by <span className="text-fg">{run.createdByEmail ?? "unknown"}</span>
            {" · "}
            <LocalTime date={run.createdAt} format="relative" now={now} />
            {duration ? (
              <>
                {" "}
                · {meta.terminal ? "ran" : "running for"} <span className="tabular-nums">{duration}</span>
              </>
            ) : null}
            {run.stepMode ? " · step mode" : ""}
            {run.agent === "external" ? " · external agent (MCP)" : ""}
            {run.agent !== "external" && run.modelName ? (
              <>
                {" · model "}
                <span className="text-fg">{run.modelName}</span>
              </>
            ) : null}
          </p>
        </div>
        {showStop ? (
          <div className="flex flex-wrap items-center gap-2 max-sm:w-full">
            <StopRunButton runId={run.id} runTitle={run.title} queued={run.state === "queued"} className="max-sm:flex-1" />
          </div>
        ) : null}
      </div>
      <RunTabs runId={run.id} current="activity" />

      {meta.terminal ? (
        <EndedBanner run={run} />
      ) : run.state === "queued" ? (
        <QueueBanner position={run.queuePosition} reason={run.queueReason} />
      ) : meta.waiting ? (
        <InlineAlert tone="warning" title={meta.label}>
          {meta.help}
        </InlineAlert>
      ) : null}

      {run.agent === "external" && !meta.terminal && !run.mcp?.connectedAt && run.toolCallsUsed === 0 ? (
        <InlineAlert tone="info" title="Waiting for the external agent to connect">
          Connect an MCP client to <span className="font-mono">/api/mcp</span> with the run token shown when this run was created (Authorization: Bearer …). The
          token is not shown again; if it is lost, stop this run and start a new one. Without any MCP request the run ends at its idle timeout.
        </InlineAlert>
      ) : null}

      <dl className="grid grid-cols-3 gap-2 text-center sm:max-w-xl" aria-label="Usage">
        <Counter label="Steps" value={formatCount(run.stepsUsed)} max={formatCount(run.limits.maxSteps)} />
        <Counter label="Tool calls" value={formatCount(run.toolCallsUsed)} max={formatCount(run.limits.maxToolCalls)} />
        <Counter label="Tokens" value={formatTokens(run.tokensUsed)} max={formatTokens(run.limits.tokenBudget)} />
      </dl>
      {meta.terminal ? null : <RunUsageMeters runId={run.id} />}
      <RunIsolation runtime={run.runtime} terminal={Boolean(meta.terminal)} engine={run.state === "queued" ? null : run.engine} />

      <div className="rounded-xl border border-border bg-surface">
        <button
          type="button"
          aria-expanded={taskOpen}
          aria-controls="run-task"
          onClick={() => setTaskOpen((o) => !o)}
          className="flex w-full items-center justify-between gap-3 rounded-xl px-3 py-2.5 text-left text-sm hover:bg-surface-muted sm:px-4"
        >
          <span className="min-w-0">
            <span className="font-medium">Task and limits</span>
            <span className="ml-2 text-fg-muted max-sm:hidden">
              {run.limits.memoryMb} MB · {run.limits.cpus} CPU · {run.limits.pids} pids · {run.limits.commandTimeoutS} s/command · {run.limits.runTimeoutS}{" "}
              s/run
            </span>
          </span>
          <ChevronDownIcon size={16} className={cn("shrink-0 transition-transform", taskOpen && "rotate-180")} />
        </button>
        <div id="run-task" hidden={!taskOpen} className="space-y-3 border-t border-border px-3 py-3 text-sm sm:px-4">
          <p className="break-words whitespace-pre-wrap">{run.task}</p>
          <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-xs sm:grid-cols-3" aria-label="Limits">
            <Limit label="Memory" value={`${run.limits.memoryMb} MB`} />
            <Limit label="CPUs" value={String(run.limits.cpus)} />
            <Limit label="Processes" value={String(run.limits.pids)} />
            <Limit label="Command timeout" value={`${run.limits.commandTimeoutS} s`} />
            <Limit label="Run timeout" value={`${run.limits.runTimeoutS} s`} />
            {run.runtime ? <Limit label="Runtime" value={run.runtime === "runsc" ? "gVisor (runsc)" : "runc"} /> : null}
            {run.state !== "queued" ? <Limit label="Engine" value={run.engine} mono={run.engine !== "local"} /> : null}
            {run.testCommand ? <Limit label="Test command" value={run.testCommand} mono /> : null}
          </dl>
        </div>
      </div>
    </header>
  );
}

/** Where a queued run stands in line and why it waits; announced politely when it moves. */
function QueueBanner({ position, reason }: { position: number | null; reason: string | null }) {
  return (
    <div role="status" aria-live="polite" className="rounded-lg border border-border bg-surface-muted px-3 py-2.5 text-sm" data-testid="queue-status">
      <p className="font-semibold text-fg">
        {position ? (
          <>
            Queued: <span className="tabular-nums">#{position}</span> in line
          </>
        ) : (
          "Queued"
        )}
      </p>
      <p className="mt-0.5 break-words text-fg-muted">
        {reason ? `Why it waits: ${reason}.` : "Waiting for the supervisor to start its sandbox."} It starts in order as other runs end.
      </p>
    </div>
  );
}

function Counter({ label, value, max }: { label: string; value: string; max: string }) {
  return (
    <div className="rounded-xl border border-border bg-surface px-2 py-2">
      <dt className="text-[11px] font-medium tracking-wide text-fg-muted uppercase">{label}</dt>
      <dd className="mt-0.5 text-lg font-semibold tabular-nums">
        {value}
        <span className="ml-1 text-xs font-normal text-fg-muted">/ {max}</span>
      </dd>
    </div>
  );
}

function Limit({ label, value, mono }: { label: string; value: string; mono?: boolean }) {
  return (
    <div className="min-w-0">
      <dt className="text-fg-muted">{label}</dt>
      <dd className={cn("break-all text-fg", mono && "font-mono")}>{value}</dd>
    </div>
  );
}

function EndedBanner({ run }: { run: Run }) {
  if (run.state === "succeeded" && run.deniedCalls > 0) return <SuccessWithDenialsBanner summary={run.summary} deniedCalls={run.deniedCalls} />;
  if (run.state === "succeeded") {
    return (
      <InlineAlert tone="success" title="The run succeeded">
        {run.summary ? <p className="break-words whitespace-pre-wrap">{run.summary}</p> : <p>The agent finished without a summary.</p>}
      </InlineAlert>
    );
  }
  const title = run.state === "killed" ? "The run was killed" : run.state === "failed" ? "The run failed" : stateMeta(run.state).label;
  return (
    <div role="status" className="rounded-lg border border-danger/40 bg-danger-soft px-3 py-2.5 text-sm" data-testid="ended-reason">
      <p className="font-semibold text-danger">{title}</p>
      <p className="mt-0.5 break-words text-fg">
        {run.endedReason ?? "No reason was recorded."}
        {run.endedBy && run.endedBy !== "agent" && run.endedBy !== "system" ? <span className="text-fg-muted"> — {run.endedBy}</span> : null}
      </p>
      {run.summary ? <p className="mt-1 break-words whitespace-pre-wrap text-fg-muted">{run.summary}</p> : null}
    </div>
  );
}

function PlanSection({
  plan,
  approved,
  currentStep,
  done,
  stepsDone,
}: {
  plan: PlanStep[];
  approved: boolean;
  currentStep: number;
  done: boolean;
  stepsDone: number[];
}) {
  const [open, setOpen] = useState(true);
  return (
    <section aria-labelledby="run-plan-title" className="rounded-xl border border-border bg-surface">
      <h2 id="run-plan-title" className="text-base font-semibold">
        <button
          type="button"
          aria-expanded={open}
          aria-controls="run-plan"
          onClick={() => setOpen((o) => !o)}
          className="flex w-full items-center justify-between gap-3 rounded-xl px-3 py-2.5 text-left hover:bg-surface-muted sm:px-4"
        >
          <span>
            Plan{" "}
            <span className="ml-1 text-sm font-normal text-fg-muted">
              {plan.length} step{plan.length === 1 ? "" : "s"} ·{" "}
              {approved ? planProgress(plan.length, stepsDone.length, done, currentStep) : "not approved yet"}
            </span>
          </span>
          <ChevronDownIcon size={16} className={cn("shrink-0 transition-transform", open && "rotate-180")} />
        </button>
      </h2>
      <div id="run-plan" hidden={!open} className="border-t border-border px-3 py-3 sm:px-4">
        <PlanStepList steps={plan} currentStep={approved && !done ? currentStep : undefined} done={done} doneSteps={stepsDone} />
      </div>
    </section>
  );
}
