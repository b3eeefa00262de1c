// Who may do what to a resource, written once as pure functions over
// (actor, resource). The server calls them to decide and throws the denial
// they give; the UI calls the same functions only to choose which buttons to
// show. Type-only imports: this module is bundled into the browser.
//
// The role a procedure needs at least (viewer, operator, reviewer) is declared
// by its `roleProcedure(min)` and pinned by the role-matrix test; the rules
// here add what depends on the resource: ownership, the run's settings, the
// policy rule's approver role, self-approval, earlier votes.
import type { Role } from "@/db/schema";
import { DRAFT_ROLE, ROLE_OPTIONS } from "@/lib/roles";

/** Whoever acts: a signed-in user (null when nobody is). */
export interface PermissionActor {
  id: string;
  role: Role;
}

/** Why an action is refused; the server throws it as a DomainError with this code and message. */
export interface Denial {
  code: "FORBIDDEN" | "CONFLICT";
  message: string;
}

/** Whether `role` is `minimum` or above on the ladder viewer < operator < reviewer < admin. */
export function atLeast(role: Role, minimum: Role): boolean {
  return ROLE_OPTIONS.indexOf(role) >= ROLE_OPTIONS.indexOf(minimum);
}

const forbidden = (message: string): Denial => ({ code: "FORBIDDEN", message });

// ---------------------------------------------------------------- runs

/** What the rules need to know about a run. */
export interface RunForPermissions {
  createdBy: string;
  /** A reviewer may let the run's operator roll it back (runs.setOperatorRollback). */
  operatorMayRollback?: boolean;
}

export interface RunPermissions {
  /** The actor started the run. */
  isOwner: boolean;
  canView: boolean;
  /** Stop (runs.kill): the run's operator, reviewers and admins. */
  canStop: boolean;
  /** Roll back to a checkpoint: reviewers; the run's operator when the run allows it. */
  canRollback: boolean;
  /** Allow or forbid the operator's rollback (runs.setOperatorRollback). */
  canSetOperatorRollback: boolean;
  /** Take, restart from and delete container snapshots. */
  canSnapshot: boolean;
  /** Ask to merge the result back into the source repository: the run's operator or a reviewer. */
  canRequestMergeBack: boolean;
  /** Grant the run's commands network access: reviewers, not on a run they started (admins may). */
  canGrantEgress: boolean;
}

export function runPermissions(actor: PermissionActor | null | undefined, run: RunForPermissions): RunPermissions {
  if (!actor) {
    return {
      isOwner: false,
      canView: false,
      canStop: false,
      canRollback: false,
      canSetOperatorRollback: false,
      canSnapshot: false,
      canRequestMergeBack: false,
      canGrantEgress: false,
    };
  }
  const isOwner = run.createdBy === actor.id;
  const reviewer = atLeast(actor.role, "reviewer");
  const ownOperator = atLeast(actor.role, "operator") && isOwner;
  return {
    isOwner,
    canView: atLeast(actor.role, "viewer"),
    canStop: reviewer || ownOperator,
    canRollback: reviewer || (ownOperator && Boolean(run.operatorMayRollback)),
    canSetOperatorRollback: reviewer,
    canSnapshot: reviewer,
    canRequestMergeBack: reviewer || ownOperator,
    canGrantEgress: actor.role === "admin" || (reviewer && !isOwner),
  };
}

/** Why the actor may not stop the run (null when they may). */
export function stopRunDenial(actor: PermissionActor | null | undefined, run: RunForPermissions): Denial | null {
  if (runPermissions(actor, run).canStop) return null;
  return forbidden("Operators can stop only their own runs; ask a reviewer or admin to stop this one.");
}

/** Why the actor may not roll the run back (null when they may). */
export function rollbackDenial(actor: PermissionActor | null | undefined, run: RunForPermissions): Denial | null {
  if (!actor) return forbidden("Rolling back needs a signed-in user.");
  if (runPermissions(actor, run).canRollback) return null;
  return forbidden(
    run.createdBy === actor.id
      ? "Rolling back this run needs a reviewer: its operator is not allowed to roll it back (a reviewer can allow it)."
      : "Rolling back needs the reviewer role (or being the run's operator when the run allows it).",
  );
}

/** Why the actor may not ask to merge the run's result back (null when they may). */
export function mergeBackRequestDenial(actor: PermissionActor | null | undefined, run: RunForPermissions): Denial | null {
  if (runPermissions(actor, run).canRequestMergeBack) return null;
  return forbidden("Only the run's operator or a reviewer can ask to merge its result back.");
}

/** Why the actor may not grant the run network access (null when they may). */
export function egressGrantDenial(actor: PermissionActor | null | undefined, run: RunForPermissions): Denial | null {
  if (actor && runPermissions(actor, run).canGrantEgress) return null;
  if (!actor || !atLeast(actor.role, "reviewer")) return forbidden("Granting network access needs the reviewer role.");
  return forbidden("You started this run, so another reviewer (or an admin) must grant its network access.");
}

// ---------------------------------------------------------------- merge-back requests

export interface MergeRequestForPermissions {
  state: string;
  requestedBy: string;
}

/** Who may approve or deny a merge-back request: a reviewer other than the requester (admins may decide their own). */
export function mergeRequestPermissions(
  actor: PermissionActor | null | undefined,
  request: MergeRequestForPermissions,
): { canDecide: boolean; reason: Denial | null } {
  const reason =
    request.state !== "pending"
      ? { code: "CONFLICT" as const, message: `This request was already ${request.state}.` }
      : !actor || !atLeast(actor.role, "reviewer")
        ? forbidden("Deciding a merge-back needs the reviewer role.")
        : request.requestedBy === actor.id && actor.role !== "admin"
          ? forbidden("You asked for this merge-back; another reviewer must decide it.")
          : null;
  return { canDecide: reason === null, reason };
}

// ---------------------------------------------------------------- approval requests

export interface ApprovalForPermissions {
  state: string;
  requestedBy: string;
  allowSelfApproval: boolean;
  approverRole: "reviewer" | "admin";
  /** The policy rule that asked, named in the refusal. */
  rule?: string | null;
}

export interface ApprovalPermissions {
  /** The actor's role may review requests at all (reviewer or admin). */
  canReview: boolean;
  /** The actor started the run and the rule does not allow self-approval. */
  selfApprovalBlocked: boolean;
  /** The rule asks an admin to approve and the actor is not one (a reviewer may still deny). */
  needsAdmin: boolean;
  canApprove: boolean;
  canDeny: boolean;
  /** Whether to offer the actor this request to decide: pending and they may approve it. */
  canDecide: boolean;
}

/**
 * Who may decide an approval request. `alreadyVoted`: the actor has a vote on
 * it already (quorum needs different reviewers).
 */
export function approvalPermissions(
  actor: PermissionActor | null | undefined,
  request: ApprovalForPermissions,
  opts: { alreadyVoted?: boolean } = {},
): ApprovalPermissions {
  const canReview = Boolean(actor && atLeast(actor.role, "reviewer"));
  const selfApprovalBlocked = Boolean(actor && request.requestedBy === actor.id && !request.allowSelfApproval);
  const needsAdmin = request.approverRole === "admin" && actor?.role !== "admin";
  const open = request.state === "pending" && canReview && !selfApprovalBlocked && !opts.alreadyVoted;
  const canApprove = open && !needsAdmin;
  return { canReview, selfApprovalBlocked, needsAdmin, canApprove, canDeny: open, canDecide: canApprove };
}

/**
 * Why the actor's vote on a pending request is refused (null when it counts),
 * in the order the server checks: the rule's approver role, self-approval,
 * an earlier vote. The reviewer role itself is checked by the procedure.
 */
export function approvalVoteDenial(
  actor: { id: string; role: Role | null },
  request: ApprovalForPermissions,
  decision: "approve" | "deny",
  opts: { alreadyVoted?: boolean } = {},
): Denial | null {
  if (decision === "approve" && request.approverRole === "admin" && actor.role !== "admin") {
    return forbidden(`The policy rule ${request.rule ?? ""} needs an admin to approve this request; a reviewer may only deny it.`);
  }
  if (request.requestedBy === actor.id && !request.allowSelfApproval) {
    return forbidden("You started this run, so another reviewer must decide its requests (the policy does not allow self-approval).");
  }
  if (opts.alreadyVoted) return { code: "CONFLICT", message: "You already voted on this request; another reviewer must add the remaining approval(s)." };
  return null;
}

/**
 * Whether a downloaded result (patch, bundle) carries the real values of the
 * run's secrets: reviewers and admins (merge-back needs them); below that each
 * shows as [secret:NAME], as in the diffs viewers read.
 */
export function maySeeSecretValues(role: Role): boolean {
  return atLeast(role, "reviewer");
}

// ---------------------------------------------------------------- projects and rule proposals

/**
 * Who may start runs in a project: admins anywhere; others in a project that
 * lists no members, or that lists them. A missing user (a system caller) may.
 */
export function projectRunDenial(actor: PermissionActor | null | undefined, project: { name: string; memberIds: readonly string[] }): Denial | null {
  if (!actor || atLeast(actor.role, "admin")) return null;
  if (project.memberIds.length === 0 || project.memberIds.includes(actor.id)) return null;
  return forbidden(`Only members of the project ${project.name} may start runs in it; ask an admin to add you.`);
}

/**
 * Why the actor's vote on a pending rule proposal is refused (null when it
 * counts): not on your own proposal unless an admin, one vote each. The
 * reviewer role itself is the procedure's.
 */
export function proposalVoteDenial(actor: PermissionActor, proposal: { proposedBy: string }, opts: { alreadyVoted?: boolean } = {}): Denial | null {
  if (proposal.proposedBy === actor.id && !atLeast(actor.role, "admin"))
    return forbidden("You proposed this rule, so other reviewers (or an admin) must accept it.");
  if (opts.alreadyVoted) return { code: "CONFLICT", message: "You already voted on this proposal." };
  return null;
}

// ---------------------------------------------------------------- policies

/** Whether `role` may submit policy drafts (the server decides; the policy pages mirror it). */
export function maySubmitPolicyDrafts(role: Role): boolean {
  return atLeast(role, DRAFT_ROLE); // DRAFT_ROLE (lib/roles.ts) is also the validate procedure's role
}

// ---------------------------------------------------------------- run grants (issue 12)

/**
 * Who may give a run a bounded grant ("write_file under src/ for 15 minutes"):
 * whoever may approve the run's ordinary requests, i.e. a reviewer who did not
 * start the run (a grant is many approvals at once, so self-approval is never
 * allowed for it). Null when they may.
 */
export function runGrantDenial(actor: PermissionActor | null | undefined, run: { createdBy: string }): Denial | null {
  const rights = approvalPermissions(actor, { state: "pending", requestedBy: run.createdBy, allowSelfApproval: false, approverRole: "reviewer" });
  if (rights.canApprove) return null;
  if (!rights.canReview) return forbidden("Granting a run permissions needs the reviewer role.");
  return forbidden("You started this run, so another reviewer must grant it permissions (the same rule as approving its requests).");
}

// ---------------------------------------------------------------- who may change a page's settings (issue 16)

/**
 * The role each area's write procedures need (their roleProcedure); below it
 * a page shows the values as text with `whoMayChange` instead of greyed-out
 * inputs. The server's checks stay where they are; server/api/access.test.ts
 * pins that these match the procedures.
 */
export const MANAGE_ROLE = {
  models: "admin",
  projects: "admin",
  users: "admin",
  secrets: "admin",
  webhooks: "admin",
  queue: "admin",
  policies: "admin",
  redteam: "admin",
} as const satisfies Record<string, Role>;

export type ManagedArea = keyof typeof MANAGE_ROLE;

const AREA_ACTION: Record<ManagedArea, string> = {
  models: "change model endpoints",
  projects: "change projects and their members",
  users: "change users",
  secrets: "change secrets",
  webhooks: "change webhooks",
  queue: "change the run queue's limits",
  policies: "change a policy (reviewers may propose rules)",
  redteam: "start a red-team run",
};

const ROLE_PLURAL: Record<Role, string> = { viewer: "viewers", operator: "operators", reviewer: "reviewers", admin: "admins" };

/** Whether `role` may change the area (mirrors the write procedures' roles). */
export function mayManage(role: Role | null | undefined, area: ManagedArea): boolean {
  return Boolean(role && atLeast(role, MANAGE_ROLE[area]));
}

/** The line a read-only view shows, e.g. "Only admins can change model endpoints." */
export function whoMayChange(area: ManagedArea): string {
  const min: Role = MANAGE_ROLE[area];
  const who = min === "admin" ? "admins" : `${ROLE_PLURAL[min]} and admins`;
  return `Only ${who} can ${AREA_ACTION[area]}.`;
}

// ---------------------------------------------------------------- run review (issue 16)

/**
 * Who may comment on a run's changes and send the comments to its agent
 * ("Request changes"): whoever may review its work — reviewers and admins on
 * any run, an operator on a run they started (they steer their own agent, as
 * they may stop it). Viewers read the review and the comments only.
 */
export function reviewCommentDenial(actor: PermissionActor | null | undefined, run: RunForPermissions): Denial | null {
  if (!actor || !atLeast(actor.role, "operator")) return forbidden("Commenting on a run needs the operator role (on your own runs) or the reviewer role.");
  if (atLeast(actor.role, "reviewer") || run.createdBy === actor.id) return null;
  return forbidden("Operators can comment only on their own runs; ask a reviewer to review this one.");
}

/** Why the actor may not edit or delete the comment (null when they may): its author, while it is not sent. */
export function reviewCommentEditDenial(actor: PermissionActor | null | undefined, comment: { authorId: string; sentAt: Date | null }): Denial | null {
  if (!actor || comment.authorId !== actor.id) return forbidden("Only the comment's author can change or delete it.");
  if (comment.sentAt) return { code: "CONFLICT", message: "This comment was already sent to the agent; it can no longer be changed or deleted." };
  return null;
}
