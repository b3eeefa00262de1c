"use client";
// A run's timeline page: totals, the caps it hit, its resource history as
// small charts with the caps drawn, and every step of its history in one
// chronological list filtered by kind. Polls while the run is live.
import { RunTabs } from "@/components/runs/run-tabs";
import Link from "next/link";
import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { useTRPC } from "@/lib/trpc/client";
import { errorMessage } from "@/lib/errors";
import { formatBytes } from "@/lib/format";
import { cn } from "@/lib/cn";
import { Badge } from "@/components/ui/badge";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { InlineAlert } from "@/components/ui/alert";
import { LocalTime } from "@/components/ui/local-time";
import { SkeletonRows } from "@/components/ui/skeleton";
import { RunStateBadge } from "@/components/runs/run-state-badge";
import { formatCommandDuration, formatCount, formatDuration, formatTokens } from "@/components/runs/format";
import { LineChart } from "@/components/timeline/charts";

type Timeline = inferRouterOutputs<AppRouter>["timeline"]["run"];
type Item = Timeline["items"][number];
type Kind = Item["kind"];
type Series = Timeline["resources"]["series"][number];

const POLL_MS = 5000;
const KINDS: { kind: Kind; label: string }[] = [
  { kind: "state", label: "State" },
  { kind: "plan", label: "Plan" },
  { kind: "model", label: "Model turns" },
  { kind: "tool", label: "Tool calls" },
  { kind: "approval", label: "Approvals" },
  { kind: "checkpoint", label: "Checkpoints" },
];

export function RunTimelineView({ runId }: { runId: string }) {
  const trpc = useTRPC();
  const query = useQuery({
    ...trpc.timeline.run.queryOptions({ id: runId }),
    refetchInterval: (q) => (q.state.data?.totals.live ? POLL_MS : false),
  });
  const [hidden, setHidden] = useState<Set<Kind>>(new Set());
  const counts = useMemo(() => {
    const c = new Map<Kind, number>();
    for (const i of query.data?.items ?? []) c.set(i.kind, (c.get(i.kind) ?? 0) + 1);
    return c;
  }, [query.data]);

  if (query.isPending) return <SkeletonRows rows={6} label="Loading the timeline…" />;
  if (query.isError) {
    return (
      <InlineAlert title="The timeline could not be loaded">
        <p>{errorMessage(query.error)}</p>
      </InlineAlert>
    );
  }
  const { run, items, totals, resources } = query.data;
  const shown = items.filter((i) => !hidden.has(i.kind));
  const toggle = (k: Kind) =>
    setHidden((h) => {
      const next = new Set(h);
      if (next.has(k)) next.delete(k);
      else next.add(k);
      return next;
    });

  return (
    <div className="space-y-4">
      <header className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <p className="text-xs font-medium tracking-wide text-fg-muted uppercase">Timeline</p>
          <h1 className="truncate text-xl font-semibold tracking-tight sm:text-2xl">{run.title}</h1>
          <p className="mt-1 flex flex-wrap items-center gap-x-2 gap-y-1 text-sm text-fg-muted">
            <RunStateBadge state={run.state} />
            <span>{run.project}</span>
            <span aria-hidden="true">·</span>
            <span>{run.agent === "external" ? "External agent" : (run.model ?? "No model")}</span>
          </p>
        </div>
        <Link href={`/runs/${run.id}`} className="text-sm font-medium text-accent underline-offset-2 hover:underline">
          Back to the run
        </Link>
      </header>
      <RunTabs runId={run.id} current="timeline" />

      <Totals totals={totals} />
      <Resources series={resources.series} samples={resources.samples} live={totals.live} />

      <Card aria-labelledby="timeline-events">
        <CardHeader titleId="timeline-events" title="Events" description={`${shown.length} of ${items.length} shown, oldest first.`} />
        <CardBody className="space-y-3">
          <div role="group" aria-label="Show kinds" className="flex flex-wrap gap-1.5">
            {KINDS.map(({ kind, label }) => {
              const on = !hidden.has(kind);
              return (
                <button
                  key={kind}
                  type="button"
                  aria-pressed={on}
                  onClick={() => toggle(kind)}
                  className={cn(
                    "h-7 rounded-full border px-2.5 text-xs font-medium whitespace-nowrap",
                    on ? "border-accent bg-accent-soft text-accent" : "border-border bg-surface text-fg-muted hover:text-fg",
                  )}
                >
                  {label} <span className="tabular-nums">{counts.get(kind) ?? 0}</span>
                </button>
              );
            })}
          </div>
          {shown.length === 0 ? (
            <p className="text-sm text-fg-muted">Nothing to show: every kind with events is filtered out.</p>
          ) : (
            <ol className="divide-y divide-border" data-testid="timeline-items">
              {shown.map((item) => (
                <TimelineRow key={item.id} item={item} />
              ))}
            </ol>
          )}
        </CardBody>
      </Card>
    </div>
  );
}

function Figure({ label, value, detail, tone, testId }: { label: string; value: string; detail?: string; tone?: "danger"; testId?: string }) {
  return (
    <div className="min-w-0 rounded-lg border border-border bg-surface px-3 py-2">
      <dt className="text-[11px] font-medium tracking-wide text-fg-muted uppercase">{label}</dt>
      <dd className={cn("text-base font-semibold tabular-nums", tone === "danger" && "text-danger")} data-testid={testId}>
        {value}
      </dd>
      {detail ? <dd className="text-xs text-fg-muted">{detail}</dd> : null}
    </div>
  );
}

function Totals({ totals }: { totals: Timeline["totals"] }) {
  const c = totals.calls;
  return (
    <Card aria-labelledby="timeline-totals">
      <CardHeader titleId="timeline-totals" title="Totals" description={totals.live ? "The run is live: figures so far." : undefined} />
      <CardBody className="space-y-3">
        <dl className="grid grid-cols-2 gap-2 sm:grid-cols-4" data-testid="timeline-totals">
          <Figure label="Wall time" value={formatDuration(totals.wallMs)} detail={`${formatDuration(totals.toolTimeMs)} in tools`} />
          <Figure
            label="Waiting for people"
            value={formatDuration(totals.waitingForPeopleMs)}
            detail={`plan ${formatDuration(totals.planWaitMs)} · approvals ${formatDuration(totals.approvalWaitMs)}`}
          />
          <Figure
            label="Tokens in / out"
            value={`${formatTokens(totals.tokensIn)} / ${formatTokens(totals.tokensOut)}`}
            detail={`${formatCount(totals.modelTurns)} model ${totals.modelTurns === 1 ? "turn" : "turns"}`}
          />
          <Figure label="Tool calls" value={formatCount(c.total)} testId="total-calls" detail={`${c.allow} allowed · ${c.ask} asked · ${c.deny} denied`} />
        </dl>
        <div>
          <h3 className="text-sm font-semibold">Caps hit</h3>
          {totals.capsHit.length === 0 ? (
            <p className="text-sm text-fg-muted">No cap was hit.</p>
          ) : (
            <ul className="mt-1 space-y-1 text-sm" data-testid="caps-hit">
              {totals.capsHit.map((cap) => (
                <li key={cap.cap} className="flex flex-wrap items-baseline gap-x-2">
                  <Badge tone="danger">{cap.cap}</Badge>
                  <span>
                    {cap.detail}
                    {cap.at ? (
                      <>
                        {" "}
                        at <LocalTime date={new Date(cap.at)} format="time" />
                      </>
                    ) : null}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </div>
      </CardBody>
    </Card>
  );
}

function formatMeasure(s: Series, v: number): string {
  if (s.unit === "bytes") return formatBytes(v);
  if (s.unit === "%") return `${Math.round(v)} %`;
  return formatCount(v);
}

function Resources({ series, samples, live }: { series: Series[]; samples: number; live: boolean }) {
  const withData = series.filter((s) => s.points.length > 0);
  return (
    <Card aria-labelledby="timeline-resources">
      <CardHeader titleId="timeline-resources" title="Resources" description={samples ? `${samples} samples; the dashed line is the cap.` : undefined} />
      <CardBody>
        {withData.length === 0 ? (
          <p className="text-sm text-fg-muted">
            {live ? "No samples yet: the sandbox's use is recorded every few seconds while it runs." : "No resource samples were recorded for this run."}
          </p>
        ) : (
          <ul className="grid gap-4 sm:grid-cols-2" data-testid="resource-charts">
            {withData.map((s) => {
              const last = s.points.at(-1)![1];
              const text =
                `${s.label}: latest ${formatMeasure(s, last)}, peak ${formatMeasure(s, s.peak ?? 0)}` +
                (s.cap ? `, cap ${formatMeasure(s, s.cap)}` : "") +
                (s.cap ? (s.capHitAt ? "; cap hit." : "; cap not reached.") : ".");
              return (
                <li key={s.key} className="min-w-0">
                  <div className="flex flex-wrap items-baseline justify-between gap-x-2">
                    <h3 className="text-sm font-semibold">{s.label}</h3>
                    {s.capHitAt ? (
                      <span className="text-xs font-semibold text-danger">
                        Cap hit at <LocalTime date={new Date(s.capHitAt)} format="time" />
                      </span>
                    ) : null}
                  </div>
                  <LineChart label={text} points={s.points as [number, number][]} cap={s.cap} capHit={s.capHitAt !== null} />
                  <p className="text-xs text-fg-muted tabular-nums">
                    peak {formatMeasure(s, s.peak ?? 0)}
                    {s.cap ? ` of ${formatMeasure(s, s.cap)}` : ""} · latest {formatMeasure(s, last)}
                  </p>
                </li>
              );
            })}
          </ul>
        )}
      </CardBody>
    </Card>
  );
}

const VERDICT_TONE = { allow: "success", ask: "warning", deny: "danger" } as const;
const VERDICT_LABEL = { allow: "allowed", ask: "asked", deny: "denied" } as const;

function describe(item: Item): { title: string; meta?: string; badge?: { tone: "success" | "warning" | "danger" | "neutral" | "accent"; text: string } } {
  switch (item.kind) {
    case "state":
      return {
        title: item.from ? `${item.from} → ${item.to}` : `Created: ${item.to}`,
        meta: [item.by ? `by ${item.by}` : null, item.reason].filter(Boolean).join(" · ") || undefined,
      };
    case "plan":
      return {
        title:
          item.state === "submitted"
            ? `Plan submitted${item.steps !== null ? ` (${item.steps} ${item.steps === 1 ? "step" : "steps"})` : ""}`
            : item.state === "approved"
              ? "Plan approved"
              : item.state === "step_done"
                ? `Step ${item.step ?? "?"} done`
                : `Plan ${item.state}`,
        meta: item.note ?? undefined,
      };
    case "model":
      return {
        title: "Model turn",
        meta: [
          item.tokensIn !== null ? `${formatTokens(item.tokensIn)} in` : null,
          item.tokensOut !== null ? `${formatTokens(item.tokensOut)} out` : null,
          item.latencyMs !== null ? formatCommandDuration(item.latencyMs) : null,
          `${item.toolCalls} tool ${item.toolCalls === 1 ? "call" : "calls"}`,
          item.excerpt || null,
        ]
          .filter(Boolean)
          .join(" · "),
      };
    case "tool":
      return {
        title: `#${item.seq} ${item.tool}`,
        meta: [item.rule ? `rule ${item.rule}` : null, item.durationMs !== null ? formatCommandDuration(item.durationMs) : null, item.errorCode ?? item.state]
          .filter(Boolean)
          .join(" · "),
        badge: item.verdict ? { tone: VERDICT_TONE[item.verdict], text: VERDICT_LABEL[item.verdict] } : undefined,
      };
    case "approval":
      return {
        title: `${item.approvalKind === "plan" ? "Plan approval" : item.approvalKind === "step" ? "Step approval" : "Approval"}: ${item.tool}`,
        meta: item.pending
          ? `waiting ${formatDuration(item.waitMs)}`
          : `waited ${formatDuration(item.waitMs)}${item.decidedBy ? ` · decided by ${item.decidedBy}` : ""}`,
        badge: {
          tone: item.state === "approved" ? "success" : item.state === "denied" ? "danger" : item.state === "pending" ? "warning" : "neutral",
          text: item.state,
        },
      };
    case "checkpoint":
      return {
        title: `Checkpoint: ${item.label}`,
        meta: `${item.filesChanged} ${item.filesChanged === 1 ? "file" : "files"} · +${item.additions} −${item.deletions}`,
      };
  }
}

const KIND_LABEL: Record<Kind, string> = { state: "State", plan: "Plan", model: "Model", tool: "Tool", approval: "Approval", checkpoint: "Checkpoint" };

function TimelineRow({ item }: { item: Item }) {
  const d = describe(item);
  return (
    <li className="grid grid-cols-[4.5rem_1fr] gap-x-2 py-2 text-sm sm:grid-cols-[5.5rem_6rem_1fr]" data-kind={item.kind}>
      <LocalTime date={new Date(item.at)} format="time" className="text-xs text-fg-muted tabular-nums" />
      <span className="hidden text-xs font-medium text-fg-muted sm:block">{KIND_LABEL[item.kind]}</span>
      <div className="min-w-0">
        <p className="flex flex-wrap items-center gap-x-2 gap-y-0.5">
          <span className="sr-only sm:hidden">{KIND_LABEL[item.kind]}: </span>
          <span className="min-w-0 font-medium break-words">{d.title}</span>
          {d.badge ? <Badge tone={d.badge.tone}>{d.badge.text}</Badge> : null}
        </p>
        {d.meta ? <p className="text-xs break-words text-fg-muted">{d.meta}</p> : null}
      </div>
    </li>
  );
}
