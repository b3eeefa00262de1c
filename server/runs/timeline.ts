// One run's history in time order, built from what Airlock already stores:
// state changes and plan events and model turns (run_events), tool calls
// with their verdicts and durations (tool_calls), approvals with who decided
// and how long they waited (approvals), checkpoints; and the run's totals.
// Read-only; the timeline page polls it while the run is live.
import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, checkpoints, models, runEvents, toolCalls, users, type Run } from "@/db/schema";
import { requireRun } from "@/server/runs/lookup";
import { isTerminal } from "@/server/runs/state-machine";
import { projectOfRun } from "@/server/projects/projects";
import { resourceHistory, type ResourceSeries } from "@/server/runs/resource-history";

export const TIMELINE_KINDS = ["state", "plan", "model", "tool", "approval", "checkpoint"] as const;
export type TimelineKind = (typeof TIMELINE_KINDS)[number];

interface ItemBase {
  /** Unique within the timeline (kind + row id). */
  id: string;
  /** Milliseconds since the epoch. */
  at: number;
}

export type TimelineItem = ItemBase &
  (
    | { kind: "state"; from: string | null; to: string; by: string | null; reason: string | null }
    | { kind: "plan"; state: string; steps: number | null; step: number | null; note: string | null }
    | { kind: "model"; tokensIn: number | null; tokensOut: number | null; latencyMs: number | null; toolCalls: number; excerpt: string }
    | {
        kind: "tool";
        seq: number;
        tool: string;
        verdict: "allow" | "ask" | "deny" | null;
        rule: string | null;
        state: string;
        errorCode: string | null;
        durationMs: number | null;
      }
    | {
        kind: "approval";
        approvalKind: "plan" | "tool" | "step";
        tool: string;
        state: string;
        decidedBy: string | null;
        /** How long it waited for people: until decided, or until now while pending. */
        waitMs: number;
        pending: boolean;
      }
    | { kind: "checkpoint"; label: string; checkpointKind: string; filesChanged: number; additions: number; deletions: number }
  );

export interface CapHit {
  cap: string;
  detail: string;
  /** When it was first reached, where known (resource caps). */
  at?: number;
}

export interface RunTotals {
  /** From creation to the end (or now while live). */
  wallMs: number;
  live: boolean;
  /** Time at least one request waited for people (overlapping waits count once). */
  waitingForPeopleMs: number;
  planWaitMs: number;
  approvalWaitMs: number;
  approvals: number;
  modelTurns: number;
  tokensIn: number;
  tokensOut: number;
  /** The run's token counter (covers turns whose usage the endpoint did not report in detail). */
  tokensUsed: number;
  calls: { total: number; allow: number; ask: number; deny: number; unjudged: number };
  toolTimeMs: number;
  capsHit: CapHit[];
}

export interface RunTimeline {
  run: { id: string; title: string; state: string; createdAt: number; endedAt: number | null; model: string | null; project: string; agent: string };
  items: TimelineItem[];
  totals: RunTotals;
  resources: { samples: number; series: ResourceSeries[] };
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const ms = (d: Date | null | undefined): number | null => (d ? d.getTime() : null);

/** Total length of the union of intervals (overlapping waits count once). */
export function unionMs(intervals: [number, number][]): number {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const [a, b] of sorted) {
    if (a > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = a;
      curEnd = b;
    } else curEnd = Math.max(curEnd, b);
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

export function runTimeline(db: Db, runId: string, now = Date.now()): RunTimeline {
  const run = requireRun(db, runId);
  const end = run.endedAt?.getTime() ?? (isTerminal(run.state) ? run.updatedAt.getTime() : now);
  const items: TimelineItem[] = [];

  const events = db
    .select()
    .from(runEvents)
    // Only the kinds shown: output and model deltas can be many and large.
    .where(and(eq(runEvents.runId, runId), inArray(runEvents.type, ["state", "plan", "model_message"])))
    .orderBy(asc(runEvents.id))
    .all();
  let tokensIn = 0;
  let tokensOut = 0;
  let modelTurns = 0;
  for (const e of events) {
    const p = e.payload;
    const base = { id: `e${e.id}`, at: e.at.getTime() };
    if (e.type === "state") {
      items.push({
        ...base,
        kind: "state",
        from: (p.from as string | null) ?? null,
        to: String(p.to),
        by: (p.by as string | null) ?? null,
        reason: (p.reason as string | null) ?? null,
      });
    } else if (e.type === "plan") {
      items.push({
        ...base,
        kind: "plan",
        state: String(p.state ?? "submitted"),
        steps: Array.isArray(p.steps) ? p.steps.length : null,
        step: num(p.step),
        note: typeof p.note === "string" ? p.note : null,
      });
    } else {
      const usage = (p.usage ?? {}) as { promptTokens?: unknown; completionTokens?: unknown };
      const tIn = num(usage.promptTokens);
      const tOut = num(usage.completionTokens);
      tokensIn += tIn ?? 0;
      tokensOut += tOut ?? 0;
      modelTurns++;
      const content = typeof p.content === "string" ? p.content : "";
      items.push({
        ...base,
        kind: "model",
        tokensIn: tIn,
        tokensOut: tOut,
        // Recorded since issue 16; older turns have none.
        latencyMs: num(p.latencyMs),
        toolCalls: Array.isArray(p.toolCalls) ? p.toolCalls.length : 0,
        excerpt: content.length > 160 ? `${content.slice(0, 157)}…` : content,
      });
    }
  }

  const calls = db.select().from(toolCalls).where(eq(toolCalls.runId, runId)).orderBy(asc(toolCalls.seq)).all();
  const callTotals = { total: calls.length, allow: 0, ask: 0, deny: 0, unjudged: 0 };
  let toolTimeMs = 0;
  for (const c of calls) {
    if (c.verdict) callTotals[c.verdict]++;
    else callTotals.unjudged++;
    const durationMs = c.startedAt && c.finishedAt ? Math.max(0, c.finishedAt.getTime() - c.startedAt.getTime()) : null;
    toolTimeMs += durationMs ?? 0;
    items.push({
      id: `t${c.id}`,
      at: c.createdAt.getTime(),
      kind: "tool",
      seq: c.seq,
      tool: c.tool,
      verdict: c.verdict,
      rule: c.rule,
      state: c.state,
      errorCode: c.errorCode,
      durationMs,
    });
  }

  const approvalRows = db.select().from(approvals).where(eq(approvals.runId, runId)).orderBy(asc(approvals.createdAt)).all();
  const deciderIds = [...new Set(approvalRows.map((a) => a.decidedBy).filter((x): x is string => Boolean(x)))];
  const deciders = new Map(
    deciderIds.length
      ? db
          .select({ id: users.id, email: users.email })
          .from(users)
          .where(inArray(users.id, deciderIds))
          .all()
          .map((u) => [u.id, u.email])
      : [],
  );
  const planWaits: [number, number][] = [];
  const otherWaits: [number, number][] = [];
  for (const a of approvalRows) {
    const start = a.createdAt.getTime();
    const pending = a.state === "pending";
    const stop = a.decidedAt?.getTime() ?? (pending ? now : Math.min(a.expiresAt.getTime(), end));
    (a.kind === "plan" ? planWaits : otherWaits).push([start, stop]);
    items.push({
      id: `a${a.id}`,
      at: start,
      kind: "approval",
      approvalKind: a.kind,
      tool: a.tool,
      state: a.state,
      // A person's email; null for the system (expiry, a run that ended).
      decidedBy: a.decidedBy ? (deciders.get(a.decidedBy) ?? a.decidedBy) : null,
      waitMs: Math.max(0, stop - start),
      pending,
    });
  }

  const cps = db.select().from(checkpoints).where(eq(checkpoints.runId, runId)).orderBy(asc(checkpoints.seq)).all();
  for (const c of cps) {
    items.push({
      id: `c${c.id}`,
      at: c.createdAt.getTime(),
      kind: "checkpoint",
      label: c.label,
      checkpointKind: c.kind,
      filesChanged: c.filesChanged,
      additions: c.additions,
      deletions: c.deletions,
    });
  }

  // Stable order: time, then the order the kinds happen in within one call (model turn → tool call → approval → checkpoint).
  const kindOrder: Record<TimelineKind, number> = { state: 0, plan: 1, model: 2, tool: 3, approval: 4, checkpoint: 5 };
  items.sort((a, b) => a.at - b.at || kindOrder[a.kind] - kindOrder[b.kind]);

  const resources = resourceHistory(db, runId);
  const model = run.modelId ? (db.select({ name: models.name }).from(models).where(eq(models.id, run.modelId)).get()?.name ?? null) : null;
  return {
    run: {
      id: run.id,
      title: run.title,
      state: run.state,
      createdAt: run.createdAt.getTime(),
      endedAt: ms(run.endedAt),
      model,
      project: projectOfRun(db, run).name,
      agent: run.agent,
    },
    items,
    totals: {
      wallMs: Math.max(0, end - run.createdAt.getTime()),
      live: !isTerminal(run.state),
      waitingForPeopleMs: unionMs([...planWaits, ...otherWaits]),
      planWaitMs: unionMs(planWaits),
      approvalWaitMs: unionMs(otherWaits),
      approvals: approvalRows.length,
      modelTurns,
      tokensIn,
      tokensOut,
      tokensUsed: run.tokensUsed,
      calls: callTotals,
      toolTimeMs,
      capsHit: capsHit(run, calls, resources.series),
    },
    resources,
  };
}

/** The limits the run ran into: its own counters, the calls refused or cut short by a limit, and the resource caps its samples reached. */
export function capsHit(run: Run, calls: { errorCode: string | null }[], series: ResourceSeries[]): CapHit[] {
  const out: CapHit[] = [];
  const l = run.limits;
  if (run.tokensUsed >= l.tokenBudget) out.push({ cap: "Token budget", detail: `${run.tokensUsed} of ${l.tokenBudget} tokens used` });
  if (run.stepsUsed >= l.maxSteps) out.push({ cap: "Model turns", detail: `all ${l.maxSteps} turns used` });
  if (run.toolCallsUsed >= l.maxToolCalls) out.push({ cap: "Tool calls", detail: `all ${l.maxToolCalls} calls used` });
  if (run.endedReason?.startsWith("The run exceeded its time limit")) out.push({ cap: "Run time", detail: `stopped after ${l.runTimeoutS} s` });
  const timeouts = calls.filter((c) => c.errorCode === "TIMEOUT").length;
  if (timeouts) out.push({ cap: "Command time", detail: `${timeouts} ${timeouts === 1 ? "command" : "commands"} stopped after ${l.commandTimeoutS} s` });
  const limited = calls.filter((c) => c.errorCode === "LIMIT_EXCEEDED").length;
  if (limited)
    out.push({ cap: "Call limits", detail: `${limited} ${limited === 1 ? "call" : "calls"} refused or cut short by a limit (output, workspace quota, calls)` });
  for (const s of series) {
    if (s.capHitAt !== null) out.push({ cap: s.label, detail: "reached its cap", at: s.capHitAt });
  }
  return out;
}
