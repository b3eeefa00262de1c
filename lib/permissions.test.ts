import { describe, expect, it } from "vitest";
import type { Role } from "@/db/schema";
import {
  approvalPermissions,
  approvalVoteDenial,
  atLeast,
  egressGrantDenial,
  MANAGE_ROLE,
  mayManage,
  type ManagedArea,
  whoMayChange,
  maySeeSecretValues,
  maySubmitPolicyDrafts,
  mergeBackRequestDenial,
  mergeRequestPermissions,
  projectRunDenial,
  proposalVoteDenial,
  rollbackDenial,
  runPermissions,
  stopRunDenial,
  type PermissionActor,
} from "@/lib/permissions";
import { hasRole, ROLE_RANK } from "@/server/users/users";

const ROLES: Role[] = ["viewer", "operator", "reviewer", "admin"];
const actor = (role: Role): PermissionActor => ({ id: `u-${role}`, role });
const runOf = (owner: boolean, role: Role, operatorMayRollback = false) => ({ createdBy: owner ? `u-${role}` : "someone-else", operatorMayRollback });

// Written out by hand (role, owns the run) → expected answer, so a change to a rule fails here.
const RUN_TABLE: {
  role: Role;
  owner: boolean;
  stop: boolean;
  rollback: boolean;
  rollbackWhenAllowed: boolean;
  mergeBack: boolean;
  egress: boolean;
  snapshot: boolean;
}[] = [
  { role: "viewer", owner: false, stop: false, rollback: false, rollbackWhenAllowed: false, mergeBack: false, egress: false, snapshot: false },
  { role: "viewer", owner: true, stop: false, rollback: false, rollbackWhenAllowed: false, mergeBack: false, egress: false, snapshot: false },
  { role: "operator", owner: false, stop: false, rollback: false, rollbackWhenAllowed: false, mergeBack: false, egress: false, snapshot: false },
  { role: "operator", owner: true, stop: true, rollback: false, rollbackWhenAllowed: true, mergeBack: true, egress: false, snapshot: false },
  { role: "reviewer", owner: false, stop: true, rollback: true, rollbackWhenAllowed: true, mergeBack: true, egress: true, snapshot: true },
  { role: "reviewer", owner: true, stop: true, rollback: true, rollbackWhenAllowed: true, mergeBack: true, egress: false, snapshot: true },
  { role: "admin", owner: false, stop: true, rollback: true, rollbackWhenAllowed: true, mergeBack: true, egress: true, snapshot: true },
  { role: "admin", owner: true, stop: true, rollback: true, rollbackWhenAllowed: true, mergeBack: true, egress: true, snapshot: true },
];

describe("runPermissions: who may act on a run (roles × owner / not owner)", () => {
  it.each(RUN_TABLE)("$role, owner=$owner", ({ role, owner, stop, rollback, rollbackWhenAllowed, mergeBack, egress, snapshot }) => {
    const p = runPermissions(actor(role), runOf(owner, role));
    expect(p).toMatchObject({
      isOwner: owner,
      canView: true,
      canStop: stop,
      canRollback: rollback,
      canRequestMergeBack: mergeBack,
      canGrantEgress: egress,
      canSnapshot: snapshot,
    });
    expect(runPermissions(actor(role), runOf(owner, role, true)).canRollback).toBe(rollbackWhenAllowed);
    // The denials the server throws agree with the booleans the UI reads.
    expect(stopRunDenial(actor(role), runOf(owner, role)) === null).toBe(stop);
    expect(rollbackDenial(actor(role), runOf(owner, role)) === null).toBe(rollback);
    expect(mergeBackRequestDenial(actor(role), runOf(owner, role)) === null).toBe(mergeBack);
    expect(egressGrantDenial(actor(role), runOf(owner, role)) === null).toBe(egress);
  });

  it("nobody signed in may do nothing", () => {
    expect(Object.values(runPermissions(null, { createdBy: "x", operatorMayRollback: true })).some(Boolean)).toBe(false);
    expect(rollbackDenial(null, { createdBy: "x" })).toEqual({ code: "FORBIDDEN", message: "Rolling back needs a signed-in user." });
  });

  it("an operator refused a rollback of their own run is told a reviewer can allow it", () => {
    expect(rollbackDenial(actor("operator"), runOf(true, "operator"))?.message).toMatch(
      /its operator is not allowed to roll it back \(a reviewer can allow it\)/,
    );
    expect(rollbackDenial(actor("operator"), runOf(false, "operator"))?.message).toMatch(/needs the reviewer role/);
  });

  it("a reviewer who started the run is told another reviewer must grant its network access", () => {
    expect(egressGrantDenial(actor("reviewer"), runOf(true, "reviewer"))).toEqual({
      code: "FORBIDDEN",
      message: "You started this run, so another reviewer (or an admin) must grant its network access.",
    });
  });
});

describe("mergeRequestPermissions: who may decide a merge-back", () => {
  const cases: { role: Role; requester: boolean; canDecide: boolean; message?: RegExp }[] = [
    { role: "viewer", requester: false, canDecide: false, message: /needs the reviewer role/ },
    { role: "operator", requester: true, canDecide: false, message: /needs the reviewer role/ },
    { role: "reviewer", requester: false, canDecide: true },
    { role: "reviewer", requester: true, canDecide: false, message: /another reviewer must decide it/ },
    { role: "admin", requester: true, canDecide: true },
  ];
  it.each(cases)("$role, requester=$requester → $canDecide", ({ role, requester, canDecide, message }) => {
    const p = mergeRequestPermissions(actor(role), { state: "pending", requestedBy: requester ? `u-${role}` : "someone-else" });
    expect(p.canDecide).toBe(canDecide);
    if (message) expect(p.reason?.message).toMatch(message);
  });

  it("a decided request is a conflict for everyone, admins included", () => {
    expect(mergeRequestPermissions(actor("admin"), { state: "approved", requestedBy: "x" })).toEqual({
      canDecide: false,
      reason: { code: "CONFLICT", message: "This request was already approved." },
    });
  });
});

describe("approvalPermissions: who may decide an approval request", () => {
  const request = (over: Partial<{ state: string; requestedBy: string; allowSelfApproval: boolean; approverRole: "reviewer" | "admin" }> = {}) => ({
    state: "pending",
    requestedBy: "someone-else",
    allowSelfApproval: false,
    approverRole: "reviewer" as const,
    rule: "deploys",
    ...over,
  });

  const cases: { role: Role; approverRole: "reviewer" | "admin"; canApprove: boolean; canDeny: boolean }[] = [
    { role: "viewer", approverRole: "reviewer", canApprove: false, canDeny: false },
    { role: "operator", approverRole: "reviewer", canApprove: false, canDeny: false },
    { role: "reviewer", approverRole: "reviewer", canApprove: true, canDeny: true },
    { role: "reviewer", approverRole: "admin", canApprove: false, canDeny: true },
    { role: "admin", approverRole: "admin", canApprove: true, canDeny: true },
  ];
  it.each(cases)("$role on a request for $approverRole: approve=$canApprove deny=$canDeny", ({ role, approverRole, canApprove, canDeny }) => {
    const p = approvalPermissions(actor(role), request({ approverRole }));
    expect({ canApprove: p.canApprove, canDeny: p.canDeny, canDecide: p.canDecide }).toEqual({ canApprove, canDeny, canDecide: canApprove });
  });

  it("the run's own operator may not decide unless the rule allows self-approval, and a second vote is refused", () => {
    const own = request({ requestedBy: "u-reviewer" });
    expect(approvalPermissions(actor("reviewer"), own)).toMatchObject({ selfApprovalBlocked: true, canDecide: false });
    expect(approvalPermissions(actor("reviewer"), { ...own, allowSelfApproval: true })).toMatchObject({ selfApprovalBlocked: false, canDecide: true });
    expect(approvalPermissions(actor("reviewer"), request(), { alreadyVoted: true }).canDecide).toBe(false);
    expect(approvalPermissions(actor("admin"), request({ state: "approved" })).canDecide).toBe(false);
  });

  it("the server's refusal comes in its order: approver role, self-approval, earlier vote", () => {
    const all = request({ requestedBy: "u-reviewer", approverRole: "admin" });
    expect(approvalVoteDenial(actor("reviewer"), all, "approve", { alreadyVoted: true })?.message).toMatch(
      /policy rule deploys needs an admin to approve this request/,
    );
    expect(approvalVoteDenial(actor("reviewer"), all, "deny", { alreadyVoted: true })?.message).toMatch(/You started this run/);
    expect(approvalVoteDenial(actor("reviewer"), request(), "deny", { alreadyVoted: true })).toEqual({
      code: "CONFLICT",
      message: "You already voted on this request; another reviewer must add the remaining approval(s).",
    });
    expect(approvalVoteDenial({ id: "gone", role: null }, request({ approverRole: "admin" }), "approve")?.code).toBe("FORBIDDEN");
    expect(approvalVoteDenial(actor("reviewer"), request(), "approve")).toBeNull();
  });
});

describe("projects, rule proposals and policy drafts", () => {
  it("only members start runs in a project that lists members; admins anywhere", () => {
    const project = { name: "Payments", memberIds: ["u-operator"] };
    expect(projectRunDenial(actor("operator"), project)).toBeNull();
    expect(projectRunDenial(actor("reviewer"), project)?.message).toBe("Only members of the project Payments may start runs in it; ask an admin to add you.");
    expect(projectRunDenial(actor("admin"), project)).toBeNull();
    expect(projectRunDenial(actor("reviewer"), { name: "Open", memberIds: [] })).toBeNull();
  });

  it("a proposer may not vote on their own rule unless an admin; one vote each", () => {
    expect(proposalVoteDenial(actor("reviewer"), { proposedBy: "u-reviewer" })?.code).toBe("FORBIDDEN");
    expect(proposalVoteDenial(actor("admin"), { proposedBy: "u-admin" })).toBeNull();
    expect(proposalVoteDenial(actor("reviewer"), { proposedBy: "x" }, { alreadyVoted: true })?.code).toBe("CONFLICT");
  });

  it.each(ROLES.map((role) => ({ role, drafts: role === "reviewer" || role === "admin" })))("$role may submit policy drafts: $drafts", ({ role, drafts }) => {
    expect(maySubmitPolicyDrafts(role)).toBe(drafts);
  });

  it.each(ROLES.map((role) => ({ role, values: role === "reviewer" || role === "admin" })))(
    "$role downloads results with secret values: $values",
    ({ role, values }) => {
      expect(maySeeSecretValues(role)).toBe(values);
    },
  );

  it("the role ladder is viewer < operator < reviewer < admin", () => {
    expect(ROLES.map((r) => ROLES.filter((m) => atLeast(r, m)).length)).toEqual([1, 2, 3, 4]);
    // The server's hasRole and the rank single sign-on picks the best group by agree with it.
    for (const r of ROLES) for (const m of ROLES) expect([hasRole(r, m), ROLE_RANK[r] >= ROLE_RANK[m]]).toEqual([atLeast(r, m), atLeast(r, m)]);
  });
});

describe("issue 16: read-only users see greyed-out inputs with no explanation", () => {
  it("mayManage and whoMayChange name the role that may change each area", () => {
    for (const area of Object.keys(MANAGE_ROLE) as ManagedArea[]) {
      expect(mayManage("admin", area)).toBe(true);
      expect(mayManage("viewer", area)).toBe(false);
      expect(mayManage(null, area)).toBe(false);
      expect(whoMayChange(area)).toMatch(/^Only admins can /);
    }
    expect(whoMayChange("models")).toBe("Only admins can change model endpoints.");
    expect(whoMayChange("redteam")).toBe("Only admins can start a red-team run.");
    expect(mayManage("reviewer", "policies")).toBe(false);
  });
});
