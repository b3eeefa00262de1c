"use client";
// A unified diff as a unified or side-by-side view, syntax highlighted by the
// file's extension. Side by side needs room: below the md breakpoint it falls
// back to the unified view.
import { Fragment, useMemo, useState, type ReactNode } from "react";
import { cn } from "@/lib/cn";
import { Button } from "@/components/ui/button";
import { highlightLine, languageForPath } from "@/components/diff/highlight";
import { lineNumberColumns, wrappedLineStyle, type LineNumberColumns } from "@/components/diff/diff-layout";
import { parseUnifiedDiff, toSplitRows, type DiffHunk, type DiffLine } from "@/components/diff/parse-diff";
import "./highlight.css";

export type DiffMode = "unified" | "split";
export type DiffSide = "old" | "new";

/**
 * Extras a caller puts on lines (the review's line comments): `action` sits
 * in the row (a "comment" button), `below` under it (the thread). Removed
 * lines are on the old side, added and context lines on the new one.
 */
export type LineAnnotator = (line: DiffLine, side: DiffSide) => { action?: ReactNode; below?: ReactNode } | null;

const sideOf = (line: DiffLine): DiffSide => (line.type === "del" ? "old" : "new");
const lineNoOf = (line: DiffLine, side: DiffSide) => (side === "old" ? line.oldNo : line.newNo);

/** Beyond this many lines, the rest waits behind a "Show all" button. */
const INITIAL_LINES = 1500;

const LINE_BG: Record<DiffLine["type"], string> = {
  add: "bg-success-soft/70",
  del: "bg-danger-soft/70",
  context: "",
  note: "text-fg-muted italic",
};
const NUM_BG: Record<DiffLine["type"], string> = {
  add: "bg-success-soft text-success",
  del: "bg-danger-soft text-danger",
  context: "text-fg-muted/70",
  note: "text-fg-muted/70",
};
const MARK: Record<DiffLine["type"], string> = { add: "+", del: "-", context: " ", note: "" };

export function DiffView({
  diff,
  path,
  mode,
  wrap,
  annotate,
}: {
  diff: string;
  path?: string | null;
  mode: DiffMode;
  wrap: boolean;
  annotate?: LineAnnotator;
}) {
  const parsed = useMemo(() => parseUnifiedDiff(diff), [diff]);
  const language = languageForPath(path ?? parsed.newPath ?? parsed.oldPath);
  const totalLines = parsed.hunks.reduce((n, h) => n + h.lines.length, 0);
  const columns = useMemo(() => lineNumberColumns(parsed.hunks), [parsed]);
  const [showAll, setShowAll] = useState(false);
  const limit = showAll ? Infinity : INITIAL_LINES;

  if (parsed.hunks.length === 0) {
    return <p className="px-3 py-2.5 text-sm text-fg-muted">No line changes.</p>;
  }

  let budget = limit;
  const hunks: DiffHunk[] = [];
  for (const h of parsed.hunks) {
    if (budget <= 0) break;
    hunks.push(budget >= h.lines.length ? h : { ...h, lines: h.lines.slice(0, budget) });
    budget -= h.lines.length;
  }

  return (
    <div
      className="diff-code overflow-x-auto font-mono text-[12px] leading-5 [tab-size:4]"
      data-testid="diff-view"
      data-diff-mode={mode}
      data-diff-wrap={wrap ? "wrap" : "scroll"}
      data-line-numbers={columns}
    >
      {hunks.map((hunk, i) =>
        mode === "split" ? (
          <SplitHunk key={i} hunk={hunk} language={language} wrap={wrap} annotate={annotate} />
        ) : (
          <UnifiedHunk key={i} hunk={hunk} language={language} wrap={wrap} columns={columns} annotate={annotate} />
        ),
      )}
      {totalLines > limit ? (
        <div className="flex items-center justify-between gap-3 border-t border-border bg-surface-muted px-3 py-2 font-sans text-xs text-fg-muted">
          <span>
            Showing {INITIAL_LINES} of {totalLines} lines.
          </span>
          <Button size="sm" variant="secondary" onClick={() => setShowAll(true)}>
            Show all lines
          </Button>
        </div>
      ) : null}
    </div>
  );
}

function HunkHeader({ hunk }: { hunk: DiffHunk }) {
  return <div className="sticky left-0 border-y border-border bg-accent-soft/60 px-3 py-1 text-[11px] text-fg-muted first:border-t-0">{hunk.header}</div>;
}

function Code({ line, language, wrap }: { line: DiffLine; language: string | null; wrap: boolean }) {
  const html = useMemo(() => (line.type === "note" ? null : highlightLine(line.text, language)), [line, language]);
  // Wrapped: break between words (never inside an identifier unless one token is wider than the line), continuation lines hang under the indentation.
  return (
    <span
      className={cn("min-w-0 flex-1 pr-3", wrap ? "whitespace-pre-wrap [overflow-wrap:break-word] [word-break:normal]" : "whitespace-pre")}
      style={wrap ? wrappedLineStyle(line.text) : undefined}
    >
      {html === null ? `\\ ${line.text}` : <span dangerouslySetInnerHTML={{ __html: html || " " }} />}
    </span>
  );
}

function LineNo({ n, type }: { n: number | null; type: DiffLine["type"] }) {
  return <span className={cn("w-10 shrink-0 pr-2 text-right select-none", NUM_BG[type])}>{n ?? ""}</span>;
}

function UnifiedHunk({
  hunk,
  language,
  wrap,
  columns,
  annotate,
}: {
  hunk: DiffHunk;
  language: string | null;
  wrap: boolean;
  columns: LineNumberColumns;
  annotate?: LineAnnotator;
}) {
  return (
    <div className={cn(!wrap && "w-max min-w-full")}>
      <HunkHeader hunk={hunk} />
      {hunk.lines.map((line, i) => {
        const extra = annotate && line.type !== "note" ? annotate(line, sideOf(line)) : null;
        return (
          <Fragment key={i}>
            <UnifiedLine line={line} language={language} wrap={wrap} columns={columns} action={extra?.action} />
            {extra?.below ? <div className="sticky left-0 max-w-[100vw] font-sans md:max-w-none">{extra.below}</div> : null}
          </Fragment>
        );
      })}
    </div>
  );
}

function UnifiedLine({
  line,
  language,
  wrap,
  columns,
  action,
}: {
  line: DiffLine;
  language: string | null;
  wrap: boolean;
  columns: LineNumberColumns;
  action?: ReactNode;
}) {
  return (
    <div className={cn("group flex", LINE_BG[line.type])} data-diff-line={line.type} data-diff-line-no={lineNoOf(line, sideOf(line)) ?? undefined}>
      {action !== undefined ? <span className="w-7 shrink-0">{action}</span> : null}
      {columns !== "new" ? <LineNo n={line.oldNo} type={line.type} /> : null}
      {columns !== "old" ? <LineNo n={line.newNo} type={line.type} /> : null}
      <span
        aria-hidden="true"
        className={cn("w-4 shrink-0 text-center select-none", line.type === "add" ? "text-success" : line.type === "del" ? "text-danger" : "text-fg-muted")}
      >
        {MARK[line.type]}
      </span>
      <span className="sr-only">{line.type === "add" ? "added: " : line.type === "del" ? "removed: " : ""}</span>
      <Code line={line} language={language} wrap={wrap} />
    </div>
  );
}

function SplitHunk({ hunk, language, wrap, annotate }: { hunk: DiffHunk; language: string | null; wrap: boolean; annotate?: LineAnnotator }) {
  const rows = useMemo(() => toSplitRows(hunk.lines), [hunk.lines]);
  return (
    <div>
      <HunkHeader hunk={hunk} />
      {rows.map((row, i) => {
        // A context line is on both sides: its comments belong to the new side only.
        const left = annotate && row.left && row.left.type === "del" ? annotate(row.left, "old") : null;
        const right = annotate && row.right && row.right.type !== "note" ? annotate(row.right, "new") : null;
        return (
          <Fragment key={i}>
            <div className="grid grid-cols-2 divide-x divide-border">
              <SplitSide line={row.left} side="old" language={language} wrap={wrap} action={annotate ? (left?.action ?? null) : undefined} />
              <SplitSide line={row.right} side="new" language={language} wrap={wrap} action={annotate ? (right?.action ?? null) : undefined} />
            </div>
            {left?.below || right?.below ? (
              <div className="grid grid-cols-2 divide-x divide-border font-sans">
                <div>{left?.below}</div>
                <div>{right?.below}</div>
              </div>
            ) : null}
          </Fragment>
        );
      })}
    </div>
  );
}

function SplitSide({
  line,
  side,
  language,
  wrap,
  action,
}: {
  line: DiffLine | null;
  side: DiffSide;
  language: string | null;
  wrap: boolean;
  action?: ReactNode;
}) {
  if (!line) return <div className="bg-surface-muted/60" aria-hidden="true" />;
  const type = line.type;
  return (
    <div
      className={cn("group flex min-w-0", LINE_BG[type], !wrap && "overflow-x-auto")}
      data-diff-line={type}
      data-diff-side={side}
      data-diff-line-no={lineNoOf(line, side) ?? undefined}
    >
      {action !== undefined ? <span className="w-7 shrink-0">{action}</span> : null}
      <LineNo n={side === "old" ? line.oldNo : line.newNo} type={type} />
      <span
        aria-hidden="true"
        className={cn("w-4 shrink-0 text-center select-none", type === "add" ? "text-success" : type === "del" ? "text-danger" : "text-fg-muted")}
      >
        {MARK[type]}
      </span>
      <span className="sr-only">{type === "add" ? "added: " : type === "del" ? "removed: " : ""}</span>
      <Code line={line} language={language} wrap={wrap} />
    </div>
  );
}
