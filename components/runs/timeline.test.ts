import { describe, expect, it } from "vitest";
import { RunTimeline, type RunEventLike, type ToolCallItem } from "@/components/runs/timeline";

let id = 0;
const ev = (type: string, payload: Record<string, unknown>): RunEventLike => ({ id: ++id, type, payload, at: new Date(0) });

describe("RunTimeline", () => {
  it("streams model text until the message arrives, and applies each event once", () => {
    const t = new RunTimeline();
    const d1 = ev("model_delta", { text: "Hel" });
    const d2 = ev("model_delta", { text: "lo" });
    t.apply([d1, d2]);
    expect(t.getSnapshot().streaming).toBe("Hello");
    // A replay after a reconnect changes nothing.
    expect(t.apply([d1, d2])).toBe(false);
    t.apply([ev("model_message", { content: "Hello", toolCalls: [], usage: { promptTokens: 10, completionTokens: 2 } })]);
    const snap = t.getSnapshot();
    expect(snap.streaming).toBe("");
    expect(snap.items).toMatchObject([{ kind: "message", content: "Hello", tokens: 12 }]);
  });

  it("a queued run's timeline says why it waits once per reason, not at every move in line", () => {
    const t = new RunTimeline();
    const slot = "waiting for a slot: 2 of 2 runs are executing on this instance";
    t.apply([ev("queue", { position: 3, reason: slot }), ev("queue", { position: 2, reason: slot })]);
    t.apply([ev("queue", { position: 1, reason: "waiting for memory: 3.5 of 4 GiB reserved by running runs; this run needs 1 GiB" })]);
    expect(t.getSnapshot().items.map((i) => (i.kind === "note" ? i.text : i.kind))).toEqual([
      `Queued: ${slot}.`,
      "Queued: waiting for memory: 3.5 of 4 GiB reserved by running runs; this run needs 1 GiB.",
    ]);
  });

  it("drops the partial text when a model error says to discard it", () => {
    const t = new RunTimeline();
    t.apply([ev("model_delta", { text: "half an ans" }), ev("error", { source: "model", message: "reset (retry 1 in 1 s)", discardPartial: true })]);
    expect(t.getSnapshot().streaming).toBe("");
    expect(t.getSnapshot().items).toMatchObject([{ kind: "error", source: "model" }]);
  });

  it("folds decision, approval, output and result into the tool call's card", () => {
    const t = new RunTimeline();
    t.apply([
      ev("tool_call", { toolCallId: "c1", seq: 1, tool: "run_command", args: { command: "echo hi" } }),
      ev("decision", { toolCallId: "c1", tool: "run_command", verdict: "ask", rule: "r1", reason: "why", parts: [] }),
      ev("approval", { approvalId: "a1", kind: "tool", tool: "run_command", state: "pending", rule: "r1", reason: "why" }),
      ev("state", { from: "running", to: "awaiting_approval", reason: "waiting", by: "agent:x" }),
      ev("approval", { approvalId: "a1", kind: "tool", tool: "run_command", state: "approved", by: "rev@x", reason: null, edited: true }),
      ev("output", { toolCallId: "c1", stream: "stdout", text: "hi\n" }),
      ev("tool_result", { toolCallId: "c1", ok: true, code: null, message: null, result: { ok: true, exit_code: 0 } }),
    ]);
    const items = t.getSnapshot().items;
    expect(items.map((i) => i.kind)).toEqual(["tool", "state"]);
    const call = items[0] as ToolCallItem;
    expect(call.decision).toMatchObject({ verdict: "ask", rule: "r1", reason: "why" });
    expect(call.approval).toMatchObject({ approvalId: "a1", state: "approved", by: "rev@x", edited: true, reason: null });
    expect(call.log!.lines[0]!.text).toBe("hi");
    expect(call.logVersion).toBe(1);
    expect(call.result).toMatchObject({ ok: true });
  });

  it("keeps a refusal's code and message", () => {
    const t = new RunTimeline();
    t.apply([
      ev("tool_call", { toolCallId: "c2", seq: 2, tool: "write_file", args: { path: "x" } }),
      ev("tool_result", { toolCallId: "c2", ok: false, code: "PLAN_REQUIRED", message: "Submit a plan first.", result: { ok: false } }),
    ]);
    expect((t.getSnapshot().items[0] as ToolCallItem).result).toMatchObject({ ok: false, code: "PLAN_REQUIRED", message: "Submit a plan first." });
  });

  it("shows egress grants and refused connections as items and folds allowed connections in a row into one line", () => {
    const t = new RunTimeline();
    t.apply([
      ev("egress_grant", { action: "granted", domains: ["pypi.org", "files.pythonhosted.org"], reason: "deps", by: "rev@x" }),
      ev("egress", { verdict: "allowed", method: "CONNECT", host: "pypi.org", port: 443, bytesUp: 100, bytesDown: 2000 }),
      ev("egress", { verdict: "allowed", method: "CONNECT", host: "files.pythonhosted.org", port: 443, bytesUp: 50, bytesDown: 9000 }),
      ev("egress", { verdict: "allowed", method: "CONNECT", host: "pypi.org", port: 443, bytesUp: 10, bytesDown: 10 }),
      ev("egress", { verdict: "refused", method: "CONNECT", host: "evil.example", port: 443, reason: "not granted", status: 403 }),
      ev("egress_grant", { action: "revoked", domains: ["pypi.org"], reason: null, by: "rev@x" }),
    ]);
    expect(t.getSnapshot().items).toMatchObject([
      { kind: "egress", event: "granted", domains: ["pypi.org", "files.pythonhosted.org"], by: "rev@x", reason: "deps" },
      { kind: "egress", event: "allowed", connections: 3, bytesUp: 160, bytesDown: 11010, hosts: ["pypi.org", "files.pythonhosted.org"] },
      { kind: "egress", event: "refused", host: "evil.example", port: 443, reason: "not granted" },
      { kind: "egress", event: "revoked", domains: ["pypi.org"] },
    ]);
  });
});
