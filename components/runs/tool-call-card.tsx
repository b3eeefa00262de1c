"use client";
// One tool call in a run's timeline: what the agent asked for, the policy's
// decision (verdict, rule and reason — always), the approval, live output and
// the result, with refusals (error code and message) up front.
import { memo, useMemo, useState } from "react";
import { Badge } from "@/components/ui/badge";
import { ChevronDownIcon } from "@/components/ui/icons";
import { cn } from "@/lib/cn";
import { LogBuffer } from "@/components/log/log-buffer";
import { LogView } from "@/components/log/log-view";
import { FileChange, isFileDiffPreview } from "@/components/diff/file-change";
import { CommandBlock, CommandParts } from "@/components/approvals/command-preview";
import { ArgsList } from "@/components/approvals/approval-card";
import type { ApprovalItem } from "@/components/approvals/types";
import { RuleAndReason, VerdictBadge } from "@/components/approvals/verdict-badge";
import { deciderOf, formatWait, isSettledStep, waitedMs, type ToolCallItem } from "@/components/runs/timeline";
import { formatCommandDuration } from "@/components/runs/format";
import { LocalTime } from "@/components/ui/local-time";

const COMMAND_TOOLS = new Set(["run_command", "run_tests", "install_package"]);

function target(item: ToolCallItem): string | null {
  const a = item.args;
  const pick =
    typeof a.path === "string"
      ? a.path
      : typeof a.url === "string"
        ? a.url
        : typeof a.pattern === "string"
          ? a.pattern
          : typeof a.query === "string"
            ? a.query
            : null;
  return pick ? pick.replace(/^\/workspace\//, "") : null;
}

type Status = { label: string; tone: "neutral" | "accent" | "success" | "danger" | "warning" };

function statusOf(item: ToolCallItem, runEnded: boolean): Status {
  if (item.result) {
    if (item.result.ok) return { label: "Done", tone: "success" };
    return { label: item.result.code ?? "Failed", tone: "danger" };
  }
  if (item.approval?.state === "pending") return { label: "Waiting for approval", tone: "warning" };
  if (runEnded) return { label: "Interrupted", tone: "neutral" };
  if (item.decision?.verdict === "deny") return { label: "Denied", tone: "danger" };
  if (item.decision) return { label: "Running…", tone: "accent" };
  return { label: "Judging…", tone: "neutral" };
}

const APPROVAL_TEXT: Record<string, string> = {
  pending: "Waiting for a reviewer",
  approved: "Approved",
  denied: "Denied",
  expired: "Expired: nobody decided in time",
  cancelled: "Cancelled",
};

export const ToolCallCard = memo(function ToolCallCard({
  item,
  approval,
  runEnded,
}: {
  item: ToolCallItem;
  approval: ApprovalItem | undefined;
  runEnded: boolean;
}) {
  const status = statusOf(item, runEnded);
  const isCommand = COMMAND_TOOLS.has(item.tool);
  const [showPreview, setShowPreview] = useState(false);
  // Calls that went through collapse to one line; a pending one is decided in its approval card above, not repeated here.
  const settled = isSettledStep(item);
  const pending = item.approval?.state === "pending" && !runEnded;
  const [openedByUser, setOpenedByUser] = useState<boolean | null>(null);
  const open = openedByUser ?? !(settled || pending);
  const diffPreview = approval && isFileDiffPreview(approval.preview) ? approval.preview : null;
  const command =
    typeof item.args.command === "string"
      ? item.args.command
      : approval?.tool === item.tool && typeof approval.preview?.command === "string"
        ? (approval.preview.command as string)
        : null;
  const editedTo = approval?.edit ? approval.edit : null;
  const t = target(item);
  const refused = item.result && !item.result.ok;
  const waited = waitedMs(item);
  const decider = deciderOf(item);

  if (!open) {
    // The line wraps rather than overflows: on a 375 px phone the tool's name, a
    // "Waiting for approval" badge and the wait do not fit on one line, and a
    // wider line scrolled the whole run page sideways under the Approve bar.
    return (
      <article
        aria-label={`Tool call #${item.seq} ${item.tool}`}
        data-testid="tool-call"
        data-tool={item.tool}
        data-tool-call-id={item.toolCallId}
        data-collapsed="true"
        className={cn("min-w-0 rounded-lg border bg-surface", pending ? "border-warning/60" : "border-border")}
      >
        <button
          type="button"
          aria-expanded={false}
          onClick={() => setOpenedByUser(true)}
          className="flex w-full min-w-0 flex-wrap items-center gap-x-2 gap-y-1 px-3 py-1.5 text-left text-xs hover:bg-surface-muted/60 sm:px-4"
        >
          <ChevronDownIcon size={14} className="shrink-0 -rotate-90 text-fg-muted" />
          <span className="shrink-0 font-mono text-fg-muted">#{item.seq}</span>
          <span className="shrink-0 font-mono text-[13px] font-semibold text-fg">{item.tool}</span>
          {t ? (
            <span className="min-w-0 truncate font-mono text-fg-muted" title={t}>
              {t}
            </span>
          ) : null}
          <span className="ml-auto flex min-w-0 flex-wrap items-center justify-end gap-1.5 text-fg-muted">
            {pending ? (
              <Badge tone="warning">Waiting for approval</Badge>
            ) : (
              <>
                <span className="sr-only" data-testid="tool-result">
                  {collapsedResult(item)}
                </span>
                {item.approval ? (
                  <span className="hidden sm:inline" data-testid="approval-state">
                    {APPROVAL_TEXT[item.approval.state] ?? item.approval.state}
                    {item.approval.by ? ` by ${item.approval.by}` : ""}
                    {item.approval.edited ? " (edited)" : ""}
                  </span>
                ) : decider === "policy" ? (
                  <span className="hidden sm:inline">allowed by policy</span>
                ) : decider === "auto" ? (
                  <span className="hidden sm:inline">allowed by a grant</span>
                ) : null}
                <Badge tone={status.tone}>{status.label}</Badge>
              </>
            )}
            {waited !== null ? (
              <span data-testid="waited">
                {pending ? "waiting" : "waited"} {formatWait(waited)}
              </span>
            ) : null}
          </span>
        </button>
      </article>
    );
  }

  return (
    <article
      aria-label={`Tool call #${item.seq} ${item.tool}`}
      data-testid="tool-call"
      data-tool={item.tool}
      data-tool-call-id={item.toolCallId}
      className={cn(
        "min-w-0 rounded-xl border bg-surface shadow-xs",
        refused ? "border-danger/40" : item.approval?.state === "pending" ? "border-warning/60" : "border-border",
      )}
    >
      <header className="flex flex-wrap items-center justify-between gap-2 border-b border-border px-3 py-2 sm:px-4">
        <div className="flex min-w-0 items-center gap-2">
          <span className="font-mono text-xs text-fg-muted">#{item.seq}</span>
          <span className="font-mono text-[13px] font-semibold text-fg">{item.tool}</span>
          {t ? (
            <span className="min-w-0 truncate font-mono text-xs text-fg-muted" title={t}>
              {t}
            </span>
          ) : null}
        </div>
        <div className="flex items-center gap-2">
          <Badge tone={status.tone} className={status.tone === "danger" ? "font-mono" : undefined}>
            {status.label}
          </Badge>
          {waited !== null ? (
            <span className="text-xs text-fg-muted" data-testid="waited">
              {item.approval?.decidedAt ? "waited" : "waiting"} {formatWait(waited)}
            </span>
          ) : null}
          <LocalTime date={item.at} format="time" className="hidden text-xs text-fg-muted sm:inline" />
          {settled || pending ? (
            <button
              type="button"
              aria-expanded={true}
              aria-label={`Collapse tool call #${item.seq}`}
              onClick={() => setOpenedByUser(false)}
              className="rounded-md p-1 text-fg-muted hover:bg-surface-muted hover:text-fg"
            >
              <ChevronDownIcon size={14} className="rotate-180" />
            </button>
          ) : null}
        </div>
      </header>

      <div className="space-y-2.5 px-3 py-3 sm:px-4">
        {isCommand && command ? <CommandBlock command={command} cwd={typeof item.args.cwd === "string" ? item.args.cwd : null} /> : null}
        {!isCommand && !["write_file", "edit_file", "submit_plan", "finish"].includes(item.tool) && Object.keys(item.args).length ? (
          <ArgsDisclosure args={item.args} />
        ) : null}

        {item.decision ? (
          <div className="flex flex-wrap items-start gap-2" data-testid="decision">
            <VerdictBadge verdict={item.decision.verdict} />
            <RuleAndReason rule={item.decision.rule} reason={item.decision.reason} />
          </div>
        ) : null}
        {item.decision && item.decision.parts.length > 1 ? <CommandParts parts={item.decision.parts} /> : null}

        {item.approval ? (
          <p className="text-sm" data-testid="approval-state">
            <span className="text-fg-muted">Approval: </span>
            <span
              className={cn("font-medium", item.approval.state === "approved" ? "text-success" : item.approval.state === "denied" ? "text-danger" : "text-fg")}
            >
              {APPROVAL_TEXT[item.approval.state] ?? item.approval.state}
            </span>
            {item.approval.by && item.approval.state !== "pending" && item.approval.state !== "expired" ? (
              <span className="text-fg-muted"> by {item.approval.by}</span>
            ) : null}
            {item.approval.state === "pending" && item.approval.votes !== null && item.approval.required !== null ? (
              <span className="text-fg-muted">
                {" "}
                ({item.approval.votes} of {item.approval.required})
              </span>
            ) : null}
            {item.approval.edited ? <Badge className="ml-2">edited</Badge> : null}
            {item.approval.reason ? <span className="mt-0.5 block break-words text-fg-muted">“{item.approval.reason}”</span> : null}
          </p>
        ) : null}
        {editedTo && typeof editedTo.command === "string" ? (
          <div className="space-y-1">
            <p className="text-xs text-fg-muted">The reviewer changed the command to:</p>
            <CommandBlock command={editedTo.command} />
          </div>
        ) : null}

        {diffPreview ? (
          <div>
            <button
              type="button"
              aria-expanded={showPreview}
              onClick={() => setShowPreview((s) => !s)}
              className="inline-flex items-center gap-1 rounded-md text-xs font-medium text-accent hover:underline"
            >
              {showPreview ? "Hide diff" : "Show diff"}
              <span className="text-fg-muted">
                (+{diffPreview.additions} −{diffPreview.deletions})
              </span>
              <ChevronDownIcon size={14} className={cn("transition-transform", showPreview && "rotate-180")} />
            </button>
            {showPreview ? (
              <div className="mt-2">
                <FileChange preview={diffPreview} />
              </div>
            ) : null}
          </div>
        ) : null}

        {isCommand && (item.log || (item.approval?.state !== "pending" && item.decision?.verdict !== "deny" && !item.result && !runEnded)) ? (
          <LogView buffer={item.log ?? EMPTY_LOG} version={item.logVersion} label={`Output of ${item.tool} #${item.seq}`} live={!item.result && !runEnded} />
        ) : isCommand && !item.log && item.result && typeof item.result.result.output === "string" && item.result.result.output ? (
          <ResultOutput text={item.result.result.output} label={`Output of ${item.tool} #${item.seq}`} />
        ) : null}

        {item.result ? <ResultSummary item={item} /> : null}
      </div>
    </article>
  );
});

const EMPTY_LOG = new LogBuffer();

/** The result in a few words, for the collapsed line (read by screen readers and tests). */
function collapsedResult(item: ToolCallItem): string {
  const data = item.result?.result ?? {};
  if (!item.result) return "";
  if (COMMAND_TOOLS.has(item.tool)) return `exit ${typeof data.exit_code === "number" ? data.exit_code : "?"}`;
  if (item.tool === "write_file" || item.tool === "edit_file")
    return `Wrote ${String(data.bytes ?? "?")} bytes to ${String(data.path ?? item.args.path ?? "").replace(/^\/workspace\//, "")}`;
  return "Done";
}

function ResultOutput({ text, label }: { text: string; label: string }) {
  const buffer = useMemo(() => {
    const b = new LogBuffer();
    b.append(text);
    return b;
  }, [text]);
  return <LogView buffer={buffer} version={1} label={label} />;
}

function ArgsDisclosure({ args }: { args: Record<string, unknown> }) {
  const [open, setOpen] = useState(false);
  return (
    <div>
      <button
        type="button"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        className="inline-flex items-center gap-1 text-xs font-medium text-fg-muted hover:text-fg"
      >
        {open ? "Hide arguments" : "Show arguments"}
        <ChevronDownIcon size={14} className={cn("transition-transform", open && "rotate-180")} />
      </button>
      {open ? (
        <div className="mt-1.5 rounded-lg bg-surface-muted/60 p-2.5">
          <ArgsList args={args} />
        </div>
      ) : null}
    </div>
  );
}

function ResultSummary({ item }: { item: ToolCallItem }) {
  const r = item.result!;
  const data = r.result;
  if (!r.ok) {
    const rule = typeof data.rule === "string" ? data.rule : null;
    return (
      <div role="status" className="rounded-lg border border-danger/40 bg-danger-soft px-3 py-2.5" data-testid="tool-error">
        <p className="flex flex-wrap items-center gap-2">
          <span className="rounded bg-danger px-1.5 py-0.5 font-mono text-[12px] font-semibold text-white dark:text-bg">{r.code ?? "ERROR"}</span>
          {rule ? (
            <span className="text-xs text-fg-muted">
              rule <code className="font-mono">{rule}</code>
            </span>
          ) : null}
          {/* The run's caps (server/tools/execute.ts, sandboxCapAnswer). */}
          {data.oom_killed ? <Badge tone="danger">out of memory</Badge> : null}
          {data.pids_exhausted ? <Badge tone="danger">out of processes</Badge> : null}
        </p>
        <p className="mt-1.5 text-sm break-words text-fg">{r.message}</p>
      </div>
    );
  }
  if (COMMAND_TOOLS.has(item.tool)) {
    const exit = typeof data.exit_code === "number" ? data.exit_code : null;
    const duration = typeof data.duration_ms === "number" ? data.duration_ms : null;
    return (
      <p className="flex flex-wrap items-center gap-2 text-sm" data-testid="tool-result">
        <Badge tone={exit === 0 ? "success" : "danger"} className="font-mono">
          exit {exit ?? "?"}
        </Badge>
        {duration !== null ? <span className="text-fg-muted">{formatCommandDuration(duration)}</span> : null}
        {data.oom_killed ? <Badge tone="danger">out of memory</Badge> : null}
        {data.output_truncated ? (
          <span className="text-xs text-fg-muted">The model saw a shortened output ({String(data.total_bytes)} bytes in total).</span>
        ) : null}
      </p>
    );
  }
  if (item.tool === "write_file" || item.tool === "edit_file") {
    return (
      <p className="text-sm text-fg" data-testid="tool-result">
        Wrote <span className="font-mono">{String(data.bytes ?? "?")}</span> bytes to{" "}
        <span className="font-mono break-all">{String(data.path ?? item.args.path ?? "").replace(/^\/workspace\//, "")}</span>
        {data.status ? <span className="text-fg-muted"> ({String(data.status)})</span> : null}
        {typeof data.note === "string" ? <span className="block text-xs text-fg-muted">{data.note}</span> : null}
      </p>
    );
  }
  if (item.tool === "submit_plan") {
    return (
      <p className="text-sm text-success" data-testid="tool-result">
        Plan approved{typeof data.note === "string" ? <span className="block text-xs text-fg-muted">{data.note}</span> : null}
      </p>
    );
  }
  if (item.tool === "finish") {
    return (
      <p className="text-sm" data-testid="tool-result">
        Finished: <span className="font-medium">{String(data.status ?? "")}</span>
        {typeof item.args.summary === "string" ? <span className="mt-1 block break-words whitespace-pre-wrap text-fg">{item.args.summary}</span> : null}
      </p>
    );
  }
  if (item.tool === "complete_step") {
    return (
      <p className="text-sm text-fg" data-testid="tool-result">
        Step {String(data.step ?? "")} done; continuing.
      </p>
    );
  }
  return <ResultDisclosure data={data} />;
}

function ResultDisclosure({ data }: { data: Record<string, unknown> }) {
  const [open, setOpen] = useState(false);
  const { ok: _ok, ...rest } = data;
  return (
    <div data-testid="tool-result">
      <button
        type="button"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        className="inline-flex items-center gap-1 text-xs font-medium text-success hover:underline"
      >
        {open ? "Hide result" : "Show result"}
        <ChevronDownIcon size={14} className={cn("transition-transform", open && "rotate-180")} />
      </button>
      {open ? (
        <pre className="mt-1.5 max-h-80 overflow-auto rounded-lg bg-surface-muted/60 p-2.5 font-mono text-[12px] break-all whitespace-pre-wrap">
          {typeof rest.content === "string" ? rest.content : JSON.stringify(rest, null, 2)}
        </pre>
      ) : null}
    </div>
  );
}
