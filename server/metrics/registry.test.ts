// The /metrics registry over a real SQLite file seeded with ~10k events: the
// database-derived families count what the tables hold, with bounded labels,
// and only grow; the scrape's time is measured (reported, not asserted).
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvals, runs, toolCalls, RUN_STATES } from "@/db/schema";
import { appendAuditEvents } from "@/server/audit/chain";
import { createMetricsRegistry } from "@/server/metrics/registry";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { readExposition, type Exposition } from "@/test/helpers/prometheus";
import { addUser, SETUP_ACTOR } from "@/test/helpers/users";

let t: TestDb;
const RUNS = 500;
const CALLS = 10_000;
const APPROVALS = 2_000;
const EVENTS = 10_000;

async function scrape(): Promise<{ x: Exposition; ms: number }> {
  const registry = createMetricsRegistry(t.db, { processMetrics: false });
  const started = performance.now();
  const text = await registry.metrics();
  return { ms: performance.now() - started, x: readExposition(text) };
}

beforeAll(async () => {
  t = createTestDb();
  const operator = await addUser(t.db, "operator");
  const now = Date.now();
  t.db.transaction((tx) => {
    for (let i = 0; i < RUNS; i++) {
      tx.insert(runs)
        .values({
          id: `run-${i}`,
          title: "seeded",
          task: "seeded",
          state: RUN_STATES[i % RUN_STATES.length]!,
          createdBy: operator.id,
          limits: { memoryMb: 512, cpus: 1, pids: 128, commandTimeoutS: 60, runTimeoutS: 600, maxSteps: 50, maxToolCalls: 200, tokenBudget: 100000 },
          updatedAt: new Date(now),
        })
        .run();
    }
    const tools = ["read_file", "write_file", "run_command", "no_such_tool_" + crypto.randomUUID()];
    const verdicts = ["allow", "ask", "deny", null] as const;
    for (let i = 0; i < CALLS; i++) {
      tx.insert(toolCalls)
        .values({
          id: `call-${i}`,
          runId: `run-${i % RUNS}`,
          seq: Math.floor(i / RUNS),
          tool: tools[i % 4]!,
          args: {},
          verdict: verdicts[(i >> 2) % 4] ?? null,
          state: "succeeded",
        })
        .run();
    }
    for (let i = 0; i < APPROVALS; i++) {
      const created = now - 3_600_000;
      // Waits of 0.5 s, 10 s, 100 s and 1000 s, a quarter each.
      const waitMs = [500, 10_000, 100_000, 1_000_000][i % 4]!;
      tx.insert(approvals)
        .values({
          id: `approval-${i}`,
          runId: `run-${i % RUNS}`,
          kind: i % 2 ? "tool" : "plan",
          tool: "write_file",
          args: {},
          verdict: "ask",
          reason: "seeded",
          state: i % 10 === 9 ? "pending" : i % 3 ? "approved" : "denied",
          requestedBy: operator.id,
          expiresAt: new Date(now + 3_600_000),
          createdAt: new Date(created),
          decidedAt: i % 10 === 9 ? null : new Date(created + waitMs),
        })
        .run();
    }
  });
  t.db.transaction(
    (tx) =>
      appendAuditEvents(
        tx,
        Array.from({ length: EVENTS }, (_, i) => ({ actor: SETUP_ACTOR, input: { action: "seeded.event", details: { i } } })),
      ),
    {
      behavior: "immediate",
    },
  );
}, 120_000);
afterAll(() => t?.close());

describe("metrics read from the database", () => {
  it("counts runs by state, tool calls by tool and verdict, approval waits and the audit chain as the tables hold them", async () => {
    await scrape(); // the first scrape prepares the statements
    const { x, ms } = await scrape();
    console.log(`metrics scrape over ${RUNS} runs, ${CALLS} tool calls, ${APPROVALS} approvals, ${EVENTS} audit events: ${ms.toFixed(1)} ms`);

    expect(x.families.get("airlock_runs")?.type).toBe("GAUGE");
    const byState = RUN_STATES.map((state) => x.value("airlock_runs", { state }));
    expect(byState.reduce((a, b) => a + b, 0)).toBe(RUNS);
    expect(x.value("airlock_runs", { state: "queued" })).toBe(Math.ceil(RUNS / RUN_STATES.length));

    expect(x.families.get("airlock_tool_calls_total")?.type).toBe("COUNTER");
    expect(x.value("airlock_tool_calls_total", { tool: "write_file", verdict: "ask" })).toBe(CALLS / 16);
    expect(x.value("airlock_tool_calls_total", { tool: "read_file", verdict: "none" })).toBe(CALLS / 16);
    // A name the model made up is folded into "invalid": an agent cannot add series.
    expect(x.value("airlock_tool_calls_total", { tool: "invalid", verdict: "allow" })).toBe(CALLS / 16);
    expect(x.samples("airlock_tool_calls_total").some((s) => s.labels.tool!.startsWith("no_such_tool"))).toBe(false);

    expect(x.families.get("airlock_approval_wait_seconds")?.type).toBe("HISTOGRAM");
    const counts = x.samples("airlock_approval_wait_seconds_count");
    expect(counts.reduce((n, s) => n + s.value, 0)).toBe(APPROVALS - APPROVALS / 10); // the pending ones have not waited to the end
    const plans = { kind: "plan", outcome: "approved" };
    const planCount = x.value("airlock_approval_wait_seconds_count", plans);
    // Plans (even rows) waited 0.5 s or 100 s: the 1 s bucket holds the first, the 120 s bucket both, +Inf all.
    expect(x.value("airlock_approval_wait_seconds_bucket", { ...plans, le: "1" })).toBeGreaterThan(0);
    expect(x.value("airlock_approval_wait_seconds_bucket", { ...plans, le: "1" })).toBeLessThan(
      x.value("airlock_approval_wait_seconds_bucket", { ...plans, le: "120" }),
    );
    expect(x.value("airlock_approval_wait_seconds_bucket", { ...plans, le: "+Inf" })).toBe(planCount);
    expect(x.value("airlock_approvals_pending")).toBe(APPROVALS / 10);

    expect(x.value("airlock_audit_chain_length")).toBeGreaterThanOrEqual(EVENTS);
  });

  it("the database-derived counters only grow: a new tool call adds one, nothing is lost between scrapes", async () => {
    const series = { tool: "run_command", verdict: "deny" };
    const before = (await scrape()).x.value("airlock_tool_calls_total", series);
    t.db.insert(toolCalls).values({ id: "call-extra", runId: "run-0", seq: 9999, tool: "run_command", args: {}, verdict: "deny", state: "refused" }).run();
    expect((await scrape()).x.value("airlock_tool_calls_total", series)).toBe(before + 1);
  });

  it("lists the in-process families with every known series before anything happened", async () => {
    const { x } = await scrape();
    expect(x.value("airlock_egress_decisions_total", { decision: "refused" })).toBeGreaterThanOrEqual(0);
    expect(x.value("airlock_notification_deliveries_total", { channel: "email", status: "failed" })).toBeGreaterThanOrEqual(0);
    expect(x.value("airlock_container_start_failures_total", { runtime: "runsc" })).toBeGreaterThanOrEqual(0);
    expect(x.families.get("airlock_gateway_latency_seconds")?.type).toBe("HISTOGRAM");
  });
});
