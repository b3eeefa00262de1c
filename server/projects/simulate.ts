// Dry runs of a policy: judge a tool call (or a scripted sequence of calls)
// against a project's policy in force or a draft, and replay a past run's
// calls against a draft to see which verdicts would change. The calls go
// through the same validation, normalisation and decideUnderPolicy as the
// gateway's; only symlinks are not resolved, since no container is involved.
import { z } from "zod";
import { asc, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { toolCalls } from "@/db/schema";
import { decideUnderPolicy, normaliseToolCall, riskOfCall, type Decision, type Policy, type Risk, type ToolCallForPolicy, type Verdict } from "@/server/policy";
import { currentPolicy, policyForRun, validateDraft } from "@/server/projects/policy-store";
import { requireRun } from "@/server/runs/runs";
import { TOOL_NAMES, TOOL_SCHEMAS, type ToolName } from "@/server/tools/palette";

export const simulatedCallSchema = z.object({
  tool: z.string().trim().min(1, "Name the tool to simulate.").max(100),
  args: z.record(z.string(), z.unknown()).default({}),
});

export type SimulatedCall = z.infer<typeof simulatedCallSchema>;

export interface SimulatedPart {
  command: string;
  verdict: Verdict;
  rule: string;
  reason: string;
  origin?: string;
}

export interface SimulationResult {
  tool: string;
  verdict: Verdict;
  rule?: string;
  reason: string;
  parts: SimulatedPart[];
  requiredApprovals?: number;
  allowSelfApproval?: boolean;
  approverRole?: string;
  risk?: Risk;
  /** Set when the gateway would refuse the call before the policy sees it. */
  refusedBy?: "gateway";
  code?: "INVALID_INPUT" | "OUT_OF_WORKSPACE";
}

export type PolicySource = { kind: "draft" } | { kind: "version"; projectId: string; version: number };

function gatewayRefusal(tool: string, code: "INVALID_INPUT" | "OUT_OF_WORKSPACE", message: string): SimulationResult {
  return {
    tool,
    verdict: "deny",
    rule: code === "INVALID_INPUT" ? "invalid-input" : "out-of-workspace",
    reason: `The gateway refuses this call before the policy sees it (${code}): ${message}`,
    parts: [],
    refusedBy: "gateway",
    code,
  };
}

function toResult(tool: string, decision: Decision, risk: Risk): SimulationResult {
  const result: SimulationResult = {
    tool,
    verdict: decision.verdict,
    rule: decision.rule,
    reason: decision.reason,
    parts: (decision.parts ?? []).map((p) => ({ command: p.command ?? "", verdict: p.verdict, rule: p.rule, reason: p.reason, ...(p.origin ? { origin: p.origin } : {}) })),
    risk,
  };
  if (decision.verdict === "ask") {
    result.requiredApprovals = decision.requiredApprovals ?? 1;
    result.allowSelfApproval = decision.allowSelfApproval ?? false;
    result.approverRole = decision.approverRole ?? "reviewer";
  }
  return result;
}

/** Judges one call the way the gateway would (validation, confinement, policy, protections). */
export function simulateCall(policy: Policy, call: SimulatedCall): SimulationResult {
  const tool = call.tool;
  if (!TOOL_NAMES.includes(tool as ToolName)) return gatewayRefusal(tool, "INVALID_INPUT", `unknown tool "${tool}"; tools are ${TOOL_NAMES.join(", ")}`);
  const parsed = TOOL_SCHEMAS[tool as ToolName].safeParse(call.args ?? {});
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
    return gatewayRefusal(tool, "INVALID_INPUT", `invalid arguments for ${tool}: ${detail}`);
  }
  if (tool === "complete_step") {
    return { tool, verdict: "allow", rule: "control-tool", reason: "Reporting progress on the plan changes nothing.", parts: [], risk: "low" };
  }
  const prepared = normaliseToolCall(tool, parsed.data as Record<string, unknown>);
  if (!prepared.ok) return gatewayRefusal(tool, prepared.code, prepared.message);
  const normalised = prepared.call as ToolCallForPolicy;
  return toResult(tool, decideUnderPolicy(normalised, policy), riskOfCall(normalised));
}

/** The policy a simulation runs against: a draft (validated, never stored) or the project's version in force. */
export function simulationPolicy(db: Db, input: { projectId?: string | null; yaml?: string | null }): { policy: Policy; source: PolicySource } {
  if (input.yaml !== undefined && input.yaml !== null) return { policy: validateDraft(input.yaml), source: { kind: "draft" } };
  const current = currentPolicy(db, input.projectId);
  return { policy: current.policy, source: { kind: "version", projectId: current.projectId, version: current.version } };
}

export function simulateSequence(policy: Policy, calls: SimulatedCall[]): SimulationResult[] {
  return calls.map((call) => simulateCall(policy, call));
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
 * Re-judges every call a run made against a draft (or, without one, the
 * policy of the run's project in force now) and compares with what the
 * gateway decided at the time.
 */
export function replayRun(db: Db, input: { runId: string; yaml?: string | null }): ReplayResult {
  const run = requireRun(db, input.runId);
  let policy: Policy;
  let source: PolicySource;
  if (input.yaml !== undefined && input.yaml !== null) {
    policy = validateDraft(input.yaml);
    source = { kind: "draft" };
  } else {
    const current = policyForRun(db, run);
    policy = current.policy;
    source = { kind: "version", projectId: current.projectId, version: current.version };
  }
  const rows = db.select().from(toolCalls).where(eq(toolCalls.runId, run.id)).orderBy(asc(toolCalls.seq)).all();
  const items: ReplayItem[] = rows.map((row) => {
    const after = simulateCall(policy, { tool: row.tool, args: row.args });
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
    summary: { total: items.length, changed: items.length - count("same"), stricter: count("stricter"), looser: count("looser"), otherRule: count("other-rule") },
  };
}
