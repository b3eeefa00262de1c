"use client";
// A file change as reviewers see it: path, new / modified, +/− counts, and
// the diff (unified or side by side), or why there is no diff to show.
import { useState } from "react";
import { Badge } from "@/components/ui/badge";
import { Segmented } from "@/components/ui/segmented";
import { useIsWide } from "@/components/ui/use-media-query";
import { DiffView, type DiffMode } from "@/components/diff/diff-view";
import { useDiffWrap } from "@/components/diff/use-diff-wrap";
import { formatBytes } from "@/lib/format";
import type { FileDiffPreview as ServerFileDiffPreview } from "@/server/tools/preview";

/** The server's preview; sizes may be missing in previews stored by older versions. */
export type FileDiffPreview = Omit<ServerFileDiffPreview, "oldBytes" | "newBytes"> & Partial<Pick<ServerFileDiffPreview, "oldBytes" | "newBytes">>;

export function isFileDiffPreview(p: unknown): p is FileDiffPreview {
  return typeof p === "object" && p !== null && (p as { type?: unknown }).type === "file_diff";
}

const size = (n: number | undefined) => (n === undefined ? "?" : formatBytes(n));

const STATUS = {
  created: { label: "New file", tone: "success" },
  modified: { label: "Modified", tone: "accent" },
  unchanged: { label: "No change", tone: "neutral" },
} as const;

export function FileChange({ preview, defaultMode = "unified" }: { preview: FileDiffPreview; defaultMode?: DiffMode }) {
  const wide = useIsWide();
  const [mode, setMode] = useState<DiffMode>(defaultMode);
  const effective: DiffMode = wide ? mode : "unified";
  const [wrap, setWrap] = useDiffWrap(!wide);
  const shownPath = preview.path.replace(/^\/workspace\//, "");
  const status = STATUS[preview.status] ?? STATUS.modified;
  const hasDiff = !preview.binary && !preview.tooLarge && preview.status !== "unchanged";

  return (
    <div className="overflow-hidden rounded-lg border border-border bg-surface" data-testid="file-change">
      <div className="flex flex-wrap items-center justify-between gap-2 border-b border-border bg-surface-muted px-3 py-2">
        <div className="flex min-w-0 flex-wrap items-center gap-2">
          <span className="font-mono text-[13px] font-medium break-all text-fg" title={preview.path}>
            {shownPath}
          </span>
          <Badge tone={status.tone}>{status.label}</Badge>
          {preview.binary ? <Badge tone="warning">Binary</Badge> : null}
          {hasDiff ? (
            <span className="font-mono text-xs" aria-label={`${preview.additions} lines added, ${preview.deletions} removed`}>
              <span className="text-success">+{preview.additions}</span> <span className="text-danger">−{preview.deletions}</span>
            </span>
          ) : null}
        </div>
        {hasDiff ? (
          <div className="flex flex-wrap items-center gap-2">
            <button
              type="button"
              aria-pressed={wrap}
              onClick={() => setWrap(!wrap)}
              title={wrap ? "Long lines wrap; press to scroll them sideways instead" : "Long lines scroll sideways; press to wrap them"}
              className="inline-flex h-8 items-center rounded-lg border border-border-strong bg-surface px-2.5 text-xs font-medium text-fg hover:bg-surface-muted aria-pressed:bg-accent-soft aria-pressed:text-accent"
            >
              Wrap lines
            </button>
            <Segmented<DiffMode>
              label="Diff layout"
              value={effective}
              onChange={setMode}
              options={[
                { value: "unified", label: "Unified" },
                { value: "split", label: "Side by side", disabled: !wide, title: wide ? undefined : "Side by side needs a wider screen" },
              ]}
            />
          </div>
        ) : null}
      </div>
      {preview.binary ? (
        <p className="px-3 py-3 text-sm text-fg-muted">
          Binary content is not shown. {preview.status === "created" ? "New file" : "Size"}: {size(preview.newBytes)}
          {preview.status === "modified" ? ` (was ${size(preview.oldBytes)})` : ""}.
        </p>
      ) : preview.tooLarge ? (
        <p className="px-3 py-3 text-sm text-fg-muted">
          Too large to preview: {size(preview.newBytes)}
          {preview.status === "modified" ? ` (was ${size(preview.oldBytes)})` : ""}. Only files up to 512 KB get a line-by-line diff.
        </p>
      ) : preview.status === "unchanged" ? (
        <p className="px-3 py-3 text-sm text-fg-muted">The new content is identical to the current file.</p>
      ) : (
        <DiffView diff={preview.diff} path={preview.path} mode={effective} wrap={wrap} />
      )}
    </div>
  );
}
