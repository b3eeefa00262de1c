// The tools that steer the run itself (plan, step, finish) are executed by
// the supervisor; the gateway reaches them through this interface.
import type { ToolResult } from "@/server/tools/palette";
import type { PlanStepJson } from "@/db/schema";

export interface ControlTools {
  submitPlan(callId: string, args: { steps: PlanStepJson[] }): Promise<ToolResult>;
  completeStep(callId: string, args: { step: number; note?: string }): Promise<ToolResult>;
  finish(args: { summary: string; status: "success" | "failure" }): Promise<ToolResult>;
}
