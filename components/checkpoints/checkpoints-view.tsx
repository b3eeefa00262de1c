"use client";
// A run's checkpoint timeline: every checkpoint with its label, plan step,
// size and diff, the run's cumulative diff, rollback for those allowed, and
// the result's downloads and merge-back. Refreshes while the run is active.
import { useQuery } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import Link from "next/link";
import { useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button, buttonClasses } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { EmptyState } from "@/components/ui/empty-state";
import { Skeleton, SkeletonRows } from "@/components/ui/skeleton";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { RunTabs } from "@/components/runs/run-tabs";
import { stateMeta } from "@/components/runs/run-state";
import { CheckpointDiff } from "@/components/checkpoints/checkpoint-diff";
import { MergeBackPanel } from "@/components/checkpoints/merge-back-panel";
import { RollbackButton } from "@/components/checkpoints/rollback-button";
import { SnapshotsPanel } from "@/components/checkpoints/snapshots-panel";
import { cn } from "@/lib/cn";
import { errorMessage } from "@/lib/errors";
import { formatBytes } from "@/lib/format";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { LocalTime } from "@/components/ui/local-time";

type CheckpointList = inferRouterOutputs<AppRouter>["runs"]["checkpoints"];
type CheckpointItem = CheckpointList["items"][number];

const KIND: Record<CheckpointItem["kind"], { label: string; tone: "neutral" | "accent" | "warning" | "success" }> = {
  start: { label: "Start", tone: "success" },
  tool: { label: "Tool call", tone: "neutral" },
  rollback: { label: "Rollback", tone: "warning" },
  manual: { label: "Saved", tone: "accent" },
};

export function CheckpointsView({ runId, user }: { runId: string; user: SessionUser }) {
  const trpc = useTRPC();
  const run = useQuery(trpc.runs.get.queryOptions({ id: runId }));
  const active = run.data ? !stateMeta(run.data.state).terminal : false;
  const list = useQuery({ ...trpc.runs.checkpoints.queryOptions({ id: runId }), refetchInterval: active ? 3000 : false });
  const [open, setOpen] = useState<string | null>(null);
  const [showRunDiff, setShowRunDiff] = useState(false);

  if (run.isPending || list.isPending) return <CheckpointsSkeleton />;
  const error = run.error ?? list.error;
  if (error || !run.data || !list.data) {
    const notFound = error instanceof TRPCClientError && (error.data as { code?: string } | undefined)?.code === "NOT_FOUND";
    return notFound ? (
      <EmptyState
        title="Run not found"
        actions={
          <Link href="/runs" className={buttonClasses("secondary")}>
            Back to runs
          </Link>
        }
      >
        <p>There is no run with id {runId}.</p>
      </EmptyState>
    ) : (
      <InlineAlert title="The checkpoints could not be loaded">
        <p>{errorMessage(error)}</p>
        <Button variant="secondary" size="sm" className="mt-2" onClick={() => (void run.refetch(), void list.refetch())}>
          Try again
        </Button>
      </InlineAlert>
    );
  }

  const r = run.data;
  const { items, workspace } = list.data;
  const cleaned = Boolean(workspace?.cleanedAt);
  const newestFirst = [...items].reverse();
  const usage = workspace ? Math.min(100, Math.round((workspace.storageBytes / Math.max(1, workspace.storageCapBytes)) * 100)) : 0;

  return (
    <div className="space-y-5">
      <header className="space-y-2">
        <Link href={`/runs/${runId}`} className="text-sm text-fg-muted hover:text-fg">
          ← {r.title}
        </Link>
        <div className="flex flex-wrap items-center gap-2">
          <h1 className="text-xl font-semibold tracking-tight sm:text-2xl">Checkpoints</h1>
          <RunStateBadge state={r.state} deniedCalls={r.deniedCalls} />
        </div>
        <RunTabs runId={runId} current="checkpoints" />
        <p className="max-w-2xl text-sm text-fg-muted">
          The workspace is checkpointed after every change (file writes, edits and commands). Any checkpoint can be restored byte for byte; a rollback is itself
          a checkpoint, so it can be undone.
        </p>
      </header>

      <div className="grid gap-3 sm:grid-cols-3">
        <Stat label="Checkpoints" value={String(items.length)} />
        <Stat
          label="Storage"
          value={workspace ? `${formatBytes(workspace.storageBytes)} of ${formatBytes(workspace.storageCapBytes)}` : "—"}
          bar={workspace ? usage : undefined}
        />
        <Stat label="Automatic rollback" value={list.data.autoRollback === "on_failure" ? "On failure and failing tests" : "Off"} />
      </div>

      {cleaned ? (
        <InlineAlert tone="warning" title="This workspace was cleaned up">
          Its retention period ended on <LocalTime date={workspace!.cleanedAt!} />. The checkpoints and their diffs remain; the files can no longer be restored
          or downloaded.
        </InlineAlert>
      ) : null}
      {workspace && workspace.skippedPaths.length ? (
        <details className="rounded-lg border border-border bg-surface px-3 py-2 text-sm">
          <summary className="cursor-pointer text-fg-muted">
            {workspace.skippedPaths.length} path{workspace.skippedPaths.length === 1 ? " is" : "s are"} left out of checkpoints (too large or unreadable)
          </summary>
          <ul className="mt-2 space-y-0.5 font-mono text-xs break-all">
            {workspace.skippedPaths.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </details>
      ) : null}

      <Card>
        <CardHeader
          title="Whole run"
          description="Everything the run changed: its start against its latest checkpoint."
          actions={
            <Button size="sm" variant="secondary" onClick={() => setShowRunDiff((s) => !s)} aria-expanded={showRunDiff}>
              {showRunDiff ? "Hide diff" : "Show diff"}
            </Button>
          }
        />
        {showRunDiff ? (
          <CardBody>
            <CheckpointDiff runId={runId} />
          </CardBody>
        ) : null}
      </Card>

      <section aria-labelledby="timeline-title" className="space-y-3">
        <h2 id="timeline-title" className="text-base font-semibold">
          Timeline <span className="text-sm font-normal text-fg-muted">(newest first)</span>
        </h2>
        {items.length === 0 ? (
          <EmptyState title="No checkpoints yet">
            <p>The first one is taken when the run&apos;s sandbox starts.</p>
          </EmptyState>
        ) : (
          <ol className="space-y-2" data-testid="checkpoint-timeline">
            {newestFirst.map((c, i) => (
              <CheckpointRow
                key={c.id}
                runId={runId}
                checkpoint={c}
                latest={i === 0}
                restoredFrom={c.restoredFromId ? items.find((x) => x.id === c.restoredFromId)?.seq : undefined}
                open={open === c.id}
                onToggle={() => setOpen(open === c.id ? null : c.id)}
                mayRollback={list.data.mayRollback && !cleaned}
                runActive={active}
              />
            ))}
          </ol>
        )}
      </section>

      <SnapshotsPanel
        runId={runId}
        runCreatedBy={r.createdBy}
        user={user}
        runActive={active}
        latest={items.length > 0 ? { id: items[items.length - 1]!.id, seq: items[items.length - 1]!.seq } : null}
      />

      <MergeBackPanel
        runId={runId}
        user={user}
        runCreatedBy={r.createdBy}
        runEnded={!active}
        source={workspace?.source ?? null}
        hasCheckpoints={items.length > 0 && !cleaned}
      />
    </div>
  );
}

function Stat({ label, value, bar }: { label: string; value: string; bar?: number }) {
  return (
    <div className="rounded-lg border border-border bg-surface px-3 py-2.5">
      <div className="text-xs text-fg-muted">{label}</div>
      <div className="mt-0.5 text-sm font-medium">{value}</div>
      {bar !== undefined ? (
        <div
          className="mt-1.5 h-1.5 overflow-hidden rounded-full bg-surface-muted"
          role="meter"
          aria-label={label}
          aria-valuenow={bar}
          aria-valuemin={0}
          aria-valuemax={100}
        >
          <div className={cn("h-full rounded-full", bar > 90 ? "bg-danger" : bar > 70 ? "bg-warning" : "bg-accent")} style={{ width: `${bar}%` }} />
        </div>
      ) : null}
    </div>
  );
}

function CheckpointRow({
  runId,
  checkpoint: c,
  latest,
  restoredFrom,
  open,
  onToggle,
  mayRollback,
  runActive,
}: {
  runId: string;
  checkpoint: CheckpointItem;
  latest: boolean;
  restoredFrom?: number;
  open: boolean;
  onToggle: () => void;
  mayRollback: boolean;
  runActive: boolean;
}) {
  const kind = KIND[c.kind];
  return (
    <li id={`checkpoint-${c.seq}`} className="rounded-lg border border-border bg-surface" data-testid="checkpoint" data-seq={c.seq}>
      <div className="flex flex-wrap items-start justify-between gap-2 px-3 py-2.5">
        <div className="min-w-0 space-y-1">
          <div className="flex flex-wrap items-center gap-2">
            <span className="font-mono text-xs text-fg-muted">#{c.seq}</span>
            <span className="text-sm font-medium break-all">{c.label}</span>
            <Badge tone={kind.tone}>{kind.label}</Badge>
            {c.approved ? <Badge tone="success">Approved</Badge> : null}
            {latest ? <Badge tone="accent">Current</Badge> : null}
          </div>
          <p className="text-xs text-fg-muted">
            <LocalTime date={c.createdAt} format="relative" />
            {c.planStep ? ` · step ${c.planStep}` : ""}
            {restoredFrom ? ` · restored #${restoredFrom}` : ""}
            {" · "}
            {c.filesChanged} file{c.filesChanged === 1 ? "" : "s"} <span className="text-success">+{c.additions}</span>{" "}
            <span className="text-danger">−{c.deletions}</span>
            {" · "}
            {formatBytes(c.sizeBytes)}
            {c.createdBy && c.kind !== "tool" ? ` · by ${c.createdBy}` : ""}
          </p>
        </div>
        <div className="flex flex-wrap gap-2">
          <Button size="sm" variant="ghost" onClick={onToggle} aria-expanded={open}>
            {open ? "Hide diff" : "Diff"}
          </Button>
          {mayRollback && !latest ? <RollbackButton runId={runId} checkpoint={c} runActive={runActive} /> : null}
        </div>
      </div>
      {open ? (
        <div className="border-t border-border px-3 py-3">
          <CheckpointDiff runId={runId} checkpointId={c.id} />
        </div>
      ) : null}
    </li>
  );
}

function CheckpointsSkeleton() {
  return (
    <div className="space-y-5" role="status" aria-live="polite">
      <span className="sr-only">Loading the checkpoints…</span>
      <Skeleton className="h-7 w-60" />
      <div className="grid gap-3 sm:grid-cols-3">
        <Skeleton className="h-16" />
        <Skeleton className="h-16" />
        <Skeleton className="h-16" />
      </div>
      <SkeletonRows rows={4} label="" />
    </div>
  );
}
