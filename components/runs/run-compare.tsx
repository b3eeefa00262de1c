"use client";
// Two runs side by side (issue 16): outcome, state, wall time, tokens and
// tool calls by verdict, then the diffs — each run's own changes and the
// difference between their final workspaces.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useMemo, useState, type ReactNode } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Segmented } from "@/components/ui/segmented";
import { SkeletonRows } from "@/components/ui/skeleton";
import { useIsWide } from "@/components/ui/use-media-query";
import { DiffLayoutToggle, DiffTotals } from "@/components/diff/diff-controls";
import { DiffView, type DiffMode } from "@/components/diff/diff-view";
import { displayPath, splitGitDiff } from "@/components/checkpoints/split-diff";
import { errorMessage } from "@/lib/errors";
import { atLeast } from "@/lib/permissions";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { formatCount, formatDuration, formatTokens, shortId } from "@/components/runs/format";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { RerunButton } from "@/components/runs/run-lineage";

type Compared = inferRouterOutputs<AppRouter>["runs"]["compare"];
type Side = Compared["a"];
type DiffChoice = "a" | "b" | "between";

function sourceText(source: Side["source"]): string {
  if (!source || source.type === "empty") return "empty workspace";
  if (source.type === "git") return `${source.path}${source.commit ? ` @ ${source.commit.slice(0, 10)}` : source.ref ? ` @ ${source.ref}` : ""}`;
  return `archive ${source.name ?? source.uploadId}`;
}

export function RunCompare({ a, b, user }: { a: string; b: string; user: SessionUser }) {
  const trpc = useTRPC();
  const compared = useQuery(trpc.runs.compare.queryOptions({ a, b }));
  const [choice, setChoice] = useState<DiffChoice>("between");
  if (compared.isPending) return <SkeletonRows rows={6} label="Comparing the runs…" />;
  if (!compared.data)
    return (
      <InlineAlert title="The runs could not be compared">
        <p>{errorMessage(compared.error)}</p>
        <Button variant="secondary" size="sm" className="mt-2" onClick={() => compared.refetch()}>
          Try again
        </Button>
      </InlineAlert>
    );
  const { a: left, b: right, between } = compared.data;
  const canStart = atLeast(user.role, "operator");
  const rows: { label: string; value: (s: Side) => ReactNode }[] = [
    { label: "State", value: (s) => <RunStateBadge state={s.run.state} deniedCalls={s.run.deniedCalls} /> },
    { label: "Outcome", value: (s) => s.run.summary ?? s.run.endedReason ?? "—" },
    { label: "Duration", value: (s) => (s.durationMs === null ? "not started" : formatDuration(s.durationMs)) },
    { label: "Tokens", value: (s) => formatTokens(s.run.tokensUsed) },
    { label: "Tool calls", value: (s) => formatCount(s.run.toolCallsUsed) },
    { label: "Allowed", value: (s) => formatCount(s.calls.allow) },
    { label: "Asked a reviewer", value: (s) => formatCount(s.calls.ask) },
    { label: "Denied by policy", value: (s) => formatCount(s.calls.deny) },
    { label: "Denied (policy or reviewer)", value: (s) => formatCount(s.run.deniedCalls) },
    { label: "Operator", value: (s) => s.run.createdByEmail ?? "—" },
    { label: "Model", value: (s) => s.run.modelId ?? "external agent" },
    { label: "Source", value: (s) => sourceText(s.source) },
  ];
  const diff = choice === "a" ? left.diff : choice === "b" ? right.diff : between;
  return (
    <div className="space-y-5">
      <div className="overflow-x-auto rounded-xl border border-border bg-surface">
        <table className="w-full text-sm" data-testid="compare-table">
          <caption className="sr-only">The two runs side by side</caption>
          <thead>
            <tr className="border-b border-border">
              <th scope="col" className="w-1/4 px-3 py-2 text-left text-xs font-medium text-fg-muted uppercase">
                <span className="sr-only">Figure</span>
              </th>
              {[left, right].map((s, i) => (
                <th key={s.run.id} scope="col" className="px-3 py-2 text-left align-top">
                  <span className="block text-xs font-medium text-fg-muted uppercase">{i === 0 ? "A" : "B"}</span>
                  <Link href={`/runs/${s.run.id}`} className="font-medium break-words text-fg hover:text-accent hover:underline">
                    {s.run.title}
                  </Link>
                  <span className="block font-mono text-[11px] text-fg-muted">
                    {shortId(s.run.id)}
                    {s.run.rerunOf ? ` · re-run of ${shortId(s.run.rerunOf)}` : ""}
                  </span>
                  {canStart ? (
                    <span className="mt-1 block">
                      <RerunButton runId={s.run.id} />
                    </span>
                  ) : null}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.label} className="border-t border-border" data-testid={`compare-${r.label.toLowerCase().replace(/[^a-z]+/g, "-")}`}>
                <th scope="row" className="px-3 py-2 text-left align-top text-xs font-medium text-fg-muted">
                  {r.label}
                </th>
                <td className="px-3 py-2 align-top break-words">{r.value(left)}</td>
                <td className="px-3 py-2 align-top break-words">{r.value(right)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <section aria-labelledby="compare-diffs" className="space-y-3">
        <div className="flex flex-wrap items-center justify-between gap-2">
          <h2 id="compare-diffs" className="text-base font-semibold">
            Changes
          </h2>
          <Segmented<DiffChoice>
            label="Which diff"
            value={choice}
            onChange={setChoice}
            options={[
              { value: "between", label: "A → B" },
              { value: "a", label: "A's changes" },
              { value: "b", label: "B's changes" },
            ]}
          />
        </div>
        <p className="text-xs text-fg-muted">
          {choice === "between"
            ? "What B's final workspace has that A's does not (A's final state as the base)."
            : `Everything run ${choice.toUpperCase()} changed, from its start to its last checkpoint.`}
        </p>
        {diff.diff === null ? <InlineAlert tone="info">{diff.unavailable}</InlineAlert> : <CompareDiff text={diff.diff} truncated={diff.truncated} />}
      </section>
    </div>
  );
}

function CompareDiff({ text, truncated }: { text: string; truncated: boolean }) {
  const files = useMemo(() => splitGitDiff(text), [text]);
  const wide = useIsWide();
  const [mode, setMode] = useState<DiffMode>("split");
  if (files.length === 0) return <p className="text-sm text-fg-muted">No differences.</p>;
  return (
    <div className="space-y-3" data-testid="compare-diff">
      <div className="flex flex-wrap items-center justify-between gap-2 text-xs text-fg-muted">
        <DiffTotals files={files} />
        {wide ? <DiffLayoutToggle value={mode} onChange={setMode} /> : null}
      </div>
      {truncated ? (
        <InlineAlert tone="warning" title="The diff is too large to show whole">
          Only its first part is shown.
        </InlineAlert>
      ) : null}
      {files.map((f) => (
        <div key={f.path} className="overflow-hidden rounded-lg border border-border bg-surface">
          <p className="border-b border-border bg-surface-muted px-3 py-2 font-mono text-[13px] font-medium break-all">
            {displayPath(f.path)}{" "}
            <span className="text-xs">
              <span className="text-success">+{f.additions}</span> <span className="text-danger">−{f.deletions}</span>
            </span>
          </p>
          <DiffView diff={f.diff} path={f.path} mode={wide ? mode : "unified"} wrap={false} />
        </div>
      ))}
    </div>
  );
}
