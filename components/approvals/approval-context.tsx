"use client";
// What a reviewer needs besides the call itself to decide from a phone: how
// risky it is and by whose account, the plan step it belongs to (with the
// agent's risk note), the run's task, and who started the run.
import { useState } from "react";
import { Badge } from "@/components/ui/badge";
import { cn } from "@/lib/cn";
import { formatDateTime, formatRelative } from "@/lib/format";
import { RiskBadge } from "@/components/approvals/plan-steps";
import { currentPlanStep, type ApprovalRisk } from "@/components/approvals/risk";
import type { ApprovalItem } from "@/components/approvals/types";

/** The card header's colour follows the risk, so a high-risk request reads as one before any text does. */
export const RISK_HEADER: Record<ApprovalRisk["level"], string> = {
  high: "border-t-4 border-t-danger bg-danger-soft/60",
  medium: "border-t-4 border-t-warning bg-warning-soft/60",
  low: "border-t-4 border-t-success bg-success-soft/40",
};

const RISK_TONE = { low: "success", medium: "warning", high: "danger" } as const;

/** The card's risk: "high risk" as the policy computed it, or "declared high" for what the agent said of its plan's steps. */
export function ApprovalRiskBadge({ risk }: { risk: ApprovalRisk | null }) {
  if (!risk) return null;
  const title =
    risk.source === "policy" ? `${risk.level} risk, as Airlock's policy judged the call` : `The agent declared its riskiest step ${risk.level} risk`;
  return (
    <span data-testid="risk-badge" data-risk={risk.level} data-risk-source={risk.source} title={title}>
      <Badge tone={RISK_TONE[risk.level]}>{risk.source === "policy" ? `${risk.level} risk` : `declared ${risk.level}`}</Badge>
    </span>
  );
}

export function EscalatedMark({ escalatedAt }: { escalatedAt: Date | null }) {
  if (!escalatedAt) return null;
  return (
    <span data-testid="escalated" title={`Escalated ${formatDateTime(escalatedAt)}`}>
      <Badge tone="danger">Escalated</Badge>
    </span>
  );
}

export function ApprovalContext({ approval }: { approval: ApprovalItem }) {
  const [taskOpen, setTaskOpen] = useState(false);
  const step = currentPlanStep(approval);
  const longTask = approval.runTask.length > 160 || approval.runTask.includes("\n");
  return (
    <dl className="grid gap-x-3 gap-y-1.5 text-sm sm:grid-cols-[7rem_1fr]" data-testid="approval-context">
      {step ? (
        <>
          <dt className="text-fg-muted">Plan step</dt>
          <dd className="min-w-0" data-testid="approval-plan-step">
            <span className="font-medium break-words">
              {step.number} of {step.total}: {step.step.title}
            </span>{" "}
            <RiskBadge risk={step.step.risk} />
            {step.step.risk_note ? (
              <span className="mt-0.5 block break-words text-fg-muted">
                Risk note: <span className="text-fg">{step.step.risk_note}</span>
              </span>
            ) : null}
          </dd>
        </>
      ) : null}
      <dt className="text-fg-muted">Task</dt>
      <dd className="min-w-0">
        <p id={`task-${approval.id}`} className={cn("break-words whitespace-pre-wrap", !taskOpen && longTask && "line-clamp-3")}>
          {approval.runTask}
        </p>
        {longTask ? (
          <button
            type="button"
            className="text-xs font-medium text-accent hover:underline"
            aria-expanded={taskOpen}
            aria-controls={`task-${approval.id}`}
            onClick={() => setTaskOpen((o) => !o)}
          >
            {taskOpen ? "Show less" : "Show the whole task"}
          </button>
        ) : null}
      </dd>
      <dt className="text-fg-muted">Started by</dt>
      <dd className="min-w-0 break-all" data-testid="approval-operator">
        {approval.runCreatedByEmail ?? "unknown"}
      </dd>
      {approval.escalatedAt ? (
        <>
          <dt className="text-fg-muted">Escalated</dt>
          <dd>
            <time dateTime={approval.escalatedAt.toISOString()} title={formatDateTime(approval.escalatedAt)}>
              {formatRelative(approval.escalatedAt)}
            </time>{" "}
            <span className="text-fg-muted">: nobody decided in time, so a second group was told.</span>
          </dd>
        </>
      ) : null}
    </dl>
  );
}
