// The risk a reviewer is shown for a request, and where it comes from: for a
// tool call, the risk Airlock's policy computed (never the model's claim); for
// a plan or a finished step, what the agent declared for its steps, labelled so.
import { planSteps, stepPreview, type ApprovalItem, type PlanStep, type Risk } from "@/components/approvals/types";

export interface ApprovalRisk {
  level: Risk;
  source: "policy" | "agent";
}

const RANK: Record<Risk, number> = { low: 0, medium: 1, high: 2 };

export function highestRisk(steps: Pick<PlanStep, "risk">[]): Risk | null {
  let worst: Risk | null = null;
  for (const s of steps) if (worst === null || RANK[s.risk] > RANK[worst]) worst = s.risk;
  return worst;
}

export function approvalRisk(approval: ApprovalItem): ApprovalRisk | null {
  if (approval.kind === "plan") {
    const level = highestRisk(planSteps(approval));
    return level ? { level, source: "agent" } : null;
  }
  if (approval.kind === "step") {
    const step = approval.runPlan?.[stepPreview(approval).step - 1];
    return step ? { level: step.risk, source: "agent" } : null;
  }
  return approval.risk ? { level: approval.risk, source: "policy" } : null;
}

/** The plan step a tool call belongs to: the step the run is on, once a plan is approved. */
export function currentPlanStep(approval: ApprovalItem): { number: number; total: number; step: PlanStep } | null {
  if (approval.kind !== "tool" || !approval.runPlanApproved || !approval.runPlan) return null;
  const step = approval.runPlan[approval.runCurrentStep - 1];
  return step ? { number: approval.runCurrentStep, total: approval.runPlan.length, step } : null;
}

/** High-risk tool calls (as the policy computed) ask the reviewer to confirm a second time before approving. */
export function needsSecondConfirmation(approval: ApprovalItem): boolean {
  return approval.kind === "tool" && approval.risk === "high";
}
