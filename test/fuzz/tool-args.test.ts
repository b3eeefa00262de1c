// Every tool's arguments through the gateway's validation (validateToolCall,
// parseToolArgs), with hostile input: validation never throws, a refusal is
// INVALID_INPUT with a message naming the field and what was wrong, and
// nothing leaks onto Object.prototype. Cases per tool: fuzzRuns(BASE).
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_ARGS_BYTES, validateToolCall } from "@/server/tools/gateway";
import { TOOL_NAMES, TOOL_SCHEMAS, parseToolArgs, type ToolName } from "@/server/tools/palette";
import {
  CaseTally,
  CrashWatch,
  deeplyNested,
  expectClearMessage,
  expectPrototypesClean,
  fuzzRuns,
  hostileString,
  hostileValue,
  pollutingObject,
  preview,
  schemaKeys,
  shapedInput,
} from "@/test/helpers/hostile";

const BASE = 100;
const tally = new CaseTally("tool arguments (validateToolCall)");
let crashes: CrashWatch;

beforeEach(() => {
  crashes = new CrashWatch().start();
});
afterEach(() => {
  crashes.stop();
  expect(crashes.seen).toEqual([]);
});
afterAll(() => tally.print());

/** Plausible values for any field, so some calls pass a field and fail on the next. */
const plausible = fc.oneof(
  fc.constantFrom("notes.txt", "src/a.ts", "ls -la", "web", "API_KEY", "npm", "https://registry.npmjs.org/", "success", "low"),
  fc.integer({ min: 1, max: 10 }),
  fc.boolean(),
  fc.constant([{ title: "Read", risk: "low", risk_note: "none" }]),
  fc.constant(["left-pad"]),
);

/** The refusal of one call: INVALID_INPUT, a clear message, naming the first offending field when there is one. */
function expectRefusal(tool: string, result: { ok: boolean; code?: string; message?: string }) {
  const context = `${tool}: ${result.message?.slice(0, 300)}`;
  expect(result.ok, context).toBe(false);
  expect(result.code, context).toBe("INVALID_INPUT");
  expectClearMessage(result.message, context);
}

describe("every tool's arguments through the gateway's validation", () => {
  it.each(TOOL_NAMES)("%s: hostile arguments are refused with INVALID_INPUT naming the field, never thrown", (tool) => {
    const keys = schemaKeys(TOOL_SCHEMAS[tool]);
    fc.assert(
      fc.property(fc.oneof(shapedInput(keys, plausible, { maxBig: 1_100_000 }), hostileValue({ maxBig: 1_100_000 })), (raw) => {
        tally.add(tool);
        const validation = validateToolCall(tool, raw);
        if (validation.ok) {
          // What passes is exactly what the schema allows (no extra keys, nothing inherited).
          expect(TOOL_SCHEMAS[tool].safeParse(validation.call.args).success).toBe(true);
          if (!Object.keys(validation.call.args).every((k) => keys.includes(k))) expect(Object.keys(validation.call.args)).toEqual(keys);
        } else {
          expectRefusal(tool, validation.result as { ok: boolean; code?: string; message?: string });
          const parsed = parseToolArgs(tool, raw ?? {});
          const first = parsed.success ? undefined : parsed.error.issues[0];
          const text = (validation.result as { message: string }).message;
          if (first?.path.length && !text.includes("the limit is") && !text.includes(String(first.path[0])))
            expect(text, preview(raw)).toContain(String(first.path[0]));
        }
        expectPrototypesClean(() => `${tool}(${preview(raw)})`);
      }),
      { numRuns: fuzzRuns(BASE) },
    );
  });

  it("an unknown or hostile tool name is refused with the list of tools, its name cut short", () => {
    fc.assert(
      fc.property(
        hostileString({ maxBig: 100_000 }).filter((s) => !TOOL_NAMES.includes(s as ToolName)),
        hostileValue(),
        (tool, raw) => {
          tally.add("unknown tool names");
          const validation = validateToolCall(tool, raw);
          expect(validation.ok).toBe(false);
          if (!validation.ok) {
            expectRefusal(tool, validation.result as { ok: boolean; code?: string; message?: string });
            const text = (validation.result as { message: string }).message;
            expect(text).toContain("Available tools: ");
            expect(text.length).toBeLessThan(1000);
          }
        },
      ),
      { numRuns: fuzzRuns(BASE) },
    );
  });

  it("arguments over the size limit are refused naming the limit and its value", () => {
    const raw = { path: "big.txt", content: "x".repeat(MAX_ARGS_BYTES) };
    tally.add("size limit");
    const validation = validateToolCall("write_file", raw);
    expect(validation.ok).toBe(false);
    if (!validation.ok) expect((validation.result as { message: string }).message).toContain(`the limit is ${MAX_ARGS_BYTES} bytes`);
  });

  it("prototype-polluting keys are refused as unknown keys and pollute nothing", () => {
    for (const tool of TOOL_NAMES) {
      tally.add("polluting keys");
      const raw = Object.assign(pollutingObject(), {});
      const validation = validateToolCall(tool, raw);
      expect(validation.ok, tool).toBe(false);
      expectPrototypesClean(tool);
    }
  });

  it("T1: arguments nested 1 000 000 levels deep (as a 2 MB JSON body parses) are refused with INVALID_INPUT, not thrown", () => {
    for (const kind of ["array", "object"] as const) {
      tally.add("deep nesting regression");
      const raw = { path: "a.txt", content: deeplyNested(1_000_000, kind) };
      const validation = validateToolCall("write_file", raw);
      expect(validation.ok).toBe(false);
      if (!validation.ok) {
        expectRefusal("write_file", validation.result as { ok: boolean; code?: string; message?: string });
        expect((validation.result as { message: string }).message).toMatch(/nested|deep/i);
      }
    }
  });
});
