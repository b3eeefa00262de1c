// Issue 12: which calls of one model turn are asked about together (so a reviewer can decide them as a batch).
import { describe, expect, it } from "vitest";
import { writesToAskTogether } from "@/server/agents/builtin-agent";

const w = (path: string, name = "write_file") => ({ name, argumentsText: JSON.stringify({ path, content: "x" }) });

describe("issue 12: a turn's writes are asked about together", () => {
  it("two or more writes to different files are", () => {
    expect(writesToAskTogether([w("src/a.ts"), w("src/b.ts", "edit_file")])).toBe(true);
  });
  it("a single call, a non-write in the turn, or two writes to the same file (however spelled) are not", () => {
    expect(writesToAskTogether([w("src/a.ts")])).toBe(false);
    expect(writesToAskTogether([w("src/a.ts"), { name: "run_command", argumentsText: '{"command":"ls"}' }])).toBe(false);
    expect(writesToAskTogether([w("src/a.ts"), w("./src/../src/a.ts", "edit_file")])).toBe(false);
    expect(writesToAskTogether([w("src/a.ts"), { name: "write_file", argumentsText: "not json" }])).toBe(false);
  });
});
