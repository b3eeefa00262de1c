// Runs as the API sees them: creation (queued), reads and listings.
import { LOCAL_ENGINE } from "@/server/engines/types";
import crypto from "node:crypto";
import { and, asc, desc, eq, inArray, isNull, lt, notInArray, or, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { approvals, models, RUN_STATES, runReruns, runs, toolCalls, users, type Run } from "@/db/schema";
import { TERMINAL_STATES } from "@/server/runs/state-machine";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { requireActiveModel } from "@/server/models/models";
import { resolveRunLimits, runLimitsInput } from "@/server/runs/limits";
import { assertMayStartRunIn, DEFAULT_PROJECT_ID, requireProject } from "@/server/projects/projects";
import { armedConfigFilesOf } from "@/server/workspace/armed-config";
import { recordWorkspaceSource, sourceFromInput, workspaceSourceInput } from "@/server/workspace/sources";
import type { WorkspaceSourceJson } from "@/db/schema";
import { issueRunTokenInTx, runTokenOf } from "@/server/runs/run-tokens";
import { queuePositions } from "@/server/runs/queue";

export const createRunInput = z.object({
  title: z.string().trim().min(1, "Give the run a title.").max(200),
  task: z.string().trim().min(1, "Describe the task for the agent.").max(50_000, "The task is longer than 50 000 characters."),
  modelId: z.string().optional(),
  projectId: z.string().optional(),
  agent: z.enum(["builtin", "external"]).default("builtin"),
  stepMode: z.boolean().default(false),
  testCommand: z.string().trim().max(2000).optional(),
  limits: runLimitsInput.optional(),
  // Issue 5: where the workspace starts from, and automatic rollback when the run fails.
  source: workspaceSourceInput.optional(),
  autoRollback: z.enum(["off", "on_failure"]).default("off"),
});

export interface RunView {
  id: string;
  title: string;
  task: string;
  state: Run["state"];
  agent: Run["agent"];
  createdBy: string;
  createdByEmail: string | null;
  modelId: string | null;
  projectId: string;
  limits: Run["limits"];
  stepMode: boolean;
  testCommand: string | null;
  containerId: string | null;
  /** The runtime isolating the run's sandbox: "runsc" (gVisor) or "runc"; null until the sandbox started. */
  runtime: Run["runtime"];
  /** Issue 17: the engine its sandbox runs on (or was placed on); "local" for the engine next to Airlock and for runs not placed yet. */
  engine: string;
  plan: Run["plan"];
  planApproved: boolean;
  currentStep: number;
  stepsUsed: number;
  toolCallsUsed: number;
  tokensUsed: number;
  summary: string | null;
  endedReason: string | null;
  endedBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  /** Tool calls refused by the policy or a reviewer (a rejected plan is not counted): a run that "succeeded" despite them is shown as such. */
  deniedCalls: number;
  /** Requests of this run waiting for a decision now. */
  pendingApprovals: number;
  /** Plan steps (1-based) the agent reported done with complete_step and that were accepted; the UI ticks only these. */
  stepsDone: number[];
  /** External runs (runs.get only): whether the agent has connected over MCP yet. The token itself is never shown again. */
  mcp?: { connectedAt: Date | null; lastUsedAt: Date | null; revoked: boolean } | null;
  /** Issue 13: while queued, the run's 1-based place among all queued runs in start order (null otherwise). */
  queuePosition: number | null;
  /** Issue 13: while queued, why the run waits, in plain words (null otherwise, and before the queue first looked at it). */
  queueReason: string | null;
  /** runs.get only: the model endpoint's name, also once it is retired (issue 16). */
  modelName?: string | null;
  /** runs.get only: files the workspace source brought that can make later commands run programs (.git/hooks/…, .vscode/tasks.json). */
  armedConfigFiles?: string[];
  /** Issue 16: the run this one re-ran (runs.rerun), or null. */
  rerunOf: string | null;
  /** runs.get only: runs started as re-runs of this one, oldest first. */
  reruns?: string[];
}

/** Outcome counters for a run page or a page of the runs list, in three grouped queries. */
export interface RunOutcome {
  deniedCalls: number;
  pendingApprovals: number;
  stepsDone: number[];
}

const DENIAL_CODES = ["DENIED_BY_POLICY", "DENIED_BY_REVIEWER"];

export function runOutcomes(db: Db, runIds: string[]): Map<string, RunOutcome> {
  const out = new Map<string, RunOutcome>(runIds.map((id) => [id, { deniedCalls: 0, pendingApprovals: 0, stepsDone: [] }]));
  if (runIds.length === 0) return out;
  const denied = db
    .select({ runId: toolCalls.runId, n: sql<number>`count(*)` })
    .from(toolCalls)
    .where(and(inArray(toolCalls.runId, runIds), inArray(toolCalls.errorCode, DENIAL_CODES), sql`${toolCalls.tool} <> 'submit_plan'`))
    .groupBy(toolCalls.runId)
    .all();
  for (const d of denied) out.get(d.runId)!.deniedCalls = Number(d.n);
  const pending = db
    .select({ runId: approvals.runId, n: sql<number>`count(*)` })
    .from(approvals)
    .where(and(inArray(approvals.runId, runIds), eq(approvals.state, "pending")))
    .groupBy(approvals.runId)
    .all();
  for (const p of pending) out.get(p.runId)!.pendingApprovals = Number(p.n);
  // A step counts as done only when the agent said so and the gateway accepted it (in step mode: a reviewer said continue).
  const steps = db
    .select({ runId: toolCalls.runId, args: toolCalls.args })
    .from(toolCalls)
    .where(and(inArray(toolCalls.runId, runIds), eq(toolCalls.tool, "complete_step"), eq(toolCalls.state, "succeeded")))
    .all();
  for (const s of steps) {
    const step = Number((s.args as { step?: unknown }).step);
    const o = out.get(s.runId)!;
    if (Number.isInteger(step) && step > 0 && !o.stepsDone.includes(step)) o.stepsDone.push(step);
  }
  for (const o of out.values()) o.stepsDone.sort((a, b) => a - b);
  return out;
}

const NO_OUTCOME: RunOutcome = { deniedCalls: 0, pendingApprovals: 0, stepsDone: [] };

function toView(run: Run, email: string | null, outcome: RunOutcome = NO_OUTCOME, positions?: Map<string, number>): RunView {
  const queued = run.state === "queued";
  return {
    id: run.id,
    title: run.title,
    task: run.task,
    state: run.state,
    agent: run.agent,
    createdBy: run.createdBy,
    createdByEmail: email,
    modelId: run.modelId,
    projectId: run.projectId ?? DEFAULT_PROJECT_ID,
    limits: run.limits,
    stepMode: run.stepMode,
    testCommand: run.testCommand,
    containerId: run.containerId,
    runtime: run.runtime ?? null,
    engine: run.engine ?? LOCAL_ENGINE,
    plan: run.plan ?? null,
    planApproved: Boolean(run.planApprovedAt),
    currentStep: run.currentStep,
    stepsUsed: run.stepsUsed,
    toolCallsUsed: run.toolCallsUsed,
    tokensUsed: run.tokensUsed,
    summary: run.summary,
    endedReason: run.endedReason,
    endedBy: run.endedBy,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    queuePosition: queued ? (positions?.get(run.id) ?? null) : null,
    queueReason: queued ? run.queueReason : null,
    rerunOf: null,
    ...outcome,
  };
}

export function createRun(db: Db, actor: Actor & { userId: string }, raw: z.input<typeof createRunInput>, opts: { source?: WorkspaceSourceJson } = {}): Run {
  return createRunWithToken(db, actor, raw, opts).run;
}

/**
 * Creates a queued run. An external run (agent "external") brings its own
 * agent over MCP instead of a model endpoint and gets a run token, returned
 * here once and stored only as a hash.
 */
export function createRunWithToken(
  db: Db,
  actor: Actor & { userId: string },
  raw: z.input<typeof createRunInput>,
  opts: { source?: WorkspaceSourceJson; rerunOf?: string } = {},
): { run: Run; mcpToken: string | null } {
  const input = createRunInput.parse(raw);
  const external = input.agent === "external";
  if (!external) {
    if (!input.modelId)
      throw new DomainError(
        "INVALID_INPUT",
        'Choose a model endpoint (modelId), or agent "external" to connect your own agent over MCP. Admins register endpoints in Settings → Models.',
      );
    requireActiveModel(db, input.modelId);
  } else if (input.modelId) {
    throw new DomainError(
      "INVALID_INPUT",
      'An external run brings its own agent over MCP; leave modelId out (or choose agent "builtin" to use a model endpoint).',
    );
  }
  // The run's project (the default one when none is named) sets the policy, starting limits and test command.
  const project = requireProject(db, input.projectId);
  const creator = db.select({ id: users.id, role: users.role }).from(users).where(eq(users.id, actor.userId)).get();
  assertMayStartRunIn(db, project, creator ?? null);
  let limits;
  try {
    limits = resolveRunLimits({ ...project.defaultLimits, ...input.limits });
  } catch (err) {
    throw new DomainError("INVALID_INPUT", (err as Error).message);
  }
  const id = crypto.randomUUID();
  const now = new Date();
  const { run, event, mcpToken } = db.transaction(
    (tx) => {
      const run = tx
        .insert(runs)
        .values({
          id,
          title: input.title,
          task: input.task,
          modelId: input.modelId ?? null,
          projectId: project.id,
          agent: input.agent,
          state: "queued",
          createdBy: actor.userId,
          limits,
          stepMode: input.stepMode,
          testCommand: input.testCommand || project.testCommand || null,
          autoRollback: input.autoRollback,
          updatedAt: now,
        })
        .returning()
        .get();
      // A re-run starts from the same archive its original did (the upload stays on disk; it is not claimed again).
      recordWorkspaceSource(tx, id, opts.source ?? sourceFromInput(input.source), actor.userId, { reuse: Boolean(opts.rerunOf) });
      if (opts.rerunOf) tx.insert(runReruns).values({ runId: id, rerunOf: opts.rerunOf }).run();
      const mcpToken = external ? issueRunTokenInTx(tx, id) : null;
      appendAudit(tx, actor, {
        action: "run.create",
        targetType: "run",
        targetId: id,
        details: {
          title: input.title,
          modelId: input.modelId,
          projectId: project.id,
          limits,
          stepMode: input.stepMode,
          ...(opts.rerunOf ? { rerunOf: opts.rerunOf } : {}),
          ...(external ? { agent: "external", mcpTokenPrefix: mcpToken!.slice(0, 10) } : {}),
        },
      });
      const event = insertRunEvent(tx, id, "state", { from: null, to: "queued", by: actor.label });
      return { run, event, mcpToken };
    },
    { behavior: "immediate" },
  );
  announce(event);
  return { run, mcpToken };
}

// The routers read a run through this module; the lookup itself lives in lookup.ts (no heavy imports, so any domain may use it).
export { findRun, requireRun } from "@/server/runs/lookup";

export function getRunView(db: Db, id: string): RunView {
  const row = db.select({ run: runs, email: users.email }).from(runs).leftJoin(users, eq(users.id, runs.createdBy)).where(eq(runs.id, id)).get();
  if (!row) throw new DomainError("NOT_FOUND", `No run with id ${id}.`);
  const positions = row.run.state === "queued" ? queuePositions(db) : undefined;
  // The endpoint's name, also once it is retired (issue 16: retiring keeps the runs' history readable).
  const modelName = row.run.modelId ? (db.select({ name: models.name }).from(models).where(eq(models.id, row.run.modelId)).get()?.name ?? null) : null;
  const reruns = db.select({ runId: runReruns.runId }).from(runReruns).where(eq(runReruns.rerunOf, id)).orderBy(asc(runReruns.createdAt)).all();
  const view = {
    ...toView(row.run, row.email, runOutcomes(db, [id]).get(id), positions),
    modelName,
    armedConfigFiles: armedConfigFilesOf(db, id),
    rerunOf: rerunOrigins(db, [id]).get(id) ?? null,
    reruns: reruns.map((r) => r.runId),
  };
  if (row.run.agent !== "external") return view;
  const token = runTokenOf(db, id);
  return { ...view, mcp: token ? { connectedAt: token.connectedAt, lastUsedAt: token.lastUsedAt, revoked: Boolean(token.revokedAt) } : null };
}

export const RUN_SORTS = ["newest", "oldest", "longest", "pending", "attention"] as const;
export type RunSort = (typeof RUN_SORTS)[number];

export const listRunsInput = z.object({
  state: z.enum(RUN_STATES).optional(),
  limit: z.number().int().min(1).max(200).default(50),
  cursor: z.string().optional(),
  // Issue 16 (the fleet view): all optional, so older callers get what they always got.
  /** Any of these states (with `state`, both must hold). */
  states: z.array(z.enum(RUN_STATES)).max(RUN_STATES.length).optional(),
  /** Only runs that have not ended (queued, starting, planning, running, waiting, paused). */
  active: z.boolean().optional(),
  projectId: z.string().min(1).max(200).optional(),
  /** The operator who started the run (a user id). */
  createdBy: z.string().min(1).max(200).optional(),
  modelId: z.string().min(1).max(200).optional(),
  /** Words that must all appear in the title, the task or the id (case-insensitive). */
  q: z.string().trim().max(200, "The search text is longer than 200 characters.").optional(),
  /** newest (default), oldest, longest (wall time), pending (most pending requests), attention (waiting for a decision first, then running, then queued by place). */
  sort: z.enum(RUN_SORTS).optional(),
});

/** LIKE pattern for a literal word (%, _ and the escape character escaped with a backslash). */
function likeWord(word: string): string {
  return `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const pendingCount = sql<number>`(select count(*) from ${approvals} where ${approvals.runId} = ${runs.id} and ${approvals.state} = 'pending')`;

function listConditions(input: z.infer<typeof listRunsInput>): SQL[] {
  const conds: SQL[] = [];
  if (input.state) conds.push(eq(runs.state, input.state));
  if (input.states?.length) conds.push(inArray(runs.state, input.states));
  if (input.active) conds.push(notInArray(runs.state, [...TERMINAL_STATES]));
  if (input.projectId)
    conds.push(input.projectId === DEFAULT_PROJECT_ID ? or(eq(runs.projectId, input.projectId), isNull(runs.projectId))! : eq(runs.projectId, input.projectId));
  if (input.createdBy) conds.push(eq(runs.createdBy, input.createdBy));
  if (input.modelId) conds.push(eq(runs.modelId, input.modelId));
  for (const word of (input.q ?? "").split(/\s+/).filter(Boolean).slice(0, 10)) {
    const pattern = likeWord(word.toLowerCase());
    conds.push(
      sql`(lower(${runs.title}) like ${pattern} escape '\\' or lower(${runs.task}) like ${pattern} escape '\\' or ${runs.id} like ${pattern} escape '\\')`,
    );
  }
  return conds;
}

/** 0: waits for a person (a pending request or a waiting state); 2: queued; 1: the rest. */
const attentionRank = sql`(case when ${pendingCount} > 0 or ${runs.state} in ('awaiting_plan_approval', 'awaiting_approval') then 0 when ${runs.state} = 'queued' then 2 else 1 end)`;

/**
 * Runs that wait for a person first (most pending requests, then waiting
 * longest), then the others newest first, then queued runs in start order
 * (their place in the queue, as server/runs/queue.ts orders them).
 */
const ATTENTION_ORDER = [
  asc(attentionRank),
  asc(sql`case when ${attentionRank} = 0 then -${pendingCount} else 0 end`),
  asc(sql`case when ${attentionRank} = 1 then -${runs.createdAt} else ${runs.createdAt} end`),
  sql`"runs"."rowid"`,
];

function parseOffset(cursor: string | undefined): number {
  if (!cursor) return 0;
  const m = /^o:(\d{1,9})$/.exec(cursor);
  if (!m) throw new DomainError("INVALID_INPUT", "cursor is not one this API returned for this sort; start again without a cursor.");
  return Number(m[1]);
}

export function listRunViews(db: Db, input: z.infer<typeof listRunsInput>, now = new Date()): { items: RunView[]; nextCursor?: string } {
  const conds = listConditions(input);
  const sort = input.sort ?? "newest";
  const select = () =>
    db
      .select({ run: runs, email: users.email })
      .from(runs)
      .leftJoin(users, eq(users.id, runs.createdBy))
      .where(conds.length ? and(...conds) : undefined);
  const views = (rows: { run: Run; email: string | null }[]) => {
    const ids = rows.map((r) => r.run.id);
    const outcomes = runOutcomes(db, ids);
    const reruns = rerunOrigins(db, ids);
    const positions = rows.some((r) => r.run.state === "queued") ? queuePositions(db) : undefined;
    return rows.map((r) => ({ ...toView(r.run, r.email, outcomes.get(r.run.id), positions), rerunOf: reruns.get(r.run.id) ?? null }));
  };
  if (sort === "newest") {
    // Keyed by creation time, as before issue 16 (cursors handed out then still work).
    if (input.cursor) {
      const ms = Number(input.cursor);
      if (!Number.isFinite(ms)) throw new DomainError("INVALID_INPUT", "cursor is not one this API returned.");
      conds.push(lt(runs.createdAt, new Date(ms)));
    }
    const rows = select()
      .orderBy(desc(runs.createdAt))
      .limit(input.limit + 1)
      .all();
    const items = views(rows.slice(0, input.limit));
    return { items, nextCursor: rows.length > input.limit ? String(items.at(-1)!.createdAt.getTime()) : undefined };
  }
  const offset = parseOffset(input.cursor);
  const nowMs = now.getTime();
  const order =
    sort === "attention"
      ? ATTENTION_ORDER
      : sort === "oldest"
        ? [asc(runs.createdAt)]
        : sort === "pending"
          ? [desc(pendingCount), desc(runs.createdAt)]
          : // Wall time so far: a queued run has none yet, a live one counts up to now.
            [desc(sql`coalesce(${runs.endedAt}, ${nowMs}) - coalesce(${runs.startedAt}, ${nowMs})`), desc(runs.createdAt)];
  const rows = select()
    .orderBy(...order)
    .limit(input.limit + 1)
    .offset(offset)
    .all();
  const items = views(rows.slice(0, input.limit));
  return { items, nextCursor: rows.length > input.limit ? `o:${offset + input.limit}` : undefined };
}

/** Everyone who started a run, for the fleet view's operator filter (emails are on every run row already). */
export function listRunOperators(db: Db): { id: string; email: string }[] {
  return db.selectDistinct({ id: users.id, email: users.email }).from(runs).innerJoin(users, eq(users.id, runs.createdBy)).orderBy(asc(users.email)).all();
}

/** The run each of `runIds` re-ran (runs.rerun), where it did. */
export function rerunOrigins(db: Db, runIds: string[]): Map<string, string> {
  if (runIds.length === 0) return new Map();
  const rows = db.select().from(runReruns).where(inArray(runReruns.runId, runIds)).all();
  return new Map(rows.map((r) => [r.runId, r.rerunOf]));
}

export function listToolCalls(db: Db, runId: string) {
  return db.select().from(toolCalls).where(eq(toolCalls.runId, runId)).orderBy(toolCalls.seq).all();
}
