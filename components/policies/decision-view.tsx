"use client";
// A policy decision as reviewers see it everywhere: verdict, the rule that
// decided and why, what an ask needs, and each part of a compound command.
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { RuleAndReason, VerdictBadge } from "@/components/approvals/verdict-badge";
import { Badge } from "@/components/ui/badge";

export type SimulationResult = inferRouterOutputs<AppRouter>["policies"]["simulate"];

export function DecisionView({ result, title }: { result: Omit<SimulationResult, "source">; title?: string }) {
  return (
    <div className="space-y-2" data-testid="decision">
      <div className="flex flex-wrap items-center gap-2">
        {title ? <span className="font-mono text-xs text-fg-muted break-all">{title}</span> : null}
        <VerdictBadge verdict={result.verdict} />
        {result.risk ? <Badge tone={result.risk === "high" ? "danger" : result.risk === "medium" ? "warning" : "neutral"}>{result.risk} risk</Badge> : null}
        {result.refusedBy ? <Badge tone="danger">refused by the gateway ({result.code})</Badge> : null}
      </div>
      <RuleAndReason rule={result.rule ?? null} reason={result.reason} />
      {result.verdict === "ask" ? (
        <p className="text-xs text-fg-muted">
          Needs {result.requiredApprovals ?? 1} approval{(result.requiredApprovals ?? 1) === 1 ? "" : "s"} from{" "}
          {result.approverRole === "admin" ? "admins" : "reviewers or admins"}
          {result.allowSelfApproval ? "; the run's creator may approve." : "; not from the run's creator."}
        </p>
      ) : null}
      {result.parts.length > 1 ? (
        <ol className="space-y-1.5 border-l-2 border-border pl-3" aria-label="Parts of the command">
          {result.parts.map((p, i) => (
            <li key={i} className="space-y-0.5">
              <div className="flex flex-wrap items-center gap-2">
                <code className="rounded bg-surface-muted px-1 py-0.5 font-mono text-[12px] break-all">{p.command}</code>
                <VerdictBadge verdict={p.verdict} short />
                {p.origin ? <span className="text-xs text-fg-muted">from {p.origin}</span> : null}
              </div>
              <RuleAndReason rule={p.rule} reason={p.reason} />
            </li>
          ))}
        </ol>
      ) : null}
    </div>
  );
}
