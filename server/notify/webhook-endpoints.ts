// Webhook endpoints admins register: which URL, which events, which project,
// which format. The signing secret is generated here, returned once, and kept
// encrypted; nothing below returns it again. Every change is audited.
import crypto from "node:crypto";
import { desc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { projects, webhookDeliveries, webhooks, WEBHOOK_FORMATS, type Webhook, type WebhookDelivery } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { config } from "@/server/config/env";
import { DomainError } from "@/server/errors/domain-error";
import { requireProject } from "@/server/projects/projects";
import { encryptSecret } from "@/server/secrets/crypto";
import { checkNotifyUrl } from "@/server/notify/destination";
import { NOTIFY_EVENT_TYPES } from "@/server/notify/types";
import { generateWebhookSecret, WEBHOOK_TEST_EVENT } from "@/server/notify/webhook-payloads";
import { AUTO_DISABLED_PREFIX, displayUrl, sendWebhookTest, WEBHOOK_DELIVERY, type AttemptOutcome } from "@/server/notify/webhooks";

const eventList = z
  .array(z.string().trim())
  .min(1, `Choose at least one event (${NOTIFY_EVENT_TYPES.join(", ")}).`)
  .max(NOTIFY_EVENT_TYPES.length * 2)
  .superRefine((events, ctx) => {
    const unknown = events.filter((e) => !(NOTIFY_EVENT_TYPES as readonly string[]).includes(e));
    if (unknown.length)
      ctx.addIssue({
        code: "custom",
        message: `Unknown event${unknown.length > 1 ? "s" : ""} ${unknown.map((e) => `"${e.slice(0, 60)}"`).join(", ")}; the events are ${NOTIFY_EVENT_TYPES.join(", ")}.`,
      });
  })
  .transform((events) => NOTIFY_EVENT_TYPES.filter((e) => events.includes(e)));

export const createWebhookInput = z.object({
  url: z.string().trim().min(1, "Give the receiver's URL.").max(2000, "A webhook URL may be at most 2000 characters."),
  events: eventList,
  format: z.enum(WEBHOOK_FORMATS, { error: 'format is "standard" (signed JSON) or "slack" (a Slack incoming webhook).' }),
  projectId: z.string().min(1).max(100).optional(),
});
export const webhookIdInput = z.object({ id: z.string().min(1).max(100) });
export const updateWebhookInput = z.object({ id: z.string().min(1).max(100), enabled: z.boolean().optional(), events: eventList.optional() });

export interface WebhookView {
  id: string;
  /** The URL with long path segments and the query shortened: Slack's URLs are credentials themselves. */
  url: string;
  format: Webhook["format"];
  events: string[];
  projectId: string | null;
  projectName: string | null;
  enabled: boolean;
  disabledReason: string | null;
  /** True when Airlock disabled it after repeated failures (shown to admins as a notice). */
  disabledAutomatically: boolean;
  consecutiveFailures: number;
  createdBy: string | null;
  createdAt: Date;
  lastDelivery: { state: WebhookDelivery["state"]; statusCode: number | null; at: Date; error: string | null; eventType: string } | null;
}

async function requireAllowedUrl(url: string): Promise<void> {
  const problem = await checkNotifyUrl(url);
  if (problem) throw new DomainError("INVALID_INPUT", problem);
}

function requireWebhook(db: Pick<Db, "select">, id: string): Webhook {
  const hook = db.select().from(webhooks).where(eq(webhooks.id, id)).get();
  if (!hook) throw new DomainError("NOT_FOUND", `No webhook with id ${id}. List them with webhooks.list.`);
  return hook;
}

export async function createWebhook(db: Db, actor: Actor, input: z.input<typeof createWebhookInput>): Promise<{ id: string; secret: string }> {
  const parsed = createWebhookInput.parse(input);
  await requireAllowedUrl(parsed.url);
  const projectId = parsed.projectId ? requireProject(db, parsed.projectId).id : null;
  const id = crypto.randomUUID();
  const secret = generateWebhookSecret();
  db.transaction(
    (tx) => {
      tx.insert(webhooks)
        .values({ id, projectId, url: parsed.url, format: parsed.format, events: parsed.events, secretEnc: encryptSecret(secret), createdBy: actor.userId })
        .run();
      appendAudit(tx, actor, {
        action: "webhook.create",
        targetType: "webhook",
        targetId: id,
        details: { origin: new URL(parsed.url).origin, format: parsed.format, events: parsed.events, projectId },
      });
    },
    { behavior: "immediate" },
  );
  return { id, secret };
}

export function listWebhooks(db: Db): WebhookView[] {
  const rows = db
    .select({ w: webhooks, projectName: projects.name })
    .from(webhooks)
    .leftJoin(projects, eq(projects.id, webhooks.projectId))
    .orderBy(desc(webhooks.createdAt))
    .all();
  const ids = rows.map((r) => r.w.id);
  const last = new Map<string, WebhookDelivery>();
  if (ids.length) {
    for (const d of db
      .select()
      .from(webhookDeliveries)
      .where(inArray(webhookDeliveries.webhookId, ids))
      .orderBy(desc(webhookDeliveries.at), desc(webhookDeliveries.attempt))
      .all()) {
      if (!last.has(d.webhookId)) last.set(d.webhookId, d);
    }
  }
  return rows.map(({ w, projectName }) => {
    const d = last.get(w.id);
    return {
      id: w.id,
      url: displayUrl(w.url),
      format: w.format,
      events: w.events,
      projectId: w.projectId,
      projectName: projectName ?? null,
      enabled: w.enabled,
      disabledReason: w.enabled ? null : w.disabledReason,
      disabledAutomatically: !w.enabled && (w.disabledReason ?? "").startsWith(AUTO_DISABLED_PREFIX),
      consecutiveFailures: w.consecutiveFailures,
      createdBy: w.createdBy,
      createdAt: w.createdAt,
      lastDelivery: d ? { state: d.state, statusCode: d.statusCode, at: d.at, error: d.error, eventType: d.eventType } : null,
    };
  });
}

export function listWebhookDeliveries(db: Db, id: string): { items: WebhookDelivery[] } {
  requireWebhook(db, id);
  return {
    items: db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.webhookId, id))
      .orderBy(desc(webhookDeliveries.at), desc(webhookDeliveries.attempt))
      .limit(WEBHOOK_DELIVERY.logLimit)
      .all(),
  };
}

export function updateWebhook(db: Db, actor: Actor, input: z.input<typeof updateWebhookInput>): WebhookView {
  const parsed = updateWebhookInput.parse(input);
  db.transaction(
    (tx) => {
      const hook = requireWebhook(tx, parsed.id);
      const enabling = parsed.enabled === true && !hook.enabled;
      const disabling = parsed.enabled === false && hook.enabled;
      tx.update(webhooks)
        .set({
          ...(parsed.events ? { events: parsed.events } : {}),
          // Enabling starts the failure count afresh; disabling by hand records who did it.
          ...(enabling ? { enabled: true, disabledReason: null, consecutiveFailures: 0 } : {}),
          ...(disabling ? { enabled: false, disabledReason: `Disabled by ${actor.label} on ${new Date().toISOString()}.` } : {}),
        })
        .where(eq(webhooks.id, hook.id))
        .run();
      appendAudit(tx, actor, {
        action: "webhook.update",
        targetType: "webhook",
        targetId: hook.id,
        details: {
          origin: new URL(hook.url).origin,
          ...(parsed.events ? { events: parsed.events } : {}),
          ...(enabling || disabling ? { enabled: enabling } : {}),
        },
      });
    },
    { behavior: "immediate" },
  );
  return listWebhooks(db).find((w) => w.id === parsed.id)!;
}

export function deleteWebhook(db: Db, actor: Actor, id: string): { id: string } {
  db.transaction(
    (tx) => {
      const hook = requireWebhook(tx, id);
      tx.delete(webhooks).where(eq(webhooks.id, id)).run();
      appendAudit(tx, actor, {
        action: "webhook.delete",
        targetType: "webhook",
        targetId: id,
        details: { origin: new URL(hook.url).origin, format: hook.format, projectId: hook.projectId },
      });
    },
    { behavior: "immediate" },
  );
  return { id };
}

/** "Send test": one signed test event now, whatever the endpoint's events or state; the outcome comes back and goes in the log. */
export async function testWebhook(
  db: Db,
  actor: Actor & { userId: string },
  id: string,
): Promise<Pick<AttemptOutcome, "ok" | "statusCode" | "error" | "latencyMs"> & { deliveryId: string }> {
  const hook = requireWebhook(db, id);
  const project = hook.projectId ? db.select().from(projects).where(eq(projects.id, hook.projectId)).get() : undefined;
  const base = config().publicUrl;
  const outcome = await sendWebhookTest(db, hook, {
    id: `test_${crypto.randomUUID()}`,
    type: WEBHOOK_TEST_EVENT,
    timestamp: new Date().toISOString(),
    runId: "",
    runTitle: "Test delivery",
    operatorId: actor.userId,
    projectId: hook.projectId,
    projectName: project?.name ?? null,
    summary: `A test delivery sent by ${actor.label} from Settings → Webhooks. Nothing waits for a decision.`,
    url: `${base}/settings#webhooks`,
  });
  return { ok: outcome.ok, statusCode: outcome.statusCode, error: outcome.error, latencyMs: outcome.latencyMs, deliveryId: outcome.deliveryId };
}
