// The /metrics registry: its own prom-client Registry (never the global one)
// with the process metrics, the in-process instruments (instruments.ts) and
// families read from the database at scrape time, where the database holds the
// truth: runs by state, tool calls by tool and verdict, approval waits, the
// audit chain's length. Those rows are never deleted (runs, tool calls,
// approvals and audit events have no retention), so the counters read from
// them only grow and survive restarts; each scrape runs one aggregate query
// per family, over indexes where one exists.
import type Database from "better-sqlite3";
import { collectDefaultMetrics, Gauge, Registry, type MetricObjectWithValues, type MetricValueWithName } from "prom-client";
import type { Db } from "@/db/client";
import { RUN_STATES } from "@/db/schema";
import { instruments } from "@/server/metrics/instruments";
import { TOOL_NAMES } from "@/server/tools/palette";

/** Seconds a request waited for its decision; reviewers take minutes, an expiry up to hours. */
export const APPROVAL_WAIT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

/** A metric family the registry computes itself (prom-client's Histogram cannot be set from an aggregate). */
interface ComputedMetric {
  name: string;
  help: string;
  type: "counter" | "histogram";
  aggregator: "sum";
  get(): MetricObjectWithValues<MetricValueWithName<string>>;
}

function computed(name: string, help: string, type: ComputedMetric["type"], values: () => MetricValueWithName<string>[]): ComputedMetric {
  return { name, help, type, aggregator: "sum", get: () => ({ name, help, type, aggregator: "sum", values: values() }) as never };
}

const PALETTE: ReadonlySet<string> = new Set(TOOL_NAMES);

/** Prepared once per connection: a scrape must stay cheap. */
function statements(sqlite: Database.Database) {
  const waitSeconds = "(decided_at - created_at) / 1000.0";
  return {
    runsByState: sqlite.prepare("select state, count(*) as n from runs group by state"),
    // Grouped in the order of tool_calls_tool_verdict_idx: a scan of that index alone, no sort.
    toolCalls: sqlite.prepare("select tool, verdict, count(*) as n from tool_calls group by tool, verdict"),
    approvalWaits: sqlite.prepare(
      `select kind, state, count(*) as n, coalesce(sum(${waitSeconds}), 0) as total, ` +
        APPROVAL_WAIT_BUCKETS.map((b, i) => `sum(case when ${waitSeconds} <= ${b} then 1 else 0 end) as b${i}`).join(", ") +
        " from approvals where decided_at is not null group by kind, state",
    ),
    auditHead: sqlite.prepare("select count from audit_head where id = 1"),
    pendingApprovals: sqlite.prepare("select count(*) from approvals where state = 'pending'").pluck(),
  };
}

type Row = Record<string, unknown>;

/** Builds a registry reading `db` at each scrape. */
export function createMetricsRegistry(db: Db, opts: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  const st = statements(db.$client);

  new Gauge({
    name: "airlock_runs",
    help: "Runs by state (every state listed, 0 when none).",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const counts = new Map((st.runsByState.all() as Row[]).map((r) => [String(r.state), Number(r.n)]));
      for (const state of RUN_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });

  registry.registerMetric(
    computed("airlock_tool_calls_total", "Tool calls the gateway received, by tool and policy verdict (none: refused before judging).", "counter", () => {
      // The agent chooses the tool name it sends (recorded as sent): names outside the palette count as "invalid", so a model cannot add series.
      const counts = new Map<string, { tool: string; verdict: string; value: number }>();
      for (const r of st.toolCalls.all() as Row[]) {
        const tool = PALETTE.has(String(r.tool)) ? String(r.tool) : "invalid";
        const verdict = r.verdict == null ? "none" : String(r.verdict);
        const key = `${tool}\u0000${verdict}`;
        const entry = counts.get(key) ?? { tool, verdict, value: 0 };
        entry.value += Number(r.n);
        counts.set(key, entry);
      }
      return [...counts.values()].map(({ tool, verdict, value }) => ({ labels: { tool, verdict }, value }));
    }) as never,
  );

  registry.registerMetric(
    computed(
      "airlock_approval_wait_seconds",
      "How long decided approval requests waited, from request to decision, by kind (plan, tool, step) and outcome (approved, denied, expired, cancelled).",
      "histogram",
      () => {
        const values: MetricValueWithName<string>[] = [];
        for (const r of st.approvalWaits.all() as Row[]) {
          const labels = { kind: String(r.kind), outcome: String(r.state) };
          APPROVAL_WAIT_BUCKETS.forEach((le, i) =>
            values.push({ metricName: "airlock_approval_wait_seconds_bucket", labels: { ...labels, le }, value: Number(r[`b${i}`]) }),
          );
          values.push({ metricName: "airlock_approval_wait_seconds_bucket", labels: { ...labels, le: "+Inf" }, value: Number(r.n) });
          values.push({ metricName: "airlock_approval_wait_seconds_sum", labels, value: Number(r.total) });
          values.push({ metricName: "airlock_approval_wait_seconds_count", labels, value: Number(r.n) });
        }
        return values;
      },
    ) as never,
  );

  new Gauge({
    name: "airlock_audit_chain_length",
    help: "Events in the audit chain (its sealed head's count).",
    registers: [registry],
    collect() {
      this.set(Number((st.auditHead.get() as Row | undefined)?.count ?? 0));
    },
  });

  new Gauge({
    name: "airlock_approvals_pending",
    help: "Approval requests waiting for a decision now.",
    registers: [registry],
    collect() {
      this.set(Number(st.pendingApprovals.get() ?? 0));
    },
  });

  for (const metric of Object.values(instruments())) registry.registerMetric(metric);
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "airlock_" });
  return registry;
}

// One per process (on globalThis: Next.js bundles route handlers apart), built at the first scrape.
const store = globalThis as unknown as { __airlockMetricsRegistry?: { db: Db; registry: Registry } };

export function metricsRegistry(db: Db): Registry {
  if (store.__airlockMetricsRegistry?.db !== db) store.__airlockMetricsRegistry = { db, registry: createMetricsRegistry(db) };
  return store.__airlockMetricsRegistry.registry;
}
