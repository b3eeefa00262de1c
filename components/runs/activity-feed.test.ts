// Issue 16: the activity feed without a card and two separator lines per
// write, with approved steps folded, filter chips and wait times.
import { describe, expect, it } from "vitest";
import {
  deciderOf,
  formatWait,
  isSettledStep,
  NO_FILTER,
  RunTimeline,
  visibleActivity,
  waitedMs,
  type RunEventLike,
  type ToolCallItem,
} from "@/components/runs/timeline";

let id = 0;
const ev = (type: string, payload: Record<string, unknown>, atS = 0): RunEventLike => ({ id: ++id, type, payload, at: new Date(atS * 1000) });

/** A write that asked, waited 134 s for a reviewer, and was approved; a read the policy allowed; a command the policy denied. */
function feed() {
  const t = new RunTimeline();
  t.apply([
    ev("model_message", { content: "", toolCalls: [{ id: "m1", name: "write_file", argumentsText: "{}" }] }, 0),
    ev("tool_call", { toolCallId: "w", seq: 1, tool: "write_file", args: { path: "/workspace/a.txt" } }, 0),
    ev("decision", { toolCallId: "w", verdict: "ask", rule: "writes-ask", reason: "writes need a review" }, 1),
    ev("approval", { approvalId: "ap1", toolCallId: "w", tool: "write_file", state: "pending" }, 1),
    ev("state", { from: "running", to: "awaiting_approval" }, 1),
    ev("approval", { approvalId: "ap1", toolCallId: "w", tool: "write_file", state: "approved", by: "rev@example.test" }, 135),
    ev("state", { from: "awaiting_approval", to: "running" }, 135),
    ev("tool_result", { toolCallId: "w", ok: true, result: { bytes: 3, path: "/workspace/a.txt" } }, 136),
    ev("tool_call", { toolCallId: "r", seq: 2, tool: "read_file", args: { path: "a.txt" } }, 137),
    ev("decision", { toolCallId: "r", verdict: "allow", rule: "reads", reason: "reads are fine" }, 137),
    ev("tool_result", { toolCallId: "r", ok: true, result: { content: "abc" } }, 137),
    ev("tool_call", { toolCallId: "c", seq: 3, tool: "run_command", args: { command: "rm -rf /" } }, 138),
    ev("decision", { toolCallId: "c", verdict: "deny", rule: "no-rm", reason: "no" }, 138),
    ev("tool_result", { toolCallId: "c", ok: false, code: "DENIED_BY_POLICY", message: "no" }, 138),
  ]);
  return t.getSnapshot().items;
}
const tool = (items: ReturnType<typeof feed>, callId: string) => items.find((i): i is ToolCallItem => i.kind === "tool" && i.toolCallId === callId)!;

describe("issue 16: the activity feed", () => {
  it("an approved write shows as one card: no empty turn and no running ⇄ awaiting approval separators", () => {
    const shown = visibleActivity(feed(), NO_FILTER);
    expect(shown.map((i) => (i.kind === "tool" ? i.tool : i.kind))).toEqual(["write_file", "read_file", "run_command"]);
  });

  it("says how long a request waited for a decision, and who decided each call", () => {
    const items = feed();
    expect(formatWait(waitedMs(tool(items, "w"))!)).toBe("2m 14s");
    expect(waitedMs(tool(items, "r"))).toBeNull();
    expect([deciderOf(tool(items, "w")), deciderOf(tool(items, "r")), deciderOf(tool(items, "c"))]).toEqual(["person", "policy", "policy"]);
  });

  it("approved and allowed steps fold to one line; a refused call stays open", () => {
    const items = feed();
    expect([isSettledStep(tool(items, "w")), isSettledStep(tool(items, "r")), isSettledStep(tool(items, "c"))]).toEqual([true, true, false]);
  });

  it("filter chips keep only the calls matching tool, verdict and who decided", () => {
    const items = feed();
    const calls = (f: Parameters<typeof visibleActivity>[1]) => visibleActivity(items, f).map((i) => (i.kind === "tool" ? i.toolCallId : i.kind));
    expect(calls({ ...NO_FILTER, verdicts: ["ask"] })).toEqual(["w"]);
    expect(calls({ ...NO_FILTER, deciders: ["policy"] })).toEqual(["r", "c"]);
    expect(calls({ ...NO_FILTER, tools: ["read_file", "run_command"], verdicts: ["deny"] })).toEqual(["c"]);
    expect(calls({ ...NO_FILTER, deciders: ["auto"] })).toEqual([]);
  });
});
