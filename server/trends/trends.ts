// Trends over a period (7, 30 or 90 days): runs by outcome, approval wait
// times (p50 and p95), deny rate by policy rule, tokens by model and by
// project, red-team results over time. The aggregation happens in SQL, so a
// long history costs the database a few indexed scans, not the dashboard a
// copy of every row. Days are UTC calendar days.
import { sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { DEFAULT_PROJECT_ID } from "@/server/projects/projects";
import { TERMINAL_STATES } from "@/server/runs/state-machine";

export const TREND_PERIODS = [7, 30, 90] as const;
export const trendsInput = z.object({
  days: z.union([z.literal(7), z.literal(30), z.literal(90)], { error: "Choose a period of 7, 30 or 90 days." }).default(30),
  projectId: z.string().min(1).max(200).optional(),
});

/** A run's outcome: its terminal state, or "active" while it is not over. */
export const RUN_OUTCOMES = ["succeeded", "failed", "killed", "rolled_back", "active"] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

export interface Trends {
  days: number;
  since: number;
  until: number;
  projectId: string | null;
  runsByOutcome: { totals: Record<RunOutcome, number>; byDay: { day: string; counts: Record<RunOutcome, number> }[] };
  approvalWaits: { count: number; p50Ms: number | null; p95Ms: number | null; byDay: { day: string; count: number; p50Ms: number; p95Ms: number }[] };
  denyRateByRule: { rule: string; calls: number; deniedByPolicy: number; deniedByReviewer: number; denyRate: number }[];
  tokensByModel: TokenRow[];
  tokensByProject: TokenRow[];
  redteam: { id: string; at: number; project: string; total: number; blocked: number; escalated: number; contained: number; escaped: number }[];
}

export interface TokenRow {
  id: string | null;
  name: string;
  runs: number;
  tokensIn: number;
  tokensOut: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
// created_at columns default to unixepoch('subsec') * 1000, which may be stored as a real: round before subtracting or bucketing.
const day = (col: string) => sql.raw(`strftime('%Y-%m-%d', cast(${col} as integer) / 1000, 'unixepoch')`);
const project = (alias: string) => sql.raw(`coalesce(${alias}.project_id, '${DEFAULT_PROJECT_ID}')`);

function emptyOutcomes(): Record<RunOutcome, number> {
  return { succeeded: 0, failed: 0, killed: 0, rolled_back: 0, active: 0 };
}

export function computeTrends(db: Db, raw: z.input<typeof trendsInput>, now = Date.now()): Trends {
  const input = trendsInput.parse(raw);
  const until = now;
  const since = now - input.days * DAY_MS;
  const pid = input.projectId ?? null;
  // `?` placeholders only: the period and the project come from the caller.
  const inProject = (alias: string) => (pid ? sql`and ${project(alias)} = ${pid}` : sql``);
  const terminal = sql.join(
    TERMINAL_STATES.map((s) => sql`${s}`),
    sql`, `,
  );

  const outcomeRows = db.all<{ day: string; outcome: RunOutcome; n: number }>(sql`
    select ${day("r.created_at")} as day,
           case when r.state in (${terminal}) then r.state else 'active' end as outcome,
           count(*) as n
    from runs r
    where r.created_at >= ${since} and r.created_at < ${until} ${inProject("r")}
    group by day, outcome
    order by day`);
  const totals = emptyOutcomes();
  const byDayMap = new Map<string, Record<RunOutcome, number>>();
  for (const r of outcomeRows) {
    totals[r.outcome] += r.n;
    const counts = byDayMap.get(r.day) ?? emptyOutcomes();
    counts[r.outcome] += r.n;
    byDayMap.set(r.day, counts);
  }

  // Waits of requests a person decided (approved or denied), by the day they were asked; nearest-rank percentiles
  // (the ceil(p·n)-th smallest wait) with window functions, as SQLite has no percentile aggregate.
  const waits = sql`
    select cast(round(a.decided_at - a.created_at) as integer) as wait, ${day("a.created_at")} as day
    from approvals a join runs r on r.id = a.run_id
    where a.decided_at is not null and a.state in ('approved', 'denied')
      and a.created_at >= ${since} and a.created_at < ${until} ${inProject("r")}`;
  const waitByDay = db.all<{ day: string; n: number; p50: number; p95: number }>(sql`
    with w as (${waits}),
    ranked as (select day, wait, row_number() over (partition by day order by wait) as rn, count(*) over (partition by day) as n from w)
    select day, n,
           max(case when rn = (n * 50 + 99) / 100 then wait end) as p50,
           max(case when rn = (n * 95 + 99) / 100 then wait end) as p95
    from ranked group by day order by day`);
  const waitAll = db.get<{ n: number; p50: number | null; p95: number | null }>(sql`
    with w as (${waits}),
    ranked as (select wait, row_number() over (order by wait) as rn, count(*) over () as n from w)
    select count(*) as n,
           max(case when rn = (n * 50 + 99) / 100 then wait end) as p50,
           max(case when rn = (n * 95 + 99) / 100 then wait end) as p95
    from ranked`);

  // A rule's deny rate: the calls it judged that did not run because the policy denied them or a reviewer did.
  const ruleRows = db.all<{ rule: string; calls: number; policy: number; reviewer: number }>(sql`
    select t.rule as rule, count(*) as calls,
           sum(case when t.verdict = 'deny' then 1 else 0 end) as policy,
           sum(case when t.verdict <> 'deny' and t.error_code = 'DENIED_BY_REVIEWER' then 1 else 0 end) as reviewer
    from tool_calls t join runs r on r.id = t.run_id
    where t.rule is not null and t.created_at >= ${since} and t.created_at < ${until} ${inProject("r")}
    group by t.rule`);
  const denyRateByRule = ruleRows
    .map((r) => ({ rule: r.rule, calls: r.calls, deniedByPolicy: r.policy, deniedByReviewer: r.reviewer, denyRate: (r.policy + r.reviewer) / r.calls }))
    .sort((a, b) => b.denyRate - a.denyRate || b.calls - a.calls || a.rule.localeCompare(b.rule));

  // Tokens of the runs created in the period, from each model turn's reported usage (run_events is indexed by run):
  // summed once per run, then grouped by model and by project here (a period holds far fewer runs than turns).
  const perRun = db.all<{ modelId: string | null; model: string; projectId: string; project: string; tin: number | null; tout: number | null }>(sql`
    with period as (select r.id from runs r where r.created_at >= ${since} and r.created_at < ${until} ${inProject("r")}),
    usage as (
      select e.run_id as run_id,
             sum(json_extract(e.payload, '$.usage.promptTokens')) as tin,
             sum(json_extract(e.payload, '$.usage.completionTokens')) as tout
      from period join run_events e on e.run_id = period.id and e.type = 'model_message'
      group by e.run_id)
    select r.model_id as modelId, coalesce(m.name, 'No model (external agent)') as model,
           ${project("r")} as projectId, coalesce(p.name, ${project("r")}) as project, u.tin as tin, u.tout as tout
    from period join runs r on r.id = period.id
    left join usage u on u.run_id = r.id
    left join models m on m.id = r.model_id
    left join projects p on p.id = ${project("r")}`);
  const tokens = (key: (r: (typeof perRun)[number]) => { id: string | null; name: string }): TokenRow[] => {
    const groups = new Map<string | null, TokenRow>();
    for (const r of perRun) {
      const k = key(r);
      const row = groups.get(k.id) ?? { id: k.id, name: k.name, runs: 0, tokensIn: 0, tokensOut: 0 };
      row.runs++;
      row.tokensIn += r.tin ?? 0;
      row.tokensOut += r.tout ?? 0;
      groups.set(k.id, row);
    }
    return [...groups.values()].sort((a, b) => b.tokensIn + b.tokensOut - (a.tokensIn + a.tokensOut) || a.name.localeCompare(b.name));
  };

  const redteamRows = db.all<{ id: string; at: number; project: string; summary: string }>(sql`
    select t.id as id, cast(t.created_at as integer) as at, coalesce(p.name, t.project_id) as project, t.summary as summary
    from redteam_reports t left join projects p on p.id = t.project_id
    where t.state = 'done' and t.created_at >= ${since} and t.created_at < ${until} ${pid ? sql`and t.project_id = ${pid}` : sql``}
    order by t.created_at`);
  const redteam = redteamRows.map((r) => {
    const s = JSON.parse(r.summary) as Record<string, unknown>;
    const n = (k: string) => (typeof s[k] === "number" ? (s[k] as number) : 0);
    return {
      id: r.id,
      at: r.at,
      project: r.project,
      total: n("total"),
      blocked: n("blocked"),
      escalated: n("escalated"),
      contained: n("contained"),
      escaped: n("escaped"),
    };
  });

  return {
    days: input.days,
    since,
    until,
    projectId: pid,
    runsByOutcome: { totals, byDay: [...byDayMap].map(([d, counts]) => ({ day: d, counts })) },
    approvalWaits: {
      count: waitAll?.n ?? 0,
      p50Ms: waitAll?.p50 ?? null,
      p95Ms: waitAll?.p95 ?? null,
      byDay: waitByDay.map((w) => ({ day: w.day, count: w.n, p50Ms: w.p50, p95Ms: w.p95 })),
    },
    denyRateByRule,
    tokensByModel: tokens((r) => ({ id: r.modelId, name: r.model })),
    tokensByProject: tokens((r) => ({ id: r.projectId, name: r.project })),
    redteam,
  };
}
