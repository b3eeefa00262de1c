import { describe, expect, it } from "vitest";
import { emitSignal } from "@/server/events/bus";
import { streamApprovalChanges } from "./review";

describe("the approvals feed (approvals.changes)", () => {
  it("issue 10: says ready, then one change per burst of approval signals, and ends when the reader leaves", async () => {
    const abort = new AbortController();
    const feed = streamApprovalChanges(abort.signal);
    expect(await feed.next()).toEqual({ done: false, value: { type: "ready" } });
    // Three changes while the inbox is busy refetching: it refetches once more, not three times.
    emitSignal("approvals:changed", { id: "a1" });
    emitSignal("approvals:changed", { id: "a2" });
    emitSignal("approvals:changed", { id: "a3" });
    expect(await feed.next()).toEqual({ done: false, value: { type: "changed" } });
    const next = feed.next();
    expect(await Promise.race([next, new Promise((r) => setTimeout(() => r("still waiting"), 100))])).toBe("still waiting");
    emitSignal("approvals:changed", { id: "a4" });
    expect(await next).toEqual({ done: false, value: { type: "changed" } });
    const last = feed.next();
    abort.abort();
    expect(await last).toEqual({ done: true, value: undefined });
  });
});
