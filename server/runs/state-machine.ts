// The run lifecycle. Nothing but `transitionRun` changes a run's state; each
// transition commits with its run event and audit event.
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs, runTokens, type Run, type RunState } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { requireRun } from "@/server/runs/lookup";

const TRANSITIONS: Record<RunState, readonly RunState[]> = {
  queued: ["starting", "failed", "killed"],
  starting: ["planning", "running", "failed", "killed"],
  planning: ["awaiting_plan_approval", "awaiting_approval", "running", "succeeded", "failed", "killed"],
  awaiting_plan_approval: ["planning", "running", "failed", "killed"],
  running: ["awaiting_approval", "awaiting_plan_approval", "planning", "paused", "succeeded", "failed", "killed"],
  awaiting_approval: ["running", "planning", "failed", "killed"],
  // A run is paused while its workspace is rolled back; it may finish meanwhile.
  paused: ["running", "succeeded", "failed", "killed"],
  succeeded: ["rolled_back"],
  failed: ["rolled_back"],
  killed: ["rolled_back"],
  rolled_back: [],
};

export const TERMINAL_STATES: readonly RunState[] = ["succeeded", "failed", "killed", "rolled_back"];

export function isTerminal(state: RunState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function canTransition(from: RunState, to: RunState): boolean {
  return TRANSITIONS[from].includes(to);
}

export class InvalidTransitionError extends DomainError {
  constructor(
    readonly from: RunState,
    readonly to: RunState,
    runId: string,
  ) {
    super("PRECONDITION_FAILED", `Run ${runId} is ${from.replace(/_/g, " ")}; it cannot become ${to.replace(/_/g, " ")}.`);
  }
}

export interface TransitionOptions {
  reason?: string;
  /** Only transition when the run is in one of these states (optimistic guard). */
  from?: readonly RunState[];
  fields?: Partial<
    Pick<
      Run,
      "containerId" | "endedReason" | "endedBy" | "startedAt" | "endedAt" | "planApprovedAt" | "plan" | "currentStep" | "summary" | "workspaceDir" | "runtime"
    >
  >;
  details?: Record<string, unknown>;
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Transition inside an open transaction; returns the event to announce after commit. */
export function transitionRunInTx(tx: Tx, runId: string, to: RunState, actor: Actor, opts: TransitionOptions = {}) {
  const run = tx.select().from(runs).where(eq(runs.id, runId)).get();
  if (!run) throw new DomainError("NOT_FOUND", `No run with id ${runId}.`);
  if (opts.from && !opts.from.includes(run.state)) throw new InvalidTransitionError(run.state, to, runId);
  if (!canTransition(run.state, to)) throw new InvalidTransitionError(run.state, to, runId);
  const now = new Date();
  const terminal = isTerminal(to);
  tx.update(runs)
    .set({
      ...opts.fields,
      state: to,
      updatedAt: now,
      ...(terminal && !opts.fields?.endedAt && !run.endedAt ? { endedAt: now } : {}),
    })
    .where(eq(runs.id, runId))
    .run();
  // An external agent's run token dies with the run, in the same transaction.
  if (terminal)
    tx.update(runTokens)
      .set({ revokedAt: now })
      .where(and(eq(runTokens.runId, runId), isNull(runTokens.revokedAt)))
      .run();
  const event = insertRunEvent(tx, runId, "state", { from: run.state, to, reason: opts.reason ?? null, by: actor.label });
  appendAudit(tx, actor, {
    action: "run.transition",
    targetType: "run",
    targetId: runId,
    details: { from: run.state, to, reason: opts.reason ?? null, ...opts.details },
  });
  return { run: { ...run, ...opts.fields, state: to }, event };
}

export function transitionRun(db: Db, runId: string, to: RunState, actor: Actor, opts: TransitionOptions = {}): Run {
  const { event } = db.transaction((tx) => transitionRunInTx(tx, runId, to, actor, opts), { behavior: "immediate" });
  announce(event);
  return requireRun(db, runId);
}
