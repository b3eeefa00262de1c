// The one-time tokens behind a push notification's Approve / Deny buttons, and
// their use (POST /api/approvals/act). A token alone decides nothing: the
// request must also be signed in as the same user, and every check the
// dashboard makes is made again at use time (role, self-approval, quorum via
// decideApproval), plus the token's own: one use, the same arguments as the
// notification showed, an expiry no later than the request's.
import crypto from "node:crypto";
import { and, desc, eq, isNull, lt } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvalActionTokens, approvals, approvalVotes, users, type Approval, type Role } from "@/db/schema";
import type { Actor } from "@/server/audit/chain";
import { decideApproval, expireOverdueApprovals } from "@/server/approvals/approvals";
import { DomainError } from "@/server/errors/domain-error";
import { approvalPermissions, approvalVoteDenial } from "@/lib/permissions";

export type ApprovalAction = "approve" | "deny";

/** Tools whose approval grants a secret or network access: never approved from a lock screen. */
const NEEDS_PAGE_TOOLS = new Set(["request_secret", "http_fetch", "install_package"]);

/** Longest a token lives even when the request would wait longer: a notification left on a phone overnight is stale. */
export const MAX_TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Expired tokens are kept this long (a late tap still gets "expired", not "unknown"), then deleted. */
const KEEP_EXPIRED_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Why this request may not be approved from a notification (null when it may):
 * its Approve action opens the approval page instead. Deny is always possible.
 */
export function approveFromNotificationRefusal(approval: Pick<Approval, "requiredApprovals" | "tool" | "risk">): string | null {
  if (approval.requiredApprovals > 1) return `It needs ${approval.requiredApprovals} approvals; review it on the approval page.`;
  if (approval.tool === "request_secret") return "It grants a secret; review it on the approval page.";
  if (NEEDS_PAGE_TOOLS.has(approval.tool) || /egress|network/i.test(approval.tool)) return "It grants network access; review it on the approval page.";
  if (approval.risk === "high") return "Airlock rates it high risk; review it on the approval page.";
  return null;
}

/** JSON with sorted keys, so equal arguments hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The edit that would run if the request were approved now: the latest reviewer edit among the votes so far. */
function currentEdit(db: Db, approval: Approval): Record<string, unknown> | null {
  const withEdit = db
    .select({ edit: approvalVotes.edit })
    .from(approvalVotes)
    .where(eq(approvalVotes.approvalId, approval.id))
    .orderBy(desc(approvalVotes.createdAt))
    .all()
    .find((v) => v.edit && Object.keys(v.edit).length);
  return withEdit?.edit ?? approval.edit ?? null;
}

/** A hash of exactly what the notification was about: the tool, its arguments and any reviewer edit. */
export function argsHashOf(db: Db, approval: Approval): string {
  const shown = canonicalJson({ tool: approval.tool, args: approval.args, edit: currentEdit(db, approval) });
  return crypto.createHash("sha256").update(shown).digest("hex");
}

const hashToken = (token: string) => crypto.createHash("sha256").update(token).digest("hex");

export interface IssuedActions {
  approve?: string;
  deny?: string;
  /** Set when the user may approve but not from a notification: why (the Approve action opens the page). */
  approveWithheld?: string;
}

/**
 * Tokens for one user's notification about a pending request: an approve token
 * when they may approve it and it may be approved from a notification, a deny
 * token when they may deny it. Nothing for a decided or expired request.
 */
export function issueActionTokens(db: Db, approval: Approval, user: { id: string; role: Role }, now = Date.now()): IssuedActions {
  if (approval.state !== "pending" || approval.expiresAt.getTime() <= now) return {};
  const voted = db
    .select({ id: approvalVotes.id })
    .from(approvalVotes)
    .where(and(eq(approvalVotes.approvalId, approval.id), eq(approvalVotes.userId, user.id)))
    .get();
  const may = approvalPermissions(user, approval, { alreadyVoted: Boolean(voted) });
  const withheld = may.canApprove ? approveFromNotificationRefusal(approval) : null;
  const actions: ApprovalAction[] = [...(may.canApprove && !withheld ? (["approve"] as const) : []), ...(may.canDeny ? (["deny"] as const) : [])];
  const argsHash = argsHashOf(db, approval);
  const expiresAt = new Date(Math.min(approval.expiresAt.getTime(), now + MAX_TOKEN_LIFETIME_MS));
  const issued: IssuedActions = withheld ? { approveWithheld: withheld } : {};
  // One commit for the clean-up and both tokens, not three: each commit is a WAL write on the dispatcher's synchronous path.
  db.transaction((tx) => {
    tx.delete(approvalActionTokens)
      .where(lt(approvalActionTokens.expiresAt, new Date(now - KEEP_EXPIRED_MS)))
      .run();
    for (const action of actions) {
      const token = `ala_${crypto.randomBytes(32).toString("base64url")}`;
      tx.insert(approvalActionTokens)
        .values({ id: crypto.randomUUID(), tokenHash: hashToken(token), approvalId: approval.id, userId: user.id, action, argsHash, expiresAt })
        .run();
      issued[action] = token;
    }
  });
  return issued;
}

/** Stable codes of a refused notification action (the service worker shows the message; scripts may switch on the code). */
export type ActionRefusalCode =
  | "SIGN_IN_REQUIRED"
  | "INVALID_INPUT"
  | "TOKEN_UNKNOWN"
  | "TOKEN_OTHER_USER"
  | "TOKEN_USED"
  | "TOKEN_EXPIRED"
  | "DECISION_MISMATCH"
  | "APPROVAL_NOT_FOUND"
  | "ALREADY_DECIDED"
  | "APPROVAL_EXPIRED"
  | "REQUEST_EDITED"
  | "APPROVE_ON_PAGE"
  | "ROLE_LOST"
  | "NOT_ALLOWED";

const STATUS: Record<ActionRefusalCode, number> = {
  SIGN_IN_REQUIRED: 401,
  INVALID_INPUT: 400,
  TOKEN_UNKNOWN: 404,
  TOKEN_OTHER_USER: 403,
  TOKEN_USED: 409,
  TOKEN_EXPIRED: 410,
  DECISION_MISMATCH: 400,
  APPROVAL_NOT_FOUND: 404,
  ALREADY_DECIDED: 409,
  APPROVAL_EXPIRED: 410,
  REQUEST_EDITED: 409,
  APPROVE_ON_PAGE: 403,
  ROLE_LOST: 403,
  NOT_ALLOWED: 403,
};

export class ActionRefused extends Error {
  readonly status: number;
  constructor(
    readonly code: ActionRefusalCode,
    message: string,
    /** The request the token was for, so the service worker can open its page. */
    readonly approvalId?: string,
  ) {
    super(message);
    this.name = "ActionRefused";
    this.status = STATUS[code];
  }
}

export interface ActInput {
  token: string;
  decision: ApprovalAction;
  reason?: string;
}

/**
 * Decides a request with a notification's token, for the signed-in `caller`
 * (null: nobody signed in). Throws ActionRefused saying why not.
 */
export function actOnApproval(db: Db, caller: { actor: Actor & { userId: string }; role: Role } | null, input: ActInput, now = Date.now()): Approval {
  if (!caller) {
    throw new ActionRefused(
      "SIGN_IN_REQUIRED",
      "Sign in to Airlock on this device to decide from a notification; a notification's button alone decides nothing.",
    );
  }
  const row = db
    .select()
    .from(approvalActionTokens)
    .where(eq(approvalActionTokens.tokenHash, hashToken(input.token)))
    .get();
  if (!row) throw new ActionRefused("TOKEN_UNKNOWN", "This notification's button is not valid (unknown token). Open the request in Airlock to decide it.");
  const id = row.approvalId;
  if (row.userId !== caller.actor.userId) {
    throw new ActionRefused(
      "TOKEN_OTHER_USER",
      "This notification was sent to another Airlock user; this device is signed in as someone else. Open the request to decide it as yourself.",
      id,
    );
  }
  if (row.usedAt) throw new ActionRefused("TOKEN_USED", "This notification's button was already used; each works once. Open the request to see its state.", id);
  if (row.action !== input.decision) {
    throw new ActionRefused("DECISION_MISMATCH", `This button was issued to ${row.action} the request, not to ${input.decision} it.`, id);
  }
  const approval = db.select().from(approvals).where(eq(approvals.id, id)).get();
  if (!approval) throw new ActionRefused("APPROVAL_NOT_FOUND", "The request this notification was about no longer exists.");
  if (approval.state !== "pending") {
    const by = approval.decidedBy ? db.select({ email: users.email }).from(users).where(eq(users.id, approval.decidedBy)).get()?.email : null;
    if (approval.state === "expired") throw new ActionRefused("APPROVAL_EXPIRED", "This request expired before your decision; the agent was told so.", id);
    throw new ActionRefused("ALREADY_DECIDED", `This request was already ${approval.state}${by ? ` by ${by}` : ""}; nothing changed.`, id);
  }
  if (approval.expiresAt.getTime() <= now) {
    expireOverdueApprovals(db, now);
    throw new ActionRefused("APPROVAL_EXPIRED", "This request expired before your decision; the agent was told so.", id);
  }
  if (row.expiresAt.getTime() <= now) throw new ActionRefused("TOKEN_EXPIRED", "This notification's button has expired. Open the request to decide it.", id);
  if (argsHashOf(db, approval) !== row.argsHash) {
    throw new ActionRefused("REQUEST_EDITED", "The request changed since this notification (a reviewer edited it). Open it to see what would run now.", id);
  }
  if (input.decision === "approve") {
    const onPage = approveFromNotificationRefusal(approval);
    if (onPage) throw new ActionRefused("APPROVE_ON_PAGE", `This request cannot be approved from a notification. ${onPage}`, id);
  }
  // The role and rights of now, not of when the notification was sent: the same rules as the dashboard's buttons.
  const voted = db
    .select({ id: approvalVotes.id })
    .from(approvalVotes)
    .where(and(eq(approvalVotes.approvalId, id), eq(approvalVotes.userId, caller.actor.userId)))
    .get();
  const may = approvalPermissions({ id: caller.actor.userId, role: caller.role }, approval, { alreadyVoted: Boolean(voted) });
  if (!may.canReview) {
    throw new ActionRefused("ROLE_LOST", `Deciding requests needs the reviewer role; you are ${caller.role} now. Ask an admin if that is wrong.`, id);
  }
  if (!(input.decision === "approve" ? may.canApprove : may.canDeny)) {
    const denial = approvalVoteDenial({ id: caller.actor.userId, role: caller.role }, approval, input.decision, { alreadyVoted: Boolean(voted) });
    throw new ActionRefused("NOT_ALLOWED", denial?.message ?? "You may not decide this request.", id);
  }

  // One use, even if two taps race: only the one that flips usedAt goes on.
  const claimed = db
    .update(approvalActionTokens)
    .set({ usedAt: new Date(now) })
    .where(and(eq(approvalActionTokens.id, row.id), isNull(approvalActionTokens.usedAt)))
    .run();
  if (claimed.changes !== 1) throw new ActionRefused("TOKEN_USED", "This notification's button was already used; each works once.", id);
  const reason = input.reason?.trim() || (input.decision === "deny" ? `Denied from a notification by ${caller.actor.label} (no reason given).` : undefined);
  try {
    return decideApproval(db, caller.actor, { id, decision: input.decision, reason, channel: "notification" });
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    const code: ActionRefusalCode =
      error.code === "CONFLICT"
        ? "ALREADY_DECIDED"
        : error.code === "PRECONDITION_FAILED"
          ? "APPROVAL_EXPIRED"
          : error.code === "FORBIDDEN"
            ? "NOT_ALLOWED"
            : "INVALID_INPUT";
    throw new ActionRefused(code, error.message, id);
  }
}
