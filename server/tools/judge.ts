// Adapter between the gateway's normalised calls and the policy engine: the
// run's project policy, then the protections no policy can open.
import type { ToolName } from "@/server/tools/palette";
import { decideUnderPolicy, type Decision, type Policy, type ToolCallForPolicy } from "@/server/policy";

export interface Judgement {
  decision: Decision;
  /** Per sub-command decisions for compound commands (shown to reviewers). */
  parts: { command: string; verdict: string; rule: string; reason: string }[];
}

export function judgeToolCall(tool: ToolName, normalised: Record<string, unknown>, opts: { stepMode: boolean; policy: Policy }): Judgement {
  // complete_step only reports progress (step mode's pause is its own approval).
  const decision: Decision =
    tool === "complete_step"
      ? { verdict: "allow", rule: "control-tool", reason: "Reporting progress on the plan changes nothing." }
      : decideUnderPolicy({ ...normalised, tool } as ToolCallForPolicy, opts.policy);
  const parts = (decision.parts ?? []).map((p: Decision & { command?: string }) => ({
    command: p.command ?? "",
    verdict: p.verdict,
    rule: p.rule,
    reason: p.reason,
  }));
  return { decision, parts };
}
