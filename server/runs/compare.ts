// runs.compare (issue 16): two runs side by side — outcome, state, wall
// time, tokens, tool calls by verdict — with each run's own diff (start →
// final) and the diff between their final workspaces. Secrets granted to
// either run are redacted from every diff shown.
import { eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { toolCalls } from "@/db/schema";
import { DomainError } from "@/server/errors/domain-error";
import { getRunView, type RunView } from "@/server/runs/runs";
import { redactorForRun } from "@/server/secrets/secrets";
import { diffRun, getWorkspace } from "@/server/workspace/checkpoints";
import { diffBetweenRuns } from "@/server/workspace/compare";

export interface CallsByVerdict {
  allow: number;
  ask: number;
  deny: number;
  /** Calls not judged (yet), e.g. refused as invalid input before the policy. */
  none: number;
}

export interface ComparedRun {
  run: RunView;
  /** Wall time from start to end (or to now while it runs); null before it started. */
  durationMs: number | null;
  calls: CallsByVerdict;
  source: NonNullable<ReturnType<typeof getWorkspace>>["source"] | null;
  diff: { diff: string; truncated: boolean };
}

export function callsByVerdict(db: Db, runId: string): CallsByVerdict {
  const out: CallsByVerdict = { allow: 0, ask: 0, deny: 0, none: 0 };
  const rows = db
    .select({ verdict: toolCalls.verdict, n: sql<number>`count(*)` })
    .from(toolCalls)
    .where(eq(toolCalls.runId, runId))
    .groupBy(toolCalls.verdict)
    .all();
  for (const r of rows) out[r.verdict ?? "none"] += Number(r.n);
  return out;
}

async function comparedRun(db: Db, id: string, now: number): Promise<ComparedRun> {
  const run = getRunView(db, id);
  const redactor = redactorForRun(db, id);
  const d = await diffRun(db, id).catch((err: unknown) => {
    if (err instanceof DomainError) return { diff: "", truncated: false };
    throw err;
  });
  const end = run.endedAt?.getTime() ?? now;
  return {
    run,
    durationMs: run.startedAt ? Math.max(0, end - run.startedAt.getTime()) : null,
    calls: callsByVerdict(db, id),
    source: getWorkspace(db, id)?.source ?? null,
    diff: { diff: redactor.redact(d.diff), truncated: d.truncated },
  };
}

export async function compareRuns(db: Db, aId: string, bId: string, now = Date.now()) {
  if (aId === bId) throw new DomainError("INVALID_INPUT", "Pick two different runs to compare.");
  const [a, b] = [await comparedRun(db, aId, now), await comparedRun(db, bId, now)];
  const between = await diffBetweenRuns(db, aId, bId);
  const redactA = redactorForRun(db, aId);
  const redactB = redactorForRun(db, bId);
  return {
    a,
    b,
    /** A's final workspace → B's final workspace. */
    between: between.diff === null ? between : { diff: redactB.redact(redactA.redact(between.diff)), truncated: between.truncated },
  };
}
