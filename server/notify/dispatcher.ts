// The notification dispatcher: turns persisted run events (approval requested
// or decided, run finished, failed or stopped) and the passing of time (a
// request about to expire, a project's escalation) into NotifyEvents, works
// out who should hear about each, filters by their preferences, and hands the
// event to every registered channel. It never blocks or throws into the event
// bus: events are queued and processed asynchronously.
import crypto from "node:crypto";
import { and, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, approvalVotes, projectMembers, runs, users, type Approval, type Project, type Run, type RunEvent } from "@/db/schema";
import { appendAudit, SYSTEM_ACTOR } from "@/server/audit/chain";
import { config } from "@/server/config/env";
import { emitSignal, onSignal } from "@/server/events/bus";
import { projectOfRun } from "@/server/projects/projects";
import { redactorForRun } from "@/server/secrets/secrets";
import { approvalPermissions, atLeast } from "@/lib/permissions";
import { notifyChannels } from "@/server/notify/registry";
import { preferencesOf, wantsNotification } from "@/server/notify/preferences";
import { summarizeApproval, summarizeRunEnd } from "@/server/notify/summary";
import type { NotifyChannel, NotifyChannelName, NotifyEvent, NotifyEventType, Recipient } from "@/server/notify/types";

/** How often the timer looks for requests about to expire or due for escalation. */
export const DEFAULT_TICK_MS = 15_000;
/** At most this many events are delivered at once (a slow SMTP server does not hold up push). */
const MAX_IN_FLIGHT = 4;

// ------------------------------------------------------------- building events

const DECIDED = new Set(["approved", "denied", "expired", "cancelled"]);
const RUN_END: Record<string, NotifyEventType> = { succeeded: "run.finished", failed: "run.failed", killed: "run.killed" };

/** What a bus event asks the dispatcher to announce, or null when it is not a notification. */
export function triggerOf(event: RunEvent): { type: NotifyEventType; runId: string; approvalId?: string } | null {
  const p = event.payload as Record<string, unknown>;
  if (event.type === "approval" && typeof p.approvalId === "string") {
    // A vote short of quorum is also a "pending" approval event, without `kind`: not a new request.
    if (p.state === "pending" && typeof p.kind === "string" && p.votes === undefined)
      return { type: "approval.requested", runId: event.runId, approvalId: p.approvalId };
    if (typeof p.state === "string" && DECIDED.has(p.state)) return { type: "approval.decided", runId: event.runId, approvalId: p.approvalId };
    return null;
  }
  if (event.type === "state" && typeof p.to === "string" && RUN_END[p.to]) return { type: RUN_END[p.to]!, runId: event.runId };
  return null;
}

export function approvalUrl(approvalId: string): string {
  return `${config().publicUrl}/approvals/${approvalId}`;
}

export function runUrl(runId: string): string {
  return `${config().publicUrl}/runs/${runId}`;
}

/** Builds the event from the database (the source of truth); null when the run or request is not in this database. */
export function buildNotifyEvent(db: Db, trigger: { type: NotifyEventType; runId: string; approvalId?: string }, at = new Date()): NotifyEvent | null {
  const run = db.select().from(runs).where(eq(runs.id, trigger.runId)).get();
  if (!run) return null;
  const project = projectOfRun(db, run);
  const redactor = redactorForRun(db, run.id);
  const base = {
    id: crypto.randomUUID(),
    type: trigger.type,
    timestamp: at.toISOString(),
    runId: run.id,
    runTitle: run.title,
    operatorId: run.createdBy,
    projectId: project.id,
    projectName: project.name,
  };
  if (trigger.approvalId) {
    const approval = db.select().from(approvals).where(eq(approvals.id, trigger.approvalId)).get();
    if (!approval) return null;
    const decision = trigger.type === "approval.decided" && DECIDED.has(approval.state) ? (approval.state as NotifyEvent["decision"]) : undefined;
    return {
      ...base,
      approvalId: approval.id,
      tool: approval.tool,
      summary: summarizeApproval(approval, redactor),
      ...(approval.risk ? { risk: approval.risk } : {}),
      url: approvalUrl(approval.id),
      ...(decision ? { decision } : {}),
    };
  }
  const outcome = trigger.type === "run.finished" ? "succeeded" : trigger.type === "run.failed" ? "failed" : "killed";
  return { ...base, summary: summarizeRunEnd(run, outcome, redactor), url: runUrl(run.id) };
}

// ------------------------------------------------------------- recipients

type UserRow = Pick<typeof users.$inferSelect, "id" | "email" | "role">;

function activeUsers(db: Db): UserRow[] {
  return db.select({ id: users.id, email: users.email, role: users.role }).from(users).where(isNull(users.disabledAt)).all();
}

function memberIdsOf(db: Db, projectId: string): string[] {
  return db
    .select({ userId: projectMembers.userId })
    .from(projectMembers)
    .where(eq(projectMembers.projectId, projectId))
    .all()
    .map((m) => m.userId);
}

/** Everyone active who may decide the request now: the policy's approver role, self-approval, earlier votes, and project membership. */
export function decidersOf(db: Db, approval: Approval, project: Pick<Project, "id">): UserRow[] {
  const voted = new Set(
    db
      .select({ userId: approvalVotes.userId })
      .from(approvalVotes)
      .where(eq(approvalVotes.approvalId, approval.id))
      .all()
      .map((v) => v.userId),
  );
  const members = memberIdsOf(db, project.id);
  return activeUsers(db).filter(
    (u) =>
      approvalPermissions({ id: u.id, role: u.role }, approval, { alreadyVoted: voted.has(u.id) }).canDecide &&
      // A project that lists members keeps its requests among them (admins see every project).
      (members.length === 0 || members.includes(u.id) || u.role === "admin"),
  );
}

/** The second group a project's escalation reaches: admins, or every reviewer and admin. */
export function escalationGroupOf(db: Db, approval: Approval, project: Pick<Project, "escalateTo">): UserRow[] {
  const minimum = project.escalateTo === "reviewers" ? "reviewer" : "admin";
  return activeUsers(db).filter(
    (u) => atLeast(u.role, minimum) && !approvalPermissions({ id: u.id, role: u.role }, { ...approval, state: "pending" }).selfApprovalBlocked,
  );
}

/** Who an event concerns, before preferences: deciders for requests, the operator for outcomes. */
export function recipientsOf(db: Db, event: NotifyEvent): Recipient[] {
  const out = new Map<string, Recipient>();
  const add = (list: UserRow[], reason: Recipient["reason"]) => {
    for (const u of list) if (!out.has(u.id)) out.set(u.id, { userId: u.id, email: u.email, role: u.role, reason });
  };
  const operator = () => activeUsers(db).filter((u) => u.id === event.operatorId);
  if (event.type === "approval.requested" || event.type === "approval.expiring" || event.type === "approval.escalated") {
    const approval = event.approvalId ? db.select().from(approvals).where(eq(approvals.id, event.approvalId)).get() : undefined;
    const run = db.select().from(runs).where(eq(runs.id, event.runId)).get();
    if (!approval || !run || approval.state !== "pending") return [];
    const project = projectOfRun(db, run);
    if (event.type === "approval.escalated") add(escalationGroupOf(db, approval, project), "escalation");
    add(decidersOf(db, approval, project), "may_decide");
  } else {
    add(operator(), "operator");
  }
  return [...out.values()];
}

/** The recipients a per-user channel delivers to: those whose preferences chose the channel, this event and project, outside quiet hours. */
export function recipientsForChannel(
  db: Db,
  event: NotifyEvent,
  recipients: Recipient[],
  channel: Exclude<NotifyChannelName, "webhook">,
  at = new Date(),
): Recipient[] {
  const prefs = preferencesOf(
    db,
    recipients.map((r) => r.userId),
  );
  return recipients.filter((r) => wantsNotification(prefs.get(r.userId)!, channel, event, at));
}

/** Lets the event loop read sockets before the next slice of notification work (setImmediate runs after the poll phase). */
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Works out the recipients and hands the event to each channel in turn,
 * yielding to I/O between channels: a channel's hand-off is synchronous
 * (tokens, encryption, queries) and must not hold up a reviewer's page.
 * Resolves once every channel has the event, with their deliveries still in
 * flight in `done` (an object, so awaiting this does not wait for them).
 */
export async function handOffNotifyEvent(db: Db, event: NotifyEvent, channels: NotifyChannel[] = notifyChannels()): Promise<{ done: Promise<void> }> {
  if (channels.length === 0) return { done: Promise.resolve() };
  const recipients = recipientsOf(db, event);
  const deliveries: Promise<void>[] = [];
  for (const channel of channels) {
    await yieldToIo();
    deliveries.push(
      (async () => {
        try {
          const chosen = channel.name === "webhook" ? [] : recipientsForChannel(db, event, recipients, channel.name);
          if (channel.name !== "webhook" && chosen.length === 0) return;
          await channel.deliver(db, event, chosen);
        } catch (error) {
          console.error(`airlock: the ${channel.name} channel failed on ${event.type} ${event.approvalId ?? event.runId}:`, error);
        }
      })(),
    );
  }
  return { done: Promise.all(deliveries).then(() => undefined) };
}

/** Hands one event to every registered channel and waits for their deliveries; a failing channel is logged and does not stop the others. */
export async function deliverNotifyEvent(db: Db, event: NotifyEvent, channels: NotifyChannel[] = notifyChannels()): Promise<void> {
  const { done } = await handOffNotifyEvent(db, event, channels);
  await done;
}

// ------------------------------------------------------------- time: expiring and escalation

/** A request counts as "about to expire" within max(2 min, 20 % of its time to live) of its expiry. */
export function expiringWindowMs(approval: Pick<Approval, "createdAt" | "expiresAt">): number {
  return Math.max(2 * 60_000, 0.2 * (approval.expiresAt.getTime() - approval.createdAt.getTime()));
}

/**
 * One pass of the timer: marks requests about to expire and requests due for
 * escalation, each in the transaction that decides it (so a restart never
 * sends either twice), and returns the events to deliver.
 */
export function checkApprovalDeadlines(db: Db, now = Date.now()): NotifyEvent[] {
  const pending = db
    .select({ a: approvals, run: runs })
    .from(approvals)
    .innerJoin(runs, eq(runs.id, approvals.runId))
    .where(and(eq(approvals.state, "pending"), gt(approvals.expiresAt, new Date(now))))
    .all();
  const due: { type: NotifyEventType; approval: Approval; run: Run }[] = [];
  const projectCache = new Map<string, Project>();
  for (const { a, run } of pending) {
    if (!a.expiringNotifiedAt && a.expiresAt.getTime() - now <= expiringWindowMs(a)) {
      const marked = db.transaction(
        (tx) =>
          tx
            .update(approvals)
            .set({ expiringNotifiedAt: new Date(now) })
            .where(and(eq(approvals.id, a.id), eq(approvals.state, "pending"), isNull(approvals.expiringNotifiedAt)))
            .run().changes === 1,
        { behavior: "immediate" },
      );
      if (marked) due.push({ type: "approval.expiring", approval: a, run });
    }
    const projectId = run.projectId ?? "default";
    const project = projectCache.get(projectId) ?? projectOfRun(db, run);
    projectCache.set(projectId, project);
    if (!a.escalatedAt && project.escalateAfterMinutes !== null && a.createdAt.getTime() + project.escalateAfterMinutes * 60_000 <= now) {
      const escalated = db.transaction(
        (tx) => {
          const changed = tx
            .update(approvals)
            .set({ escalatedAt: new Date(now) })
            .where(and(eq(approvals.id, a.id), eq(approvals.state, "pending"), isNull(approvals.escalatedAt)))
            .run().changes;
          if (changed !== 1) return false;
          appendAudit(tx, SYSTEM_ACTOR, {
            action: "approval.escalate",
            targetType: "approval",
            targetId: a.id,
            details: { runId: a.runId, projectId: project.id, afterMinutes: project.escalateAfterMinutes, to: project.escalateTo },
          });
          return true;
        },
        { behavior: "immediate" },
      );
      if (escalated) {
        due.push({ type: "approval.escalated", approval: a, run });
        // The approvals pages re-read and show the card as escalated.
        emitSignal("approvals:changed", { id: a.id, runId: a.runId, state: "pending" });
      }
    }
  }
  const at = new Date(now);
  return due.map((d) => buildNotifyEvent(db, { type: d.type, runId: d.run.id, approvalId: d.approval.id }, at)).filter((e): e is NotifyEvent => e !== null);
}

// ------------------------------------------------------------- the process-wide dispatcher

export interface DispatcherOptions {
  /** Timer interval for expiring and escalation checks (tests shorten it). */
  tickMs?: number;
}

/** Prepares one event and hands it to the channels; resolves with the deliveries still in flight. */
type Job = () => Promise<{ done: Promise<void> }>;

interface DispatcherState {
  db: Db;
  queue: Job[];
  /** Events handed to the channels whose deliveries have not finished. */
  inFlight: number;
  /** True while drain() works through the queue (one at a time, in order). */
  draining: boolean;
  slotWaiters: (() => void)[];
  idleWaiters: (() => void)[];
  stopListening: () => void;
  timer: NodeJS.Timeout;
  /** Run events already queued: some paths announce the same persisted event twice (the approval's own announce, then afterApprovalCommit). */
  seen: Set<string>;
}

const SEEN_LIMIT = 2000;

/** True the first time a run event is seen (kept for the last SEEN_LIMIT events). */
function firstSighting(state: DispatcherState, event: RunEvent): boolean {
  const key = `${event.runId}:${event.id}`;
  if (state.seen.has(key)) return false;
  state.seen.add(key);
  if (state.seen.size > SEEN_LIMIT) state.seen.delete(state.seen.values().next().value!);
  return true;
}

const g = globalThis as unknown as { __airlockNotifyDispatcher?: DispatcherState };

function isIdle(state: DispatcherState): boolean {
  return state.inFlight === 0 && state.queue.length === 0 && !state.draining;
}

function wakeIdle(state: DispatcherState): void {
  if (!isIdle(state)) return;
  for (const w of state.idleWaiters.splice(0)) w();
}

/**
 * Hands queued events to the channels one at a time, in the order they were
 * queued (so each channel receives them in commit order, as before), yielding
 * to I/O before each: the signal that tells the reviewers' live lists goes out
 * first, and their refetch is served between slices of notification work.
 * Deliveries then proceed concurrently, at most MAX_IN_FLIGHT events at once.
 */
async function drain(state: DispatcherState): Promise<void> {
  if (state.draining) return;
  state.draining = true;
  try {
    while (state.queue.length > 0) {
      while (state.inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => state.slotWaiters.push(resolve));
      await yieldToIo();
      const job = state.queue.shift()!;
      state.inFlight += 1;
      let done: Promise<void>;
      try {
        done = (await job()).done;
      } catch (error) {
        done = Promise.reject(error);
      }
      void done
        .catch((error) => console.error("airlock: a notification could not be processed:", error))
        .finally(() => {
          state.inFlight -= 1;
          state.slotWaiters.shift()?.();
          wakeIdle(state);
        });
    }
  } finally {
    state.draining = false;
    wakeIdle(state);
  }
}

function enqueue(state: DispatcherState, job: Job): void {
  state.queue.push(job);
  // Never on the bus listener's stack: the caller's transaction has committed and its request goes on.
  setImmediate(() => void drain(state));
}

/** Runs one timer pass now and queues what it found (the timer calls this; tests may too). */
export function runDeadlineCheck(now = Date.now()): number {
  const state = g.__airlockNotifyDispatcher;
  if (!state) return 0;
  let events: NotifyEvent[] = [];
  try {
    events = checkApprovalDeadlines(state.db, now);
  } catch (error) {
    console.error("airlock: the notification timer failed:", error);
  }
  for (const event of events) enqueue(state, () => handOffNotifyEvent(state.db, event));
  return events.length;
}

/** Starts the dispatcher for `db` once per process (a second call returns without starting another). */
export function startDispatcher(db: Db, opts: DispatcherOptions = {}): void {
  if (g.__airlockNotifyDispatcher) return;
  const state: DispatcherState = {
    db,
    queue: [],
    inFlight: 0,
    draining: false,
    slotWaiters: [],
    idleWaiters: [],
    stopListening: () => undefined,
    seen: new Set(),
    timer: setInterval(() => runDeadlineCheck(), opts.tickMs ?? DEFAULT_TICK_MS),
  };
  state.timer.unref();
  state.stopListening = onSignal("run:*", (payload) => {
    try {
      const trigger = triggerOf(payload as RunEvent);
      if (!trigger || !firstSighting(state, payload as RunEvent)) return;
      enqueue(state, async () => {
        const event = buildNotifyEvent(state.db, trigger);
        if (!event) return { done: Promise.resolve() };
        await yieldToIo();
        return handOffNotifyEvent(state.db, event);
      });
    } catch (error) {
      console.error("airlock: a run event could not be queued for notifications:", error);
    }
  });
  g.__airlockNotifyDispatcher = state;
}

/** Stops listening and the timer (tests; a process keeps its dispatcher until it exits). Queued work still finishes. */
export function stopDispatcher(): void {
  const state = g.__airlockNotifyDispatcher;
  if (!state) return;
  state.stopListening();
  clearInterval(state.timer);
  g.__airlockNotifyDispatcher = undefined;
}

/** Resolves once every queued notification has been handed to the channels (tests, benchmarks). */
export function notificationsIdle(): Promise<void> {
  const state = g.__airlockNotifyDispatcher;
  if (!state) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // After pending setImmediate pumps have run, so an event queued just before counts.
    setImmediate(() => {
      if (isIdle(state)) resolve();
      else state.idleWaiters.push(resolve);
    });
  });
}
