// Which domains a run's commands may reach, as granted and revoked by
// reviewers. The record is the run's own event stream ("egress_grant" events,
// committed with their audit event): the current grants are the fold of those
// events, so the run page, the audit trail and the proxy read the same facts.
import { and, asc, desc, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runEvents, type Run } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { isTerminal } from "@/server/runs/state-machine";
import { LOCAL_ENGINE } from "@/server/engines/types";
import { EgressDomainError, parseEgressDomain, parseEgressDomains, type EgressDomain } from "@/server/egress/domains";

export const EGRESS_GRANT_EVENT = "egress_grant";
export const EGRESS_CONNECTION_EVENT = "egress";

export interface GrantedDomain extends EgressDomain {
  reason: string;
  grantedBy: string;
  grantedByUserId: string | null;
  grantedAt: Date;
}

interface GrantEventPayload {
  action: "granted" | "revoked";
  domains: string[];
  reason?: string | null;
  by?: string;
  userId?: string | null;
}

/** The run's granted domains now (none once the run has ended). */
export function activeEgressGrants(db: Db, run: Pick<Run, "id" | "state">): GrantedDomain[] {
  if (isTerminal(run.state)) return [];
  const events = db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, run.id), eq(runEvents.type, EGRESS_GRANT_EVENT)))
    .orderBy(asc(runEvents.id))
    .all();
  const current = new Map<string, GrantedDomain>();
  for (const e of events) {
    const p = e.payload as unknown as GrantEventPayload;
    for (const entry of p.domains ?? []) {
      if (p.action === "revoked") {
        current.delete(entry);
        continue;
      }
      let parsed: EgressDomain;
      try {
        parsed = parseEgressDomain(entry);
      } catch {
        continue; // stored entries were validated; never let one bad row open anything
      }
      current.set(parsed.entry, { ...parsed, reason: p.reason ?? "", grantedBy: p.by ?? "unknown", grantedByUserId: p.userId ?? null, grantedAt: e.at });
    }
  }
  return [...current.values()];
}

/**
 * Issue 17: the egress proxy listens on the Airlock host's egress network,
 * which a sandbox on another engine cannot reach. Until a proxy reachable from
 * remote sandboxes exists, a run on a remote engine gets no network; this says
 * so (null: the run is on the local engine).
 */
export function remoteEngineEgressRefusal(run: Pick<Run, "id" | "engine">): string | null {
  if (!run.engine || run.engine === LOCAL_ENGINE) return null;
  return `Network access is not available to runs on remote engines yet (run ${run.id} is on engine ${run.engine}). Run it on the local engine to grant network access.`;
}

export function assertRunCanHaveEgress(run: Run): void {
  if (isTerminal(run.state))
    throw new DomainError("PRECONDITION_FAILED", `The run has ended (${run.state}); network access can only be granted to a live run.`);
  if (!run.containerId || run.state === "queued" || run.state === "starting") {
    throw new DomainError("PRECONDITION_FAILED", "The run's sandbox is not running yet; grant network access once the run has started.");
  }
  const remote = remoteEngineEgressRefusal(run);
  if (remote) throw new DomainError("PRECONDITION_FAILED", remote);
}

export function parseGrantDomains(domains: readonly string[]): EgressDomain[] {
  try {
    return parseEgressDomains(domains);
  } catch (err) {
    if (err instanceof EgressDomainError) throw new DomainError("INVALID_INPUT", `Cannot grant: ${err.message}.`);
    throw err;
  }
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** A grant and its audit event inside the caller's transaction; `details` adds to the audit (a held connection's approval and scope). */
export function recordEgressGrantInTx(
  tx: Tx,
  actor: Actor,
  run: Pick<Run, "id">,
  domains: EgressDomain[],
  reason: string,
  details: Record<string, unknown> = {},
) {
  const entries = domains.map((d) => d.entry);
  appendAudit(tx, actor, { action: "egress.grant", targetType: "run", targetId: run.id, details: { domains: entries, reason, ...details } });
  return insertRunEvent(tx, run.id, EGRESS_GRANT_EVENT, {
    action: "granted",
    domains: entries,
    reason,
    by: actor.label,
    userId: actor.userId,
  } satisfies GrantEventPayload);
}

/** Records a grant with its audit event (one transaction). The network plumbing is the caller's (EgressController). */
export function recordEgressGrant(db: Db, actor: Actor, run: Run, domains: EgressDomain[], reason: string): void {
  const event = db.transaction((tx) => recordEgressGrantInTx(tx, actor, run, domains, reason), { behavior: "immediate" });
  announce(event);
}

/** Records a revocation (all domains when `entries` is null); returns the entries that were revoked. */
export function recordEgressRevoke(db: Db, actor: Actor, run: Run, entries: string[] | null, reason: string | null): string[] {
  const active = activeEgressGrants(db, run).map((d) => d.entry);
  let revoked: string[];
  if (entries === null) revoked = active;
  else {
    const wanted = entries.map((e) => {
      try {
        return parseEgressDomain(e).entry;
      } catch (err) {
        throw new DomainError("INVALID_INPUT", `Cannot revoke: ${(err as Error).message}.`);
      }
    });
    const unknown = wanted.filter((e) => !active.includes(e));
    if (unknown.length) throw new DomainError("NOT_FOUND", `Not granted to this run: ${unknown.join(", ")}.`);
    revoked = wanted;
  }
  if (revoked.length === 0) return [];
  const event = db.transaction(
    (tx) => {
      appendAudit(tx, actor, { action: "egress.revoke", targetType: "run", targetId: run.id, details: { domains: revoked, reason } });
      return insertRunEvent(tx, run.id, EGRESS_GRANT_EVENT, {
        action: "revoked",
        domains: revoked,
        reason,
        by: actor.label,
        userId: actor.userId,
      } satisfies GrantEventPayload);
    },
    { behavior: "immediate" },
  );
  announce(event);
  return revoked;
}

export interface RefusedHost {
  host: string;
  port: number;
  reason: string;
  count: number;
  lastAt: Date;
}

/** How many of a run's latest connection events the refused-host summary looks at. */
const REFUSED_SCAN = 2000;
const REFUSED_SHOWN = 50;

/** The hosts the proxy refused for a run lately (distinct host:port, newest first). */
export function refusedEgressHosts(db: Db, runId: string): RefusedHost[] {
  const rows = db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, runId), eq(runEvents.type, EGRESS_CONNECTION_EVENT)))
    .orderBy(desc(runEvents.id))
    .limit(REFUSED_SCAN)
    .all();
  const byTarget = new Map<string, RefusedHost>();
  for (const r of rows) {
    const p = r.payload as { verdict?: string; host?: string; port?: number; reason?: string };
    if (p.verdict !== "refused" || typeof p.host !== "string") continue;
    const key = `${p.host}:${p.port ?? ""}`;
    const seen = byTarget.get(key);
    if (seen) seen.count++;
    else byTarget.set(key, { host: p.host, port: p.port ?? 0, reason: p.reason ?? "", count: 1, lastAt: r.at });
  }
  return [...byTarget.values()].slice(0, REFUSED_SHOWN);
}
