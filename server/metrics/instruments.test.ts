// The in-process instruments: the gateway's latency leaves out the time a call
// waited for a reviewer, and a sandbox start is counted as started or failed by runtime.
import { describe, expect, it } from "vitest";
import { instruments, observeContainerStart, observeGatewayCall, timeReviewerWait } from "@/server/metrics/instruments";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function series(metric: "gatewayLatency" | "containerStarts" | "containerStartFailures", name: string, labels: Record<string, string>): Promise<number> {
  const got = await instruments()[metric].get();
  const values = got.values as { metricName?: string; labels: Record<string, string | number | undefined>; value: number }[];
  return values.find((v) => (v.metricName ?? got.name) === name && Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
}

describe("gateway latency", () => {
  it("a call that waited 400 ms for a reviewer is observed without that wait", async () => {
    const labels = { tool: "write_file", outcome: "ok" };
    const countBefore = await series("gatewayLatency", "airlock_gateway_latency_seconds_count", labels);
    const sumBefore = await series("gatewayLatency", "airlock_gateway_latency_seconds_sum", labels);
    const result = await observeGatewayCall("write_file", async () => {
      await sleep(20); // the gateway's own work
      await timeReviewerWait(() => sleep(400)); // the reviewer
      return { ok: true as const };
    });
    expect(result).toEqual({ ok: true });
    expect(await series("gatewayLatency", "airlock_gateway_latency_seconds_count", labels)).toBe(countBefore + 1);
    const observed = (await series("gatewayLatency", "airlock_gateway_latency_seconds_sum", labels)) - sumBefore;
    expect(observed).toBeGreaterThanOrEqual(0.015);
    expect(observed).toBeLessThan(0.3);
  });

  it("labels a refused call with its error code", async () => {
    const labels = { tool: "read_file", outcome: "OUT_OF_WORKSPACE" };
    const before = await series("gatewayLatency", "airlock_gateway_latency_seconds_count", labels);
    await observeGatewayCall("read_file", async () => ({ ok: false, code: "OUT_OF_WORKSPACE" }));
    expect(await series("gatewayLatency", "airlock_gateway_latency_seconds_count", labels)).toBe(before + 1);
  });
});

describe("container starts", () => {
  it("counts a start that fails as a failure of its runtime, and passes the error on", async () => {
    const before = await series("containerStartFailures", "airlock_container_start_failures_total", { runtime: "runsc" });
    await expect(observeContainerStart("runsc", Promise.reject(new Error("engine said no")))).rejects.toThrow("engine said no");
    expect(await series("containerStartFailures", "airlock_container_start_failures_total", { runtime: "runsc" })).toBe(before + 1);
    const started = await series("containerStarts", "airlock_container_starts_total", { runtime: "runc" });
    await observeContainerStart(undefined, Promise.resolve({ containerId: "x" }));
    expect(await series("containerStarts", "airlock_container_starts_total", { runtime: "runc" })).toBe(started + 1);
  });
});
