// Approval requests: created by the gateway (tool calls), by plan review and
// by step mode; decided by reviewers' votes with quorum, self-approval rules
// and expiry. Exactly one final decision per request, even under races.
import crypto from "node:crypto";
import { and, desc, eq, inArray, lt, type SQL } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, approvalVotes, runs, users, type Approval, type ApprovalState, type PlanStepJson } from "@/db/schema";
import { appendAudit, SYSTEM_ACTOR, type Actor } from "@/server/audit/chain";
import { announce, emitSignal, insertRunEvent, onSignal } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { approvalPermissions, approvalVoteDenial, type PermissionActor } from "@/lib/permissions";
import { readApprovalTtlMs } from "@/server/config/env";
import type { RunEvent } from "@/db/schema";
import { approvalContentHash } from "./content-hash";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export interface NewApproval {
  runId: string;
  toolCallId?: string | null;
  kind: Approval["kind"];
  tool: string;
  args: Record<string, unknown>;
  preview?: Record<string, unknown> | null;
  verdict: Approval["verdict"];
  rule?: string | null;
  reason: string;
  /** The risk Airlock computed for the call (tool requests); null for plans and steps. */
  risk?: Approval["risk"];
  requiredApprovals?: number;
  allowSelfApproval?: boolean;
  /** The minimum role of each approver (a policy rule may require an admin). */
  approverRole?: "reviewer" | "admin";
  requestedBy: string;
  ttlMs?: number;
}

export function createApprovalInTx(tx: Tx, actor: Actor, input: NewApproval): { approval: Approval; event: RunEvent } {
  const id = crypto.randomUUID();
  const now = Date.now();
  const row = tx
    .insert(approvals)
    .values({
      id,
      runId: input.runId,
      toolCallId: input.toolCallId ?? null,
      kind: input.kind,
      tool: input.tool,
      args: input.args,
      preview: input.preview ?? null,
      verdict: input.verdict,
      rule: input.rule ?? null,
      reason: input.reason,
      risk: input.risk ?? null,
      state: "pending",
      requiredApprovals: Math.max(1, input.requiredApprovals ?? 1),
      allowSelfApproval: input.allowSelfApproval ?? false,
      approverRole: input.approverRole ?? "reviewer",
      requestedBy: input.requestedBy,
      expiresAt: new Date(now + (input.ttlMs ?? approvalTtlMs())),
    })
    .returning()
    .get();
  const event = insertRunEvent(tx, input.runId, "approval", {
    approvalId: id,
    toolCallId: input.toolCallId ?? null,
    kind: input.kind,
    tool: input.tool,
    state: "pending",
    rule: input.rule ?? null,
    reason: input.reason,
  });
  appendAudit(tx, actor, {
    action: "approval.request",
    targetType: "approval",
    targetId: id,
    details: { runId: input.runId, kind: input.kind, tool: input.tool, rule: input.rule ?? null, reason: input.reason },
  });
  return { approval: row, event };
}

/** Read per request, not from the cached config: a test shortens it for one case (test/flows.int.test.ts). */
export function approvalTtlMs(): number {
  return readApprovalTtlMs();
}

export function afterApprovalCommit(approval: Approval, event: RunEvent): void {
  announce(event);
  emitSignal("approvals:changed", { id: approval.id, runId: approval.runId, state: approval.state });
  if (approval.state !== "pending") emitSignal(`approval:${approval.id}`, approval.state);
}

export function createApproval(db: Db, actor: Actor, input: NewApproval): Approval {
  const { approval, event } = db.transaction((tx) => createApprovalInTx(tx, actor, input), { behavior: "immediate" });
  afterApprovalCommit(approval, event);
  return approval;
}

export function getApproval(db: Db, id: string): Approval {
  const row = db.select().from(approvals).where(eq(approvals.id, id)).get();
  if (!row) throw new DomainError("NOT_FOUND", `No approval request with id ${id}.`);
  return row;
}

export interface DecideInput {
  id: string;
  decision: "approve" | "deny";
  reason?: string;
  edit?: Record<string, unknown> | null;
  /** Where the decision was made, kept in the audit trail: the dashboard (cookie session), a notification's action button, or an API token. */
  channel?: DecisionChannel;
  /** Batch decisions (server/approvals/batch.ts): the hash of what the reviewer saw; a request changed since is refused. */
  expectHash?: string;
  /** Batch decisions: shared by every vote of one batch in the audit trail. */
  batchId?: string;
}

export type DecisionChannel = "web" | "notification" | "api";

/** Records one reviewer's vote; the request is decided once quorum is reached (or on the first deny). */
export function decideApproval(db: Db, actor: Actor & { userId: string }, input: DecideInput): Approval {
  const reason = input.reason?.trim() || null;
  if (input.decision === "deny" && !reason) {
    throw new DomainError("INVALID_INPUT", "Say why you deny it: the reason goes back to the agent so it can change course.");
  }
  const result = db.transaction(
    (tx) => {
      const approval = tx.select().from(approvals).where(eq(approvals.id, input.id)).get();
      if (!approval) throw new DomainError("NOT_FOUND", `No approval request with id ${input.id}.`);
      if (approval.state !== "pending") {
        const by = approval.decidedBy ? tx.select({ email: users.email }).from(users).where(eq(users.id, approval.decidedBy)).get()?.email : null;
        throw new DomainError("CONFLICT", `This request was already ${approval.state}${by ? ` by ${by}` : ""}; nothing changed.`);
      }
      if (approval.expiresAt.getTime() <= Date.now()) {
        const expired = finalize(tx, approval, "expired", SYSTEM_ACTOR, { reason: "no decision before it expired" });
        return { approval: expired.approval, event: expired.event, late: true };
      }
      // Who may vote: lib/permissions.ts (the reviewer role itself is the procedure's).
      const voter = tx.select({ role: users.role }).from(users).where(eq(users.id, actor.userId)).get();
      const already = tx
        .select()
        .from(approvalVotes)
        .where(and(eq(approvalVotes.approvalId, approval.id), eq(approvalVotes.userId, actor.userId)))
        .get();
      const denied = approvalVoteDenial({ id: actor.userId, role: voter?.role ?? null }, approval, input.decision, { alreadyVoted: Boolean(already) });
      if (denied) throw new DomainError(denied.code, denied.message);
      if (input.expectHash !== undefined) {
        const edits = tx
          .select({ edit: approvalVotes.edit })
          .from(approvalVotes)
          .where(eq(approvalVotes.approvalId, approval.id))
          .orderBy(approvalVotes.createdAt)
          .all();
        const now = approvalContentHash({ ...approval, edits: edits.map((e) => e.edit ?? null) });
        if (now !== input.expectHash) {
          throw new DomainError("CONFLICT", "This request changed after your page showed it (another reviewer attached an edit); review it again on its own.");
        }
      }
      tx.insert(approvalVotes)
        .values({ id: crypto.randomUUID(), approvalId: approval.id, userId: actor.userId, decision: input.decision, reason, edit: input.edit ?? null })
        .run();
      appendAudit(tx, actor, {
        action: "approval.vote",
        targetType: "approval",
        targetId: approval.id,
        details: {
          runId: approval.runId,
          decision: input.decision,
          reason,
          edited: Boolean(input.edit),
          channel: input.channel ?? null,
          ...(input.batchId ? { batchId: input.batchId } : {}),
        },
      });
      if (input.decision === "deny") {
        const denied = finalize(tx, approval, "denied", actor, { reason, edit: null, channel: input.channel, batchId: input.batchId });
        return { approval: denied.approval, event: denied.event, late: false };
      }
      const votes = tx
        .select()
        .from(approvalVotes)
        .where(and(eq(approvalVotes.approvalId, approval.id), eq(approvalVotes.decision, "approve")))
        .all();
      if (votes.length >= approval.requiredApprovals) {
        const edit = input.edit ?? [...votes].reverse().find((v) => v.edit)?.edit ?? null;
        const approved = finalize(tx, approval, "approved", actor, { reason, edit, channel: input.channel, batchId: input.batchId });
        return { approval: approved.approval, event: approved.event, late: false };
      }
      const event = insertRunEvent(tx, approval.runId, "approval", {
        approvalId: approval.id,
        toolCallId: approval.toolCallId,
        state: "pending",
        votes: votes.length,
        required: approval.requiredApprovals,
        by: actor.label,
      });
      return { approval, event, late: false };
    },
    { behavior: "immediate" },
  );
  afterApprovalCommit(result.approval, result.event);
  if (result.late) throw new DomainError("PRECONDITION_FAILED", "This request expired before your decision; the agent was told it expired.");
  return result.approval;
}

function finalize(
  tx: Tx,
  approval: Approval,
  state: ApprovalState,
  actor: Actor,
  opts: { reason?: string | null; edit?: Record<string, unknown> | null; channel?: DecisionChannel; batchId?: string },
) {
  tx.update(approvals)
    .set({ state, decidedAt: new Date(), decidedBy: actor.userId, decisionReason: opts.reason ?? null, edit: opts.edit ?? null })
    .where(eq(approvals.id, approval.id))
    .run();
  const updated = tx.select().from(approvals).where(eq(approvals.id, approval.id)).get()!;
  const event = insertRunEvent(tx, approval.runId, "approval", {
    approvalId: approval.id,
    toolCallId: approval.toolCallId,
    kind: approval.kind,
    tool: approval.tool,
    state,
    by: actor.label,
    reason: opts.reason ?? null,
    edited: Boolean(opts.edit),
  });
  appendAudit(tx, actor, {
    action: `approval.${state}`,
    targetType: "approval",
    targetId: approval.id,
    details: {
      runId: approval.runId,
      kind: approval.kind,
      tool: approval.tool,
      reason: opts.reason ?? null,
      edit: opts.edit ?? null,
      ...(opts.channel ? { channel: opts.channel } : {}),
      ...(opts.batchId ? { batchId: opts.batchId } : {}),
    },
  });
  return { approval: updated, event };
}

/** Marks overdue pending requests expired; returns how many. */
export function expireOverdueApprovals(db: Db, now = Date.now()): number {
  const overdue = db
    .select()
    .from(approvals)
    .where(and(eq(approvals.state, "pending"), lt(approvals.expiresAt, new Date(now))))
    .all();
  for (const a of overdue) {
    const done = db.transaction(
      (tx) => {
        const fresh = tx.select().from(approvals).where(eq(approvals.id, a.id)).get();
        if (!fresh || fresh.state !== "pending") return null;
        return finalize(tx, fresh, "expired", SYSTEM_ACTOR, { reason: "no decision before it expired" });
      },
      { behavior: "immediate" },
    );
    if (done) afterApprovalCommit(done.approval, done.event);
  }
  return overdue.length;
}

/** Cancels every pending request of a run (the run was stopped). Call inside the stop transaction. */
export function cancelRunApprovalsInTx(tx: Tx, runId: string, actor: Actor, reason: string): { approval: Approval; event: RunEvent }[] {
  const pending = tx
    .select()
    .from(approvals)
    .where(and(eq(approvals.runId, runId), eq(approvals.state, "pending")))
    .all();
  return pending.map((a) => finalize(tx, a, "cancelled", actor, { reason }));
}

/** Resolves with the final state of a request; wakes on decisions from any path, and on expiry. */
export function waitForDecision(db: Db, approvalId: string, signal?: AbortSignal): Promise<Approval> {
  return new Promise<Approval>((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      off();
      signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const check = () => {
      try {
        const a = getApproval(db, approvalId);
        if (a.state === "pending" && a.expiresAt.getTime() <= Date.now()) {
          expireOverdueApprovals(db);
          return;
        }
        if (a.state !== "pending") finish(() => resolve(a));
      } catch (err) {
        finish(() => reject(err));
      }
    };
    const onAbort = () => finish(() => reject(signal?.reason ?? new Error("aborted")));
    const off = onSignal(`approval:${approvalId}`, check);
    // Polling covers decisions made by another process (CLI, a second replica) and expiry.
    const timer = setInterval(check, 1000);
    signal?.addEventListener("abort", onAbort);
    check();
  });
}

export interface ApprovalView {
  id: string;
  runId: string;
  runTitle: string;
  toolCallId: string | null;
  tool: string;
  kind: Approval["kind"];
  args: Record<string, unknown>;
  preview: Record<string, unknown> | null;
  verdict: Approval["verdict"];
  rule: string | null;
  reason: string;
  /** The risk Airlock computed for a tool call; null for plans and steps. */
  risk: Approval["risk"];
  state: ApprovalState;
  requiredApprovals: number;
  approvalsSoFar: number;
  allowSelfApproval: boolean;
  approverRole: "reviewer" | "admin";
  requestedBy: string;
  expiresAt: Date;
  createdAt: Date;
  /** When the project's escalation notified a second group about this request. */
  escalatedAt: Date | null;
  decidedAt: Date | null;
  decidedBy: string | null;
  decidedByEmail: string | null;
  decisionReason: string | null;
  edit: Record<string, unknown> | null;
  canDecide: boolean;
  /** What a reviewer needs to decide without opening the run: its task, who started it, and its plan. */
  runTask: string;
  runCreatedByEmail: string | null;
  runPlan: PlanStepJson[] | null;
  runPlanApproved: boolean;
  /** The plan step the run is on (1-based; 0 before a plan is approved). */
  runCurrentStep: number;
}

export function listApprovals(
  db: Db,
  viewer: PermissionActor,
  filter: { id?: string; state?: "pending" | "decided" | "expired"; runId?: string; limit?: number },
): ApprovalView[] {
  const conds: SQL[] = [];
  if (filter.id) conds.push(eq(approvals.id, filter.id));
  if (filter.state === "pending") conds.push(eq(approvals.state, "pending"));
  if (filter.state === "expired") conds.push(eq(approvals.state, "expired"));
  if (filter.state === "decided") conds.push(inArray(approvals.state, ["approved", "denied", "cancelled"]));
  if (filter.runId) conds.push(eq(approvals.runId, filter.runId));
  const rows = db
    .select({
      a: approvals,
      runTitle: runs.title,
      runTask: runs.task,
      runCreatedBy: runs.createdBy,
      runPlan: runs.plan,
      runPlanApprovedAt: runs.planApprovedAt,
      runCurrentStep: runs.currentStep,
    })
    .from(approvals)
    .innerJoin(runs, eq(runs.id, approvals.runId))
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(approvals.createdAt))
    .limit(filter.limit ?? 200)
    .all();
  const ids = rows.map((r) => r.a.id);
  const votes = ids.length ? db.select().from(approvalVotes).where(inArray(approvalVotes.approvalId, ids)).all() : [];
  const deciderIds = [...new Set(rows.flatMap((r) => [r.a.decidedBy, r.runCreatedBy]).filter((x): x is string => Boolean(x)))];
  const emails = new Map(
    deciderIds.length
      ? db
          .select({ id: users.id, email: users.email })
          .from(users)
          .where(inArray(users.id, deciderIds))
          .all()
          .map((u) => [u.id, u.email])
      : [],
  );
  return rows.map(({ a, runTitle, runTask, runCreatedBy, runPlan, runPlanApprovedAt, runCurrentStep }) => {
    const mine = votes.some((v) => v.approvalId === a.id && v.userId === viewer.id);
    return {
      id: a.id,
      runId: a.runId,
      runTitle,
      toolCallId: a.toolCallId,
      tool: a.tool,
      kind: a.kind,
      args: a.args,
      preview: a.preview ?? null,
      verdict: a.verdict,
      rule: a.rule,
      reason: a.reason,
      risk: a.risk ?? null,
      state: a.state,
      requiredApprovals: a.requiredApprovals,
      approvalsSoFar: votes.filter((v) => v.approvalId === a.id && v.decision === "approve").length,
      allowSelfApproval: a.allowSelfApproval,
      approverRole: a.approverRole,
      requestedBy: a.requestedBy,
      expiresAt: a.expiresAt,
      createdAt: a.createdAt,
      escalatedAt: a.escalatedAt ?? null,
      decidedAt: a.decidedAt,
      decidedBy: a.decidedBy,
      decidedByEmail: a.decidedBy ? (emails.get(a.decidedBy) ?? null) : null,
      decisionReason: a.decisionReason,
      edit: a.edit ?? null,
      canDecide: approvalPermissions(viewer, a, { alreadyVoted: mine }).canDecide,
      runTask,
      runCreatedByEmail: runCreatedBy ? (emails.get(runCreatedBy) ?? null) : null,
      runPlan: runPlan ?? null,
      runPlanApproved: Boolean(runPlanApprovedAt),
      runCurrentStep,
    };
  });
}
