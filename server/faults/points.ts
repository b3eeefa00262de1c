// The names of the kill points (server/faults/failpoints.ts) and the parser of
// AIRLOCK_FAILPOINTS, apart so server/config/env.ts can validate the setting.

/** Every kill point the server has, in the order a tool call meets them. */
export const FAILPOINTS = [
  /** A run's container is created and started (its start checkpoint taken); the run does not name it yet. */
  "sandbox-started",
  /** A tool call's row and event are committed; nothing was judged yet. */
  "after-tool-call-recorded",
  /** A plan's approval request is committed and the run waits for it. */
  "plan-pending",
  /** A tool call's approval request is committed and the run waits for it. */
  "approval-pending",
  /** A reviewer's approval reached the waiting call; the call is not yet marked executing. */
  "after-decision-before-execute",
  /** The call is marked executing; its command has not started. */
  "before-exec",
  /** The command started in the sandbox and printed its first output. */
  "after-exec-start",
  /** The command ended; its result is not recorded yet. */
  "after-exec-before-result",
  /** The checkpoint's commit is written in the shadow repository; its row is not recorded yet. */
  "mid-checkpoint",
  /** The workspace was restored from a checkpoint; the rollback is not recorded yet. */
  "mid-rollback",
  /** A subscriber of runs.events got some events and waits for more. */
  "mid-stream",
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

/** One entry of AIRLOCK_FAILPOINTS: a point, and on which hit it fires (1: the first). */
export interface FailpointSetting {
  point: Failpoint;
  hit: number;
}

/**
 * Parses AIRLOCK_FAILPOINTS: comma-separated points, each optionally `@N` to
 * fire on its Nth hit only (e.g. "mid-checkpoint@2,mid-stream").
 */
export function parseFailpoints(text: string | undefined): FailpointSetting[] {
  const entries = (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return entries.map((entry) => {
    const [point, hitText, extra] = entry.split("@");
    if (!(FAILPOINTS as readonly string[]).includes(point ?? "") || extra !== undefined) {
      throw new Error(`"${entry}" is not a kill point; known points: ${FAILPOINTS.join(", ")} (optionally @N for the Nth hit).`);
    }
    const hit = hitText === undefined ? 1 : Number(hitText);
    if (!Number.isInteger(hit) || hit < 1) throw new Error(`"${entry}": the hit after @ must be a whole number from 1, got "${hitText}".`);
    return { point: point as Failpoint, hit };
  });
}
