// Batch approval (issue 12): a reviewer reads the combined diff of a run's
// pending writes and approves or denies them together. The decision applies
// to exactly the requests the page showed (named by id, each bound to the
// hash of what was shown), never to one that arrived later, and each goes
// through the same vote as a single decision (rights, state, quorum, expiry).
import crypto from "node:crypto";
import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, approvalVotes, toolCalls } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { approvalPermissions, type PermissionActor } from "@/lib/permissions";
import { decideApproval, type DecisionChannel } from "./approvals";
import { approvalContentHash } from "./content-hash";

/** The tools a batch may decide: file writes, whose diffs read together. */
export const BATCH_TOOLS = ["write_file", "edit_file"] as const;
export const MAX_BATCH = 50;

export interface PendingWrite {
  id: string;
  tool: string;
  path: string | null;
  preview: Record<string, unknown> | null;
  /** What the reviewer is shown, as a hash; sent back with the decision. */
  contentHash: string;
  createdAt: Date;
  expiresAt: Date;
  canDecide: boolean;
}

/** The run's pending write requests (in call order), each with the hash a batch decision must name. */
export function pendingWrites(db: Db, viewer: PermissionActor, runId: string): PendingWrite[] {
  // In the order the agent made the calls (their requests may be created in another order).
  const rows = db
    .select({ a: approvals })
    .from(approvals)
    .leftJoin(toolCalls, eq(toolCalls.id, approvals.toolCallId))
    .where(and(eq(approvals.runId, runId), eq(approvals.state, "pending"), eq(approvals.kind, "tool"), inArray(approvals.tool, [...BATCH_TOOLS])))
    .orderBy(asc(toolCalls.seq), asc(approvals.createdAt))
    .all()
    .map((r) => r.a);
  const ids = rows.map((r) => r.id);
  const votes = ids.length ? db.select().from(approvalVotes).where(inArray(approvalVotes.approvalId, ids)).orderBy(asc(approvalVotes.createdAt)).all() : [];
  return rows.map((a) => {
    const mine = votes.filter((v) => v.approvalId === a.id);
    return {
      id: a.id,
      tool: a.tool,
      path: typeof a.args.path === "string" ? a.args.path : null,
      preview: a.preview ?? null,
      contentHash: approvalContentHash({ ...a, edits: mine.map((v) => v.edit ?? null) }),
      createdAt: a.createdAt,
      expiresAt: a.expiresAt,
      canDecide: approvalPermissions(viewer, a, { alreadyVoted: mine.some((v) => v.userId === viewer.id) }).canDecide,
    };
  });
}

export interface BatchInput {
  runId: string;
  approvalIds: string[];
  /** approval id → the content hash the reviewer's page was rendered from. */
  hashes: Record<string, string>;
  decision: "approve" | "deny";
  reason?: string;
  /** Where the batch was decided (the dashboard or an API token), kept on every vote in the audit trail. */
  channel?: DecisionChannel;
}

export interface BatchItemOutcome {
  id: string;
  /** The request's state after the vote, or "refused" with why (nothing changed for it). */
  outcome: "approved" | "denied" | "pending" | "expired" | "refused";
  message?: string;
}

/**
 * Decides each listed request on its own (one vote each, one transaction
 * each): a refused item (another run, not a write, decided meanwhile, changed
 * since it was shown, not the reviewer's to decide) does not stop the others.
 * Every vote carries the batch id in the audit trail, and the batch itself is
 * one audit event listing what happened to each id.
 */
export function decideBatch(db: Db, actor: Actor & { userId: string }, input: BatchInput): { batchId: string; items: BatchItemOutcome[] } {
  const ids = [...new Set(input.approvalIds)];
  if (ids.length === 0) throw new DomainError("INVALID_INPUT", "Name the requests to decide (the ones your page shows).");
  if (ids.length > MAX_BATCH) throw new DomainError("INVALID_INPUT", `A batch decides at most ${MAX_BATCH} requests; decide the rest in another batch.`);
  if (input.decision === "deny" && !input.reason?.trim()) {
    throw new DomainError("INVALID_INPUT", "Say why you deny them: the reason goes back to the agent so it can change course.");
  }
  const batchId = crypto.randomUUID();
  const items: BatchItemOutcome[] = [];
  for (const id of ids) {
    const hash = input.hashes[id];
    const row = db.select().from(approvals).where(eq(approvals.id, id)).get();
    if (!row || row.runId !== input.runId) {
      items.push({ id, outcome: "refused", message: "Not a request of this run." });
      continue;
    }
    if (row.kind !== "tool" || !(BATCH_TOOLS as readonly string[]).includes(row.tool)) {
      items.push({ id, outcome: "refused", message: `A batch decides file writes only; decide this ${row.tool} request on its own.` });
      continue;
    }
    if (!hash) {
      items.push({ id, outcome: "refused", message: "No content hash was sent for this request; reload the page and review again." });
      continue;
    }
    try {
      const decided = decideApproval(db, actor, { id, decision: input.decision, reason: input.reason, expectHash: hash, batchId, channel: input.channel });
      items.push({ id, outcome: decided.state === "cancelled" ? "refused" : decided.state });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      items.push({ id, outcome: err.code === "PRECONDITION_FAILED" ? "expired" : "refused", message: err.message });
    }
  }
  db.transaction(
    (tx) =>
      appendAudit(tx, actor, {
        action: "approval.batch",
        targetType: "run",
        targetId: input.runId,
        details: { batchId, decision: input.decision, reason: input.reason?.trim() || null, items, ...(input.channel ? { channel: input.channel } : {}) },
      }),
    { behavior: "immediate" },
  );
  return { batchId, items };
}
