// One tool call judged the way the gateway would judge it (validation,
// confinement, policy, protections), with no database: the part of a
// simulation that also runs in the policy worker (server/policy/offthread.ts).
import { z } from "zod";
import { decideUnderPolicy, normaliseToolCall, riskOfCall, type Decision, type Policy, type Risk, type ToolCallForPolicy, type Verdict } from "@/server/policy";
import { TOOL_NAMES, TOOL_SCHEMAS, type ToolName } from "@/server/tools/palette";
import { judgeToolCall } from "@/server/tools/judge";

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
    parts: (decision.parts ?? []).map((p) => ({
      command: p.command ?? "",
      verdict: p.verdict,
      rule: p.rule,
      reason: p.reason,
      ...(p.origin ? { origin: p.origin } : {}),
    })),
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
  if (tool === "stop_service" || tool === "list_services" || tool === "start_service") {
    // As the gateway judges them (server/tools/judge.ts): start_service's command as run_command's, then at least ask.
    const args = parsed.data as Record<string, unknown>;
    const asCommand = tool === "start_service" ? normaliseToolCall("run_command", { command: args.command, cwd: args.cwd }) : null;
    if (asCommand && !asCommand.ok) return gatewayRefusal(tool, asCommand.code, asCommand.message);
    const normalised = asCommand?.ok ? { ...asCommand.call, tool: undefined } : {};
    const j = judgeToolCall(tool as ToolName, normalised, { stepMode: false, policy });
    return toResult(tool, j.decision, j.risk ?? "low");
  }
  const prepared = normaliseToolCall(tool, parsed.data as Record<string, unknown>);
  if (!prepared.ok) return gatewayRefusal(tool, prepared.code, prepared.message);
  const normalised = prepared.call as ToolCallForPolicy;
  return toResult(tool, decideUnderPolicy(normalised, policy), riskOfCall(normalised));
}

export function simulateSequence(policy: Policy, calls: SimulatedCall[]): SimulationResult[] {
  return calls.map((call) => simulateCall(policy, call));
}
