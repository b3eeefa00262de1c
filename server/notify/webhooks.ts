// The webhook channel: delivers notify events to the endpoints admins
// registered (server/notify/webhook-endpoints.ts), signed per Standard Webhooks
// or as Slack messages. deliver() only records and enqueues: the HTTP work runs
// in the background, per endpoint and concurrency-limited, with retries, so a
// slow or dead receiver never holds up a run or a decision. The queue lives in
// memory: retries still pending when the process stops are lost (their log rows
// stay "pending"/"failed"; abandonInterruptedDeliveries marks them at start).
import crypto from "node:crypto";
import http from "node:http";
import https from "node:https";
import { and, desc, eq, inArray, isNull, lt, notInArray, or, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { users, webhookDeliveries, webhooks, type Webhook, type WebhookDeliveryState } from "@/db/schema";
import { appendAudit, SYSTEM_ACTOR } from "@/server/audit/chain";
import { DEFAULT_PROJECT_ID } from "@/server/projects/projects";
import { decryptSecret } from "@/server/secrets/crypto";
import { DestinationRefused, notifyAgents, resolveNotifyHost } from "@/server/notify/destination";
import { slackMessage, standardBody, standardHeaders, type WebhookEvent } from "@/server/notify/webhook-payloads";
import type { NotifyChannel, NotifyEvent } from "@/server/notify/types";
import { countNotificationDelivery } from "@/server/metrics/instruments";

/**
 * Delivery policy. Mutable so tests can use small delays (like THROTTLE in
 * server/auth/throttle.ts); nothing else changes it.
 */
export const WEBHOOK_DELIVERY = {
  /** Whole request, connect to last byte of the answer. */
  timeoutMs: 5_000,
  /** Attempts per event, the first included. */
  maxAttempts: 5,
  /** Backoff before attempt n+1: a random delay in [0, min(maxDelayMs, baseDelayMs·2^(n-1))] ("full jitter"). */
  baseDelayMs: 2_000,
  maxDelayMs: 5 * 60_000,
  /** Requests in flight to one endpoint at a time; the rest wait their turn. */
  concurrencyPerEndpoint: 2,
  /** Deliveries unfinished for one endpoint (sending, queued or waiting to retry); beyond it new events give up at once (a dead endpoint cannot eat memory). */
  maxQueuedPerEndpoint: 500,
  /** Deliveries that gave up in a row before the endpoint is disabled automatically. */
  disableAfterGaveUp: 5,
  /** Log rows kept per endpoint (newest first). */
  logLimit: 200,
  /** The jitter's source; tests pin it to make gaps predictable. */
  random: Math.random as () => number,
};

/** Enough of a URL to recognise it, not enough to post to it. */
export function displayUrl(text: string): string {
  try {
    const url = new URL(text);
    const path = url.pathname
      .split("/")
      .map((segment) => (segment.length > 12 ? `${segment.slice(0, 4)}…` : segment))
      .join("/");
    return `${url.origin}${path}${url.search ? "?…" : ""}`;
  } catch {
    return "(unreadable URL)";
  }
}

/** How an automatic disabling's reason starts (the list tells it from an admin's by this). */
export const AUTO_DISABLED_PREFIX = "Disabled automatically";

export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  /** 5xx, 429 and network errors (timeouts included) are retried; other answers and refused destinations are not. */
  retryable: boolean;
  /** A 429's Retry-After, when it gave one. */
  retryAfterMs?: number;
}

export interface WebhookDisabledNotice {
  webhookId: string;
  /** Shortened (displayUrl): a Slack URL is a credential, and the notice may travel by push or email. */
  url: string;
  projectId: string | null;
  reason: string;
}

interface EndpointQueue {
  active: number;
  waiting: (() => void)[];
}

const g = globalThis as unknown as {
  __airlockWebhookQueues?: Map<string, EndpointQueue>;
  __airlockWebhookOutstanding?: Map<string, number>;
  __airlockWebhookTasks?: Set<Promise<void>>;
  __airlockWebhookDisabledListeners?: Set<(notice: WebhookDisabledNotice) => void>;
  __airlockWebhookAgents?: ReturnType<typeof notifyAgents>;
};
const queues = (g.__airlockWebhookQueues ??= new Map());
// Deliveries not finished per endpoint: sending, waiting for a slot, or sleeping before a retry.
const outstanding = (g.__airlockWebhookOutstanding ??= new Map());
const tasks = (g.__airlockWebhookTasks ??= new Set());
const disabledListeners = (g.__airlockWebhookDisabledListeners ??= new Set());

/**
 * Called after an endpoint was disabled automatically (its audit event is
 * committed by then), so the dispatcher can tell admins. Returns an unsubscribe.
 */
export function onWebhookDisabled(listener: (notice: WebhookDisabledNotice) => void): () => void {
  disabledListeners.add(listener);
  return () => disabledListeners.delete(listener);
}

/** Resolves once every queued delivery has finished (tests; a graceful shutdown may await it too). */
export async function webhookDeliveriesSettled(): Promise<void> {
  while (tasks.size) await Promise.allSettled([...tasks]);
}

function agents(): ReturnType<typeof notifyAgents> {
  g.__airlockWebhookAgents ??= notifyAgents();
  return g.__airlockWebhookAgents;
}

/** Endpoints that want this event: enabled, subscribed to its type, global or of the event's project. */
export function endpointsFor(db: Db, event: Pick<NotifyEvent, "type" | "projectId">): Webhook[] {
  const projectId = event.projectId ?? DEFAULT_PROJECT_ID;
  return db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.enabled, true), or(isNull(webhooks.projectId), eq(webhooks.projectId, projectId))))
    .all()
    .filter((w) => w.events.includes(event.type));
}

/** The delay before the attempt after `attempt` (1-based): full jitter over an exponential cap, at least a 429's Retry-After. */
export function backoffDelayMs(attempt: number, retryAfterMs?: number): number {
  const cap = Math.min(WEBHOOK_DELIVERY.maxDelayMs, WEBHOOK_DELIVERY.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.round(WEBHOOK_DELIVERY.random() * cap);
  return retryAfterMs !== undefined ? Math.min(WEBHOOK_DELIVERY.maxDelayMs, Math.max(jittered, retryAfterMs)) : jittered;
}

function retryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The request body and headers of one attempt (signed afresh: Standard Webhooks receivers refuse stale timestamps). */
function requestFor(hook: Webhook, event: WebhookEvent, operator: string | null): { body: string; headers: Record<string, string> } {
  if (hook.format === "slack") return { body: JSON.stringify(slackMessage(event, { operator })), headers: {} };
  const body = JSON.stringify(standardBody(event));
  return { body, headers: standardHeaders(decryptSecret(hook.secretEnc), event.id, body) };
}

/** One HTTP attempt; never throws. The destination is judged again on every attempt (an admin may have narrowed the allow list). */
export async function attemptDelivery(hook: Webhook, event: WebhookEvent, operator: string | null): Promise<AttemptOutcome> {
  return postWebhook(hook.url, () => requestFor(hook, event, operator));
}

/**
 * One signed POST to a receiver; never throws. `request` builds the body and
 * headers once the destination is judged (signatures carry a fresh timestamp).
 * Shared by the notify webhooks and the audit anchor (server/audit/anchor.ts).
 */
export async function postWebhook(
  urlText: string,
  request: () => { body: string; headers: Record<string, string> },
  opts: { allowHosts?: string[] } = {},
): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  try {
    url = new URL(urlText);
    // Node skips the agent's lookup for IP literals: judge the host here as well.
    await resolveNotifyHost(url.hostname, opts.allowHosts);
  } catch (error) {
    const refused = error instanceof DestinationRefused;
    return {
      ok: false,
      statusCode: null,
      error: refused ? error.message : `Could not resolve the host: ${(error as Error).message}`,
      latencyMs: elapsed(),
      retryable: !refused,
    };
  }
  const { body, headers } = request();
  const client = url.protocol === "https:" ? https : http;
  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<AttemptOutcome, "latencyMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...outcome, latencyMs: elapsed() });
    };
    const request = client.request(
      url,
      {
        method: "POST",
        agent: url.protocol === "https:" ? agents().https : agents().http,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), "user-agent": "Airlock-Webhooks/1", ...headers },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        // The answer's body is not needed; drain it so the connection can be reused.
        response.resume();
        response.on("end", () => {
          const ok = status >= 200 && status < 300;
          const retryable = status >= 500 || status === 429;
          finish({
            ok,
            statusCode: status,
            error: ok ? null : `The receiver answered ${status}${retryable ? "" : " (not retried: fix the receiver or the endpoint, then send a test)"}.`,
            retryable,
            retryAfterMs: status === 429 ? retryAfter(response.headers["retry-after"]) : undefined,
          });
        });
        response.on("error", (error) => finish({ ok: false, statusCode: status, error: `The answer broke off: ${error.message}`, retryable: true }));
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, statusCode: null, error: `No answer within ${WEBHOOK_DELIVERY.timeoutMs} ms.`, retryable: true });
      request.destroy();
    }, WEBHOOK_DELIVERY.timeoutMs);
    request.on("error", (error) => {
      const refused = error instanceof DestinationRefused;
      finish({ ok: false, statusCode: null, error: refused ? error.message : `Could not deliver: ${error.message}`, retryable: !refused });
    });
    request.end(body);
  });
}

async function takeSlot(webhookId: string): Promise<() => void> {
  let queue = queues.get(webhookId);
  if (!queue) {
    queue = { active: 0, waiting: [] };
    queues.set(webhookId, queue);
  }
  const q = queue;
  if (q.active >= WEBHOOK_DELIVERY.concurrencyPerEndpoint) await new Promise<void>((resolve) => q.waiting.push(resolve));
  q.active += 1;
  return () => {
    q.active -= 1;
    const next = q.waiting.shift();
    if (next) next();
    else if (q.active === 0) queues.delete(webhookId);
  };
}

function insertAttempt(db: Db, webhookId: string, event: WebhookEvent, attempt: number): string {
  const id = crypto.randomUUID();
  db.insert(webhookDeliveries).values({ id, webhookId, eventId: event.id, eventType: event.type, attempt, at: new Date(), state: "pending" }).run();
  return id;
}

function recordAttempt(db: Db, rowId: string, state: WebhookDeliveryState, outcome: Partial<AttemptOutcome>, nextAttemptAt: Date | null = null): void {
  if (state !== "pending") countNotificationDelivery("webhook", state === "delivered" ? "delivered" : state === "failed" ? "retrying" : "failed");
  db.update(webhookDeliveries)
    .set({ state, statusCode: outcome.statusCode ?? null, error: outcome.error ?? null, latencyMs: outcome.latencyMs ?? null, nextAttemptAt })
    .where(eq(webhookDeliveries.id, rowId))
    .run();
}

/** Keeps the newest logLimit rows of an endpoint's log. */
export function trimDeliveryLog(db: Db, webhookId: string): void {
  const keep = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, webhookId))
    .orderBy(desc(webhookDeliveries.at), desc(webhookDeliveries.attempt))
    .limit(WEBHOOK_DELIVERY.logLimit)
    .all()
    .map((r) => r.id);
  if (keep.length < WEBHOOK_DELIVERY.logLimit) return;
  db.delete(webhookDeliveries)
    .where(and(eq(webhookDeliveries.webhookId, webhookId), notInArray(webhookDeliveries.id, keep)))
    .run();
}

function markDelivered(db: Db, webhookId: string): void {
  db.update(webhooks).set({ consecutiveFailures: 0 }).where(eq(webhooks.id, webhookId)).run();
}

/** Counts a delivery that gave up; enough in a row disable the endpoint, with its audit event, and tell the listeners. */
function markGaveUp(db: Db, webhookId: string, lastError: string | null): void {
  const notice = db.transaction(
    (tx) => {
      const hook = tx.select().from(webhooks).where(eq(webhooks.id, webhookId)).get();
      if (!hook) return null;
      const failures = hook.consecutiveFailures + 1;
      if (!hook.enabled || failures < WEBHOOK_DELIVERY.disableAfterGaveUp) {
        tx.update(webhooks).set({ consecutiveFailures: failures }).where(eq(webhooks.id, webhookId)).run();
        return null;
      }
      const reason = `${AUTO_DISABLED_PREFIX} on ${new Date().toISOString()}: ${failures} deliveries in a row failed after every retry (last: ${lastError ?? "unknown error"}). Fix the receiver, send a test, then enable it again.`;
      tx.update(webhooks).set({ consecutiveFailures: failures, enabled: false, disabledReason: reason }).where(eq(webhooks.id, webhookId)).run();
      appendAudit(tx, SYSTEM_ACTOR, {
        action: "webhook.disabled",
        targetType: "webhook",
        targetId: webhookId,
        details: { origin: new URL(hook.url).origin, projectId: hook.projectId, consecutiveFailures: failures, lastError },
      });
      return { webhookId, url: displayUrl(hook.url), projectId: hook.projectId, reason };
    },
    { behavior: "immediate" },
  );
  if (!notice) return;
  for (const listener of disabledListeners) {
    try {
      listener(notice);
    } catch (error) {
      console.error("airlock: a webhook-disabled listener failed:", error);
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

/** One event to one endpoint, every attempt logged, until delivered, given up, or the endpoint is disabled or deleted. */
async function deliverToEndpoint(db: Db, webhookId: string, event: WebhookEvent, operator: string | null, firstRow: string): Promise<void> {
  let rowId = firstRow;
  for (let attempt = 1; ; attempt++) {
    const release = await takeSlot(webhookId);
    let outcome: AttemptOutcome;
    try {
      const hook = db.select().from(webhooks).where(eq(webhooks.id, webhookId)).get();
      if (!hook) return; // deleted: its log went with it
      if (!hook.enabled) {
        recordAttempt(db, rowId, "gave_up", { error: `Not sent: the endpoint was disabled (${hook.disabledReason ?? "by an admin"}).` });
        return;
      }
      db.update(webhookDeliveries).set({ at: new Date() }).where(eq(webhookDeliveries.id, rowId)).run();
      outcome = await attemptDelivery(hook, event, operator);
    } finally {
      release();
    }
    if (outcome.ok) {
      recordAttempt(db, rowId, "delivered", outcome);
      markDelivered(db, webhookId);
      return;
    }
    if (!outcome.retryable || attempt >= WEBHOOK_DELIVERY.maxAttempts) {
      const why = outcome.retryable ? ` Gave up after ${attempt} attempts.` : "";
      recordAttempt(db, rowId, "gave_up", { ...outcome, error: `${outcome.error ?? "Failed."}${why}` });
      markGaveUp(db, webhookId, outcome.error);
      return;
    }
    const delay = backoffDelayMs(attempt, outcome.retryAfterMs);
    recordAttempt(db, rowId, "failed", outcome, new Date(Date.now() + delay));
    await sleep(delay);
    rowId = insertAttempt(db, webhookId, event, attempt + 1);
    trimDeliveryLog(db, webhookId);
  }
}

function operatorLabel(db: Db, userId: string): string | null {
  return db.select({ email: users.email }).from(users).where(eq(users.id, userId)).get()?.email ?? null;
}

/**
 * Records one pending delivery per matching endpoint and starts them in the
 * background; returns at once. Never throws: a broken webhook must not break
 * the caller's run or decision.
 */
export function enqueueWebhookEvent(db: Db, event: WebhookEvent, only?: Webhook[]): number {
  let started = 0;
  try {
    const hooks = only ?? endpointsFor(db, event as NotifyEvent);
    if (!hooks.length) return 0;
    const operator = operatorLabel(db, event.operatorId);
    for (const hook of hooks) {
      const rowId = insertAttempt(db, hook.id, event, 1);
      const waiting = outstanding.get(hook.id) ?? 0;
      if (waiting >= WEBHOOK_DELIVERY.maxQueuedPerEndpoint) {
        recordAttempt(db, rowId, "gave_up", { error: `Not sent: ${WEBHOOK_DELIVERY.maxQueuedPerEndpoint} deliveries to this endpoint are still unfinished.` });
        continue;
      }
      trimDeliveryLog(db, hook.id);
      outstanding.set(hook.id, waiting + 1);
      const task = deliverToEndpoint(db, hook.id, event, operator, rowId)
        .catch((error: unknown) => console.error(`airlock: webhook delivery to ${hook.id} failed:`, error))
        .finally(() => {
          tasks.delete(task);
          const left = (outstanding.get(hook.id) ?? 1) - 1;
          if (left > 0) outstanding.set(hook.id, left);
          else outstanding.delete(hook.id);
        });
      tasks.add(task);
      started += 1;
    }
  } catch (error) {
    console.error("airlock: could not queue webhook deliveries:", error);
  }
  return started;
}

/** The channel the notify dispatcher calls (registered at boot); recipients are not used: endpoints are chosen by event and project. */
export const webhookChannel: NotifyChannel = {
  name: "webhook",
  deliver(db, event) {
    enqueueWebhookEvent(db, event);
    return Promise.resolve();
  },
};

/** Sends one test event to an endpoint now (one attempt, no retry, not counted towards auto-disable) and logs it. */
export async function sendWebhookTest(db: Db, hook: Webhook, event: WebhookEvent): Promise<AttemptOutcome & { deliveryId: string }> {
  const rowId = insertAttempt(db, hook.id, event, 1);
  trimDeliveryLog(db, hook.id);
  const outcome = await attemptDelivery(hook, event, operatorLabel(db, event.operatorId));
  recordAttempt(db, rowId, outcome.ok ? "delivered" : "gave_up", outcome);
  return { ...outcome, deliveryId: rowId };
}

/**
 * At start: attempts a previous process left pending or waiting for a retry
 * will not run (the queue is in memory); say so in their log rows.
 */
export function abandonInterruptedDeliveries(db: Db, before: Date = new Date()): number {
  const result = db
    .update(webhookDeliveries)
    .set({
      state: "gave_up",
      nextAttemptAt: null,
      error: sql`coalesce(${webhookDeliveries.error} || ' ', '') || 'Not retried: Airlock restarted before the next attempt.'`,
    })
    .where(and(inArray(webhookDeliveries.state, ["pending", "failed"]), lt(webhookDeliveries.at, before)))
    .run();
  return result.changes;
}
