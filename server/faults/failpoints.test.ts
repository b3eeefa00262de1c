import { describe, expect, it } from "vitest";
import { readConfig, readFailpoints } from "@/server/config/env";

describe("AIRLOCK_FAILPOINTS", () => {
  it("is empty unless set, so production never meets a kill point", () => {
    expect(readFailpoints({})).toEqual([]);
    expect(readConfig({}).failpoints).toEqual([]);
  });

  it("reads kill points, each firing on its first hit unless @N names another", () => {
    expect(readFailpoints({ AIRLOCK_FAILPOINTS: " mid-checkpoint@2, mid-stream ," })).toEqual([
      { point: "mid-checkpoint", hit: 2 },
      { point: "mid-stream", hit: 1 },
    ]);
  });

  it("refuses an unknown point or a bad hit, naming the variable and the known points", () => {
    expect(() => readConfig({ AIRLOCK_FAILPOINTS: "mid-checkpont" })).toThrow(
      /AIRLOCK_FAILPOINTS: "mid-checkpont" is not a kill point; known points: .*mid-checkpoint/,
    );
    expect(() => readFailpoints({ AIRLOCK_FAILPOINTS: "mid-stream@0" })).toThrow(
      /AIRLOCK_FAILPOINTS: "mid-stream@0": the hit after @ must be a whole number from 1/,
    );
  });
});
