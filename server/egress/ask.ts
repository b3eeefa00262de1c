// A human in the connection (issue 12, item 5): the project policy's domain
// rules (http_fetch rules that name hosts, with their ports) judge the egress
// proxy's connections too. allow lets a connection through without a grant,
// deny refuses it even when granted, and ask holds the connection open while
// a reviewer decides on an approval card ("allow api.example.com:443 for this
// run / for this project / deny"); concurrent connections to the same target
// wait on the same request. The decision, its scope and its expiry are audited.
import crypto from "node:crypto";
import net from "node:net";
import { and, desc, eq, gt } from "drizzle-orm";
import type { Db } from "@/db/client";
import { projectEgressGrants, users, type Approval, type Run } from "@/db/schema";
import { createApproval, waitForDecision } from "@/server/approvals/approvals";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { readEgressAskTimeoutMs } from "@/server/config/env";
import { announce, insertRunEvent } from "@/server/events/bus";
import { parseEgressDomain, type EgressDomain } from "@/server/egress/domains";
import type { EgressProxyOptions } from "@/server/egress/proxy";
import { activeEgressGrants, recordEgressGrantInTx } from "@/server/egress/grants";
import { decide, type Policy, type Verdict } from "@/server/policy/policy";
import { policyForRun } from "@/server/projects/policy-store";
import { findRun } from "@/server/runs/lookup";
import { isTerminal } from "@/server/runs/state-machine";

/** The approval a held connection waits on: kind "tool", tool "network" (the card shows host:port and the scope choice). */
export const EGRESS_ASK_TOOL = "network";
export const EGRESS_SCOPES = ["run", "project"] as const;
export type EgressScope = (typeof EGRESS_SCOPES)[number];
/** How long a destination approved "for this project" stays open. */
export const PROJECT_EGRESS_GRANT_DAYS = 30;

/** What a project domain rule says about a target, or null when no rule names it. */
export interface EgressRuling {
  verdict: Verdict;
  rule: string;
  reason: string;
}

export type AskOutcome = { allowed: true; entry: string } | { allowed: false; reason: string };

// ---------------------------------------------------------------- policy

const domainPolicies = new WeakMap<Policy, Policy | null>();

/** The policy's http_fetch rules that name hosts (domain rules), or null when it has none. */
function domainPolicyOf(policy: Policy): Policy | null {
  if (domainPolicies.has(policy)) return domainPolicies.get(policy)!;
  const rules = policy.rules.filter((r) => r.tools.includes("http_fetch") && (r.match.url?.hosts?.length ?? 0) > 0);
  // A catch-all such as the default "every fetch asks" is not a domain rule: the proxy keeps its grants-only answer for it.
  const domain = rules.length ? { ...policy, rules, default: { verdict: "allow" as const, reason: "" } } : null;
  domainPolicies.set(policy, domain);
  return domain;
}

/** Whether the policy lets any command connection through without a grant (allow or ask rules that name hosts). */
export function policyOpensEgress(policy: Policy): boolean {
  return Boolean(domainPolicyOf(policy)?.rules.some((r) => r.outcome !== "deny"));
}

/** Judges a proxy target by the policy's domain rules, as http_fetch to the same scheme, host and port would be. */
export function judgeEgressByPolicy(policy: Policy, host: string, port: number, scheme: "http" | "https"): EgressRuling | null {
  const domain = domainPolicyOf(policy);
  if (!domain) return null;
  const shown = net.isIP(host) === 6 ? `[${host}]` : host;
  const decision = decide({ tool: "http_fetch", url: `${scheme}://${shown}:${port}/` }, domain);
  if (decision.rule === "default") return null;
  return { verdict: decision.verdict, rule: decision.rule, reason: decision.reason };
}

/** The run's project policy's ruling for a target (null: no domain rule names it, or the run is unknown). */
export function judgeRunEgress(db: Db, runId: string, host: string, port: number, scheme: "http" | "https"): EgressRuling | null {
  const run = findRun(db, runId);
  if (!run) return null;
  return judgeEgressByPolicy(policyForRun(db, run).policy, host, port, scheme);
}

// ---------------------------------------------------------------- project grants

/** Destinations a reviewer opened for every run of the project, still unexpired. */
export function activeProjectEgressGrants(db: Db, projectId: string | null, now = new Date()): EgressDomain[] {
  if (!projectId) return [];
  const rows = db
    .select({ entry: projectEgressGrants.entry })
    .from(projectEgressGrants)
    .where(and(eq(projectEgressGrants.projectId, projectId), gt(projectEgressGrants.expiresAt, now)))
    .all();
  const out: EgressDomain[] = [];
  for (const r of rows) {
    try {
      out.push(parseEgressDomain(r.entry));
    } catch {
      // stored entries were validated; never let one bad row open anything
    }
  }
  return out;
}

export interface ProjectEgressGrantView {
  entry: string;
  reason: string;
  grantedBy: string;
  expiresAt: Date;
}

/** The project's unexpired destinations, for the run page (newest first). */
export function projectEgressGrantViews(db: Db, projectId: string | null, now = new Date()): ProjectEgressGrantView[] {
  if (!projectId) return [];
  return db
    .select({ entry: projectEgressGrants.entry, reason: projectEgressGrants.reason, email: users.email, expiresAt: projectEgressGrants.expiresAt })
    .from(projectEgressGrants)
    .leftJoin(users, eq(users.id, projectEgressGrants.grantedBy))
    .where(and(eq(projectEgressGrants.projectId, projectId), gt(projectEgressGrants.expiresAt, now)))
    .orderBy(desc(projectEgressGrants.createdAt))
    .all()
    .map((r) => ({ entry: r.entry, reason: r.reason, grantedBy: r.email ?? "unknown", expiresAt: r.expiresAt }));
}

/** What the proxy lets a run reach: its own grants and its project's unexpired ones. */
export function egressGrantsForRun(db: Db, run: Pick<Run, "id" | "state" | "projectId">): EgressDomain[] {
  if (isTerminal(run.state)) return [];
  return [...activeEgressGrants(db, run), ...activeProjectEgressGrants(db, run.projectId)];
}

/** Whether the run's sandbox needs the egress network: a grant, a project grant, or a policy that opens domains. */
export function runNeedsEgress(db: Db, run: Run): boolean {
  if (egressGrantsForRun(db, run).length > 0) return true;
  return !isTerminal(run.state) && policyOpensEgress(policyForRun(db, run).policy);
}

// ---------------------------------------------------------------- the proxy's hooks

/** What the egress proxy asks about a run's connections: its grants, the project's domain rules, and a reviewer when a rule asks. */
export function egressPolicyHooks(db: Db, asks: EgressAsks): Pick<EgressProxyOptions, "grantsFor" | "judgeTarget" | "askReviewer"> {
  return {
    grantsFor: (runId) => {
      const run = findRun(db, runId);
      return run ? egressGrantsForRun(db, run) : [];
    },
    judgeTarget: (runId, host, port, scheme) => judgeRunEgress(db, runId, host, port, scheme),
    askReviewer: (runId, host, port, ruling) => asks.ask(runId, host, port, ruling),
  };
}

// ---------------------------------------------------------------- held connections

function connectionActor(runId: string): Actor {
  return { userId: null, label: `agent:${runId.slice(0, 8)}` };
}

function reviewerActor(db: Db, approval: Approval): Actor {
  const email = approval.decidedBy ? db.select({ email: users.email }).from(users).where(eq(users.id, approval.decidedBy)).get()?.email : undefined;
  return { userId: approval.decidedBy, label: email ?? "unknown reviewer" };
}

export interface EgressAsksOptions {
  db: Db;
  /** How long a connection is held (default AIRLOCK_EGRESS_ASK_TIMEOUT_S, read per request). */
  timeoutMs?: () => number;
}

export class EgressAsks {
  private readonly pending = new Map<string, Promise<AskOutcome>>();

  constructor(private readonly opts: EgressAsksOptions) {}

  /** How many targets are waiting for a reviewer now. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Holds a connection until a reviewer decides; concurrent connections of the run to the same host:port share one request. */
  ask(runId: string, host: string, port: number, ruling: EgressRuling): Promise<AskOutcome> {
    const key = `${runId}\u0000${host}\u0000${port}`;
    const waiting = this.pending.get(key);
    if (waiting) return waiting;
    const held = this.hold(runId, host, port, ruling).finally(() => this.pending.delete(key));
    this.pending.set(key, held);
    return held;
  }

  private async hold(runId: string, host: string, port: number, ruling: EgressRuling): Promise<AskOutcome> {
    const { db } = this.opts;
    const run = findRun(db, runId);
    if (!run || isTerminal(run.state)) return { allowed: false, reason: "the run has ended." };
    const domain = parseEgressDomain(`${net.isIP(host) === 6 ? `[${host}]` : host}:${port}`);
    const timeoutMs = (this.opts.timeoutMs ?? readEgressAskTimeoutMs)();
    const seconds = Math.round(timeoutMs / 1000);
    const scopes: EgressScope[] = run.projectId ? ["run", "project"] : ["run"];
    const approval = createApproval(db, connectionActor(runId), {
      runId,
      kind: "tool",
      tool: EGRESS_ASK_TOOL,
      args: { host, port, entry: domain.entry, scopes, projectGrantDays: PROJECT_EGRESS_GRANT_DAYS },
      verdict: "ask",
      rule: ruling.rule,
      reason: `${ruling.reason} A command in the run's sandbox is connecting to ${domain.entry}; the connection is held for up to ${seconds} s while a reviewer decides.`,
      risk: "high",
      // Like a grant from the run page: a reviewer other than the run's creator decides.
      allowSelfApproval: false,
      requestedBy: run.createdBy,
      ttlMs: timeoutMs,
    });
    let decided: Approval;
    try {
      decided = await waitForDecision(db, approval.id);
    } catch (err) {
      return { allowed: false, reason: `the approval request could not be read (${(err as Error).message}).` };
    }
    return this.settle(run, domain, decided, seconds);
  }

  private settle(run: Run, domain: EgressDomain, approval: Approval, seconds: number): AskOutcome {
    const { db } = this.opts;
    const base = { approvalId: approval.id, entry: domain.entry, rule: approval.rule };
    if (approval.state !== "approved") {
      const reason =
        approval.state === "denied"
          ? `a reviewer denied ${domain.entry}${approval.decisionReason ? `: ${approval.decisionReason}` : "."}`
          : approval.state === "expired"
            ? `no reviewer decided within ${seconds} s, so the connection to ${domain.entry} was refused.`
            : `the request was ${approval.state} before a reviewer decided.`;
      const actor = approval.state === "denied" ? reviewerActor(db, approval) : connectionActor(run.id);
      db.transaction(
        (tx) =>
          appendAudit(tx, actor, {
            action: "egress.ask",
            targetType: "run",
            targetId: run.id,
            details: { ...base, decision: approval.state, scope: null, expiresAt: null, reason },
          }),
        { behavior: "immediate" },
      );
      return { allowed: false, reason };
    }
    const fresh = findRun(db, run.id);
    if (!fresh || isTerminal(fresh.state)) return { allowed: false, reason: "the run ended while a reviewer decided." };
    const actor = reviewerActor(db, approval);
    const wanted = (approval.edit as { scope?: unknown } | null)?.scope;
    const scope: EgressScope = wanted === "project" && fresh.projectId ? "project" : "run";
    const reason = approval.decisionReason ?? `approved on the held connection's card (${approval.id})`;
    if (scope === "run") {
      const event = db.transaction(
        (tx) => {
          appendAudit(tx, actor, {
            action: "egress.ask",
            targetType: "run",
            targetId: run.id,
            details: { ...base, decision: "approved", scope, expiresAt: null, expires: "when the run ends" },
          });
          return recordEgressGrantInTx(tx, actor, fresh, [domain], reason, { approvalId: approval.id, scope });
        },
        { behavior: "immediate" },
      );
      announce(event);
      return { allowed: true, entry: domain.entry };
    }
    const expiresAt = new Date(Date.now() + PROJECT_EGRESS_GRANT_DAYS * 86_400_000);
    const event = db.transaction(
      (tx) => {
        tx.insert(projectEgressGrants)
          .values({
            id: crypto.randomUUID(),
            projectId: fresh.projectId!,
            entry: domain.entry,
            approvalId: approval.id,
            runId: run.id,
            grantedBy: approval.decidedBy,
            reason,
            expiresAt,
          })
          .run();
        appendAudit(tx, actor, {
          action: "egress.ask",
          targetType: "project",
          targetId: fresh.projectId!,
          details: { ...base, runId: run.id, decision: "approved", scope, expiresAt: expiresAt.toISOString() },
        });
        return insertRunEvent(tx, run.id, "note", {
          source: "egress",
          text: `${actor.label} allowed ${domain.entry} for every run of this project until ${expiresAt.toISOString()}.`,
        });
      },
      { behavior: "immediate" },
    );
    announce(event);
    return { allowed: true, entry: `${domain.entry} (project)` };
  }
}
