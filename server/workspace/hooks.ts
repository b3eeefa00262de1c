// The few points where the gateway and the supervisor hand over to the
// workspace: hold tool calls back during a rollback, checkpoint after every
// tool call that may have changed the workspace, set up the workspace at
// start, and roll back automatically when a run fails.
import { and, desc, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, runEvents, toolCalls, type Run } from "@/db/schema";
import { SYSTEM_ACTOR } from "@/server/audit/chain";
import { publishRunEvent } from "@/server/events/bus";
import { transitionRun } from "@/server/runs/state-machine";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { toolError, type ToolName, type ToolResult } from "@/server/tools/palette";
import { checkpointWorkspace, initWorkspaceRepo } from "./checkpoints";
import { requireRun } from "@/server/runs/lookup";
import { rollbackGeneration, waitForRestore, waitForRollback } from "./coordination";
import { autoRollbackAfterFailure, revertFailedStep } from "./rollback";
import { populateWorkspace } from "./sources";
import { flagArmedConfig } from "./armed-config";

export { scheduleWorkspaceCleanup } from "./retention";

/** Tools whose effects can reach the workspace (commands too: their side effects count). */
export const CHECKPOINTED_TOOLS: ReadonlySet<ToolName> = new Set(["write_file", "edit_file", "run_command", "run_tests", "install_package"]);

/** Before a tool call is looked at: waits while the run's workspace is being rolled back. */
export async function beforeToolCall(runId: string): Promise<void> {
  await waitForRollback(runId);
}

/** Right before a tool executes: waits out a restore in progress; returns the rollback generation. */
export async function beforeToolExecutes(runId: string): Promise<number> {
  await waitForRestore(runId);
  return rollbackGeneration(runId);
}

/** A call that a rollback interrupted reports so, whatever the command printed. */
export function resultAfterRollback(runId: string, generation: number, tool: ToolName, result: ToolResult): ToolResult {
  if (rollbackGeneration(runId) === generation || !CHECKPOINTED_TOOLS.has(tool)) return result;
  return toolError(
    "ROLLED_BACK",
    "A reviewer rolled the workspace back while this ran: the command was killed and its changes were undone. Look at the files again before continuing.",
    {
      interrupted_result: result.ok ? { exit_code: result.exit_code ?? null } : { code: result.code },
    },
  );
}

function describeCall(tool: ToolName, args: Record<string, unknown>): string {
  const text = (v: unknown) =>
    String(v ?? "")
      .replace(/\s+/g, " ")
      .trim();
  switch (tool) {
    case "write_file":
    case "edit_file":
      return `${tool}: ${text(args.path)}`;
    case "run_command":
      return `run_command: ${text(args.command).slice(0, 120)}`;
    case "install_package":
      return `install_package: ${text(args.manager)} ${(args.packages as string[] | undefined)?.join(" ") ?? ""}`.trim();
    default:
      return tool;
  }
}

/**
 * After a tool call's result is stored: checkpoints the workspace when the
 * tool may have changed it, and reverts the step when tests failed and the
 * run asks for it. Never throws: a checkpoint problem must not break the run.
 */
export async function afterToolCall(
  db: Db,
  runtime: SandboxRuntime,
  runId: string,
  callId: string,
  tool: ToolName,
  args: Record<string, unknown>,
  result: ToolResult,
): Promise<void> {
  if (!CHECKPOINTED_TOOLS.has(tool) || args.dry_run === true) return;
  try {
    await waitForRollback(runId);
    const run = requireRun(db, runId);
    const call = db.select({ approvalId: toolCalls.approvalId }).from(toolCalls).where(eq(toolCalls.id, callId)).get();
    const approval = call?.approvalId ? db.select({ state: approvals.state }).from(approvals).where(eq(approvals.id, call.approvalId)).get() : undefined;
    await checkpointWorkspace(db, runId, {
      label: describeCall(tool, args),
      kind: "tool",
      toolCallId: callId,
      planStep: run.currentStep,
      // What a reviewer approved, and what then ran to completion (not killed, not timed out).
      approved: approval?.state === "approved" && result.ok,
      runtime,
    });
    if (tool === "run_tests" && testsFailed(result)) {
      await revertFailedStep(db, { runtime }, runId, result.ok ? `exit code ${String(result.exit_code)}` : result.code);
    }
  } catch (err) {
    console.error(`airlock: checkpoint after ${tool} failed for run ${runId}:`, err);
    publishRunEvent(db, runId, "error", { source: "workspace", message: `The workspace could not be checkpointed after ${tool}: ${(err as Error).message}` });
  }
}

function testsFailed(result: ToolResult): boolean {
  if (!result.ok) return result.code === "TIMEOUT";
  return typeof result.exit_code === "number" ? result.exit_code !== 0 : result.exit_code !== undefined;
}

/** Before the sandbox starts: fills the workspace from its source, creates the shadow repository and flags configuration that runs programs. */
export async function prepareRunWorkspace(db: Db, runId: string, workspaceDir: string): Promise<void> {
  await initWorkspaceRepo(db, runId, workspaceDir);
  await populateWorkspace(db, runId, workspaceDir);
  await flagArmedConfig(db, runId, workspaceDir);
}

/** Once the sandbox is ready: the "start" checkpoint every rollback can return to. */
export async function checkpointRunStart(db: Db, runtime: SandboxRuntime, runId: string): Promise<void> {
  await checkpointWorkspace(db, runId, { label: "start", kind: "start", approved: true, force: true, runtime });
}

/** After a run failed or was stopped: automatic rollback when the run asks for it. Never throws. */
export async function afterRunFailed(db: Db, runtime: SandboxRuntime, runId: string): Promise<void> {
  try {
    await autoRollbackAfterFailure(db, { runtime }, runId);
  } catch (err) {
    console.error(`airlock: automatic rollback of run ${runId} failed:`, err);
    publishRunEvent(db, runId, "error", { source: "workspace", message: `Automatic rollback failed: ${(err as Error).message}` });
  }
}

/**
 * After a restart: a run left paused by a rollback that the restart cut
 * short continues, and the agent is told to check the workspace.
 */
export function recoverInterruptedRollback(db: Db, run: Run): Run {
  if (run.state !== "paused") return run;
  const last = db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, run.id), eq(runEvents.type, "state")))
    .orderBy(desc(runEvents.id))
    .limit(1)
    .get();
  if (!String((last?.payload as { reason?: string } | undefined)?.reason ?? "").startsWith("rolling back")) return run;
  const resumed = transitionRun(db, run.id, "running", SYSTEM_ACTOR, { from: ["paused"], reason: "Airlock restarted during a rollback" });
  publishRunEvent(db, run.id, "note", {
    text: "Airlock restarted while the workspace was being rolled back; the rollback may be incomplete.",
    toModel:
      "Airlock notice: Airlock restarted while your workspace was being rolled back, so it may be partly restored. Look at the files again before continuing.",
    inject: true,
    source: "workspace",
  });
  return resumed;
}
