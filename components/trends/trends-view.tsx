"use client";
// Trends over 7, 30 or 90 days: runs by outcome, approval wait times, deny
// rate by rule, tokens by model and by project, red-team results over time.
// Every chart states its figures as text beside the drawing.
import { useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { useTRPC } from "@/lib/trpc/client";
import { errorMessage } from "@/lib/errors";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { InlineAlert } from "@/components/ui/alert";
import { PageHeader } from "@/components/ui/page-header";
import { Segmented } from "@/components/ui/segmented";
import { SelectField } from "@/components/ui/field";
import { SkeletonRows } from "@/components/ui/skeleton";
import { LocalTime } from "@/components/ui/local-time";
import { formatCommandDuration, formatCount, formatTokens } from "@/components/runs/format";
import { BarList, Legend, LineChart, StackedColumns, type StackPart } from "@/components/timeline/charts";

type Trends = inferRouterOutputs<AppRouter>["trends"]["overview"];
type Period = "7" | "30" | "90";

const OUTCOMES: StackPart[] = [
  { key: "succeeded", label: "Succeeded", fill: "fill-success" },
  { key: "failed", label: "Failed", fill: "fill-danger" },
  { key: "killed", label: "Stopped", fill: "fill-warning" },
  { key: "rolled_back", label: "Rolled back", fill: "fill-fg-muted" },
  { key: "active", label: "Active", fill: "fill-accent" },
];
const REDTEAM: StackPart[] = [
  { key: "blocked", label: "Blocked", fill: "fill-success" },
  { key: "escalated", label: "Escalated", fill: "fill-accent" },
  { key: "contained", label: "Contained", fill: "fill-warning" },
  { key: "escaped", label: "Escaped", fill: "fill-danger" },
];

const pct = (f: number) => `${Math.round(f * 1000) / 10} %`;

export function TrendsView() {
  const trpc = useTRPC();
  const [period, setPeriod] = useState<Period>("30");
  const [projectId, setProjectId] = useState("");
  const projects = useQuery(trpc.projects.list.queryOptions());
  const query = useQuery({
    ...trpc.trends.overview.queryOptions({ days: Number(period) as 7 | 30 | 90, ...(projectId ? { projectId } : {}) }),
    placeholderData: keepPreviousData,
  });

  return (
    <div>
      <PageHeader
        title="Trends"
        description="How runs, reviews, the policy and the red team went over a period (UTC days)."
        actions={
          <div className="flex flex-wrap items-end gap-2">
            <Segmented<Period>
              label="Period"
              value={period}
              onChange={setPeriod}
              options={[
                { value: "7", label: "7 days" },
                { value: "30", label: "30 days" },
                { value: "90", label: "90 days" },
              ]}
            />
            <SelectField label="Project" value={projectId} onChange={(e) => setProjectId(e.target.value)} disabled={!projects.data}>
              <option value="">All projects</option>
              {(projects.data?.items ?? []).map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </SelectField>
          </div>
        }
      />
      {query.isPending ? (
        <SkeletonRows rows={6} label="Loading trends…" />
      ) : query.isError ? (
        <InlineAlert title="Trends could not be loaded">
          <p>{errorMessage(query.error)}</p>
        </InlineAlert>
      ) : (
        <TrendCharts trends={query.data} />
      )}
    </div>
  );
}

function Section({ id, title, description, children }: { id: string; title: string; description?: string; children: React.ReactNode }) {
  return (
    <Card aria-labelledby={id} data-testid={`trend-${id}`}>
      <CardHeader titleId={id} title={title} description={description} />
      <CardBody className="space-y-2">{children}</CardBody>
    </Card>
  );
}

function Empty({ children }: { children: React.ReactNode }) {
  return <p className="text-sm text-fg-muted">{children}</p>;
}

function TrendCharts({ trends }: { trends: Trends }) {
  const t = trends;
  const runTotal = Object.values(t.runsByOutcome.totals).reduce((a, b) => a + b, 0);
  const outcomeText = OUTCOMES.map((o) => `${t.runsByOutcome.totals[o.key as keyof typeof t.runsByOutcome.totals]} ${o.label.toLowerCase()}`).join(", ");
  const w = t.approvalWaits;
  const maxTokens = (rows: Trends["tokensByModel"]) => Math.max(1, ...rows.map((r) => r.tokensIn + r.tokensOut));
  const tokenRows = (rows: Trends["tokensByModel"]) =>
    rows.map((r) => ({
      key: r.id ?? r.name,
      name: r.name,
      fraction: (r.tokensIn + r.tokensOut) / maxTokens(rows),
      figure: `${formatTokens(r.tokensIn)} in · ${formatTokens(r.tokensOut)} out · ${formatCount(r.runs)} ${r.runs === 1 ? "run" : "runs"}`,
    }));

  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <Section id="runs-by-outcome" title="Runs by outcome" description={`Runs created in the last ${t.days} days, per day.`}>
        {runTotal === 0 ? (
          <Empty>No runs in this period.</Empty>
        ) : (
          <>
            <StackedColumns
              label={`Runs by outcome per day: ${outcomeText}.`}
              parts={OUTCOMES}
              columns={t.runsByOutcome.byDay.map((d) => ({ key: d.day, values: d.counts }))}
            />
            <Legend parts={OUTCOMES} />
            <p className="text-sm">
              {formatCount(runTotal)} {runTotal === 1 ? "run" : "runs"}: {outcomeText}.
            </p>
          </>
        )}
      </Section>

      <Section id="approval-waits" title="Approval wait times" description="How long requests waited for the person who decided them.">
        {w.count === 0 ? (
          <Empty>No request was decided in this period.</Empty>
        ) : (
          <>
            <LineChart
              label={`Approval waits per day: p50 ${formatCommandDuration(w.p50Ms ?? 0)}, p95 ${formatCommandDuration(w.p95Ms ?? 0)} over ${w.count} requests.`}
              points={w.byDay.map((d) => [Date.parse(d.day), d.p50Ms])}
              series={[{ points: w.byDay.map((d) => [Date.parse(d.day), d.p95Ms]), className: "text-warning" }]}
            />
            <Legend
              parts={[
                { key: "p50", label: "p50 (median)", fill: "fill-accent" },
                { key: "p95", label: "p95", fill: "fill-warning" },
              ]}
            />
            <p className="text-sm" data-testid="approval-wait-figures">
              p50 {formatCommandDuration(w.p50Ms ?? 0)} · p95 {formatCommandDuration(w.p95Ms ?? 0)} over {formatCount(w.count)} decided{" "}
              {w.count === 1 ? "request" : "requests"}.
            </p>
          </>
        )}
      </Section>

      <Section id="deny-rate" title="Deny rate by rule" description="Calls each policy rule judged that were denied, by the policy or by a reviewer.">
        {t.denyRateByRule.length === 0 ? (
          <Empty>No tool call was judged in this period.</Empty>
        ) : (
          <BarList
            label="Deny rate by rule"
            rows={t.denyRateByRule.slice(0, 12).map((r) => ({
              key: r.rule,
              name: r.rule,
              fraction: r.denyRate,
              fill: "fill-danger",
              figure: `${pct(r.denyRate)} of ${formatCount(r.calls)} (${r.deniedByPolicy} by policy, ${r.deniedByReviewer} by reviewers)`,
            }))}
          />
        )}
      </Section>

      <Section id="tokens" title="Tokens" description="Tokens of the runs created in the period, by model and by project.">
        {t.tokensByModel.length === 0 ? (
          <Empty>No runs in this period.</Empty>
        ) : (
          <>
            <h3 className="text-sm font-semibold">By model</h3>
            <BarList label="Tokens by model" rows={tokenRows(t.tokensByModel)} />
            <h3 className="pt-2 text-sm font-semibold">By project</h3>
            <BarList label="Tokens by project" rows={tokenRows(t.tokensByProject)} />
          </>
        )}
      </Section>

      <Section id="redteam" title="Red-team results" description="Outcomes of each finished red-team run, oldest first.">
        {t.redteam.length === 0 ? (
          <Empty>No red-team run finished in this period.</Empty>
        ) : (
          <>
            <StackedColumns
              label={`Red-team results over time: ${t.redteam.length} reports; the latest ${t.redteam.at(-1)!.escaped} escaped of ${t.redteam.at(-1)!.total}.`}
              parts={REDTEAM}
              columns={t.redteam.map((r) => ({
                key: r.id,
                values: { blocked: r.blocked, escalated: r.escalated, contained: r.contained, escaped: r.escaped },
              }))}
            />
            <Legend parts={REDTEAM} />
            <ul className="space-y-1 text-sm">
              {t.redteam
                .slice(-5)
                .reverse()
                .map((r) => (
                  <li key={r.id} className="flex flex-wrap gap-x-2">
                    <LocalTime date={new Date(r.at)} format="date" className="text-fg-muted" />
                    <span>
                      {r.project}: {r.blocked} blocked, {r.escalated} escalated, {r.contained} contained,{" "}
                      <span className={r.escaped ? "font-semibold text-danger" : undefined}>{r.escaped} escaped</span> of {r.total}
                    </span>
                  </li>
                ))}
            </ul>
          </>
        )}
      </Section>
    </div>
  );
}
