// The external agent's side of a run: instead of a model loop, the supervisor
// keeps the run's gateway session open for an MCP client, sends the client's
// tool calls through the same gateway one at a time, and ends the run on
// `finish`, the stop button, the run timeout or an idle timeout.
import { and, asc, eq, gt, notInArray, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runEvents, runs, toolCalls, type Run } from "@/db/schema";
import { isTerminal } from "@/server/runs/state-machine";
import { publishRunEvent } from "@/server/events/bus";
import { handleToolCall, isShutdown, resumeToolCall, type GatewaySession } from "@/server/tools/gateway";
import { toolError, type ToolResult } from "@/server/tools/palette";
import type { FinishSignal } from "@/server/supervisor/control";
import type { AgentOutcome } from "@/server/agents/builtin-agent";
import { findRun } from "@/server/runs/lookup";

/** Something the agent should read with its next tool result (a result it missed, a rollback notice). */
interface PendingNote {
  text: string;
}

interface ExternalAgentLink {
  session: GatewaySession;
  finish: FinishSignal;
  /** Tail of the per-run call queue: calls run one at a time, like the built-in agent's. */
  queue: Promise<void>;
  inFlight: number;
  lastActivity: number;
  notes: PendingNote[];
  noteCursor: number;
  wake: () => void;
}

const g = globalThis as unknown as { __airlockExternalAgents?: Map<string, ExternalAgentLink> };
function links(): Map<string, ExternalAgentLink> {
  g.__airlockExternalAgents ??= new Map();
  return g.__airlockExternalAgents;
}

/** Whether this process is holding the run open for an external agent right now. */
export function isExternalAgentLive(runId: string): boolean {
  return links().has(runId);
}

/** Any authenticated MCP request (initialize, tools/list, ping…) counts as activity for the idle timeout. */
export function noteExternalAgentActivity(runId: string): void {
  const link = links().get(runId);
  if (!link) return;
  link.lastActivity = Date.now();
  link.wake();
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

/**
 * Holds an external run open until it ends; the supervisor turns the outcome
 * into the run's final state (an abort means the stop button or shutdown owns the ending).
 */
export async function runExternalAgent(
  db: Db,
  session: GatewaySession,
  finish: FinishSignal,
  opts: { idleTimeoutMs: number; resume: boolean },
): Promise<AgentOutcome> {
  const { runId, signal } = session;
  const link: ExternalAgentLink = {
    session,
    finish,
    queue: Promise.resolve(),
    inFlight: 0,
    lastActivity: Date.now(),
    notes: [],
    noteCursor: lastEventId(db, runId),
    wake: () => undefined,
  };
  links().set(runId, link);
  try {
    if (opts.resume) resumeInterruptedCalls(db, link);
    else publishRunEvent(db, runId, "note", { source: "mcp", text: "Waiting for the external agent to connect over MCP." });
    return await new Promise<AgentOutcome>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const done = (outcome: AgentOutcome) => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener("abort", check);
        link.wake = () => undefined;
        resolve(outcome);
      };
      function check() {
        if (timer) clearTimeout(timer);
        timer = null;
        if (finish.finished) {
          const f = finish.finished;
          return done({
            status: f.status === "success" ? "succeeded" : "failed",
            reason: f.status === "success" ? "finished" : "the agent reported failure",
            summary: f.summary,
          });
        }
        if (signal.aborted) return done({ status: "failed", reason: "stopped" });
        if (link.inFlight > 0) return; // a call (maybe waiting for a reviewer) is activity
        const idleFor = Date.now() - link.lastActivity;
        if (idleFor >= opts.idleTimeoutMs) {
          const minutes = Math.round(opts.idleTimeoutMs / 60_000);
          return done({
            status: "failed",
            reason: `The external agent made no MCP request for ${minutes >= 1 ? `${minutes} min` : `${Math.round(opts.idleTimeoutMs / 1000)} s`} (idle timeout); the run was ended. Start a new run to continue.`,
          });
        }
        timer = setTimeout(check, opts.idleTimeoutMs - idleFor);
        timer.unref();
      }
      link.wake = check;
      signal.addEventListener("abort", check);
      check();
    });
  } finally {
    // Calls still queued answer RUN_STOPPED through the aborted signal or the finish flag.
    if (links().get(runId) === link) links().delete(runId);
  }
}

/**
 * After a restart the client's HTTP requests are gone, but calls it made may
 * still wait for a reviewer: they are resumed (in order, before any new call)
 * and their results are handed to the agent with its next tool result.
 */
function resumeInterruptedCalls(db: Db, link: ExternalAgentLink) {
  const { runId } = link.session;
  const open = db
    .select()
    .from(toolCalls)
    .where(and(eq(toolCalls.runId, runId), notInArray(toolCalls.state, ["succeeded", "failed", "refused"])))
    .orderBy(asc(toolCalls.seq))
    .all();
  publishRunEvent(db, runId, "note", {
    source: "mcp",
    text: open.length
      ? `Waiting for the external agent to reconnect; ${open.length} interrupted call(s) continue meanwhile.`
      : "Waiting for the external agent to reconnect over MCP.",
  });
  for (const row of open) {
    void enqueue(link, async () => {
      const result = await resumeToolCall(link.session, row);
      link.notes.push({ text: missedResultNote(`call #${row.seq} (${row.tool})`, "Airlock restarted while one of your calls was in progress", result) });
      return result;
    }).catch((err: unknown) => {
      if (!isShutdown(link.session.signal)) console.error(`airlock: resuming call ${row.id} of run ${runId} failed:`, err);
    });
  }
}

function missedResultNote(call: string, why: string, result: ToolResult): string {
  const text = JSON.stringify(result);
  return `Airlock note: ${why}; ${call} finished with ${text.length > 4000 ? `${text.slice(0, 4000)}… (${text.length} characters)` : text}`;
}

/** Runs `work` after every earlier call of the run; counts as MCP activity while queued or running. */
async function enqueue<T>(link: ExternalAgentLink, work: () => Promise<T>): Promise<T> {
  link.inFlight++;
  link.lastActivity = Date.now();
  const previous = link.queue;
  let release!: () => void;
  link.queue = new Promise<void>((r) => (release = r));
  try {
    await previous;
    return await work();
  } finally {
    link.inFlight--;
    link.lastActivity = Date.now();
    release();
    link.wake();
  }
}

/** How long a call waits for a starting (or restarting) run to be held open before answering NOT_AVAILABLE. */
const LINK_WAIT_MS = 60_000;

/** The run's link; while the sandbox starts (or Airlock restarts) calls wait for it instead of failing. */
async function waitForLink(db: Db, runId: string): Promise<ExternalAgentLink | undefined> {
  const deadline = Date.now() + LINK_WAIT_MS;
  for (;;) {
    const link = links().get(runId);
    if (link) return link;
    const state = db.select({ state: runs.state }).from(runs).where(eq(runs.id, runId)).get()?.state;
    if (!state || isTerminal(state) || Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ExternalCallAnswer {
  result: ToolResult;
  /** Texts the agent should also read (missed results, notices such as a rollback). */
  notes: string[];
}

function endedResult(run: Pick<Run, "state" | "endedReason">): ToolResult {
  return run.state === "succeeded" || (run.state === "failed" && !run.endedReason)
    ? toolError("RUN_STOPPED", `This run has already ended (${run.state}); do not call more tools.`)
    : toolError("RUN_STOPPED", `This run was stopped${run.endedReason ? `: ${run.endedReason}` : ""}. Do not call more tools.`);
}

/**
 * One MCP tools/call for a live run. The call completes (and is recorded) even
 * when the client has gone away; its result then reaches the agent with the
 * next call.
 */
export async function callToolForExternalAgent(
  db: Db,
  run: Run,
  call: { tool: string; args: unknown },
  opts: { clientGone?: () => boolean } = {},
): Promise<ExternalCallAnswer> {
  const link = await waitForLink(db, run.id);
  if (!link) {
    const current = findRun(db, run.id) ?? run;
    if (isTerminal(current.state)) return { result: endedResult(current), notes: [] };
    return {
      result: toolError(
        "NOT_AVAILABLE",
        current.state === "queued"
          ? `The run waits in Airlock's run queue${current.queueReason ? ` (${current.queueReason})` : ""}; it starts as other runs end. Call again later.`
          : current.state === "starting"
            ? "The run's sandbox is still starting; call again in a few seconds."
            : "Airlock is not holding this run open right now (it may be restarting); call again in a few seconds.",
      ),
      notes: [],
    };
  }
  const result = await enqueue(link, async (): Promise<ToolResult> => {
    if (link.finish.finished) return toolError("RUN_STOPPED", "You already called finish; the run is ending. Do not call more tools.");
    try {
      return await handleToolCall(link.session, { modelCallId: null, tool: call.tool, args: call.args });
    } catch (err) {
      if (isShutdown(link.session.signal))
        return toolError(
          "NOT_AVAILABLE",
          "Airlock is restarting; this call will be finished after the restart and its result given to you with a later call. Reconnect in a few seconds.",
        );
      if (link.session.signal.aborted) return endedResult({ state: "killed", endedReason: null });
      throw err;
    }
  });
  if (opts.clientGone?.()) {
    link.notes.push({ text: missedResultNote(`your ${String(call.tool).slice(0, 100)} call`, "your connection closed before a result arrived", result) });
    return { result, notes: [] };
  }
  return { result, notes: takeNotes(db, link) };
}

/** Notes waiting for the agent, plus notices published for agents (a rollback) since the last call. */
function takeNotes(db: Db, link: ExternalAgentLink): string[] {
  const out = link.notes.splice(0).map((n) => n.text);
  const notices = db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, link.session.runId), eq(runEvents.type, "note"), gt(runEvents.id, link.noteCursor)))
    .orderBy(asc(runEvents.id))
    .all();
  for (const n of notices) {
    const p = n.payload as { toModel?: string; inject?: boolean };
    if (p.inject && p.toModel) out.push(p.toModel);
  }
  link.noteCursor = notices.at(-1)?.id ?? link.noteCursor;
  return out;
}

export { endedResult as resultForEndedRun };
