// How each run state reads in the UI: label, colour, and whether it is a
// waiting state (a person must act) or a final one.
import type { RunState } from "@/db/schema";

export type StateTone = "neutral" | "accent" | "success" | "danger" | "warning" | "caution";

export const RUN_STATE_META: Record<RunState, { label: string; tone: StateTone; waiting?: boolean; active?: boolean; terminal?: boolean; help: string }> = {
  queued: { label: "Queued", tone: "neutral", active: true, help: "Waiting in the run queue for a slot; it starts in order as other runs end." },
  starting: { label: "Starting", tone: "accent", active: true, help: "The sandbox container is starting." },
  planning: { label: "Planning", tone: "accent", active: true, help: "The agent is reading the workspace and writing a plan." },
  awaiting_plan_approval: {
    label: "Plan needs review",
    tone: "warning",
    waiting: true,
    active: true,
    help: "A reviewer must approve, edit or reject the plan.",
  },
  running: { label: "Running", tone: "accent", active: true, help: "The agent is working through its approved plan." },
  awaiting_approval: { label: "Needs approval", tone: "warning", waiting: true, active: true, help: "A tool call waits for a reviewer's decision." },
  paused: { label: "Paused", tone: "neutral", active: true, help: "The run is paused." },
  succeeded: { label: "Succeeded", tone: "success", terminal: true, help: "The agent finished and reported success." },
  failed: { label: "Failed", tone: "danger", terminal: true, help: "The run ended without success." },
  killed: { label: "Killed", tone: "danger", terminal: true, help: "Someone stopped the run; its container was killed." },
  rolled_back: { label: "Rolled back", tone: "neutral", terminal: true, help: "The workspace was rolled back to a checkpoint." },
};

/** Every state in lifecycle order (the Record type above already forces one entry per server state). */
export const RUN_STATE_OPTIONS = Object.keys(RUN_STATE_META) as RunState[];

export function stateMeta(state: string) {
  return RUN_STATE_META[state as RunState] ?? { label: state.replace(/_/g, " "), tone: "neutral" as const, help: "" };
}

/**
 * How a run's state reads once its outcome is known. "Succeeded" is only the
 * agent's own claim: when some of its calls were denied on the way, the run
 * reads as finished with the agent's claim and the denials, never as a plain
 * green success (the work the reviewer refused was not done).
 */
export function outcomeMeta(state: string, deniedCalls = 0): { label: string; tone: StateTone; help: string; waiting?: boolean } {
  const meta = stateMeta(state);
  if (state !== "succeeded" || deniedCalls <= 0) return meta;
  const calls = `${deniedCalls} call${deniedCalls === 1 ? "" : "s"} denied`;
  return {
    label: `Finished — the agent reports success · ${calls}`,
    tone: "caution",
    help: `The agent called finish with status success, but ${calls} by the policy or a reviewer; check what it did instead.`,
  };
}

/** "3 of 4 steps reported done", "all steps reported done", "on step 2". */
export function planProgress(total: number, reported: number, ended: boolean, currentStep: number): string {
  if (reported >= total) return "all steps reported done";
  if (ended) return `${reported} of ${total} step${total === 1 ? "" : "s"} reported done`;
  return currentStep ? `on step ${currentStep}` : "approved";
}

export function isTerminalState(state: string): boolean {
  return Boolean(stateMeta(state).terminal);
}
