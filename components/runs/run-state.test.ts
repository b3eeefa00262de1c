import { describe, expect, it } from "vitest";
import { outcomeMeta, planProgress, stateMeta } from "@/components/runs/run-state";

describe("honest run outcomes", () => {
  it("H1: a success claim after denied calls reads as finished with the denials, in amber, never as green 'Succeeded'", () => {
    expect(outcomeMeta("succeeded", 1)).toMatchObject({ label: "Finished — the agent reports success · 1 call denied", tone: "caution" });
    expect(outcomeMeta("succeeded", 3).label).toBe("Finished — the agent reports success · 3 calls denied");
    expect(outcomeMeta("succeeded", 3).tone).not.toBe("success");
  });

  it("H2: a success without denials, and other states, keep their usual label", () => {
    expect(outcomeMeta("succeeded", 0)).toEqual(stateMeta("succeeded"));
    expect(outcomeMeta("failed", 2)).toEqual(stateMeta("failed"));
  });

  it("H3: plan progress counts only the steps the agent reported done", () => {
    expect(planProgress(3, 1, true, 2)).toBe("1 of 3 steps reported done");
    expect(planProgress(3, 3, true, 3)).toBe("all steps reported done");
    expect(planProgress(3, 1, false, 2)).toBe("on step 2");
  });
});
