// Dry runs of a policy: judge a tool call (or a scripted sequence of calls)
// against a project's policy in force or a draft, and replay a past run's
// calls against a draft to see which verdicts would change. The calls go
// through the same validation, normalisation and decideUnderPolicy as the
// gateway's; only symlinks are not resolved, since no container is involved.
import { asc, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { toolCalls, type Role } from "@/db/schema";
import { DomainError } from "@/server/errors/domain-error";
import type { Policy, Verdict } from "@/server/policy";
import { runDraftTask } from "@/server/policy/offthread";
import type { PolicyRef, SimulateOutcome, SimulateTask } from "@/server/policy/worker/tasks";
import { currentPolicy, policyForRun, PolicyValidationError } from "@/server/projects/policy-store";
import type { PolicySource, SimulatedCall, SimulationResult } from "@/server/projects/simulate-call";
import { requireRun } from "@/server/runs/runs";
import { DRAFT_ROLE } from "@/lib/roles";
import { maySubmitPolicyDrafts } from "@/lib/permissions";

export * from "@/server/projects/simulate-call";

/**
 * Checking, simulating or replaying a draft runs a policy nobody adopted:
 * reviewers propose rules and admins adopt them, so a draft needs at least a
 * reviewer. Viewers simulate against the policy in force (issue 9, H1).
 */
export function requireDraftRole(role: Role): void {
  if (!maySubmitPolicyDrafts(role)) {
    throw new DomainError(
      "FORBIDDEN",
      `Checking a policy draft needs the ${DRAFT_ROLE} role; you are ${role}. Leave the draft out to simulate against the policy in force, or ask an admin to change your role.`,
    );
  }
}

const RANK: Record<Verdict, number> = { allow: 0, ask: 1, deny: 2 };

export interface ReplayItem {
  seq: number;
  tool: string;
  args: Record<string, unknown>;
  before: { verdict: Verdict | null; rule: string | null; reason: string | null; errorCode: string | null };
  after: SimulationResult;
  change: "same" | "stricter" | "looser" | "other-rule";
}

export interface ReplayResult {
  runId: string;
  source: PolicySource;
  items: ReplayItem[];
  summary: { total: number; changed: number; stricter: number; looser: number; otherRule: number };
}

function shortArgs(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) out[k] = typeof v === "string" && v.length > 500 ? `${v.slice(0, 500)}… (${v.length} characters)` : v;
  return out;
}

/**
 * Judges calls the way the gateway would, in the policy worker (a draft's
 * regexes and a command's parse can be slow): against the draft when one is
 * given, otherwise against the project's version in force.
 */
export async function simulateCalls(
  db: Db,
  input: { projectId?: string | null; yaml?: string | null; calls: SimulatedCall[] },
  opts: { limitMs?: number } = {},
): Promise<{ results: SimulationResult[]; source: PolicySource }> {
  let task: SimulateTask;
  let source: PolicySource;
  if (input.yaml !== undefined && input.yaml !== null) {
    task = { draft: input.yaml, calls: input.calls };
    source = { kind: "draft" };
  } else {
    const current = currentPolicy(db, input.projectId);
    task = { policy: policyRef(current.policy, current.projectId, current.version), calls: input.calls };
    source = { kind: "version", projectId: current.projectId, version: current.version };
  }
  const outcome = await runDraftTask<SimulateOutcome>("simulate", task, {
    limitMs: opts.limitMs,
    what: source.kind === "draft" ? "the draft and its calls" : "these calls",
  });
  if (!outcome.ok) throw new PolicyValidationError(outcome.problems);
  return { results: outcome.results, source };
}

function policyRef(policy: Policy, projectId: string, version: number): PolicyRef {
  return { key: `${projectId}@${version}`, policy };
}

/**
 * Re-judges every call a run made against a draft (or, without one, the
 * policy of the run's project in force now) and compares with what the
 * gateway decided at the time.
 */
export async function replayRun(db: Db, input: { runId: string; yaml?: string | null }, opts: { limitMs?: number } = {}): Promise<ReplayResult> {
  const run = requireRun(db, input.runId);
  const rows = db.select().from(toolCalls).where(eq(toolCalls.runId, run.id)).orderBy(asc(toolCalls.seq)).all();
  const calls = rows.map((row) => ({ tool: row.tool, args: row.args }));
  let task: SimulateTask;
  let source: PolicySource;
  if (input.yaml !== undefined && input.yaml !== null) {
    task = { draft: input.yaml, calls };
    source = { kind: "draft" };
  } else {
    const current = policyForRun(db, run);
    task = { policy: policyRef(current.policy, current.projectId, current.version), calls };
    source = { kind: "version", projectId: current.projectId, version: current.version };
  }
  const outcome = await runDraftTask<SimulateOutcome>("simulate", task, { limitMs: opts.limitMs, what: `the replay of ${rows.length} calls` });
  if (!outcome.ok) throw new PolicyValidationError(outcome.problems);
  const items: ReplayItem[] = rows.map((row, i) => {
    const after = outcome.results[i]!;
    const beforeVerdict = row.verdict ?? (row.errorCode === "INVALID_INPUT" || row.errorCode === "OUT_OF_WORKSPACE" ? "deny" : null);
    let change: ReplayItem["change"] = "same";
    if (beforeVerdict && beforeVerdict !== after.verdict) change = RANK[after.verdict] > RANK[beforeVerdict] ? "stricter" : "looser";
    else if (row.rule && after.rule && row.rule !== after.rule) change = "other-rule";
    return {
      seq: row.seq,
      tool: row.tool,
      args: shortArgs(row.args),
      before: { verdict: row.verdict, rule: row.rule, reason: row.reason, errorCode: row.errorCode },
      after,
      change,
    };
  });
  const count = (c: ReplayItem["change"]) => items.filter((i) => i.change === c).length;
  return {
    runId: run.id,
    source,
    items,
    summary: {
      total: items.length,
      changed: items.length - count("same"),
      stricter: count("stricter"),
      looser: count("looser"),
      otherRule: count("other-rule"),
    },
  };
}
