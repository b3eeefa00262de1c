// Bounded grants against approval fatigue: a reviewer lets one run make
// calls of one tool under one path without asking, for a few minutes or a few
// calls, whichever ends first. The gateway consults them only where the
// policy asks the generic "every file change is reviewed" question; a deny,
// a rule about a specific sensitive path, a rule that needs two reviewers or
// an admin, and high-risk calls are never answered by a grant.
import crypto from "node:crypto";
import { and, desc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, runGrants, runs, toolCalls, users, type RunGrant, type RunEvent } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { compileGlob } from "@/server/policy/glob";
import { isWithin, normaliseWorkspacePath, WORKSPACE_ROOT } from "@/server/policy/paths";
import { runGrantDenial, type PermissionActor } from "@/lib/permissions";
import type { Judgement } from "@/server/tools/judge";
import { GRANT_TOOLS, GRANTABLE_RULES, type GrantTool } from "@/lib/grants";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export { GRANT_TOOLS, GRANTABLE_RULES, type GrantTool } from "@/lib/grants";

export const GRANT_LIMITS = { minMinutes: 1, maxMinutes: 240, minCalls: 1, maxCalls: 200 } as const;

const GLOB_CHARS = /[*?[\]{}()!]/;

/**
 * Turns what a reviewer typed ("src/", "/workspace/src", "src/**\/*.ts") into an
 * absolute glob under /workspace: the literal part is normalised with the
 * policy's path rules (no escaping with ".."), a directory covers everything below it.
 */
export function grantPathGlob(input: string): string {
  const raw = input.trim();
  if (!raw) throw new DomainError("INVALID_INPUT", "Say which path the grant covers, e.g. src/ (relative to /workspace).");
  const segments = raw.split("/");
  const firstGlob = segments.findIndex((s) => GLOB_CHARS.test(s));
  const literal = firstGlob === -1 ? raw : segments.slice(0, firstGlob).join("/") || ".";
  const rest = firstGlob === -1 ? [] : segments.slice(firstGlob);
  if (rest.some((s) => s === ".." || s === ".")) {
    throw new DomainError("INVALID_INPUT", `The path ${raw} has "." or ".." after a wildcard; write the directory plainly, e.g. src/**/*.ts.`);
  }
  const resolved = normaliseWorkspacePath(raw.startsWith("/") && firstGlob === 0 ? "/" : literal);
  if (!resolved.ok) throw new DomainError("INVALID_INPUT", `A grant covers paths inside ${WORKSPACE_ROOT} only: ${resolved.message}`);
  const base = resolved.path === "/" ? WORKSPACE_ROOT : resolved.path;
  const tail = rest.filter((s) => s !== "").join("/");
  return tail ? `${base}/${tail}` : `${base}/**`;
}

/** The glob as a reviewer reads it: relative to /workspace. */
export function displayGlob(pathGlob: string): string {
  if (pathGlob === `${WORKSPACE_ROOT}/**`) return "the whole workspace";
  return pathGlob.startsWith(`${WORKSPACE_ROOT}/`) ? pathGlob.slice(WORKSPACE_ROOT.length + 1).replace(/\/\*\*$/, "/") : pathGlob;
}

export interface NewGrant {
  runId: string;
  tool: GrantTool;
  path: string;
  minutes: number;
  maxCalls: number;
  fromApprovalId?: string | null;
}

function checkLimits(input: NewGrant): void {
  const { minMinutes, maxMinutes, minCalls, maxCalls } = GRANT_LIMITS;
  if (!Number.isInteger(input.minutes) || input.minutes < minMinutes || input.minutes > maxMinutes) {
    throw new DomainError("INVALID_INPUT", `A grant lasts ${minMinutes} to ${maxMinutes} minutes (whole minutes); ${input.minutes} is outside that.`);
  }
  if (!Number.isInteger(input.maxCalls) || input.maxCalls < minCalls || input.maxCalls > maxCalls) {
    throw new DomainError("INVALID_INPUT", `A grant covers ${minCalls} to ${maxCalls} calls; ${input.maxCalls} is outside that.`);
  }
}

/** Creates a grant: a reviewer with the rights to decide the run's requests (lib/permissions.ts runGrantDenial). */
export function createGrant(db: Db, actor: Actor & { userId: string }, reviewer: PermissionActor, input: NewGrant, now = Date.now()): RunGrant {
  if (!(GRANT_TOOLS as readonly string[]).includes(input.tool)) {
    throw new DomainError("INVALID_INPUT", `Grants cover ${GRANT_TOOLS.join(" and ")} only; commands and other tools keep asking.`);
  }
  checkLimits(input);
  const pathGlob = grantPathGlob(input.path);
  const result = db.transaction(
    (tx) => {
      const run = tx.select().from(runs).where(eq(runs.id, input.runId)).get();
      if (!run) throw new DomainError("NOT_FOUND", `No run with id ${input.runId}.`);
      const denied = runGrantDenial(reviewer, run);
      if (denied) throw new DomainError(denied.code, denied.message);
      if (["succeeded", "failed", "killed", "rolled_back"].includes(run.state)) {
        throw new DomainError("PRECONDITION_FAILED", `This run has ended (${run.state}); a grant would have nothing to allow.`);
      }
      let reason = `granted by ${actor.label}`;
      if (input.fromApprovalId) {
        const from = tx.select().from(approvals).where(eq(approvals.id, input.fromApprovalId)).get();
        if (!from || from.runId !== run.id) throw new DomainError("INVALID_INPUT", `Approval ${input.fromApprovalId} is not a request of this run.`);
        if (from.tool !== input.tool) throw new DomainError("INVALID_INPUT", `Approval ${input.fromApprovalId} is a ${from.tool} request, not ${input.tool}.`);
        reason = `granted by ${actor.label} while approving approval ${from.id}`;
      }
      const row = tx
        .insert(runGrants)
        .values({
          id: crypto.randomUUID(),
          runId: run.id,
          tool: input.tool,
          pathGlob,
          maxCalls: input.maxCalls,
          usedCalls: 0,
          expiresAt: new Date(now + input.minutes * 60_000),
          createdBy: actor.userId,
          reason,
          fromApprovalId: input.fromApprovalId ?? null,
        })
        .returning()
        .get();
      appendAudit(tx, actor, {
        action: "grant.create",
        targetType: "run_grant",
        targetId: row.id,
        details: {
          runId: run.id,
          tool: row.tool,
          pathGlob,
          maxCalls: row.maxCalls,
          expiresAt: row.expiresAt.toISOString(),
          reason,
          fromApprovalId: row.fromApprovalId,
        },
      });
      const event = insertRunEvent(tx, run.id, "note", {
        text: `${actor.label} granted ${row.tool} under ${displayGlob(pathGlob)} for ${input.minutes} min or ${row.maxCalls} calls (grant ${row.id.slice(0, 8)}).`,
        grantId: row.id,
      });
      return { row, event };
    },
    { behavior: "immediate" },
  );
  announce(result.event);
  return result.row;
}

/** Ends a grant at once; the run's next matching call asks a reviewer again. Any reviewer may take a grant back. */
export function revokeGrant(db: Db, actor: Actor & { userId: string }, id: string): RunGrant {
  const result = db.transaction(
    (tx) => {
      const grant = tx.select().from(runGrants).where(eq(runGrants.id, id)).get();
      if (!grant) throw new DomainError("NOT_FOUND", `No grant with id ${id}.`);
      if (grant.revokedAt) throw new DomainError("CONFLICT", "This grant was already revoked; nothing changed.");
      const now = new Date();
      tx.update(runGrants).set({ revokedAt: now, revokedBy: actor.userId }).where(eq(runGrants.id, id)).run();
      appendAudit(tx, actor, { action: "grant.revoke", targetType: "run_grant", targetId: id, details: { runId: grant.runId, usedCalls: grant.usedCalls } });
      const event = insertRunEvent(tx, grant.runId, "note", { text: `${actor.label} revoked grant ${id.slice(0, 8)}; matching calls ask again.`, grantId: id });
      return { grant: { ...grant, revokedAt: now, revokedBy: actor.userId }, event };
    },
    { behavior: "immediate" },
  );
  announce(result.event);
  return result.grant;
}

export interface GrantView {
  id: string;
  runId: string;
  tool: GrantTool;
  pathGlob: string;
  path: string;
  maxCalls: number;
  usedCalls: number;
  remainingCalls: number;
  expiresAt: Date;
  createdAt: Date;
  createdBy: string;
  createdByEmail: string | null;
  reason: string;
  fromApprovalId: string | null;
  revokedAt: Date | null;
  /** active, or why it no longer allows anything. */
  status: "active" | "expired" | "used_up" | "revoked";
}

export function grantStatus(g: Pick<RunGrant, "revokedAt" | "usedCalls" | "maxCalls" | "expiresAt">, now = Date.now()): GrantView["status"] {
  if (g.revokedAt) return "revoked";
  if (g.usedCalls >= g.maxCalls) return "used_up";
  if (g.expiresAt.getTime() <= now) return "expired";
  return "active";
}

export function listGrants(db: Db, runId: string, now = Date.now()): GrantView[] {
  const rows = db
    .select({ g: runGrants, email: users.email })
    .from(runGrants)
    .leftJoin(users, eq(users.id, runGrants.createdBy))
    .where(eq(runGrants.runId, runId))
    .orderBy(desc(runGrants.createdAt))
    .all();
  return rows.map(({ g, email }) => ({
    id: g.id,
    runId: g.runId,
    tool: g.tool,
    pathGlob: g.pathGlob,
    path: displayGlob(g.pathGlob),
    maxCalls: g.maxCalls,
    usedCalls: g.usedCalls,
    remainingCalls: Math.max(0, g.maxCalls - g.usedCalls),
    expiresAt: g.expiresAt,
    createdAt: g.createdAt,
    createdBy: g.createdBy,
    createdByEmail: email ?? null,
    reason: g.reason,
    fromApprovalId: g.fromApprovalId,
    revokedAt: g.revokedAt,
    status: grantStatus(g, now),
  }));
}

/** Whether a grant may answer this judgement at all (before looking for one). */
export function grantableAsk(tool: string, judgement: Judgement): tool is GrantTool {
  const d = judgement.decision;
  return (
    d.verdict === "ask" &&
    (GRANT_TOOLS as readonly string[]).includes(tool) &&
    GRANTABLE_RULES.has(d.rule) &&
    (d.requiredApprovals ?? 1) <= 1 &&
    (d.approverRole ?? "reviewer") === "reviewer" &&
    judgement.risk !== "high"
  );
}

/**
 * Inside the transaction that records the call's decision: finds an active
 * grant of the run covering (tool, path) and counts one use of it. The
 * conditional update is the count's guard, so two calls racing for the last
 * use cannot both get it. Returns the grant used, or null.
 */
export function useGrantInTx(tx: Tx, runId: string, tool: GrantTool, path: string, now = Date.now()): RunGrant | null {
  if (!isWithin(path, WORKSPACE_ROOT)) return null;
  const candidates = tx
    .select()
    .from(runGrants)
    .where(
      and(
        eq(runGrants.runId, runId),
        eq(runGrants.tool, tool),
        isNull(runGrants.revokedAt),
        gt(runGrants.expiresAt, new Date(now)),
        lt(runGrants.usedCalls, runGrants.maxCalls),
      ),
    )
    .orderBy(runGrants.expiresAt)
    .all();
  for (const g of candidates) {
    if (!compileGlob(g.pathGlob).test(path)) continue;
    const used = tx
      .update(runGrants)
      .set({ usedCalls: sql`${runGrants.usedCalls} + 1` })
      .where(and(eq(runGrants.id, g.id), isNull(runGrants.revokedAt), lt(runGrants.usedCalls, runGrants.maxCalls), gt(runGrants.expiresAt, new Date(now))))
      .run();
    if (used.changes === 1) return { ...g, usedCalls: g.usedCalls + 1 };
  }
  return null;
}

/**
 * The gateway's step: an "ask" that an active grant covers becomes an allow
 * with rule `grant:<id>`, recorded (call row, audit, run event) in the same
 * transaction that counts the use. Null when no grant applies; the caller then
 * records the policy's own decision and asks a reviewer.
 */
export function allowByGrant(
  db: Db,
  actor: Actor,
  call: { runId: string; callId: string; tool: string; path: string | undefined },
  judgement: Judgement,
  now = Date.now(),
): { judgement: Judgement; grant: RunGrant } | null {
  if (!grantableAsk(call.tool, judgement) || !call.path) return null;
  const tool = call.tool;
  const path = call.path;
  const done = db.transaction(
    (tx) => {
      const grant = useGrantInTx(tx, call.runId, tool, path, now);
      if (!grant) return null;
      const asked = judgement.decision;
      const decision = {
        verdict: "allow" as const,
        rule: `grant:${grant.id}`,
        reason: `Allowed by grant ${grant.id.slice(0, 8)} (${grant.tool} under ${displayGlob(grant.pathGlob)}, ${grant.reason}; call ${grant.usedCalls} of ${grant.maxCalls}, until ${grant.expiresAt.toISOString()}); policy rule ${asked.rule} would have asked: ${asked.reason}`,
      };
      tx.update(toolCalls).set({ verdict: decision.verdict, rule: decision.rule, reason: decision.reason }).where(eq(toolCalls.id, call.callId)).run();
      appendAudit(tx, actor, {
        action: "tool.decision",
        targetType: "tool_call",
        targetId: call.callId,
        details: { runId: call.runId, tool, verdict: "allow", rule: decision.rule, reason: decision.reason, grantId: grant.id, askedBy: asked.rule },
      });
      const event: RunEvent = insertRunEvent(tx, call.runId, "decision", {
        toolCallId: call.callId,
        tool,
        verdict: "allow",
        rule: decision.rule,
        reason: decision.reason,
        parts: judgement.parts,
        grantId: grant.id,
      });
      return { grant, decision, event };
    },
    { behavior: "immediate" },
  );
  if (!done) return null;
  announce(done.event);
  return { grant: done.grant, judgement: { ...judgement, decision: done.decision } };
}
