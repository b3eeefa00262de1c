// Each rule's track record in a project: how often it decided a tool call,
// and how reviewers answered the requests it raised. Computed from tool_calls
// and approvals joined to the project's runs; nothing is counted twice.
import { and, eq, isNull, or, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, ruleProposals, runs, toolCalls } from "@/db/schema";
import { PROTECTED_POLICY, type PolicyRule, type RuleProvenance, type Verdict } from "@/server/policy";
import { currentPolicy } from "@/server/projects/policy-store";
import { DEFAULT_PROJECT_ID, requireProject } from "@/server/projects/projects";

export interface RuleTrackRecord {
  id: string;
  description: string;
  outcome: Verdict | "fallback";
  /** "policy" (in the version in force), "protected" (always applied), "default", or "retired" (no longer in the policy). */
  kind: "policy" | "protected" | "default" | "retired";
  matched: number;
  allowed: number;
  asked: number;
  denied: number;
  approved: number;
  rejected: number;
  expired: number;
  lastMatchedAt: Date | null;
  provenance: RuleProvenance | null;
  proposalId: string | null;
}

function inProject(projectId: string) {
  return projectId === DEFAULT_PROJECT_ID ? or(eq(runs.projectId, projectId), isNull(runs.projectId)) : eq(runs.projectId, projectId);
}

export function ruleTrackRecords(db: Db, projectId?: string | null): { projectId: string; version: number; rules: RuleTrackRecord[] } {
  const project = requireProject(db, projectId);
  const current = currentPolicy(db, project.id);
  const calls = db
    .select({
      rule: toolCalls.rule,
      matched: sql<number>`count(*)`,
      allowed: sql<number>`sum(case when ${toolCalls.verdict} = 'allow' then 1 else 0 end)`,
      asked: sql<number>`sum(case when ${toolCalls.verdict} = 'ask' then 1 else 0 end)`,
      denied: sql<number>`sum(case when ${toolCalls.verdict} = 'deny' then 1 else 0 end)`,
      last: sql<number>`max(${toolCalls.createdAt})`,
    })
    .from(toolCalls)
    .innerJoin(runs, eq(runs.id, toolCalls.runId))
    .where(and(inProject(project.id), sql`${toolCalls.rule} is not null`))
    .groupBy(toolCalls.rule)
    .all();
  const decisions = db
    .select({
      rule: approvals.rule,
      approved: sql<number>`sum(case when ${approvals.state} = 'approved' then 1 else 0 end)`,
      rejected: sql<number>`sum(case when ${approvals.state} = 'denied' then 1 else 0 end)`,
      expired: sql<number>`sum(case when ${approvals.state} = 'expired' then 1 else 0 end)`,
    })
    .from(approvals)
    .innerJoin(runs, eq(runs.id, approvals.runId))
    .where(and(inProject(project.id), eq(approvals.kind, "tool")))
    .groupBy(approvals.rule)
    .all();
  const accepted = db
    .select({ id: ruleProposals.id, ruleId: ruleProposals.ruleId })
    .from(ruleProposals)
    .where(and(eq(ruleProposals.projectId, project.id), eq(ruleProposals.state, "accepted")))
    .all();

  const byCall = new Map(calls.map((c) => [c.rule!, c]));
  const byDecision = new Map(decisions.filter((d) => d.rule).map((d) => [d.rule!, d]));
  const record = (id: string, description: string, outcome: RuleTrackRecord["outcome"], kind: RuleTrackRecord["kind"], rule?: PolicyRule): RuleTrackRecord => {
    const c = byCall.get(id);
    const d = byDecision.get(id);
    return {
      id,
      description,
      outcome,
      kind,
      matched: Number(c?.matched ?? 0),
      allowed: Number(c?.allowed ?? 0),
      asked: Number(c?.asked ?? 0),
      denied: Number(c?.denied ?? 0),
      approved: Number(d?.approved ?? 0),
      rejected: Number(d?.rejected ?? 0),
      expired: Number(d?.expired ?? 0),
      lastMatchedAt: c?.last ? new Date(Number(c.last)) : null,
      provenance: rule?.provenance ?? null,
      proposalId: rule?.provenance?.proposal ?? accepted.find((p) => p.ruleId === id)?.id ?? null,
    };
  };

  const rules: RuleTrackRecord[] = current.policy.rules.map((r) => record(r.id, r.description, r.outcome, "policy", r));
  rules.push(record("default", `What no rule matches: ${current.policy.default.verdict}.`, "fallback", "default"));
  for (const r of PROTECTED_POLICY.rules) rules.push(record(r.id, r.description, r.outcome, "protected", r));
  const known = new Set(rules.map((r) => r.id));
  for (const id of byCall.keys()) if (!known.has(id)) rules.push(record(id, "No longer in the policy (or decided outside it).", "fallback", "retired"));
  return { projectId: project.id, version: current.version, rules };
}
