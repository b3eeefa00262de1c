"use client";
// The run's activity, oldest first: model messages (streaming while they
// arrive), tool call cards, plan updates, state changes as thin separators,
// errors and notes. Calls that went through collapse to one line; chips
// filter the calls by tool, verdict and who decided (issue 16).
import { memo, useMemo, useState } from "react";
import { cn } from "@/lib/cn";
import type { ApprovalItem } from "@/components/approvals/types";
import { outcomeMeta } from "@/components/runs/run-state";
import { formatTokens } from "@/components/runs/format";
import { ToolCallCard } from "@/components/runs/tool-call-card";
import { EgressUpdate } from "@/components/runs/egress-panel";
import {
  deciderOf,
  filterActive,
  NO_FILTER,
  visibleActivity,
  type ActivityFilter,
  type Decider,
  type ErrorItem,
  type MessageItem,
  type NoteItem,
  type PlanItem,
  type StateItem,
  type TimelineItem,
} from "@/components/runs/timeline";
import { LocalTime } from "@/components/ui/local-time";

export function RunTimeline({
  items,
  streaming,
  approvalsByCall,
  runEnded,
  deniedCalls = 0,
}: {
  items: TimelineItem[];
  streaming: string;
  approvalsByCall: Map<string, ApprovalItem>;
  runEnded: boolean;
  /** The run's denied calls: its "succeeded" separator then tells the agent's claim, not a plain success. */
  deniedCalls?: number;
}) {
  const [filter, setFilter] = useState<ActivityFilter>(NO_FILTER);
  const shown = useMemo(() => visibleActivity(items, filter), [items, filter]);
  const toolCount = useMemo(() => items.filter((i) => i.kind === "tool").length, [items]);
  return (
    <div className="space-y-3">
      {toolCount ? <ActivityFilters items={items} filter={filter} onChange={setFilter} shown={shown.length} total={toolCount} /> : null}
      <ol className="space-y-3" aria-label="Run activity">
        {shown.map((item) => (
          <li key={item.key} id={`event-${item.eventId}`}>
            {item.kind === "tool" ? (
              <ToolCallCard item={item} approval={approvalsByCall.get(item.toolCallId)} runEnded={runEnded} />
            ) : item.kind === "message" ? (
              <Message item={item} />
            ) : item.kind === "state" ? (
              <StateSeparator item={item} deniedCalls={deniedCalls} />
            ) : item.kind === "plan" ? (
              <PlanUpdate item={item} />
            ) : item.kind === "error" ? (
              <RunError item={item} />
            ) : item.kind === "egress" ? (
              <EgressUpdate item={item} />
            ) : (
              <Note item={item} />
            )}
          </li>
        ))}
        {streaming ? (
          <li>
            <div className="rounded-xl border border-accent/30 bg-accent-soft/30 px-3 py-2.5 sm:px-4" aria-busy="true" data-testid="model-streaming">
              <p className="mb-1 text-xs font-medium text-accent">Agent · writing…</p>
              <p className="text-sm break-words whitespace-pre-wrap text-fg">
                {streaming}
                <span aria-hidden="true" className="ml-0.5 inline-block h-4 w-1.5 animate-pulse bg-accent align-text-bottom" />
              </p>
            </div>
          </li>
        ) : null}
      </ol>
    </div>
  );
}

const VERDICTS = ["allow", "ask", "deny"] as const;
const DECIDERS: { value: Decider; label: string }[] = [
  { value: "policy", label: "Policy" },
  { value: "person", label: "A person" },
  { value: "auto", label: "Auto" },
];

function toggle<T>(list: T[], value: T): T[] {
  return list.includes(value) ? list.filter((v) => v !== value) : [...list, value];
}

function Chip({ pressed, onClick, children }: { pressed: boolean; onClick: () => void; children: React.ReactNode }) {
  return (
    <button
      type="button"
      aria-pressed={pressed}
      onClick={onClick}
      className="inline-flex h-8 shrink-0 items-center rounded-full border border-border-strong bg-surface px-3 text-xs font-medium whitespace-nowrap text-fg hover:bg-surface-muted aria-pressed:border-accent aria-pressed:bg-accent-soft aria-pressed:text-accent"
    >
      {children}
    </button>
  );
}

/** Filter chips in one row that scrolls sideways on a phone. */
function ActivityFilters({
  items,
  filter,
  onChange,
  shown,
  total,
}: {
  items: TimelineItem[];
  filter: ActivityFilter;
  onChange: (f: ActivityFilter) => void;
  shown: number;
  total: number;
}) {
  const tools = useMemo(() => [...new Set(items.flatMap((i) => (i.kind === "tool" ? [i.tool] : [])))].sort(), [items]);
  const deciders = useMemo(() => new Set(items.flatMap((i) => (i.kind === "tool" ? [deciderOf(i)] : []))), [items]);
  const active = filterActive(filter);
  return (
    <div role="group" aria-label="Filter the activity" className="-mx-1 flex items-center gap-1.5 overflow-x-auto px-1 pb-1" data-testid="activity-filters">
      {tools.map((t) => (
        <Chip key={t} pressed={filter.tools.includes(t)} onClick={() => onChange({ ...filter, tools: toggle(filter.tools, t) })}>
          <span className="font-mono">{t}</span>
        </Chip>
      ))}
      <span aria-hidden="true" className="mx-1 h-5 w-px shrink-0 bg-border" />
      {VERDICTS.map((v) => (
        <Chip key={v} pressed={filter.verdicts.includes(v)} onClick={() => onChange({ ...filter, verdicts: toggle(filter.verdicts, v) })}>
          {v}
        </Chip>
      ))}
      <span aria-hidden="true" className="mx-1 h-5 w-px shrink-0 bg-border" />
      {DECIDERS.filter((d) => deciders.has(d.value) || filter.deciders.includes(d.value)).map((d) => (
        <Chip key={d.value} pressed={filter.deciders.includes(d.value)} onClick={() => onChange({ ...filter, deciders: toggle(filter.deciders, d.value) })}>
          {d.label} decided
        </Chip>
      ))}
      {active ? (
        <>
          <span className="shrink-0 px-1 text-xs whitespace-nowrap text-fg-muted" aria-live="polite">
            {shown} of {total} calls
          </span>
          <button type="button" onClick={() => onChange(NO_FILTER)} className="shrink-0 px-1 text-xs font-medium whitespace-nowrap text-accent hover:underline">
            Clear filters
          </button>
        </>
      ) : null}
    </div>
  );
}

const Message = memo(function Message({ item }: { item: MessageItem }) {
  if (!item.content.trim()) {
    // A turn that only called tools: the tool cards that follow say it all.
    return null;
  }
  return (
    <div className="rounded-xl border border-border bg-surface px-3 py-2.5 shadow-xs sm:px-4" data-testid="model-message">
      <p className="mb-1 flex items-center justify-between gap-2 text-xs text-fg-muted">
        <span className="font-medium text-fg">Agent</span>
        <span>
          {item.tokens ? `${formatTokens(item.tokens)} tokens · ` : ""}
          <LocalTime date={item.at} format="time" />
        </span>
      </p>
      <p className="text-sm break-words whitespace-pre-wrap text-fg">{item.content}</p>
    </div>
  );
});

function StateSeparator({ item, deniedCalls }: { item: StateItem; deniedCalls: number }) {
  const meta = outcomeMeta(item.to, deniedCalls);
  return (
    <div className="flex items-center gap-3 py-0.5 text-xs text-fg-muted" data-testid="state-change" data-state={item.to}>
      <span aria-hidden="true" className="h-px flex-1 bg-border" />
      <span className="max-w-[85%] text-center">
        <span
          className={cn(
            "font-medium",
            meta.tone === "danger"
              ? "text-danger"
              : meta.tone === "success"
                ? "text-success"
                : meta.tone === "warning" || meta.tone === "caution"
                  ? "text-warning"
                  : "text-fg",
          )}
        >
          {meta.label}
        </span>
        {item.reason ? <span className="break-words"> · {item.reason}</span> : null}
        {item.by && !item.by.startsWith("agent:") && item.by !== "system" ? <span> · by {item.by}</span> : null}
        <LocalTime date={item.at} format="time" className="ml-1" />
      </span>
      <span aria-hidden="true" className="h-px flex-1 bg-border" />
    </div>
  );
}

function PlanUpdate({ item }: { item: PlanItem }) {
  const text =
    item.state === "submitted"
      ? `Plan submitted${item.stepCount ? ` (${item.stepCount} step${item.stepCount === 1 ? "" : "s"})` : ""}: waiting for review`
      : item.state === "approved"
        ? `Plan approved${item.edited ? " with a reviewer's edits" : ""}`
        : item.state === "step_done"
          ? `Step ${item.step ?? "?"} done${item.note ? `: ${item.note}` : ""}`
          : `Plan ${item.state.replace(/_/g, " ")}`;
  return (
    <p className="rounded-lg bg-accent-soft/40 px-3 py-1.5 text-sm break-words text-fg" data-testid="plan-update">
      {text}
    </p>
  );
}

function RunError({ item }: { item: ErrorItem }) {
  return (
    <div role="status" className="rounded-lg border border-danger/40 bg-danger-soft px-3 py-2 text-sm" data-testid="run-error">
      <span className="font-medium text-danger">{item.source === "model" ? "Model error" : item.source === "supervisor" ? "Supervisor" : "Error"}: </span>
      <span className="break-words text-fg">{item.message}</span>
    </div>
  );
}

function Note({ item }: { item: NoteItem }) {
  return <p className="px-1 text-xs break-words text-fg-muted italic">{item.text}</p>;
}
