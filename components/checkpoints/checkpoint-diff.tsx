"use client";
// The diff of one checkpoint (against the one before it) or of the whole run
// (start → latest), one collapsible block per file, in the same diff view as
// approvals.
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { SkeletonRows } from "@/components/ui/skeleton";
import { useIsWide } from "@/components/ui/use-media-query";
import { DiffLayoutToggle, DiffTotals } from "@/components/diff/diff-controls";
import { DiffView, type DiffMode } from "@/components/diff/diff-view";
import { displayPath, splitGitDiff, type FileDiff } from "@/components/checkpoints/split-diff";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";

const STATUS: Record<FileDiff["status"], { label: string; tone: "success" | "danger" | "accent" | "neutral" }> = {
  added: { label: "Added", tone: "success" },
  deleted: { label: "Deleted", tone: "danger" },
  modified: { label: "Modified", tone: "accent" },
  mode: { label: "Mode changed", tone: "neutral" },
};

/** Beyond this many files, the rest waits behind a button. */
const INITIAL_FILES = 30;

export function CheckpointDiff({ runId, checkpointId }: { runId: string; checkpointId?: string }) {
  const trpc = useTRPC();
  const diff = useQuery(trpc.runs.diff.queryOptions({ id: runId, ...(checkpointId ? { checkpointId } : {}) }, { staleTime: checkpointId ? Infinity : 5_000 }));
  const files = useMemo(() => splitGitDiff(diff.data?.diff ?? ""), [diff.data?.diff]);
  const wide = useIsWide();
  const [mode, setMode] = useState<DiffMode>("unified");
  const [showAll, setShowAll] = useState(false);

  if (diff.isPending) return <SkeletonRows rows={3} label="Loading the diff…" />;
  if (diff.error) {
    return (
      <InlineAlert title="The diff could not be loaded">
        <p>{errorMessage(diff.error)}</p>
        <Button size="sm" variant="secondary" className="mt-2" onClick={() => diff.refetch()}>
          Try again
        </Button>
      </InlineAlert>
    );
  }
  if (files.length === 0) return <p className="px-1 py-2 text-sm text-fg-muted">No changes in the workspace{checkpointId ? " at this checkpoint" : " yet"}.</p>;

  const shown = showAll ? files : files.slice(0, INITIAL_FILES);
  const effective: DiffMode = wide ? mode : "unified";
  return (
    <div className="space-y-3" data-testid="checkpoint-diff">
      <div className="flex flex-wrap items-center justify-between gap-2 text-xs text-fg-muted">
        <DiffTotals files={files} />
        {wide ? <DiffLayoutToggle value={mode} onChange={setMode} /> : null}
      </div>
      {diff.data.truncated ? (
        <InlineAlert tone="warning" title="The diff is too large to show whole">
          Only its first part is shown. Download the patch for all of it.
        </InlineAlert>
      ) : null}
      {shown.map((f) => (
        <FileBlock key={f.path} file={f} mode={effective} />
      ))}
      {files.length > shown.length ? (
        <Button variant="secondary" size="sm" onClick={() => setShowAll(true)}>
          Show {files.length - shown.length} more files
        </Button>
      ) : null}
    </div>
  );
}

function FileBlock({ file, mode }: { file: FileDiff; mode: DiffMode }) {
  const [open, setOpen] = useState(file.additions + file.deletions <= 400);
  const status = STATUS[file.status];
  const hasLines = !file.binary && file.additions + file.deletions > 0;
  return (
    <div className="overflow-hidden rounded-lg border border-border bg-surface">
      <button
        type="button"
        onClick={() => setOpen((o) => !o)}
        aria-expanded={open}
        className="flex w-full flex-wrap items-center gap-2 border-b border-border bg-surface-muted px-3 py-2 text-left"
      >
        <span className="min-w-0 font-mono text-[13px] font-medium break-all text-fg">{displayPath(file.path)}</span>
        <Badge tone={status.tone}>{status.label}</Badge>
        {file.binary ? <Badge tone="warning">Binary</Badge> : null}
        {file.modeChange ? <span className="font-mono text-xs text-fg-muted">{file.modeChange}</span> : null}
        {hasLines ? (
          <span className="font-mono text-xs">
            <span className="text-success">+{file.additions}</span> <span className="text-danger">−{file.deletions}</span>
          </span>
        ) : null}
      </button>
      {open ? (
        hasLines ? (
          // Side by side wraps long lines so no half cuts them off; unified scrolls sideways.
          <DiffView diff={file.diff} path={file.path} mode={mode} wrap={mode === "split"} />
        ) : (
          <p className="px-3 py-2.5 text-sm text-fg-muted">
            {file.binary
              ? "Binary content is not shown; download the patch to get it."
              : file.modeChange
                ? "Only the executable bit changed."
                : "No line changes."}
          </p>
        )
      ) : null}
    </div>
  );
}
