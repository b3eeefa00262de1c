"use client";
// A run's "Files changed" tab (issue 16): its cumulative diff as a file tree
// and one block per file, a "viewed" mark per file (it resets when the file
// changes again), line comments kept with the checkpoint they were written
// on, and "Request changes", which sends the unsent comments to the agent.
// The server decides who may comment; this page only mirrors its rule.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { useMemo, useState } from "react";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button, buttonClasses } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { ChevronDownIcon } from "@/components/ui/icons";
import { LocalTime } from "@/components/ui/local-time";
import { SkeletonRows } from "@/components/ui/skeleton";
import { useIsWide } from "@/components/ui/use-media-query";
import { DiffLayoutToggle } from "@/components/diff/diff-controls";
import { DiffView, type DiffMode, type DiffSide, type LineAnnotator } from "@/components/diff/diff-view";
import { parseUnifiedDiff } from "@/components/diff/parse-diff";
import { displayPath } from "@/components/checkpoints/split-diff";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { stateMeta } from "@/components/runs/run-state";
import { RunTabs } from "@/components/runs/run-tabs";
import { FileTree, type TreeFile } from "@/components/review/file-tree";
import { cn } from "@/lib/cn";
import { errorMessage } from "@/lib/errors";
import { reviewCommentDenial } from "@/lib/permissions";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";

type Outputs = inferRouterOutputs<AppRouter>;
type ReviewFile = Outputs["review"]["files"]["files"][number];
type Comment = Outputs["review"]["comments"]["list"]["items"][number];

const STATUS: Record<ReviewFile["status"], { label: string; tone: "success" | "danger" | "accent" | "neutral" }> = {
  added: { label: "Added", tone: "success" },
  deleted: { label: "Deleted", tone: "danger" },
  modified: { label: "Modified", tone: "accent" },
  mode: { label: "Mode changed", tone: "neutral" },
};

const anchorOf = (i: number) => `file-${i}`;
const lineKey = (path: string, side: DiffSide, line: number) => `${path}\u0000${side}\u0000${line}`;

export function FilesChanged({ runId, user }: { runId: string; user: SessionUser }) {
  const trpc = useTRPC();
  const run = useQuery(trpc.runs.get.queryOptions({ id: runId }));
  const active = run.data ? !stateMeta(run.data.state).terminal : false;
  const files = useQuery({ ...trpc.review.files.queryOptions({ runId }), refetchInterval: active ? 5000 : false });
  const comments = useQuery({ ...trpc.review.comments.list.queryOptions({ runId }), refetchInterval: active ? 5000 : false });
  const wide = useIsWide();
  const [mode, setMode] = useState<DiffMode>("split");

  const byFile = useMemo(() => {
    const m = new Map<string, Comment[]>();
    for (const c of comments.data?.items ?? []) m.set(c.path, [...(m.get(c.path) ?? []), c]);
    return m;
  }, [comments.data]);

  if (run.isPending || files.isPending) return <SkeletonRows rows={4} label="Loading the changed files…" />;
  const error = run.error ?? files.error;
  if (error || !run.data || !files.data) {
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
      <InlineAlert title="The changed files could not be loaded">
        <p>{errorMessage(error)}</p>
        <Button variant="secondary" size="sm" className="mt-2" onClick={() => (void run.refetch(), void files.refetch())}>
          Try again
        </Button>
      </InlineAlert>
    );
  }

  const r = run.data;
  const list = files.data.files;
  const denial = reviewCommentDenial(user, r);
  const effective: DiffMode = wide ? mode : "unified";
  const viewedCount = list.filter((f) => f.viewed).length;
  const treeFiles: TreeFile[] = list.map((f, i) => ({
    path: displayPath(f.path),
    anchor: anchorOf(i),
    additions: f.additions,
    deletions: f.deletions,
    viewed: f.viewed,
    changedSinceViewed: f.changedSinceViewed,
    comments: byFile.get(f.path)?.length ?? 0,
  }));

  return (
    <div className="space-y-4">
      <header className="mx-auto max-w-4xl space-y-2 xl:mx-0">
        <Link href={`/runs/${runId}`} className="text-sm text-fg-muted hover:text-fg">
          ← {r.title}
        </Link>
        <div className="flex flex-wrap items-center gap-2">
          <h1 className="text-xl font-semibold tracking-tight sm:text-2xl">Files changed</h1>
          <RunStateBadge state={r.state} deniedCalls={r.deniedCalls} />
        </div>
      </header>
      <RunTabs runId={runId} current="files" />

      <RequestChangesBar runId={runId} run={r} comments={comments.data?.items ?? []} denial={denial?.message ?? null} />

      {list.length === 0 ? (
        <p className="py-2 text-sm text-fg-muted">No changes in the workspace yet.</p>
      ) : (
        // The tree sits beside the diffs only on very wide screens: at 1440 px the side-by-side diff needs the width more.
        <div className="2xl:grid 2xl:grid-cols-[20rem_minmax(0,1fr)] 2xl:gap-5">
          <aside className="mb-4 2xl:mb-0">
            <div className="2xl:sticky 2xl:top-4 2xl:max-h-[calc(100dvh-2rem)] 2xl:overflow-y-auto">
              <details className="rounded-lg border border-border bg-surface" open={wide}>
                <summary className="flex cursor-pointer items-center justify-between gap-2 px-3 py-2 text-sm font-medium">
                  <span>
                    {list.length} file{list.length === 1 ? "" : "s"} · <span className="text-success">+{list.reduce((n, f) => n + f.additions, 0)}</span>{" "}
                    <span className="text-danger">−{list.reduce((n, f) => n + f.deletions, 0)}</span>
                  </span>
                  <span className="text-xs font-normal text-fg-muted" data-testid="viewed-count">
                    {viewedCount} of {list.length} viewed
                  </span>
                </summary>
                <div className="border-t border-border p-1.5">
                  <FileTree files={treeFiles} />
                </div>
              </details>
            </div>
          </aside>
          <div className="min-w-0 space-y-3">
            <div className="flex flex-wrap items-center justify-between gap-2">
              <p className="text-xs text-fg-muted">
                Everything the run changed, from its start to its latest checkpoint.
                {denial ? " You can read the review; commenting needs the reviewer role (or being the run's operator)." : " Click + on a line to comment."}
              </p>
              {wide ? <DiffLayoutToggle value={mode} onChange={setMode} /> : null}
            </div>
            {files.data.truncated ? (
              <InlineAlert tone="warning" title="The diff is too large to show whole">
                Only its first part is shown. Download the patch from Checkpoints for all of it.
              </InlineAlert>
            ) : null}
            {list.map((f, i) => (
              <FileBlock
                key={f.path}
                runId={runId}
                anchor={anchorOf(i)}
                file={f}
                mode={effective}
                comments={byFile.get(f.path) ?? []}
                checkpointId={files.data.toCheckpointId}
                user={user}
                canComment={!denial}
              />
            ))}
          </div>
        </div>
      )}
    </div>
  );
}

function RequestChangesBar({ runId, run, comments, denial }: { runId: string; run: Outputs["runs"]["get"]; comments: Comment[]; denial: string | null }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [summary, setSummary] = useState("");
  const [notice, setNotice] = useState<string | null>(null);
  const unsent = comments.filter((c) => !c.sentAt);
  const ended = stateMeta(run.state).terminal;
  const send = useMutation(
    trpc.review.requestChanges.mutationOptions({
      onSuccess: (res) => {
        setSummary("");
        setNotice(
          `Sent ${res.sent} comment${res.sent === 1 ? "" : "s"} to the agent${res.agent === "external" ? "; it gets them with the result of its next tool call" : "; it reads them before its next turn"}.`,
        );
        void queryClient.invalidateQueries({ queryKey: trpc.review.comments.list.queryKey({ runId }) });
      },
    }),
  );
  if (denial && comments.length === 0) return null;
  return (
    <section aria-labelledby="request-changes-title" className="rounded-lg border border-border bg-surface px-3 py-3 sm:px-4" data-testid="request-changes">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div className="min-w-0">
          <h2 id="request-changes-title" className="text-sm font-semibold">
            Review
          </h2>
          <p className="text-sm text-fg-muted" data-testid="unsent-count">
            {unsent.length === 0
              ? `No unsent comments${comments.length ? ` · ${comments.length} sent` : ""}.`
              : `${unsent.length} unsent comment${unsent.length === 1 ? "" : "s"}${comments.length > unsent.length ? ` · ${comments.length - unsent.length} sent` : ""}.`}
          </p>
        </div>
        {!denial ? (
          <div className="flex w-full flex-col gap-2 sm:w-auto sm:flex-row sm:items-center">
            <label className="sr-only" htmlFor="request-changes-summary">
              Overall note (optional)
            </label>
            <input
              id="request-changes-summary"
              value={summary}
              onChange={(e) => setSummary(e.target.value)}
              placeholder="Overall note (optional)"
              maxLength={8000}
              disabled={ended}
              className="h-10 min-w-0 rounded-lg border border-border-strong bg-surface px-3 text-sm sm:w-72"
            />
            <Button
              variant="primary"
              disabled={ended || unsent.length === 0 || send.isPending}
              onClick={() => (setNotice(null), send.mutate({ runId, ...(summary.trim() ? { summary: summary.trim() } : {}) }))}
            >
              {send.isPending ? "Sending…" : "Request changes"}
            </Button>
          </div>
        ) : null}
      </div>
      {ended && !denial ? (
        <p className="mt-2 text-xs text-fg-muted">This run has ended, so its agent can no longer take feedback. Comments stay stored with the run.</p>
      ) : !denial && run.agent === "external" ? (
        <p className="mt-2 text-xs text-fg-muted">
          This run&apos;s agent is an external MCP client: MCP cannot push a message to it between calls, so it gets the comments with the result of its next
          tool call.
        </p>
      ) : null}
      {send.error ? (
        <InlineAlert className="mt-2" title="The comments were not sent">
          {errorMessage(send.error)}
        </InlineAlert>
      ) : null}
      {notice ? (
        <p role="status" className="mt-2 text-sm text-success">
          {notice}
        </p>
      ) : null}
    </section>
  );
}

function FileBlock({
  runId,
  anchor,
  file,
  mode,
  comments,
  checkpointId,
  user,
  canComment,
}: {
  runId: string;
  anchor: string;
  file: ReviewFile;
  mode: DiffMode;
  comments: Comment[];
  checkpointId: string | null;
  user: SessionUser;
  canComment: boolean;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [openOverride, setOpenOverride] = useState<boolean | null>(null);
  const open = openOverride ?? !file.viewed;
  const [composer, setComposer] = useState<{ side: DiffSide; line: number } | null>(null);
  const mark = useMutation(
    trpc.review.markViewed.mutationOptions({
      onSuccess: (res) => {
        setOpenOverride(!res.viewed);
        void queryClient.invalidateQueries({ queryKey: trpc.review.files.queryKey({ runId }) });
      },
    }),
  );
  const status = STATUS[file.status];
  const hasLines = !file.binary && file.additions + file.deletions > 0;
  const shownPath = displayPath(file.path);

  // Comments at a line the diff shows sit under it; the others (the line left the diff since) are listed after the file.
  const { atLine, elsewhere } = useMemo(() => {
    const parsed = parseUnifiedDiff(file.diff);
    const visible = new Set<string>();
    for (const h of parsed.hunks)
      for (const l of h.lines) {
        if (l.type === "del" && l.oldNo !== null) visible.add(lineKey(file.path, "old", l.oldNo));
        if (l.type !== "del" && l.type !== "note" && l.newNo !== null) visible.add(lineKey(file.path, "new", l.newNo));
      }
    const at = new Map<string, Comment[]>();
    const rest: Comment[] = [];
    for (const c of comments) {
      const key = lineKey(c.path, c.side, c.line);
      if (visible.has(key)) at.set(key, [...(at.get(key) ?? []), c]);
      else rest.push(c);
    }
    return { atLine: at, elsewhere: rest };
  }, [file.diff, file.path, comments]);

  const annotate: LineAnnotator = (line, side) => {
    const no = side === "old" ? line.oldNo : line.newNo;
    if (no === null) return null;
    const key = lineKey(file.path, side, no);
    const thread = atLine.get(key);
    const composing = composer?.side === side && composer.line === no;
    return {
      action: canComment ? (
        <button
          type="button"
          aria-label={`Comment on ${side === "old" ? "removed " : ""}line ${no} of ${shownPath}`}
          onClick={() => setComposer({ side, line: no })}
          className="flex h-5 w-6 items-center justify-center rounded font-sans text-sm font-bold text-fg-muted group-hover:text-accent hover:bg-accent-soft"
        >
          +
        </button>
      ) : null,
      below:
        thread || composing ? (
          <div className="space-y-2 border-y border-border bg-surface px-3 py-2 whitespace-normal">
            {thread?.map((c) => (
              <CommentView key={c.id} comment={c} runId={runId} user={user} latestCheckpointId={checkpointId} />
            ))}
            {composing ? (
              <CommentComposer
                runId={runId}
                path={file.path}
                side={side}
                line={no}
                checkpointId={checkpointId}
                onDone={() => setComposer(null)}
                label={`Comment on ${shownPath} line ${no}`}
              />
            ) : null}
          </div>
        ) : null,
    };
  };

  return (
    <section id={anchor} aria-label={shownPath} className="scroll-mt-4 overflow-hidden rounded-lg border border-border bg-surface" data-testid="review-file">
      <div className="flex flex-wrap items-center gap-2 border-b border-border bg-surface-muted px-3 py-2">
        <button
          type="button"
          aria-expanded={open}
          aria-label={`${open ? "Collapse" : "Expand"} ${shownPath}`}
          onClick={() => setOpenOverride(!open)}
          className="rounded-md p-1 text-fg-muted hover:bg-surface hover:text-fg"
        >
          <ChevronDownIcon size={16} className={cn("transition-transform", !open && "-rotate-90")} />
        </button>
        <span className="min-w-[10rem] flex-1 font-mono text-[13px] font-medium break-all text-fg">{shownPath}</span>
        <Badge tone={status.tone}>{status.label}</Badge>
        {file.binary ? <Badge tone="warning">Binary</Badge> : null}
        {hasLines ? (
          <span className="font-mono text-xs" aria-label={`${file.additions} lines added, ${file.deletions} removed`}>
            <span className="text-success">+{file.additions}</span> <span className="text-danger">−{file.deletions}</span>
          </span>
        ) : null}
        {file.changedSinceViewed ? (
          <span data-testid="changed-since-viewed">
            <Badge tone="warning">Changed since you viewed</Badge>
          </span>
        ) : null}
        <label className="inline-flex min-h-8 cursor-pointer items-center gap-1.5 rounded-md border border-border-strong bg-surface px-2 text-xs font-medium">
          <input
            type="checkbox"
            checked={file.viewed}
            disabled={mark.isPending}
            onChange={(e) => mark.mutate({ runId, path: file.path, diffHash: file.hash, viewed: e.target.checked })}
          />
          Viewed
        </label>
      </div>
      {mark.error ? <p className="px-3 py-1.5 text-xs text-danger">{errorMessage(mark.error)}</p> : null}
      {open ? (
        hasLines ? (
          // Wrapped, so no line is cut off in either layout (continuations hang under the indentation).
          <DiffView diff={file.diff} path={file.path} mode={mode} wrap annotate={annotate} />
        ) : (
          <p className="px-3 py-2.5 text-sm text-fg-muted">
            {file.binary
              ? "Binary content is not shown; download the patch to get it."
              : file.status === "mode"
                ? "Only the executable bit changed."
                : "No line changes."}
          </p>
        )
      ) : null}
      {open && elsewhere.length ? (
        <div className="space-y-2 border-t border-border px-3 py-2">
          <p className="text-xs text-fg-muted">Comments on lines the current diff no longer shows:</p>
          {elsewhere.map((c) => (
            <CommentView key={c.id} comment={c} runId={runId} user={user} latestCheckpointId={checkpointId} showLine />
          ))}
        </div>
      ) : null}
    </section>
  );
}

function CommentComposer({
  runId,
  path,
  side,
  line,
  checkpointId,
  onDone,
  label,
  initial,
  commentId,
}: {
  runId: string;
  path?: string;
  side?: DiffSide;
  line?: number;
  checkpointId?: string | null;
  onDone: () => void;
  label: string;
  initial?: string;
  commentId?: string;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [body, setBody] = useState(initial ?? "");
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.review.comments.list.queryKey({ runId }) });
  const add = useMutation(trpc.review.comments.add.mutationOptions({ onSuccess: () => (refresh(), onDone()) }));
  const update = useMutation(trpc.review.comments.update.mutationOptions({ onSuccess: () => (refresh(), onDone()) }));
  const pending = add.isPending || update.isPending;
  const error = add.error ?? update.error;
  const save = () => {
    if (commentId) update.mutate({ id: commentId, body });
    else if (path && side && line) add.mutate({ runId, path, side, line, body, ...(checkpointId ? { checkpointId } : {}) });
  };
  return (
    <div className="space-y-2 font-sans">
      <label className="sr-only" htmlFor={`composer-${commentId ?? `${side}-${line}`}`}>
        {label}
      </label>
      <textarea
        id={`composer-${commentId ?? `${side}-${line}`}`}
        autoFocus
        rows={3}
        value={body}
        onChange={(e) => setBody(e.target.value)}
        placeholder="What should change here?"
        className="w-full max-w-3xl rounded-lg border border-border-strong bg-surface px-3 py-2 text-sm"
      />
      {error ? <p className="text-xs text-danger">{errorMessage(error)}</p> : null}
      <div className="flex flex-wrap gap-2">
        <Button size="sm" onClick={save} disabled={pending || !body.trim()}>
          {commentId ? "Save" : "Comment"}
        </Button>
        <Button size="sm" variant="ghost" onClick={onDone} disabled={pending}>
          Cancel
        </Button>
      </div>
    </div>
  );
}

function CommentView({
  comment: c,
  runId,
  user,
  latestCheckpointId,
  showLine,
}: {
  comment: Comment;
  runId: string;
  user: SessionUser;
  latestCheckpointId: string | null;
  showLine?: boolean;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const remove = useMutation(
    trpc.review.comments.delete.mutationOptions({
      onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.review.comments.list.queryKey({ runId }) }),
    }),
  );
  const mine = c.authorId === user.id && !c.sentAt;
  if (editing) {
    return <CommentComposer runId={runId} commentId={c.id} initial={c.body} onDone={() => setEditing(false)} label="Edit your comment" />;
  }
  return (
    <article className="max-w-3xl rounded-md border border-border bg-surface-muted/50 px-3 py-2 font-sans text-sm" data-testid="review-comment">
      <p className="flex flex-wrap items-center gap-x-2 gap-y-0.5 text-xs text-fg-muted">
        <span className="font-medium text-fg">{c.authorEmail}</span>
        <LocalTime date={c.createdAt} format="relative" />
        {showLine ? (
          <span className="font-mono">
            {c.side === "old" ? "removed " : ""}line {c.line}
          </span>
        ) : null}
        {c.checkpointId !== latestCheckpointId ? <span>on checkpoint #{c.checkpointSeq}</span> : null}
        {c.sentAt ? (
          <>
            <Badge tone="success">
              Sent&nbsp;
              <LocalTime date={c.sentAt} format="time" />
            </Badge>
            {c.sentByEmail ? <span className="break-all">by {c.sentByEmail}</span> : null}
          </>
        ) : (
          <Badge tone="neutral">Not sent yet</Badge>
        )}
      </p>
      <p className="mt-1 break-words whitespace-pre-wrap text-fg">{c.body}</p>
      {mine ? (
        <div className="mt-1 flex gap-3 text-xs">
          <button type="button" className="font-medium text-accent hover:underline" onClick={() => setEditing(true)}>
            Edit
          </button>
          <button type="button" className="font-medium text-danger hover:underline" disabled={remove.isPending} onClick={() => remove.mutate({ id: c.id })}>
            Delete
          </button>
          {remove.error ? <span className="text-danger">{errorMessage(remove.error)}</span> : null}
        </div>
      ) : null}
    </article>
  );
}
