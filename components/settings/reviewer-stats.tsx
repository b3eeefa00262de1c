"use client";
// Settings → Reviewers (admins, issue 12): decisions per reviewer, the median
// time to decide, and how many decisions came faster than the change could be
// read. A signal about approval fatigue for a conversation, never a block.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { SelectField } from "@/components/ui/field";
import { ShieldCheckIcon } from "@/components/ui/icons";
import { rt } from "@/components/ui/responsive-table";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { formatDateTime } from "@/lib/format";
import { useTRPC } from "@/lib/trpc/client";

/** 1.4 s, 42 s, 3 min 5 s, 2 h 10 min. */
export function formatDecisionTime(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function ReviewerStatsSection() {
  const trpc = useTRPC();
  const [days, setDays] = useState(30);
  const stats = useQuery(trpc.reviewers.stats.queryOptions({ days }));

  return (
    <Card aria-labelledby="reviewers-title" data-testid="reviewer-stats">
      <CardHeader
        titleId="reviewers-title"
        title="Reviewers"
        icon={<ShieldCheckIcon size={18} />}
        description="How reviewers decide requests. Quick decisions are a signal worth a conversation, never a block: nothing here changes what anyone may do."
        actions={
          <SelectField label="Period" value={String(days)} onChange={(e) => setDays(Number(e.target.value))}>
            <option value="7">Last 7 days</option>
            <option value="30">Last 30 days</option>
            <option value="90">Last 90 days</option>
            <option value="365">Last year</option>
          </SelectField>
        }
      />
      <CardBody className="space-y-3">
        <p className="text-xs text-fg-muted">
          Time to decide: from the request to the reviewer&apos;s vote. <strong>Too fast</strong> counts decisions made{" "}
          {stats.data?.formula ?? "faster than max(2 s, changed lines ÷ 20 per second)"}, where changed lines are the added and removed lines of the
          request&apos;s diff (requests without a diff use the 2 s minimum).
        </p>
        {stats.isPending ? (
          <SkeletonRows rows={2} label="Loading reviewer statistics…" />
        ) : stats.isError ? (
          <InlineAlert title="Reviewer statistics could not be loaded">{errorMessage(stats.error)}</InlineAlert>
        ) : stats.data.items.length === 0 ? (
          <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">No decisions in this period.</p>
        ) : (
          <div className={rt.wrapper}>
            <table className={rt.table}>
              <caption className="sr-only">Reviewer statistics</caption>
              <thead className={rt.thead}>
                <tr>
                  {["Reviewer", "Decisions", "Approved / denied", "Median time", "Too fast", "Last decision"].map((h) => (
                    <th key={h} scope="col" className={rt.th}>
                      {h}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody className={rt.tbody}>
                {stats.data.items.map((s) => (
                  <tr key={s.userId} className={rt.row} data-testid="reviewer-row">
                    <td className={`${rt.bareCell} font-medium break-all`}>{s.email}</td>
                    <td data-label="Decisions" className={rt.cell}>
                      {s.decisions}
                    </td>
                    <td data-label="Approved / denied" className={rt.cell}>
                      {s.approvals} / {s.denials}
                    </td>
                    <td data-label="Median time" className={rt.cell}>
                      {formatDecisionTime(s.medianMs)}
                    </td>
                    <td data-label="Too fast" className={rt.cell}>
                      {s.tooFast ? (
                        <Badge tone="warning">
                          {s.tooFast} of {s.decisions}
                        </Badge>
                      ) : (
                        <span className="text-fg-muted">0</span>
                      )}
                    </td>
                    <td data-label="Last decision" className={rt.cell}>
                      {s.lastDecisionAt ? formatDateTime(s.lastDecisionAt) : "—"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </CardBody>
    </Card>
  );
}
