import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "../default-policy";
import { simulateCall } from "@/server/projects/simulate-call";
import { POLICY_CORPUS, type CorpusEntry } from "./policy-corpus";

function judge(entry: CorpusEntry) {
  return simulateCall(DEFAULT_POLICY, { tool: "run_command", args: { command: entry.command } });
}

describe("policy corpus (issue 12): peers' safe lists and reported bypasses through the default policy", () => {
  const readOnly = POLICY_CORPUS.filter((e) => e.label === "read-only");
  const unsafe = POLICY_CORPUS.filter((e) => e.label === "unsafe");

  it("is large enough, has no duplicates, and names a source for every entry", () => {
    expect(readOnly.length).toBeGreaterThanOrEqual(150);
    expect(unsafe.length).toBeGreaterThanOrEqual(100);
    const seen = new Set<string>();
    for (const entry of POLICY_CORPUS) {
      expect(entry.source, entry.command).toMatch(/^(https:\/\/|[\w.-]+\/[\w.-]+:|airlock issue|coreutils)/);
      expect(seen.has(entry.command), `duplicate: ${entry.command}`).toBe(false);
      seen.add(entry.command);
    }
  });

  it("allows no unsafe command, and runs at least 95 % of the read-only ones without asking", () => {
    const unsafeAllowed = unsafe.filter((e) => judge(e).verdict === "allow");
    const readOnlyResults = readOnly.map((e) => ({ entry: e, result: judge(e) }));
    const readOnlyAllowed = readOnlyResults.filter((r) => r.result.verdict === "allow");
    const share = (100 * readOnlyAllowed.length) / readOnly.length;
    console.log(
      `policy corpus: unsafe allowed ${unsafeAllowed.length}/${unsafe.length}, read-only allowed ${readOnlyAllowed.length}/${readOnly.length} (${share.toFixed(1)} %)`,
    );
    const asked = readOnlyResults.filter((r) => r.result.verdict !== "allow").map((r) => `${r.entry.command} → ${r.result.verdict} (${r.result.rule})`);
    if (asked.length > 0) console.log(`policy corpus: read-only commands still asked:\n  ${asked.join("\n  ")}`);
    expect(
      unsafeAllowed.map((e) => `${e.command} (${e.source})`),
      "unsafe commands allowed",
    ).toEqual([]);
    expect(share, asked.join("\n")).toBeGreaterThanOrEqual(95);
  });
});
