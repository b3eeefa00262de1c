import { describe, expect, it } from "vitest";
import { approvalRisk, currentPlanStep, needsSecondConfirmation } from "@/components/approvals/risk";
import type { ApprovalItem } from "@/components/approvals/types";

const plan = [
  { title: "Read", risk: "low" as const, risk_note: "reads only" },
  { title: "Install", risk: "high" as const, risk_note: "pipes a script into bash" },
  { title: "Test", risk: "medium" as const, risk_note: "runs the tests" },
];

function item(extra: Partial<ApprovalItem>): ApprovalItem {
  return {
    kind: "tool",
    tool: "run_command",
    args: {},
    preview: null,
    risk: null,
    runPlan: plan,
    runPlanApproved: true,
    runCurrentStep: 2,
    ...extra,
  } as ApprovalItem;
}

describe("the risk an approval card shows", () => {
  it("a tool call shows the risk Airlock's policy computed, not anything the agent said", () => {
    expect(approvalRisk(item({ risk: "high" }))).toEqual({ level: "high", source: "policy" });
    expect(approvalRisk(item({ risk: null }))).toBeNull();
  });

  it("a plan shows the highest risk its steps declare, labelled as declared by the agent", () => {
    expect(approvalRisk(item({ kind: "plan", tool: "submit_plan", args: { steps: plan } }))).toEqual({ level: "high", source: "agent" });
  });

  it("a finished step shows the risk the plan declared for that step", () => {
    expect(approvalRisk(item({ kind: "step", tool: "step", args: { step: 3 } }))).toEqual({ level: "medium", source: "agent" });
  });

  it("a tool call belongs to the run's current step once the plan is approved", () => {
    expect(currentPlanStep(item({}))).toEqual({ number: 2, total: 3, step: plan[1] });
    expect(currentPlanStep(item({ runPlanApproved: false }))).toBeNull();
    expect(currentPlanStep(item({ runCurrentStep: 0 }))).toBeNull();
  });

  it("only a call the policy judged high risk asks for a second confirmation", () => {
    expect(needsSecondConfirmation(item({ risk: "high" }))).toBe(true);
    expect(needsSecondConfirmation(item({ risk: "medium" }))).toBe(false);
    expect(needsSecondConfirmation(item({ kind: "plan", tool: "submit_plan", args: { steps: plan } }))).toBe(false);
  });
});
