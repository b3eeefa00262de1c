// Reviewing a run like a pull request (issue 16): its cumulative diff as
// files with "viewed" marks per user, line comments kept with the run and the
// checkpoint they were written on, and "Request changes", which sends the
// unsent comments to the live agent as one message (an injected note: the
// built-in agent reads it before its next model turn, an external MCP agent
// with the result of its next tool call).
import crypto from "node:crypto";
import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { checkpoints, reviewComments, reviewFileViews, runs, users, type ReviewComment, type Role } from "@/db/schema";
import { reviewCommentDenial, reviewCommentEditDenial } from "@/lib/permissions";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { announce, insertRunEvent } from "@/server/events/bus";
import { requireRun } from "@/server/runs/lookup";
import { isTerminal } from "@/server/runs/state-machine";
import { redactorForRun } from "@/server/secrets/secrets";
import { diffRun, latestCheckpoint, requireCheckpoint } from "@/server/workspace/checkpoints";
import { splitRunDiff, type ReviewFileStatus } from "@/server/review/diff-files";

/** Who acts: the audit actor plus the user's id and role (the rules need both). */
export interface Reviewer extends Actor {
  userId: string;
  role: Role;
}

export const COMMENT_MAX_CHARS = 8000;

export interface ReviewFile {
  path: string;
  status: ReviewFileStatus;
  binary: boolean;
  additions: number;
  deletions: number;
  diff: string;
  hash: string;
  /** The user marked this very version of the file as viewed. */
  viewed: boolean;
  /** The user marked an earlier version; the file changed since. */
  changedSinceViewed: boolean;
  viewedAt: Date | null;
}

const denied = (d: { code: "FORBIDDEN" | "CONFLICT"; message: string } | null) => {
  if (d) throw new DomainError(d.code, d.message);
};

/** The run's cumulative diff (start → latest checkpoint) as files, with the user's viewed marks. */
export async function reviewFiles(
  db: Db,
  runId: string,
  userId: string,
): Promise<{ files: ReviewFile[]; truncated: boolean; fromCheckpointId: string | null; toCheckpointId: string | null }> {
  requireRun(db, runId);
  const d = await diffRun(db, runId);
  // A file the agent wrote a granted secret into shows [secret:NAME] (viewers read the review too); marks hash the real diff.
  const redactor = redactorForRun(db, runId);
  const marks = new Map(
    db
      .select()
      .from(reviewFileViews)
      .where(and(eq(reviewFileViews.runId, runId), eq(reviewFileViews.userId, userId)))
      .all()
      .map((m) => [m.path, m]),
  );
  const files = splitRunDiff(d.diff).map((f): ReviewFile => {
    const mark = marks.get(f.path);
    const viewed = mark?.diffHash === f.hash;
    return { ...f, diff: redactor.redact(f.diff), viewed, changedSinceViewed: Boolean(mark) && !viewed, viewedAt: mark?.viewedAt ?? null };
  });
  return { files, truncated: d.truncated, fromCheckpointId: d.fromCheckpointId, toCheckpointId: d.toCheckpointId };
}

/**
 * Marks (or unmarks) one file as viewed by the user. `diffHash` is the hash of
 * the version they looked at (from reviewFiles): if the file changed in the
 * meantime, the mark is stale at once, which is what they should be told.
 */
export function markFileViewed(db: Db, runId: string, userId: string, input: { path: string; diffHash: string; viewed: boolean }): { viewed: boolean } {
  requireRun(db, runId);
  if (!input.viewed) {
    db.delete(reviewFileViews)
      .where(and(eq(reviewFileViews.runId, runId), eq(reviewFileViews.userId, userId), eq(reviewFileViews.path, input.path)))
      .run();
    return { viewed: false };
  }
  const now = new Date();
  db.insert(reviewFileViews)
    .values({ runId, userId, path: input.path, diffHash: input.diffHash, viewedAt: now })
    .onConflictDoUpdate({ target: [reviewFileViews.runId, reviewFileViews.userId, reviewFileViews.path], set: { diffHash: input.diffHash, viewedAt: now } })
    .run();
  return { viewed: true };
}

export interface ReviewCommentView {
  id: string;
  runId: string;
  checkpointId: string;
  checkpointSeq: number;
  checkpointLabel: string;
  path: string;
  side: "old" | "new";
  line: number;
  body: string;
  authorId: string;
  authorEmail: string;
  createdAt: Date;
  updatedAt: Date | null;
  sentAt: Date | null;
  sentByEmail: string | null;
}

/** The run's comments, oldest first, with their author, sender and checkpoint. */
export function listReviewComments(db: Db, runId: string): ReviewCommentView[] {
  requireRun(db, runId);
  const rows = db
    .select({ c: reviewComments, seq: checkpoints.seq, label: checkpoints.label })
    .from(reviewComments)
    .innerJoin(checkpoints, eq(checkpoints.id, reviewComments.checkpointId))
    .where(eq(reviewComments.runId, runId))
    .orderBy(asc(reviewComments.createdAt), asc(reviewComments.id))
    .all();
  const ids = [...new Set(rows.flatMap((r) => [r.c.authorId, r.c.sentBy].filter((x): x is string => Boolean(x))))];
  const emails = new Map(
    ids.length
      ? db
          .select({ id: users.id, email: users.email })
          .from(users)
          .where(inArray(users.id, ids))
          .all()
          .map((u) => [u.id, u.email])
      : [],
  );
  return rows.map(({ c, seq, label }) => ({
    id: c.id,
    runId: c.runId,
    checkpointId: c.checkpointId,
    checkpointSeq: seq,
    checkpointLabel: label,
    path: c.path,
    side: c.side,
    line: c.line,
    body: c.body,
    authorId: c.authorId,
    authorEmail: emails.get(c.authorId) ?? "a deleted user",
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    sentAt: c.sentAt,
    sentByEmail: c.sentBy ? (emails.get(c.sentBy) ?? "a deleted user") : null,
  }));
}

function cleanBody(body: string): string {
  const text = body.trim();
  if (!text) throw new DomainError("INVALID_INPUT", "The comment is empty; write what should change.");
  if (text.length > COMMENT_MAX_CHARS) throw new DomainError("INVALID_INPUT", `The comment has ${text.length} characters; the limit is ${COMMENT_MAX_CHARS}.`);
  return text;
}

/**
 * Saves a line comment as an unsent draft, on the checkpoint the reviewer was
 * looking at (the latest one when none is named): the comment stays with that
 * checkpoint when the agent changes the file later.
 */
export function addReviewComment(
  db: Db,
  actor: Reviewer,
  input: { runId: string; checkpointId?: string; path: string; side: "old" | "new"; line: number; body: string },
): ReviewComment {
  const run = requireRun(db, input.runId);
  denied(reviewCommentDenial({ id: actor.userId, role: actor.role }, run));
  const body = cleanBody(input.body);
  const path = input.path.trim();
  if (!path) throw new DomainError("INVALID_INPUT", "The comment names no file; comment on a line of a changed file.");
  if (!Number.isInteger(input.line) || input.line < 1) throw new DomainError("INVALID_INPUT", `Line ${input.line} is not a line number; lines start at 1.`);
  const checkpoint = input.checkpointId ? requireCheckpoint(db, input.runId, input.checkpointId) : latestCheckpoint(db, input.runId);
  if (!checkpoint) throw new DomainError("CONFLICT", "This run has no checkpoint yet, so there is no change to comment on.");
  return db
    .insert(reviewComments)
    .values({ id: crypto.randomUUID(), runId: run.id, checkpointId: checkpoint.id, path, side: input.side, line: input.line, body, authorId: actor.userId })
    .returning()
    .get();
}

function requireComment(db: Db, id: string): ReviewComment {
  const row = db.select().from(reviewComments).where(eq(reviewComments.id, id)).get();
  if (!row) throw new DomainError("NOT_FOUND", `No comment with id ${id}.`);
  return row;
}

export function updateReviewComment(db: Db, actor: Reviewer, input: { id: string; body: string }): ReviewComment {
  const comment = requireComment(db, input.id);
  denied(reviewCommentEditDenial({ id: actor.userId, role: actor.role }, comment));
  const body = cleanBody(input.body);
  return db.update(reviewComments).set({ body, updatedAt: new Date() }).where(eq(reviewComments.id, comment.id)).returning().get();
}

export function deleteReviewComment(db: Db, actor: Reviewer, id: string): { deleted: true } {
  const comment = requireComment(db, id);
  denied(reviewCommentEditDenial({ id: actor.userId, role: actor.role }, comment));
  db.delete(reviewComments).where(eq(reviewComments.id, comment.id)).run();
  return { deleted: true };
}

/** The one message the agent gets: every comment as file:line and its text. */
export function feedbackMessage(from: string, comments: Pick<ReviewComment, "path" | "side" | "line" | "body">[], summary?: string): string {
  const items = comments.map((c, i) => {
    const where = `${c.path}:${c.line}${c.side === "old" ? " (a removed line, numbered as before your change)" : ""}`;
    return `${i + 1}. ${where}\n${c.body
      .split("\n")
      .map((l) => `   ${l}`)
      .join("\n")}`;
  });
  return [
    `Review feedback: ${from} requested changes to your work. Address each comment below, then continue with the task (call finish when done).`,
    ...(summary ? [`Overall: ${summary}`] : []),
    ...items,
  ].join("\n\n");
}

/**
 * Sends the run's unsent comments to its agent as one message and marks them
 * sent (time and sender), audited in the same transaction. A run that has
 * ended refuses; its comments stay stored.
 */
export function requestChanges(
  db: Db,
  actor: Reviewer,
  input: { runId: string; summary?: string },
): { sent: number; eventId: number; agent: "builtin" | "external" } {
  const summary = input.summary?.trim() || undefined;
  const result = db.transaction(
    (tx) => {
      // Read inside the write transaction: a run that ends meanwhile cannot get the message.
      const run = tx.select().from(runs).where(eq(runs.id, input.runId)).get();
      if (!run) throw new DomainError("NOT_FOUND", `No run with id ${input.runId}.`);
      denied(reviewCommentDenial({ id: actor.userId, role: actor.role }, run));
      if (isTerminal(run.state)) {
        throw new DomainError(
          "CONFLICT",
          `This run has ended (${run.state}), so its agent can no longer take feedback. Your comments stay stored with the run; start a new run to act on them.`,
        );
      }
      const pending = tx
        .select()
        .from(reviewComments)
        .where(and(eq(reviewComments.runId, run.id), isNull(reviewComments.sentAt)))
        .orderBy(asc(reviewComments.createdAt), asc(reviewComments.id))
        .all();
      if (pending.length === 0) throw new DomainError("INVALID_INPUT", "There are no unsent comments on this run; add a line comment first.");
      const now = new Date();
      tx.update(reviewComments)
        .set({ sentAt: now, sentBy: actor.userId })
        .where(
          inArray(
            reviewComments.id,
            pending.map((c) => c.id),
          ),
        )
        .run();
      const toModel = feedbackMessage(actor.label, pending, summary);
      appendAudit(tx, actor, {
        action: "review.changes_requested",
        targetType: "run",
        targetId: run.id,
        details: { comments: pending.map((c) => ({ id: c.id, path: c.path, line: c.line, side: c.side, checkpointId: c.checkpointId })), agent: run.agent },
      });
      const event = insertRunEvent(tx, run.id, "note", {
        text: `${actor.label} requested changes (${pending.length} comment${pending.length === 1 ? "" : "s"}); the agent gets them ${run.agent === "external" ? "with the result of its next tool call" : "before its next turn"}.`,
        toModel,
        inject: true,
        source: "review",
      });
      return { sent: pending.length, event, agent: run.agent };
    },
    { behavior: "immediate" },
  );
  announce(result.event);
  return { sent: result.sent, eventId: result.event.id, agent: result.agent };
}
