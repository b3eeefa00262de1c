// The built-in agent loop: talks to an OpenAI-compatible model, offers the
// tool palette, sends every call through the gateway, and stops within the
// run's limits (steps, tool calls, tokens) whatever the model does.
import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "@/db/client";
import { models, runEvents, runs, toolCalls, type Run } from "@/db/schema";
import { publishRunEvent } from "@/server/events/bus";
import { decryptSecret } from "@/server/secrets/crypto";
import { handleToolCall, resumeToolCall, type GatewaySession } from "@/server/tools/gateway";
import { toolDefinitions, toolError, type ToolResult } from "@/server/tools/palette";
import { systemPrompt } from "@/server/agents/system-prompt";
import { MODEL_LIMITS, ModelError, streamChatCompletion, withRetries, type ChatMessage, type ModelTurn } from "@/server/agents/model-client";
import type { FinishSignal } from "@/server/supervisor/control";
import { sql } from "drizzle-orm";
import { requireRun } from "@/server/runs/lookup";
import { resolveLexically, WORKSPACE_ROOT } from "@/server/policy/paths";

export interface AgentOutcome {
  status: "succeeded" | "failed";
  reason: string;
  summary?: string;
}

const MAX_IDLE_TURNS = 3; // model turns in a row without a tool call
const MAX_REPEATS = 5; // identical tool calls in a row

/** Rebuilds the conversation from persisted events and tool calls (used after a restart, too). */
export function rebuildConversation(db: Db, run: Run): { messages: ChatMessage[]; unanswered: { id: string; name: string; argumentsText: string }[] } {
  const messages: ChatMessage[] = [
    { role: "system", content: systemPrompt({ stepMode: run.stepMode, limits: run.limits }) },
    { role: "user", content: `Task: ${run.title}\n\n${run.task}` },
  ];
  const events = db.select().from(runEvents).where(eq(runEvents.runId, run.id)).orderBy(asc(runEvents.id)).all();
  const calls = db.select().from(toolCalls).where(eq(toolCalls.runId, run.id)).all();
  const byModelId = new Map(calls.filter((c) => c.modelCallId).map((c) => [c.modelCallId!, c]));
  let unanswered: { id: string; name: string; argumentsText: string }[] = [];
  for (const e of events) {
    if (e.type === "model_message") {
      const p = e.payload as {
        content: string;
        toolCalls: { id: string; name: string; argumentsText: string }[];
        refusedToolCalls?: { id: string; name: string }[];
      };
      messages.push(...assistantTurnMessages(p.content, p.toolCalls, p.refusedToolCalls ?? []));
      unanswered = [];
      for (const c of p.toolCalls) {
        const row = byModelId.get(c.id);
        if (row?.result && row.state !== "executing") messages.push({ role: "tool", tool_call_id: c.id, content: JSON.stringify(row.result) });
        else unanswered.push(c);
      }
    } else if (e.type === "note" && (e.payload as { toModel?: string }).toModel) {
      messages.push({ role: "user", content: (e.payload as { toModel: string }).toModel });
    }
  }
  return { messages, unanswered };
}

/**
 * The assistant message of one turn, followed by the answers to the calls it
 * made past the per-turn limit: they are refused with LIMIT_EXCEEDED (every
 * call in an assistant message needs an answer), so the model learns they did
 * not run instead of finding them silently dropped.
 */
function assistantTurnMessages(
  content: string,
  calls: { id: string; name: string; argumentsText: string }[],
  refused: { id: string; name: string }[],
): ChatMessage[] {
  const all = [
    ...calls.map((c) => ({ id: c.id, name: c.name, args: argsForHistory(c.argumentsText) })),
    ...refused.map((c) => ({ id: c.id, name: c.name, args: "{}" })),
  ];
  const out: ChatMessage[] = [
    {
      role: "assistant",
      content: content || null,
      ...(all.length ? { tool_calls: all.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.args } })) } : {}),
    },
  ];
  for (const c of refused) {
    const result = toolError(
      "LIMIT_EXCEEDED",
      `Not run: Airlock runs at most ${MODEL_LIMITS.maxToolCallsPerTurn} tool calls per turn and this turn made ${calls.length + refused.length}. Make this call again in your next turn if it is still needed.`,
    );
    out.push({ role: "tool", tool_call_id: c.id, content: JSON.stringify(result) });
  }
  return out;
}

/** Huge arguments are not sent back to the model on every turn (they were refused or already applied). */
const HISTORY_ARGS_CAP = 64 * 1024;
export function argsForHistory(text: string): string {
  if (text.length <= HISTORY_ARGS_CAP) return text;
  return JSON.stringify({ _airlock_note: `arguments of ${text.length} characters omitted from the conversation history` });
}

function lastEventId(db: Db, runId: string): number {
  return (
    db
      .select({ id: sql<number>`coalesce(max(${runEvents.id}), 0)` })
      .from(runEvents)
      .where(eq(runEvents.runId, runId))
      .get()?.id ?? 0
  );
}

/** Appends notes marked `inject` (with a `toModel` text) published after `cursor`; returns the new cursor. */
function deliverNotes(db: Db, runId: string, cursor: number, messages: ChatMessage[]): number {
  const notes = db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, runId), eq(runEvents.type, "note"), gt(runEvents.id, cursor)))
    .orderBy(asc(runEvents.id))
    .all();
  for (const n of notes) {
    const p = n.payload as { toModel?: string; inject?: boolean };
    if (p.inject && p.toModel) messages.push({ role: "user", content: p.toModel });
  }
  return notes.at(-1)?.id ?? cursor;
}

function parseArgs(text: string): unknown {
  if (!text.trim()) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // the gateway answers INVALID_INPUT with the text
  }
}

/**
 * Whether a turn's calls are all file writes (write_file, edit_file) to
 * different paths: such calls are independent, so they are judged and asked
 * about together (issue 12, batch approval) instead of one question at a time.
 */
export function writesToAskTogether(calls: { name: string; argumentsText: string }[]): boolean {
  if (calls.length < 2) return false;
  const paths = new Set<string>();
  for (const c of calls) {
    if (c.name !== "write_file" && c.name !== "edit_file") return false;
    const args = parseArgs(c.argumentsText);
    const p = typeof args === "object" && args !== null ? (args as { path?: unknown }).path : undefined;
    if (typeof p !== "string") return false;
    const key = resolveLexically(p, WORKSPACE_ROOT);
    if (paths.has(key)) return false;
    paths.add(key);
  }
  return true;
}

export async function runBuiltinAgent(db: Db, session: GatewaySession, finish: FinishSignal): Promise<AgentOutcome> {
  const { runId, signal } = session;
  let run = requireRun(db, runId);
  const model = run.modelId ? db.select().from(models).where(eq(models.id, run.modelId)).get() : undefined;
  if (!model) return { status: "failed", reason: "The run has no model endpoint. Register one in Settings → Models and start a new run." };
  const endpoint = { baseUrl: model.baseUrl, model: model.model, apiKey: model.apiKeyEnc ? decryptSecret(model.apiKeyEnc) : null };
  const tools = toolDefinitions();
  const { messages, unanswered } = rebuildConversation(db, run);
  let noteCursor = lastEventId(db, runId);

  const resultOf = async (call: { id: string; name: string; argumentsText: string }, resume: boolean): Promise<ToolResult> => {
    let result: ToolResult;
    // Model call ids are only unique within a conversation.
    const existing = resume
      ? db
          .select()
          .from(toolCalls)
          .where(and(eq(toolCalls.runId, runId), eq(toolCalls.modelCallId, call.id)))
          .get()
      : undefined;
    if (existing) result = await resumeToolCall(session, existing);
    else result = await handleToolCall(session, { modelCallId: call.id, tool: call.name, args: parseArgs(call.argumentsText) });
    return result;
  };
  const answer = async (call: { id: string; name: string; argumentsText: string }, resume: boolean) => {
    const result = await resultOf(call, resume);
    messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify(result) });
  };

  // After a restart: answer the calls the model made before the restart first.
  for (const call of unanswered) {
    if (signal.aborted) return { status: "failed", reason: "stopped" };
    await answer(call, true);
    if (finish.finished) break;
  }

  let idleTurns = 0;
  let lastKey = "";
  let repeats = 0;
  while (!finish.finished) {
    if (signal.aborted) return { status: "failed", reason: "stopped" };
    run = requireRun(db, runId);
    if (run.stepsUsed >= run.limits.maxSteps) return { status: "failed", reason: `The agent used all ${run.limits.maxSteps} model turns without finishing.` };
    if (run.tokensUsed >= run.limits.tokenBudget)
      return { status: "failed", reason: `The agent used its token budget (${run.limits.tokenBudget} tokens) without finishing.` };
    // Notices published for the agent while it worked (a rollback, a reverted step) come before its next turn.
    noteCursor = deliverNotes(db, runId, noteCursor, messages);

    let turn: ModelTurn;
    let pending = "";
    let flushTimer: NodeJS.Timeout | null = null;
    const flush = () => {
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = null;
      if (pending) publishRunEvent(db, runId, "model_delta", { text: pending });
      pending = "";
    };
    // Per-turn latency for the run's timeline: from the request to the last token, retries included.
    const turnStarted = Date.now();
    try {
      turn = await withRetries(
        () =>
          streamChatCompletion(
            endpoint,
            { messages, tools, temperature: 0.2 },
            {
              signal,
              idleTimeoutMs: 120_000,
              timeoutMs: 10 * 60_000,
              onDelta: (text) => {
                pending += text;
                if (pending.length > 2000) flush();
                else flushTimer ??= setTimeout(flush, 100);
              },
            },
          ),
        {
          attempts: 3,
          baseDelayMs: 1000,
          signal,
          onRetry: (err, attempt, delayMs) =>
            publishRunEvent(db, runId, "error", {
              source: "model",
              discardPartial: true,
              message: `${err.message} (retry ${attempt} in ${Math.round(delayMs / 1000)} s)`,
            }),
        },
      );
    } catch (err) {
      flush();
      if (signal.aborted) return { status: "failed", reason: "stopped" };
      const message = err instanceof ModelError ? err.message : (err as Error).message;
      return { status: "failed", reason: `The model endpoint "${model.name}" failed: ${message}` };
    } finally {
      flush();
    }

    db.update(runs)
      .set({
        stepsUsed: sql`${runs.stepsUsed} + 1`,
        tokensUsed: sql`${runs.tokensUsed} + ${turn.usage.promptTokens + turn.usage.completionTokens}`,
        updatedAt: new Date(),
      })
      .where(eq(runs.id, runId))
      .run();
    publishRunEvent(db, runId, "model_message", {
      content: turn.content,
      toolCalls: turn.toolCalls.map((c) => ({ ...c, argumentsText: argsForHistory(c.argumentsText) })),
      ...(turn.refusedToolCalls.length ? { refusedToolCalls: turn.refusedToolCalls } : {}),
      finishReason: turn.finishReason,
      usage: turn.usage,
      latencyMs: Date.now() - turnStarted,
    });
    if (turn.refusedToolCalls.length) {
      publishRunEvent(db, runId, "note", {
        text: `The model made ${turn.toolCalls.length + turn.refusedToolCalls.length} tool calls in one turn; the first ${MODEL_LIMITS.maxToolCallsPerTurn} run, the other ${turn.refusedToolCalls.length} were refused (LIMIT_EXCEEDED).`,
      });
    }
    messages.push(...assistantTurnMessages(turn.content, turn.toolCalls, turn.refusedToolCalls));

    if (turn.toolCalls.length === 0) {
      idleTurns++;
      if (idleTurns >= MAX_IDLE_TURNS)
        return { status: "failed", reason: `The model answered ${MAX_IDLE_TURNS} times in a row without calling a tool; the run was stopped.` };
      const nudge = "Continue by calling one of the tools. When you are done, call finish with a summary.";
      publishRunEvent(db, runId, "note", { text: "Reminded the model to use tools.", toModel: nudge });
      messages.push({ role: "user", content: nudge });
      continue;
    }
    idleTurns = 0;

    if (writesToAskTogether(turn.toolCalls)) {
      // Asked about together so a reviewer reads their combined diff and decides them as a batch; the
      // gateway still executes them one at a time, in order. Answers go back in the model's order.
      lastKey = "";
      const results = await Promise.all(turn.toolCalls.map((call) => resultOf(call, false)));
      turn.toolCalls.forEach((call, i) => messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify(results[i]) }));
      continue;
    }

    for (const call of turn.toolCalls) {
      const key = `${call.name}\u0000${call.argumentsText}`;
      repeats = key === lastKey ? repeats + 1 : 1;
      lastKey = key;
      if (repeats >= MAX_REPEATS) {
        return {
          status: "failed",
          reason: `The agent called ${call.name} with the same arguments ${MAX_REPEATS} times in a row; it looks stuck, so the run was stopped.`,
        };
      }
      if (signal.aborted) return { status: "failed", reason: "stopped" };
      await answer(call, false);
      if (finish.finished) break;
    }
  }
  const f = finish.finished!;
  return {
    status: f.status === "success" ? "succeeded" : "failed",
    reason: f.status === "success" ? "finished" : "the agent reported failure",
    summary: f.summary,
  };
}
