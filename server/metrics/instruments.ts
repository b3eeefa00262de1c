// Prometheus instruments for what the database does not record: the gateway's
// own latency, container starts by runtime, notification deliveries, the
// egress proxy's decisions and the audit stream's exports. They count in this
// process (from its start; Prometheus handles the reset a restart causes). The
// one-line hooks in the gateway, the sandbox, the notify channels and the
// egress controller call the functions below; nothing here may throw into them.
import { AsyncLocalStorage } from "node:async_hooks";
import { Counter, Histogram } from "prom-client";
import { SANDBOX_RUNTIMES } from "@/db/schema";

/** Seconds: the gateway's own work for a call (validation, policy, execution, checkpoint), a reviewer's wait excluded. */
export const GATEWAY_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export type NotificationChannelName = "push" | "email" | "webhook";
/** delivered; failed (given up); retrying (an attempt failed and will be tried again). */
export type NotificationStatus = "delivered" | "failed" | "retrying";

export interface Instruments {
  gatewayLatency: Histogram<"tool" | "outcome">;
  containerStarts: Counter<"runtime">;
  containerStartFailures: Counter<"runtime">;
  notificationDeliveries: Counter<"channel" | "status">;
  egressDecisions: Counter<"decision">;
  auditExports: Counter<"result">;
}

function createInstruments(): Instruments {
  // registers: [] keeps them out of prom-client's global registry; server/metrics/registry.ts registers them in its own.
  const made: Instruments = {
    gatewayLatency: new Histogram({
      name: "airlock_gateway_latency_seconds",
      help: "Time the tool gateway spent on a call (validate, judge, execute, checkpoint), excluding time waiting for a reviewer, by tool and outcome (ok or the error code).",
      labelNames: ["tool", "outcome"],
      buckets: GATEWAY_LATENCY_BUCKETS,
      registers: [],
    }),
    containerStarts: new Counter({
      name: "airlock_container_starts_total",
      help: "Sandbox containers started, by container runtime (runc or runsc).",
      labelNames: ["runtime"],
      registers: [],
    }),
    containerStartFailures: new Counter({
      name: "airlock_container_start_failures_total",
      help: "Sandbox containers that failed to start, by container runtime.",
      labelNames: ["runtime"],
      registers: [],
    }),
    notificationDeliveries: new Counter({
      name: "airlock_notification_deliveries_total",
      help: "Notification deliveries by channel (push, email, webhook) and status (delivered, failed, retrying).",
      labelNames: ["channel", "status"],
      registers: [],
    }),
    egressDecisions: new Counter({
      name: "airlock_egress_decisions_total",
      help: "Connections the egress proxy allowed or refused.",
      labelNames: ["decision"],
      registers: [],
    }),
    auditExports: new Counter({
      name: "airlock_audit_export_records_total",
      help: "Audit events sent to the OTLP log endpoint (result: exported or failed).",
      labelNames: ["result"],
      registers: [],
    }),
  };
  // Every known series starts at 0, so a rate() or an alert sees it before the first event (and a scrape lists each family).
  for (const runtime of SANDBOX_RUNTIMES) {
    made.containerStarts.inc({ runtime }, 0);
    made.containerStartFailures.inc({ runtime }, 0);
  }
  for (const channel of ["push", "email", "webhook"] as const)
    for (const status of ["delivered", "failed", "retrying"] as const) made.notificationDeliveries.inc({ channel, status }, 0);
  for (const decision of ["allowed", "refused"]) made.egressDecisions.inc({ decision }, 0);
  for (const result of ["exported", "failed"]) made.auditExports.inc({ result }, 0);
  return made;
}

// On globalThis: Next.js compiles instrumentation.ts (supervisor, gateway) and the /metrics route as separate entries.
const store = globalThis as unknown as { __airlockInstruments?: Instruments };

export function instruments(): Instruments {
  store.__airlockInstruments ??= createInstruments();
  return store.__airlockInstruments;
}

/** Per gateway call: the time it spent waiting for a reviewer, subtracted from its latency. */
const reviewerWait = new AsyncLocalStorage<{ waitedMs: number }>();

/**
 * Times one gateway call: `handle` runs with a slot that timeReviewerWait fills,
 * and its result's outcome ("ok" or the error code) labels the observation.
 * `tool` must be a palette name (or "invalid"): the agent chooses the name it sends.
 */
export async function observeGatewayCall<T extends { ok: boolean; code?: string }>(tool: string, handle: () => Promise<T>): Promise<T> {
  const startedAt = performance.now();
  const slot = { waitedMs: 0 };
  const result = await reviewerWait.run(slot, handle);
  try {
    const seconds = Math.max(0, performance.now() - startedAt - slot.waitedMs) / 1000;
    instruments().gatewayLatency.observe({ tool, outcome: result.ok ? "ok" : (result.code ?? "error") }, seconds);
  } catch {
    // metrics never break a tool call
  }
  return result;
}

/** Waits for a reviewer inside a gateway call, and keeps that time out of the call's latency. */
export async function timeReviewerWait<T>(wait: () => Promise<T>): Promise<T> {
  const startedAt = performance.now();
  try {
    return await wait();
  } finally {
    const slot = reviewerWait.getStore();
    if (slot) slot.waitedMs += performance.now() - startedAt;
  }
}

/** Counts a sandbox start (or failure) around the promise that creates it; returns the promise unchanged. */
export async function observeContainerStart<T>(runtime: string | undefined, start: Promise<T>): Promise<T> {
  const label = { runtime: runtime ?? "runc" };
  try {
    const started = await start;
    instruments().containerStarts.inc(label);
    return started;
  } catch (err) {
    instruments().containerStartFailures.inc(label);
    throw err;
  }
}

export function countNotificationDelivery(channel: NotificationChannelName, status: NotificationStatus): void {
  instruments().notificationDeliveries.inc({ channel, status });
}

export function countEgressDecision(decision: "allowed" | "refused"): void {
  instruments().egressDecisions.inc({ decision });
}

export function countAuditExport(result: "exported" | "failed", records: number): void {
  if (records > 0) instruments().auditExports.inc({ result }, records);
}
