// The one tool gateway: every tool call from the built-in agent or an MCP
// client passes here — validate, normalise, judge by policy, wait for a
// reviewer where asked, execute in the run's container, record everything.
import crypto from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, runs, toolCalls, type Run, type ToolCall } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent } from "@/server/events/bus";
import { createApprovalInTx, afterApprovalCommit, waitForDecision } from "@/server/approvals/approvals";
import { transitionRunInTx } from "@/server/runs/state-machine";
import { MUTATING_TOOLS, TOOL_NAMES, parseToolArgs, toolError, type ToolName, type ToolResult, type ValidatedCall } from "@/server/tools/palette";
import { judgeToolCallOffThread, type Judgement } from "@/server/tools/judge";
import { policyForRun } from "@/server/projects/policy-store";
import { executeTool, prepareTool, type ExecutionSession, type PreparedOk } from "@/server/tools/execute";
import { OutOfWorkspaceError, SandboxFileError } from "@/server/sandbox/files";
import { afterToolCall, beforeToolCall, beforeToolExecutes, resultAfterRollback } from "@/server/workspace/hooks";
import { findRun } from "@/server/runs/lookup";
import { isStorageFull, storageFullMessage } from "@/server/errors/storage";
import { allowByGrant } from "@/server/grants/grants";
import { MAX_INPUT_DEPTH, nestedDeeperThan } from "@/lib/nesting";
import { failpoint } from "@/server/faults/failpoints";
import { observeGatewayCall, timeReviewerWait } from "@/server/metrics/instruments";

export const MAX_ARGS_BYTES = 1.5 * 1024 * 1024;

export interface GatewaySession extends ExecutionSession {
  db: Db;
  runId: string;
  signal: AbortSignal;
}

export interface IncomingToolCall {
  modelCallId?: string | null;
  tool: string;
  /** Parsed arguments, or the raw text when the model sent something unparseable. */
  args: unknown;
}

/** The reason given to AbortController.abort() when the process shuts down (not a kill). */
export class ShutdownError extends Error {
  constructor() {
    super("Airlock is shutting down");
  }
}

export function isShutdown(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof ShutdownError;
}

export function agentActor(runId: string): Actor {
  return { userId: null, label: `agent:${runId.slice(0, 8)}` };
}

/** The run of a call in flight; it cannot be missing, so a missing one is an internal error (not NOT_FOUND). */
function loadRun(db: Db, runId: string): Run {
  const run = findRun(db, runId);
  if (!run) throw new Error(`run ${runId} vanished`);
  return run;
}

function stoppedError(): ToolResult {
  return toolError("RUN_STOPPED", "The run was stopped by a reviewer; do not call more tools.");
}

export type Validation = { ok: true; call: ValidatedCall } | { ok: false; result: ToolResult };

/** Validates one call: its arguments typed for its tool, or a ready INVALID_INPUT result. */
export function validateToolCall(tool: string, raw: unknown): Validation {
  if (!TOOL_NAMES.includes(tool as ToolName)) {
    return { ok: false, result: toolError("INVALID_INPUT", `Unknown tool "${String(tool).slice(0, 100)}". Available tools: ${TOOL_NAMES.join(", ")}.`) };
  }
  const name = tool as ToolName;
  if (typeof raw === "string") {
    return { ok: false, result: toolError("INVALID_INPUT", `The arguments for ${name} are not valid JSON: ${raw.slice(0, 200)}`) };
  }
  // JSON.stringify and zod recurse: a few thousand levels of nesting would overflow the stack (T1).
  if (nestedDeeperThan(raw)) {
    return {
      ok: false,
      result: toolError(
        "INVALID_INPUT",
        `The arguments for ${name} are nested more than ${MAX_INPUT_DEPTH} levels deep; the limit is ${MAX_INPUT_DEPTH}. Send flat arguments as the tool describes.`,
      ),
    };
  }
  const size = Buffer.byteLength(JSON.stringify(raw ?? {}));
  if (size > MAX_ARGS_BYTES) {
    return {
      ok: false,
      result: toolError(
        "INVALID_INPUT",
        `The arguments for ${name} are ${size} bytes; the limit is ${MAX_ARGS_BYTES} bytes. Split the change into smaller calls.`,
      ),
    };
  }
  const parsed = parseToolArgs(name, raw ?? {});
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
    return { ok: false, result: toolError("INVALID_INPUT", `Invalid arguments for ${name}: ${detail}`) };
  }
  return { ok: true, call: parsed.call };
}

function isDryRun(call: ValidatedCall): boolean {
  return "dry_run" in call.args && call.args.dry_run === true;
}

function recordCall(db: Db, runId: string, call: IncomingToolCall, tool: string, args: Record<string, unknown>): ToolCall {
  const id = crypto.randomUUID();
  const { row, event } = db.transaction(
    (tx) => {
      const seq =
        (tx
          .select({ n: sql<number>`coalesce(max(${toolCalls.seq}), 0)` })
          .from(toolCalls)
          .where(eq(toolCalls.runId, runId))
          .get()?.n ?? 0) + 1;
      const row = tx
        .insert(toolCalls)
        .values({ id, runId, seq, modelCallId: call.modelCallId ?? null, tool, args, state: "judging" })
        .returning()
        .get();
      tx.update(runs)
        .set({ toolCallsUsed: sql`${runs.toolCallsUsed} + 1`, updatedAt: new Date() })
        .where(eq(runs.id, runId))
        .run();
      const event = insertRunEvent(tx, runId, "tool_call", { toolCallId: id, seq, tool, args: summariseArgs(args) });
      return { row, event };
    },
    { behavior: "immediate" },
  );
  announce(event);
  return row;
}

/** Long contents are shortened in events; the full arguments stay in the tool_calls row. */
/** The largest refused arguments recorded whole; larger ones are recorded cut short with their size. */
const MAX_RECORDED_REFUSED_ARGS = 64 * 1024;

/**
 * What is recorded of arguments that failed validation: as sent when they are
 * small, cut short otherwise. Recording them whole stored a 4 MB body in the
 * call and its run event, and arguments nested thousands of levels deep
 * overflowed the stack while being stored (M1: the agent got EXECUTION_FAILED).
 */
function refusedArgsForRecord(raw: unknown): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null) return { raw: String(raw).slice(0, 2000) };
  if (nestedDeeperThan(raw)) return { raw: `(arguments nested more than ${MAX_INPUT_DEPTH} levels deep; not recorded)` };
  const text = JSON.stringify(raw);
  if (text.length > MAX_RECORDED_REFUSED_ARGS) return { raw: `${text.slice(0, 2000)}… (${text.length} characters)` };
  return raw as Record<string, unknown>;
}

export function summariseArgs(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    out[k] = typeof v === "string" && v.length > 2000 ? `${v.slice(0, 2000)}… (${v.length} characters)` : v;
  }
  return out;
}

function finishCall(
  db: Db,
  runId: string,
  callId: string,
  state: ToolCall["state"],
  result: ToolResult,
  actor: Actor,
  judgement?: Judgement | null,
): ToolResult {
  const event = db.transaction(
    (tx) => {
      tx.update(toolCalls)
        .set({
          state,
          result: result as Record<string, unknown>,
          errorCode: result.ok ? null : result.code,
          finishedAt: new Date(),
          ...(judgement ? { verdict: judgement.decision.verdict, rule: judgement.decision.rule, reason: judgement.decision.reason } : {}),
        })
        .where(eq(toolCalls.id, callId))
        .run();
      appendAudit(tx, actor, {
        action: state === "refused" ? "tool.refused" : "tool.result",
        targetType: "tool_call",
        targetId: callId,
        details: { runId, ok: result.ok, code: result.ok ? null : result.code, message: result.ok ? null : result.message },
      });
      return insertRunEvent(tx, runId, "tool_result", {
        toolCallId: callId,
        ok: result.ok,
        code: result.ok ? null : result.code,
        message: result.ok ? null : result.message,
        result: summariseResult(result),
      });
    },
    { behavior: "immediate" },
  );
  announce(event);
  return result;
}

function summariseResult(result: ToolResult): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(result)) {
    out[k] = typeof v === "string" && v.length > 4000 ? `${v.slice(0, 4000)}… (${v.length} characters)` : v;
  }
  return out;
}

/**
 * Handles one tool call end to end and returns the JSON result for the agent.
 * Never throws for the agent's mistakes; throws only when the run was aborted.
 */
export async function handleToolCall(session: GatewaySession, call: IncomingToolCall): Promise<ToolResult> {
  return observeGatewayCall((TOOL_NAMES as string[]).includes(call.tool) ? call.tool : "invalid", () => handleToolCallNow(session, call));
}

async function handleToolCallNow(session: GatewaySession, call: IncomingToolCall): Promise<ToolResult> {
  const { db, runId } = session;
  const actor = agentActor(runId);
  if (session.signal.aborted) return stoppedError();
  await beforeToolCall(runId); // held back while the workspace is rolled back

  const validated = validateToolCall(call.tool, call.args);
  const argsForRecord = validated.ok ? validated.call.args : refusedArgsForRecord(call.args);
  const row = recordCall(db, runId, call, validated.ok ? validated.call.tool : String(call.tool).slice(0, 100), argsForRecord);
  failpoint("after-tool-call-recorded");
  if (!validated.ok) return finishCall(db, runId, row.id, "refused", validated.result, actor);

  const run = loadRun(db, runId);
  if (run.toolCallsUsed > run.limits.maxToolCalls) {
    return finishCall(
      db,
      runId,
      row.id,
      "refused",
      toolError("LIMIT_EXCEEDED", `This run may make at most ${run.limits.maxToolCalls} tool calls; finish now with a summary.`),
      actor,
    );
  }
  return processValidatedCall(session, run, row, validated.call);
}

async function processValidatedCall(session: GatewaySession, run: Run, row: ToolCall, call: ValidatedCall): Promise<ToolResult> {
  const { db, runId } = session;
  const actor = agentActor(runId);
  const dryRun = isDryRun(call);

  if (MUTATING_TOOLS.has(call.tool) && !run.planApprovedAt && !dryRun) {
    return finishCall(
      db,
      runId,
      row.id,
      "refused",
      toolError("PLAN_REQUIRED", "Submit a plan with submit_plan and wait for its approval before changing anything."),
      actor,
    );
  }

  // A dry run changes nothing, so it never spends a grant's use.
  const first = await prepareAndJudge(session, run, row.id, call, { edited: false, publish: true, useGrants: !dryRun });
  if (!first.ok) return finishCall(db, runId, row.id, "refused", first.result, actor, first.judgement);
  const { judgement, prepared } = first;

  if (dryRun) {
    return finishCall(
      db,
      runId,
      row.id,
      "succeeded",
      {
        ok: true,
        dry_run: true,
        verdict: judgement.decision.verdict,
        rule: judgement.decision.rule,
        reason: judgement.decision.reason,
        preview: prepared.preview ?? null,
        note: "Nothing was changed (dry run).",
      },
      actor,
      judgement,
    );
  }

  let final = first;
  if (judgement.decision.verdict === "ask") {
    const outcome = await askReviewer(session, run, row, call, judgement, prepared.preview ?? null);
    if (!outcome.ok) return finishCall(db, runId, row.id, "refused", outcome.result, actor, judgement);
    if (outcome.edit) {
      const edited = await judgeEdit(session, run, row.id, call, outcome.edit);
      if (!edited.ok) return finishCall(db, runId, row.id, "refused", edited.result, actor, edited.judgement ?? judgement);
      final = edited;
      db.update(toolCalls).set({ args: final.call.args }).where(eq(toolCalls.id, row.id)).run();
    }
  }

  return executeApproved(session, row.id, final.call, final.prepared, judgement, outcomeNote(final !== first));
}

type Judged = { ok: true; call: ValidatedCall; prepared: PreparedOk; judgement: Judgement } | { ok: false; result: ToolResult; judgement: Judgement | null };

/**
 * Prepare → judge → refuse: the one path every call takes before it may run,
 * whether it is the agent's call, a reviewer's edit of it, or a call resumed
 * after a restart. Normalises the call (paths resolved inside the container),
 * judges it in the policy worker, and turns a deny into the agent's refusal.
 */
async function prepareAndJudge(
  session: GatewaySession,
  run: Run,
  callId: string,
  call: ValidatedCall,
  opts: { edited: boolean; publish: boolean; useGrants?: boolean },
): Promise<Judged> {
  const prepared = await prepareTool(session, call);
  if (!prepared.ok) return { ok: false, result: prepared.result, judgement: null };
  let judgement = await judgeToolCallOffThread(call.tool, prepared.normalised, { stepMode: run.stepMode, policy: policyForRun(session.db, run) });
  // An "ask" a reviewer's bounded grant covers is allowed (server/grants/grants.ts); the grant's use and the decision commit together.
  const granted =
    opts.publish && opts.useGrants
      ? allowByGrant(session.db, agentActor(session.runId), { runId: session.runId, callId, tool: call.tool, path: prepared.normalised.path }, judgement)
      : null;
  if (granted) judgement = granted.judgement;
  else if (opts.publish) publishDecision(session.db, session.runId, callId, call.tool, judgement);
  const d = judgement.decision;
  if (d.verdict === "deny") {
    const denied = opts.edited ? "The edited call is denied by policy rule" : "Denied by policy rule";
    return { ok: false, result: toolError("DENIED_BY_POLICY", `${denied} ${d.rule}: ${d.reason}`, { rule: d.rule, reason: d.reason }), judgement };
  }
  return { ok: true, call, prepared, judgement };
}

/** A reviewer's edit is validated and judged again: an edit cannot smuggle in what policy denies. */
async function judgeEdit(session: GatewaySession, run: Run, callId: string, call: ValidatedCall, edit: Record<string, unknown>): Promise<Judged> {
  const merged = parseToolArgs(call.tool, { ...call.args, ...edit });
  if (!merged.success)
    return {
      ok: false,
      result: toolError("INVALID_INPUT", `The reviewer's edit is not valid for ${call.tool}: ${merged.error.issues[0]?.message}`),
      judgement: null,
    };
  return prepareAndJudge(session, run, callId, merged.call, { edited: true, publish: false });
}

function outcomeNote(edited: boolean): string | undefined {
  return edited ? "A reviewer edited this call before approving it; the result is for the edited version." : undefined;
}

function publishDecision(db: Db, runId: string, callId: string, tool: string, j: Judgement) {
  const event = db.transaction(
    (tx) => {
      tx.update(toolCalls).set({ verdict: j.decision.verdict, rule: j.decision.rule, reason: j.decision.reason }).where(eq(toolCalls.id, callId)).run();
      appendAudit(tx, agentActor(runId), {
        action: "tool.decision",
        targetType: "tool_call",
        targetId: callId,
        details: { runId, tool, verdict: j.decision.verdict, rule: j.decision.rule, reason: j.decision.reason },
      });
      return insertRunEvent(tx, runId, "decision", {
        toolCallId: callId,
        tool,
        verdict: j.decision.verdict,
        rule: j.decision.rule,
        reason: j.decision.reason,
        parts: j.parts,
      });
    },
    { behavior: "immediate" },
  );
  announce(event);
}

type AskOutcome = { ok: true; edit: Record<string, unknown> | null } | { ok: false; result: ToolResult };

async function askReviewer(
  session: GatewaySession,
  run: Run,
  row: ToolCall,
  call: ValidatedCall,
  judgement: Judgement,
  preview: Record<string, unknown> | null,
): Promise<AskOutcome> {
  const { db, runId } = session;
  const { approval, events } = db.transaction(
    (tx) => {
      const created = createApprovalInTx(tx, agentActor(runId), {
        runId,
        toolCallId: row.id,
        kind: "tool",
        tool: call.tool,
        args: call.args,
        preview: { ...preview, parts: judgement.parts },
        verdict: "ask",
        rule: judgement.decision.rule,
        reason: judgement.decision.reason,
        risk: judgement.risk ?? null,
        requiredApprovals: judgement.decision.requiredApprovals ?? 1,
        allowSelfApproval: judgement.decision.allowSelfApproval ?? false,
        approverRole: judgement.decision.approverRole ?? "reviewer",
        requestedBy: run.createdBy,
      });
      tx.update(toolCalls).set({ state: "awaiting_approval", approvalId: created.approval.id }).where(eq(toolCalls.id, row.id)).run();
      // A turn's writes are asked about together (builtin-agent.ts): the run may already be waiting for another of them.
      if (tx.select({ state: runs.state }).from(runs).where(eq(runs.id, runId)).get()?.state === "awaiting_approval") {
        return { approval: created.approval, events: [created.event] };
      }
      // Reads may ask before any plan exists (a secret file, say): the run waits from planning as well as from running.
      const t = transitionRunInTx(tx, runId, "awaiting_approval", agentActor(runId), {
        from: ["running", "planning"],
        reason: `waiting for approval of ${call.tool}`,
      });
      return { approval: created.approval, events: [created.event, t.event] };
    },
    { behavior: "immediate" },
  );
  // afterApprovalCommit announces the approval event itself; announce only the rest (once each).
  afterApprovalCommit(approval, events[0]!);
  for (const e of events.slice(1)) announce(e);
  failpoint("approval-pending");
  return timeReviewerWait(() => awaitApproval(session, row.id, approval.id));
}

/**
 * Waits for a request's decision (also used after a restart) and moves the run
 * back to where it was: running, or planning when no plan was approved yet.
 */
export async function awaitApproval(session: GatewaySession, callId: string, approvalId: string): Promise<AskOutcome> {
  const { db, runId } = session;
  let decided;
  try {
    decided = await waitForDecision(db, approvalId, session.signal);
  } catch (err) {
    // On shutdown the request stays pending and the call unanswered: a restart waits again.
    if (isShutdown(session.signal)) throw err;
    return { ok: false, result: stoppedError() };
  }
  if (decided.state !== "cancelled") {
    // The run waits until the last of its open requests is decided (a turn's writes are asked about together).
    const moved = db.transaction(
      (tx) => {
        const current = tx.select().from(runs).where(eq(runs.id, runId)).get();
        if (current?.state !== "awaiting_approval") return null;
        const open = tx
          .select({ id: approvals.id })
          .from(approvals)
          .where(and(eq(approvals.runId, runId), eq(approvals.state, "pending")))
          .get();
        if (open) return null;
        const back = current.planApprovedAt ? "running" : "planning";
        return transitionRunInTx(tx, runId, back, agentActor(runId), { from: ["awaiting_approval"], reason: `approval ${decided.state}` }).event;
      },
      { behavior: "immediate" },
    );
    if (moved) announce(moved);
  }
  switch (decided.state) {
    case "approved":
      db.update(toolCalls)
        .set({ state: "approved" })
        .where(and(eq(toolCalls.id, callId), eq(toolCalls.state, "awaiting_approval")))
        .run();
      failpoint("after-decision-before-execute");
      return { ok: true, edit: decided.edit ?? null };
    case "denied":
      return {
        ok: false,
        result: toolError("DENIED_BY_REVIEWER", `A reviewer denied this: ${decided.decisionReason ?? "no reason given"}`, { reason: decided.decisionReason }),
      };
    case "expired":
      return {
        ok: false,
        result: toolError("APPROVAL_EXPIRED", "No reviewer decided in time, so the request expired. Try a safer approach or ask again later."),
      };
    default:
      return { ok: false, result: stoppedError() };
  }
}

/**
 * Marks the call executing (committed before any effect, so a restart never
 * runs it twice), executes it, and records the result.
 */
/** Calls of one run execute one at a time, in the order they got there, even when they were asked about together. */
const executionQueues = new Map<string, Promise<unknown>>();

function executeApproved(
  session: GatewaySession,
  callId: string,
  call: ValidatedCall,
  prepared: PreparedOk,
  judgement: Judgement,
  note: string | undefined,
): Promise<ToolResult> {
  const previous = executionQueues.get(session.runId) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => executeApprovedNow(session, callId, call, prepared, judgement, note));
  executionQueues.set(session.runId, next);
  void next.then(
    () => executionQueues.get(session.runId) === next && executionQueues.delete(session.runId),
    () => executionQueues.get(session.runId) === next && executionQueues.delete(session.runId),
  );
  return next;
}

async function executeApprovedNow(
  session: GatewaySession,
  callId: string,
  call: ValidatedCall,
  prepared: PreparedOk,
  judgement: Judgement,
  note: string | undefined,
): Promise<ToolResult> {
  const { db, runId } = session;
  const actor = agentActor(runId);
  if (isShutdown(session.signal)) throw session.signal.reason;
  if (session.signal.aborted) return finishCall(db, runId, callId, "refused", stoppedError(), actor, judgement);
  const rollbackGeneration = await beforeToolExecutes(runId);
  const claimed = db
    .update(toolCalls)
    .set({ state: "executing", startedAt: new Date() })
    .where(and(eq(toolCalls.id, callId), sql`${toolCalls.state} in ('judging','approved','awaiting_approval')`))
    .run();
  if (claimed.changes !== 1) {
    return toolError("EXECUTION_FAILED", "This call was already executed or cancelled; it was not run again.");
  }
  failpoint("before-exec");
  let result: ToolResult;
  try {
    result = await executeTool(session, callId, call, prepared);
    failpoint("after-exec-before-result");
  } catch (err) {
    if (isShutdown(session.signal)) throw err;
    if (session.signal.aborted) result = stoppedError();
    // Before SandboxFileError: a file tool's ENOSPC is the disk's fault, not the input's.
    else if (isStorageFull(err)) result = toolError("STORAGE_FULL", storageFullMessage(`${call.tool} could not write (${(err as Error).message})`));
    else if (err instanceof SandboxFileError) result = toolError("INVALID_INPUT", err.message);
    else if (err instanceof OutOfWorkspaceError) result = toolError("OUT_OF_WORKSPACE", err.message);
    else result = toolError("EXECUTION_FAILED", `The tool failed inside the sandbox: ${(err as Error).message}`);
  }
  // Shutdown mid-command: leave the call "executing" so a restart reports it as interrupted, never re-runs it.
  if (isShutdown(session.signal)) throw session.signal.reason;
  result = resultAfterRollback(runId, rollbackGeneration, call.tool, result);
  if (note && result.ok) result = { ...result, note };
  const finished = finishCall(db, runId, callId, result.ok ? "succeeded" : "failed", result, actor, judgement);
  await afterToolCall(db, session.runtime, runId, callId, call.tool, call.args, finished); // checkpoint
  return finished;
}

/**
 * After a restart: a call that was waiting for approval waits again, then runs
 * once. Its stored arguments are validated again, like any call.
 */
export async function resumeToolCall(session: GatewaySession, row: ToolCall): Promise<ToolResult> {
  const { db, runId } = session;
  const actor = agentActor(runId);
  if (row.state === "executing" && (row.tool === "submit_plan" || row.tool === "complete_step")) {
    // Control tools only wait for a reviewer; they have no effect to repeat, so they resume waiting.
    const validated = validateToolCall(row.tool, row.args);
    if (!validated.ok) return finishCall(db, runId, row.id, "failed", validated.result, actor);
    // Control tools need no preparation (nothing to resolve or preview).
    const result = await executeTool(session, row.id, validated.call, { ok: true, normalised: {} });
    return finishCall(db, runId, row.id, result.ok ? "succeeded" : "failed", result, actor);
  }
  if (row.state === "executing") {
    return finishCall(
      db,
      runId,
      row.id,
      "failed",
      toolError(
        "EXECUTION_FAILED",
        "Airlock restarted while this call was executing; it was not run again and its effect is unknown. Check the workspace before continuing.",
      ),
      actor,
    );
  }
  if (row.result) return row.result as ToolResult;
  const run = loadRun(db, runId);
  // "approved": the decision reached the call but the process died before the call was claimed for execution. The
  // decision stands (awaitApproval returns it at once); asking the reviewer again would lose it.
  if ((row.state === "awaiting_approval" || row.state === "approved") && row.approvalId) {
    const outcome = await awaitApproval(session, row.id, row.approvalId);
    if (!outcome.ok) return finishCall(db, runId, row.id, "refused", outcome.result, actor);
    const validated = validateToolCall(row.tool, row.args);
    if (!validated.ok) return finishCall(db, runId, row.id, "refused", validated.result, actor);
    const judged = outcome.edit
      ? await judgeEdit(session, run, row.id, validated.call, outcome.edit)
      : await prepareAndJudge(session, run, row.id, validated.call, { edited: false, publish: false });
    if (!judged.ok) return finishCall(db, runId, row.id, "refused", judged.result, actor, judged.judgement);
    return executeApproved(session, row.id, judged.call, judged.prepared, judged.judgement, outcomeNote(Boolean(outcome.edit)));
  }
  // Judged but not yet decided or executed: go through the whole gateway again.
  const validated = validateToolCall(row.tool, row.args);
  if (!validated.ok) return finishCall(db, runId, row.id, "refused", validated.result, actor);
  return processValidatedCall(session, run, row, validated.call);
}
