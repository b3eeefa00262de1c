import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./default-policy";
import { normaliseToolCall } from "./normalise";
import { decide, type Decision, type ToolCallForPolicy, type Verdict } from "./policy";
import { REDTEAM_CASES, type RedteamCase } from "./redteam-cases";

const RANK: Record<Verdict, number> = { allow: 0, ask: 1, deny: 2 };

function label(c: RedteamCase): string {
  const subject = c.tool === "run_command" ? String(c.args.command) : `${c.tool} ${JSON.stringify(c.args)}`;
  const shown = subject.length > 70 ? `${subject.slice(0, 67)}…` : subject;
  return `${shown.replace(/\n/g, "⏎").replace(/\0/g, "\\0")} → ${c.verdict} (${c.rule})`;
}

/** Decides the case the way the gateway would, except that a refused path is still shown to the policy. */
function decideCase(c: RedteamCase): Decision {
  const prepared = normaliseToolCall(c.tool, c.args);
  if (c.refused) {
    expect(prepared).toMatchObject({ ok: false, code: "OUT_OF_WORKSPACE" });
    return decide({ ...c.args, tool: c.tool } as ToolCallForPolicy);
  }
  expect(prepared.ok, JSON.stringify(prepared)).toBe(true);
  return decide((prepared as { ok: true; call: ToolCallForPolicy }).call);
}

describe("the supervised policy against red-team scenarios", () => {
  it("has a table of at least 120 cases", () => {
    expect(REDTEAM_CASES.length).toBeGreaterThanOrEqual(120);
  });

  it.each(REDTEAM_CASES.map((c) => [label(c), c] as const))("%s", (_name, c) => {
    const decision = decideCase(c);
    expect({ verdict: decision.verdict, rule: decision.rule }, decision.reason).toEqual({ verdict: c.verdict, rule: c.rule });
    expect(decision.reason.length).toBeGreaterThan(10);
    expect(decision.reason, "every placeholder is filled").not.toMatch(/\{[a-z]+\}/);

    if (c.category !== "benign") expect(decision.verdict).not.toBe("allow");
    if (c.requiredApprovals !== undefined) expect(decision.requiredApprovals).toBe(c.requiredApprovals);
    if (c.allowSelfApproval !== undefined) expect(decision.allowSelfApproval).toBe(c.allowSelfApproval);

    if (decision.parts) {
      // The strictest part decides, and the decision names it.
      const strictest = Math.max(...decision.parts.map((p) => RANK[p.verdict]));
      expect(RANK[decision.verdict]).toBe(strictest);
      const deciding = decision.parts.filter((p) => p.verdict === decision.verdict && p.rule === decision.rule);
      expect(deciding.length).toBeGreaterThan(0);
      if (c.part !== undefined) expect(deciding.map((p) => p.command)).toContain(c.part);
    } else {
      expect(c.part).toBeUndefined();
    }
  });

  it("exercises every deny rule of the default policy at least once", () => {
    const decided = new Set(REDTEAM_CASES.map((c) => c.rule));
    const denyRules = DEFAULT_POLICY.rules.filter((r) => r.outcome === "deny").map((r) => r.id);
    expect(denyRules.filter((id) => !decided.has(id))).toEqual([]);
  });
});
