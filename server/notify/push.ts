// The Web Push channel: one encrypted message (RFC 8291, aes128gcm, VAPID-signed)
// per device of each recipient. A message carries only what the notification
// shows, built from the NotifyEvent's own fields (never the call's arguments
// or output), plus, for requests the user may decide, one-time action tokens.
// Sends go through a small queue with a deadline each, so a slow or dead push
// service never holds up a run, a decision or the dispatcher.
import http from "node:http";
import https from "node:https";
import { eq } from "drizzle-orm";
import webpush from "web-push";
import type { Db } from "@/db/client";
import { approvals, type PushSubscription } from "@/db/schema";
import { issueActionTokens, type ApprovalAction } from "@/server/notify/action-tokens";
import { notifyAgents } from "@/server/notify/destination";
import {
  markSubscriptionDelivered,
  markSubscriptionFailed,
  pushEndpointRefusal,
  removeDeadSubscription,
  subscriptionsOf,
} from "@/server/notify/push-subscriptions";
import type { NotifyChannel, NotifyEvent, NotifyEventType, Recipient } from "@/server/notify/types";
import { vapidAuthorization } from "@/server/notify/vapid";
import { countNotificationDelivery } from "@/server/metrics/instruments";

/** The push message body (a contract: README, public/sw-push.js). */
export interface PushPayload {
  type: NotifyEventType;
  approvalId?: string;
  runId: string;
  title: string;
  body: string;
  /** The approval page for approval events (also where a token-less Approve leads), else the run. */
  url: string;
  /** Approve / Deny buttons. An approve action without a token means "open url to approve" (the request cannot be approved from a notification). */
  actions?: { action: ApprovalAction; token?: string }[];
}

/** The events whose notifications carry Approve / Deny tokens. */
const ACTIONABLE: ReadonlySet<NotifyEventType> = new Set(["approval.requested", "approval.expiring", "approval.escalated"]);
/** How long a push service keeps an undelivered run notification (an offline phone). Approval notifications live no longer than the request. */
const RUN_EVENT_TTL_S = 12 * 60 * 60;

const oneLine = (text: string, max: number) => {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

function titleOf(event: NotifyEvent): string {
  const tool = event.tool ?? "a request";
  const risk = event.risk ? ` (${event.risk} risk)` : "";
  switch (event.type) {
    case "approval.requested":
      return `Decision needed: ${tool}${risk}`;
    case "approval.expiring":
      return `Expiring soon: ${tool}${risk}`;
    case "approval.escalated":
      return `Escalated, still waiting: ${tool}${risk}`;
    case "approval.decided":
      return `${tool} ${event.decision ?? "decided"}`;
    case "run.finished":
      return `Run finished: ${event.runTitle}`;
    case "run.failed":
      return `Run failed: ${event.runTitle}`;
    case "run.killed":
      return `Run stopped: ${event.runTitle}`;
  }
}

/**
 * The message for one recipient: title and body from the event's fields only
 * (project, run title, tool, one-line summary, risk), and the actions issued for them.
 */
export function buildPushPayload(event: NotifyEvent, actions?: { approve?: string; deny?: string; approveWithheld?: string }): PushPayload {
  const where = [event.projectName, event.type.startsWith("approval.") ? event.runTitle : null].filter(Boolean).join(" · ");
  const payload: PushPayload = {
    type: event.type,
    ...(event.approvalId ? { approvalId: event.approvalId } : {}),
    runId: event.runId,
    title: oneLine(titleOf(event), 120),
    body: oneLine([where, oneLine(event.summary, 200)].filter(Boolean).join(" — "), 300),
    url: event.url,
  };
  const list: NonNullable<PushPayload["actions"]> = [];
  if (actions?.approve) list.push({ action: "approve", token: actions.approve });
  else if (actions?.approveWithheld) list.push({ action: "approve" });
  if (actions?.deny) list.push({ action: "deny", token: actions.deny });
  if (list.length) payload.actions = list;
  return payload;
}

export interface PushChannelOptions {
  /** Overrides AIRLOCK_NOTIFY_ALLOW_HOSTS (tests). */
  allowHosts?: string[];
  /** Deadline of one send, connection to answer. */
  timeoutMs?: number;
  /** Sends in flight at once. */
  concurrency?: number;
  /** Sends waiting beyond this are dropped (with a log line) rather than piling up behind a dead push service. */
  maxQueued?: number;
}

interface PushJob {
  db: Db;
  subscription: PushSubscription;
  payload: string;
  ttlS: number;
  urgency: "high" | "normal";
}

export interface PushChannel extends NotifyChannel {
  /** Resolves once every queued send has finished (tests, shutdown). */
  idle(): Promise<void>;
}

export function createPushChannel(opts: PushChannelOptions = {}): PushChannel {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const concurrency = opts.concurrency ?? 4;
  const maxQueued = opts.maxQueued ?? 1000;
  const queue: PushJob[] = [];
  let active = 0;
  let agents: ReturnType<typeof notifyAgents> | undefined;
  let waiters: (() => void)[] = [];

  const settle = () => {
    if (active === 0 && queue.length === 0) {
      const done = waiters;
      waiters = [];
      for (const w of done) w();
    }
  };

  const pump = () => {
    while (active < concurrency && queue.length) {
      const job = queue.shift()!;
      active += 1;
      void runJob(job).finally(() => {
        active -= 1;
        pump();
        settle();
      });
    }
  };

  async function runJob(job: PushJob): Promise<void> {
    const { db, subscription } = job;
    try {
      agents ??= notifyAgents(opts.allowHosts);
      const status = await sendPush(job, agents, timeoutMs, opts.allowHosts);
      countNotificationDelivery("push", status >= 200 && status < 300 ? "delivered" : "failed");
      if (status >= 200 && status < 300) markSubscriptionDelivered(db, subscription.id);
      // The browser unsubscribed or the user revoked permission: the push service says so once and for all.
      else if (status === 404 || status === 410) removeDeadSubscription(db, subscription.id);
      else markSubscriptionFailed(db, subscription.id, `push service answered HTTP ${status}`);
    } catch (error) {
      countNotificationDelivery("push", "failed");
      try {
        markSubscriptionFailed(db, subscription.id, (error as Error).message);
      } catch {
        // the database went away (shutdown); nothing left to record
      }
    }
  }

  function enqueue(job: PushJob) {
    if (queue.length >= maxQueued) {
      console.warn(`airlock: push queue full (${maxQueued} waiting); a notification to device ${job.subscription.id} was dropped.`);
      return;
    }
    queue.push(job);
    pump();
  }

  return {
    name: "push",
    async deliver(db: Db, event: NotifyEvent, recipients: Recipient[]): Promise<void> {
      try {
        const now = Date.now();
        const approval = event.approvalId ? db.select().from(approvals).where(eq(approvals.id, event.approvalId)).get() : undefined;
        const actionable = ACTIONABLE.has(event.type);
        let ttlS = RUN_EVENT_TTL_S;
        if (actionable) {
          // A request that is no longer waiting needs nobody's attention; one that is must not be shown after it expired.
          if (!approval || approval.state !== "pending") return;
          ttlS = Math.min(RUN_EVENT_TTL_S, Math.floor((approval.expiresAt.getTime() - now) / 1000));
          if (ttlS <= 0) return;
        }
        const seen = new Set<string>();
        for (const recipient of recipients) {
          if (seen.has(recipient.userId)) continue;
          seen.add(recipient.userId);
          const devices = subscriptionsOf(db, recipient.userId);
          if (!devices.length) continue;
          const actions = actionable && approval ? issueActionTokens(db, approval, { id: recipient.userId, role: recipient.role }, now) : undefined;
          const payload = JSON.stringify(buildPushPayload(event, actions));
          for (const subscription of devices) enqueue({ db, subscription, payload, ttlS, urgency: actionable ? "high" : "normal" });
        }
      } catch (error) {
        console.error(`airlock: push notification for ${event.type} ${event.id} failed:`, error);
      }
    },
    idle() {
      if (active === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

/** One encrypted, VAPID-signed POST to the push service; resolves with its status. */
async function sendPush(job: PushJob, agents: ReturnType<typeof notifyAgents>, timeoutMs: number, allowHosts?: string[]): Promise<number> {
  const { subscription } = job;
  // Judged again at send time: an admin may have taken the allowance back. Node skips the agent's lookup for IP literals, so this is the check for those.
  const refused = await pushEndpointRefusal(subscription.endpoint, allowHosts);
  if (refused) throw new Error(refused);
  const url = new URL(subscription.endpoint);
  // web-push encrypts; the VAPID signature is reused per push service (vapidAuthorization); the request itself goes through Airlock's notification agents (address rules at connect time).
  const details = webpush.generateRequestDetails(
    { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
    job.payload,
    {
      headers: { Authorization: vapidAuthorization(url.origin) },
      TTL: job.ttlS,
      urgency: job.urgency,
      contentEncoding: "aes128gcm",
    },
  );
  const client = url.protocol === "https:" ? https : http;
  const agent = url.protocol === "https:" ? agents.https : agents.http;
  return new Promise<number>((resolve, reject) => {
    const req = client.request(url, { method: "POST", headers: details.headers as http.OutgoingHttpHeaders, agent }, (res) => {
      res.resume(); // the answer's body is not needed; drain it so the socket can be reused
      res.on("end", () => {
        clearTimeout(deadline);
        resolve(res.statusCode ?? 0);
      });
      res.on("error", (error) => {
        clearTimeout(deadline);
        reject(error);
      });
    });
    const deadline = setTimeout(() => req.destroy(new Error(`the push service did not answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    req.end(details.body);
  });
}

/** The channel the dispatcher registers (server/notify/registry.ts). */
export const pushChannel: PushChannel = createPushChannel();
