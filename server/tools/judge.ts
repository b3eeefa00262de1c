// Adapter between the gateway's normalised calls and the policy engine.
import type { ToolName } from "@/server/tools/palette";
import { decide, type Decision } from "@/server/policy";

export interface Judgement {
  decision: Decision;
  /** Per sub-command decisions for compound commands (shown to reviewers). */
  parts: { command: string; verdict: string; rule: string; reason: string }[];
}

export type NormalisedCall = Record<string, unknown> & { tool: ToolName };

export function judgeToolCall(tool: ToolName, normalised: Record<string, unknown>, _opts: { stepMode: boolean }): Judgement {
  // complete_step only reports progress (step mode's pause is its own approval).
  const decision: Decision =
    tool === "complete_step"
      ? { verdict: "allow", rule: "control-tool", reason: "Reporting progress on the plan changes nothing." }
      : decide({ ...normalised, tool } as Parameters<typeof decide>[0]);
  const parts = (decision.parts ?? []).map((p: Decision & { command?: string }) => ({
    command: p.command ?? "",
    verdict: p.verdict,
    rule: p.rule,
    reason: p.reason,
  }));
  return { decision, parts };
}
