// Plan review, step mode and finishing: the control tools, run by the supervisor.
import { and, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, runs, type PlanStepJson } from "@/db/schema";
import { createApprovalInTx, afterApprovalCommit, waitForDecision } from "@/server/approvals/approvals";
import { announce, insertRunEvent } from "@/server/events/bus";
import { agentActor, isShutdown } from "@/server/tools/gateway";
import type { ControlTools } from "@/server/tools/control";
import { planStepSchema, toolError, type ToolResult } from "@/server/tools/palette";
import { transitionRunInTx } from "@/server/runs/state-machine";
import { z } from "zod";
import { requireRun } from "@/server/runs/lookup";
import { failpoint } from "@/server/faults/failpoints";
import { timeReviewerWait } from "@/server/metrics/instruments";

export interface FinishSignal {
  finished: { summary: string; status: "success" | "failure" } | null;
}

export function controlTools(db: Db, runId: string, signal: AbortSignal, finishSignal: FinishSignal): ControlTools {
  const actor = agentActor(runId);
  const stopped = (): ToolResult => toolError("RUN_STOPPED", "The run was stopped by a reviewer; do not call more tools.");

  async function waitAndResume(approvalId: string, waitingState: "awaiting_plan_approval" | "awaiting_approval") {
    try {
      const decided = await timeReviewerWait(() => waitForDecision(db, approvalId, signal));
      return { decided, waitingState };
    } catch (err) {
      if (isShutdown(signal)) throw err;
      return null;
    }
  }

  return {
    async submitPlan(callId, args) {
      const run = requireRun(db, runId);
      // After a restart the request may already exist: wait on it instead of asking twice.
      const existing = db
        .select()
        .from(approvals)
        .where(and(eq(approvals.toolCallId, callId), eq(approvals.kind, "plan")))
        .get();
      const { approval, events } = existing
        ? { approval: existing, events: [] }
        : db.transaction(
            (tx) => {
              const created = createApprovalInTx(tx, actor, {
                runId,
                toolCallId: callId,
                kind: "plan",
                tool: "submit_plan",
                args: { steps: args.steps },
                preview: { type: "plan", steps: args.steps, stepMode: run.stepMode },
                verdict: "ask",
                rule: "plan-review",
                reason: "Every run's plan is reviewed before the agent changes anything.",
                requestedBy: run.createdBy,
              });
              const t = transitionRunInTx(tx, runId, "awaiting_plan_approval", actor, {
                from: ["planning", "running"],
                reason: "plan submitted",
                fields: { plan: args.steps },
              });
              const planEvent = insertRunEvent(tx, runId, "plan", { steps: args.steps, state: "submitted", approvalId: created.approval.id });
              return { approval: created.approval, events: [created.event, t.event, planEvent] };
            },
            { behavior: "immediate" },
          );
      // afterApprovalCommit announces the approval event itself; announce only the rest (once each).
      if (events[0]) afterApprovalCommit(approval, events[0]);
      for (const e of events.slice(1)) announce(e);
      failpoint("plan-pending");
      const waited = await waitAndResume(approval.id, "awaiting_plan_approval");
      if (!waited) return stopped();
      const { decided } = waited;
      if (decided.state === "approved") {
        const edited = decided.edit?.steps ? z.array(planStepSchema).safeParse(decided.edit.steps) : null;
        const steps: PlanStepJson[] = edited?.success ? edited.data : args.steps;
        const applied = db.transaction(
          (tx) => {
            // After a restart the approval may already be applied (the process died before the plan's result was
            // recorded): the run is past awaiting_plan_approval, and the result is given again without a transition.
            if (existing && tx.select({ state: runs.state }).from(runs).where(eq(runs.id, runId)).get()?.state !== "awaiting_plan_approval") return null;
            const t = transitionRunInTx(tx, runId, "running", actor, {
              from: ["awaiting_plan_approval"],
              reason: "plan approved",
              fields: { plan: steps, planApprovedAt: new Date(), currentStep: 1 },
            });
            const planEvent = insertRunEvent(tx, runId, "plan", { steps, state: "approved", edited: Boolean(edited?.success) });
            return { event: t.event, planEvent };
          },
          { behavior: "immediate" },
        );
        if (applied) {
          announce(applied.event);
          announce(applied.planEvent);
        }
        return {
          ok: true,
          approved: true,
          steps: applied ? steps : (requireRun(db, runId).plan ?? steps),
          ...(edited?.success ? { note: "A reviewer edited your plan before approving it; follow the steps above." } : {}),
          ...(run.stepMode ? { step_mode: "Call complete_step after each step; the run pauses there until a reviewer says continue." } : {}),
        };
      }
      const back = db.transaction(
        (tx) =>
          // As above: a refusal applied before a restart is not applied again.
          existing && tx.select({ state: runs.state }).from(runs).where(eq(runs.id, runId)).get()?.state !== "awaiting_plan_approval"
            ? null
            : transitionRunInTx(tx, runId, "planning", actor, { from: ["awaiting_plan_approval"], reason: `plan ${decided.state}` }),
        { behavior: "immediate" },
      );
      if (back) announce(back.event);
      if (decided.state === "denied") {
        return toolError(
          "DENIED_BY_REVIEWER",
          `A reviewer rejected the plan: ${decided.decisionReason ?? "no reason given"}. Revise it and call submit_plan again.`,
          { reason: decided.decisionReason },
        );
      }
      if (decided.state === "expired") return toolError("APPROVAL_EXPIRED", "No reviewer decided on the plan in time. Submit it again to ask once more.");
      return stopped();
    },

    async completeStep(callId, args) {
      const run = requireRun(db, runId);
      const plan = run.plan ?? [];
      if (!run.planApprovedAt) return toolError("PLAN_REQUIRED", "There is no approved plan yet.");
      if (args.step < 1 || args.step > plan.length) return toolError("INVALID_INPUT", `The plan has steps 1 to ${plan.length}; got ${args.step}.`);
      if (!run.stepMode) {
        const e = db.transaction((tx) => {
          tx.update(runs)
            .set({ currentStep: Math.min(args.step + 1, plan.length), updatedAt: new Date() })
            .where(eq(runs.id, runId))
            .run();
          return insertRunEvent(tx, runId, "plan", { state: "step_done", step: args.step, note: args.note ?? null });
        });
        announce(e);
        return { ok: true, step: args.step, continue: true };
      }
      const existing = db
        .select()
        .from(approvals)
        .where(and(eq(approvals.toolCallId, callId), eq(approvals.kind, "step")))
        .get();
      const { approval, events } = existing
        ? { approval: existing, events: [] }
        : db.transaction(
            (tx) => {
              const created = createApprovalInTx(tx, actor, {
                runId,
                toolCallId: callId,
                kind: "step",
                tool: "complete_step",
                args,
                preview: {
                  type: "step",
                  step: args.step,
                  title: plan[args.step - 1]?.title ?? "",
                  note: args.note ?? null,
                  next: plan[args.step]?.title ?? null,
                },
                verdict: "ask",
                rule: "step-mode",
                reason: `Step mode: step ${args.step} is done; the run continues when a reviewer says so.`,
                requestedBy: run.createdBy,
              });
              tx.update(runs).set({ currentStep: args.step }).where(eq(runs.id, runId)).run();
              const t = transitionRunInTx(tx, runId, "awaiting_approval", actor, { from: ["running"], reason: `step ${args.step} done; waiting to continue` });
              return { approval: created.approval, events: [created.event, t.event] };
            },
            { behavior: "immediate" },
          );
      // afterApprovalCommit announces the approval event itself; announce only the rest (once each).
      if (events[0]) afterApprovalCommit(approval, events[0]);
      for (const e of events.slice(1)) announce(e);
      const waited = await waitAndResume(approval.id, "awaiting_approval");
      if (!waited) return stopped();
      const { decided } = waited;
      const back = db.transaction(
        (tx) =>
          transitionRunInTx(tx, runId, "running", actor, {
            from: ["awaiting_approval"],
            reason: `step ${args.step}: ${decided.state}`,
            fields: decided.state === "approved" ? { currentStep: Math.min(args.step + 1, plan.length) } : {},
          }),
        { behavior: "immediate" },
      );
      announce(back.event);
      if (decided.state === "approved")
        return { ok: true, step: args.step, continue: true, ...(decided.decisionReason ? { reviewer_note: decided.decisionReason } : {}) };
      if (decided.state === "denied")
        return toolError(
          "DENIED_BY_REVIEWER",
          `The reviewer did not let the run continue after step ${args.step}: ${decided.decisionReason ?? "no reason given"}. Fix it or finish.`,
          { reason: decided.decisionReason },
        );
      if (decided.state === "expired") return toolError("APPROVAL_EXPIRED", "No reviewer said continue in time. Finish the run with a summary.");
      return stopped();
    },

    async finish(args) {
      finishSignal.finished = args;
      return { ok: true, finished: true, status: args.status };
    },
  };
}
