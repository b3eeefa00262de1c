// Run limits: sane defaults that a run may lower, never raise.
import { z } from "zod";
import type { RunLimitsJson } from "@/db/schema";

export const DEFAULT_RUN_LIMITS: RunLimitsJson = {
  memoryMb: 1024,
  cpus: 1,
  pids: 256,
  commandTimeoutS: 120,
  runTimeoutS: 3600,
  maxSteps: 100,
  maxToolCalls: 200,
  tokenBudget: 2_000_000,
};

const MIN: RunLimitsJson = { memoryMb: 64, cpus: 0.1, pids: 16, commandTimeoutS: 1, runTimeoutS: 10, maxSteps: 1, maxToolCalls: 1, tokenBudget: 1000 };

export const runLimitsInput = z
  .object({
    memoryMb: z.number().int(),
    cpus: z.number(),
    pids: z.number().int(),
    commandTimeoutS: z.number().int(),
    runTimeoutS: z.number().int(),
    maxSteps: z.number().int(),
    maxToolCalls: z.number().int(),
    tokenBudget: z.number().int(),
  })
  .partial()
  .strict();

export function resolveRunLimits(requested: Partial<RunLimitsJson> | undefined): RunLimitsJson {
  const out = { ...DEFAULT_RUN_LIMITS };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(requested ?? {}) as [keyof RunLimitsJson, number | undefined][]) {
    if (value === undefined) continue;
    if (value > DEFAULT_RUN_LIMITS[key]) problems.push(`${key} may be at most ${DEFAULT_RUN_LIMITS[key]} (got ${value}); limits can only be lowered`);
    else if (value < MIN[key]) problems.push(`${key} must be at least ${MIN[key]} (got ${value})`);
    else out[key] = value;
  }
  if (problems.length) throw Object.assign(new Error(`Invalid limits: ${problems.join("; ")}.`), { code: "INVALID_INPUT" });
  return out;
}
