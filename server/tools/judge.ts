// Adapter between the gateway's normalised calls and the policy engine: the
// run's project policy, then the protections no policy can open.
import type { ToolName } from "@/server/tools/palette";
import { decideUnderPolicy, riskOfCall, type Decision, type Policy, type Risk, type ToolCallForPolicy } from "@/server/policy";
import { PolicyTaskTimeout, runJudgeTask } from "@/server/policy/offthread";
import type { JudgeTask } from "@/server/policy/worker/tasks";

export interface Judgement {
  decision: Decision;
  /** Per sub-command decisions for compound commands (shown to reviewers). */
  parts: { command: string; verdict: string; rule: string; reason: string }[];
  /** The call's risk as Airlock works it out (shown on approval cards and in notifications; never the model's claim). */
  risk?: Risk;
}

/** Tools that only report or look at the run's own state: never judged by the policy. */
const CONTROL_TOOLS: Partial<Record<ToolName, string>> = {
  complete_step: "Reporting progress on the plan changes nothing.",
  list_services: "Listing the run's own services changes nothing.",
  stop_service: "Stopping one of the run's own services only ends what the agent started.",
};

/** Rule id of start_service's floor: a reviewer decides unless the command is denied outright. */
export const START_SERVICE_RULE = "start-service-asks";

/**
 * start_service: its command is judged exactly as run_command's (so every
 * deny of the policy holds), then it asks at least: a service keeps running
 * after its command, outside the kill that ends every other process.
 */
function judgeStartService(normalised: Record<string, unknown>, policy: Policy): Decision {
  const asCommand = decideUnderPolicy({ tool: "run_command", command: normalised.command, cwd: normalised.cwd } as ToolCallForPolicy, policy);
  if (asCommand.verdict !== "allow") return asCommand;
  return {
    ...asCommand,
    verdict: "ask",
    rule: START_SERVICE_RULE,
    reason: `A service keeps running after its command (the policy alone would allow the command: ${asCommand.reason}), so a reviewer decides.`,
  };
}

export function judgeToolCall(tool: ToolName, normalised: Record<string, unknown>, opts: { stepMode: boolean; policy: Policy }): Judgement {
  // complete_step only reports progress (step mode's pause is its own approval).
  const control = CONTROL_TOOLS[tool];
  const decision: Decision = control
    ? { verdict: "allow", rule: "control-tool", reason: control }
    : tool === "start_service"
      ? judgeStartService(normalised, opts.policy)
      : decideUnderPolicy({ ...normalised, tool } as ToolCallForPolicy, opts.policy);
  const parts = (decision.parts ?? []).map((p: Decision & { command?: string }) => ({
    command: p.command ?? "",
    verdict: p.verdict,
    rule: p.rule,
    reason: p.reason,
  }));
  const risk = control
    ? "low"
    : tool === "start_service"
      ? riskOfCall({ tool: "run_command", command: normalised.command, cwd: normalised.cwd } as ToolCallForPolicy)
      : riskOfCall({ ...normalised, tool } as ToolCallForPolicy);
  return { decision, parts, risk };
}

/** Rule id of a call Airlock could not judge within the time limit. */
export const JUDGE_TIMEOUT_RULE = "too-slow-to-judge";

/**
 * Judges a call in the policy worker: parsing an agent's 16 KB command took
 * up to seconds on the main thread, which then served nothing else (issue 9).
 * A call that cannot be judged in time, or at all, is denied, with why.
 */
export async function judgeToolCallOffThread(
  tool: ToolName,
  normalised: Record<string, unknown>,
  opts: { stepMode: boolean; policy: { policy: Policy; projectId: string; version: number }; limitMs?: number },
): Promise<Judgement> {
  if (CONTROL_TOOLS[tool]) return judgeToolCall(tool, normalised, { stepMode: opts.stepMode, policy: opts.policy.policy });
  const task: JudgeTask = {
    tool,
    normalised,
    stepMode: opts.stepMode,
    policy: { key: `${opts.policy.projectId}@${opts.policy.version}`, policy: opts.policy.policy },
  };
  try {
    return await runJudgeTask<Judgement>(task, { limitMs: opts.limitMs });
  } catch (error) {
    const timedOut = error instanceof PolicyTaskTimeout;
    const reason = timedOut ? error.message : `Airlock could not judge this call (${(error as Error).message}), so it is denied; try again.`;
    return { decision: { verdict: "deny", rule: timedOut ? JUDGE_TIMEOUT_RULE : "judge-failed", reason }, parts: [] };
  }
}
