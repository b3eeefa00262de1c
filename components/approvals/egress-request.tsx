"use client";
// A connection the egress proxy is holding for a reviewer (server/egress/ask.ts):
// which host and port a command in the sandbox is reaching, and how far the
// reviewer's "allow" reaches — this run (until it ends) or every run of the
// project (for a limited time). Deny refuses the connection with the reason.
import { Segmented } from "@/components/ui/segmented";
import type { ApprovalItem } from "@/components/approvals/types";

export type EgressScope = "run" | "project";

/** The approval is a held network connection (tool "network"). */
export function isEgressRequest(approval: Pick<ApprovalItem, "tool" | "kind">): boolean {
  return approval.kind === "tool" && approval.tool === "network";
}

export function EgressRequest({
  approval,
  scope,
  onScopeChange,
  editable,
}: {
  approval: ApprovalItem;
  scope: EgressScope;
  onScopeChange: (scope: EgressScope) => void;
  /** The reviewer may decide now (pending, and allowed to): the scope choice is shown. */
  editable: boolean;
}) {
  const entry = typeof approval.args.entry === "string" ? approval.args.entry : `${String(approval.args.host)}:${String(approval.args.port)}`;
  const scopes = Array.isArray(approval.args.scopes) ? approval.args.scopes : ["run"];
  const days = typeof approval.args.projectGrantDays === "number" ? approval.args.projectGrantDays : 30;
  return (
    <div className="space-y-2 rounded-lg border border-border px-3 py-2 text-sm" data-testid="egress-request">
      <p>
        A command in this run&apos;s sandbox is connecting to <code className="font-mono font-semibold break-all">{entry}</code>. The connection is held open
        until you decide.
      </p>
      {editable ? (
        <div className="flex flex-wrap items-center gap-2">
          <span className="text-xs text-fg-muted">Allow for</span>
          <Segmented<EgressScope>
            label={`Allow ${entry} for`}
            value={scope}
            onChange={onScopeChange}
            options={[
              { value: "run", label: "this run" },
              {
                value: "project",
                label: `this project (${days} days)`,
                disabled: !scopes.includes("project"),
                title: `Every run of this project may reach ${entry} for ${days} days`,
              },
            ]}
          />
        </div>
      ) : null}
    </div>
  );
}
