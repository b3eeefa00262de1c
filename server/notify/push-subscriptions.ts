// The devices a user turned notifications on for: one Web Push subscription
// each. The endpoint a browser hands over is a URL Airlock will POST to, so it
// is judged like any notification destination (no cloud metadata, private and
// loopback addresses only where an admin allowed them), and https unless the
// admin allowed that (private) host.
import crypto from "node:crypto";
import { desc, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { pushSubscriptions, type PushSubscription, type Role } from "@/db/schema";
import { appendAudit, recordAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { checkNotifyUrl, DestinationRefused, resolveNotifyHost } from "@/server/notify/destination";

/** More than this many devices for one person is a leak (a browser re-subscribing in a loop), not a use. */
export const MAX_DEVICES_PER_USER = 20;
const MAX_ENDPOINT_LENGTH = 2048;
const BASE64URL_RE = /^[A-Za-z0-9_-]+={0,2}$/;

export interface SubscribeInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  label?: string;
  userAgent?: string | null;
}

export interface DeviceView {
  id: string;
  label: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

function decodedLength(text: string): number {
  return BASE64URL_RE.test(text) ? Buffer.from(text, "base64url").length : -1;
}

/**
 * Why the browser's keys cannot be encrypted for (null when fine): p256dh is an
 * uncompressed P-256 point (65 bytes, 0x04 first), auth a 16-byte secret.
 */
export function pushKeysRefusal(keys: { p256dh: string; auth: string }): string | null {
  if (decodedLength(keys.p256dh) !== 65 || Buffer.from(keys.p256dh, "base64url")[0] !== 0x04) {
    return "keys.p256dh is not a P-256 public key (65 bytes, base64url): send the subscription's getKey('p256dh') as the browser gives it.";
  }
  if (decodedLength(keys.auth) !== 16) return "keys.auth is not a 16-byte secret (base64url): send the subscription's getKey('auth') as the browser gives it.";
  return null;
}

/** Why Airlock will not POST to this endpoint (null when it may). `hosts` overrides AIRLOCK_NOTIFY_ALLOW_HOSTS (tests). */
export async function pushEndpointRefusal(endpoint: string, hosts?: string[]): Promise<string | null> {
  if (endpoint.length > MAX_ENDPOINT_LENGTH) return `The push endpoint is ${endpoint.length} characters; at most ${MAX_ENDPOINT_LENGTH} are accepted.`;
  const problem = await checkNotifyUrl(endpoint, hosts);
  if (problem) return `The push endpoint was refused: ${problem}`;
  const url = new URL(endpoint);
  if (url.protocol === "http:") {
    // Plain http only to a private receiver an admin listed (a test push service, a self-hosted one on the LAN).
    const onlyByAllowance = await resolveNotifyHost(url.hostname, []).then(
      () => false,
      (error: unknown) => error instanceof DestinationRefused,
    );
    if (!onlyByAllowance) return "Push endpoints must use https:// (plain http only to a private host listed in AIRLOCK_NOTIFY_ALLOW_HOSTS).";
  }
  return null;
}

/** "Chrome on Android" for the device list; the browser sends its own label when it has a better one. */
function cleanLabel(label: string | undefined, userAgent: string | null | undefined): string {
  const text = (label ?? "").replace(/\s+/g, " ").trim().slice(0, 100);
  if (text) return text;
  return userAgent ? userAgent.slice(0, 100) : "Unnamed device";
}

/**
 * Adds (or refreshes) a device of `user`. Re-subscribing the same endpoint
 * updates its keys and label; an endpoint another user registered is refused:
 * the browser should drop its subscription and subscribe afresh (a new endpoint).
 */
export async function subscribePush(
  db: Db,
  actor: Actor & { userId: string },
  input: SubscribeInput,
  opts: { allowHosts?: string[] } = {},
): Promise<{ id: string }> {
  const badKeys = pushKeysRefusal(input.keys);
  if (badKeys) throw new DomainError("INVALID_INPUT", badKeys);
  const refused = await pushEndpointRefusal(input.endpoint, opts.allowHosts);
  if (refused) throw new DomainError("INVALID_INPUT", refused);
  const label = cleanLabel(input.label, input.userAgent);
  const userAgent = input.userAgent?.slice(0, 500) ?? null;
  return db.transaction(
    (tx) => {
      const existing = tx.select().from(pushSubscriptions).where(eq(pushSubscriptions.endpoint, input.endpoint)).get();
      if (existing && existing.userId !== actor.userId) {
        throw new DomainError(
          "CONFLICT",
          "This browser's push subscription is registered to another account. Turn notifications off and on again here to get a new one.",
        );
      }
      if (existing) {
        tx.update(pushSubscriptions)
          .set({ p256dh: input.keys.p256dh, auth: input.keys.auth, label, userAgent, lastError: null })
          .where(eq(pushSubscriptions.id, existing.id))
          .run();
        return { id: existing.id };
      }
      const count = tx.select({ id: pushSubscriptions.id }).from(pushSubscriptions).where(eq(pushSubscriptions.userId, actor.userId)).all().length;
      if (count >= MAX_DEVICES_PER_USER) {
        throw new DomainError("CONFLICT", `You already have ${count} devices with notifications on; remove one in Settings → Notifications first.`);
      }
      const id = crypto.randomUUID();
      tx.insert(pushSubscriptions)
        .values({ id, userId: actor.userId, endpoint: input.endpoint, p256dh: input.keys.p256dh, auth: input.keys.auth, label, userAgent })
        .run();
      // The audit names the device and the push service's host, never the endpoint (a capability URL).
      appendAudit(tx, actor, {
        action: "notifications.device_add",
        targetType: "push_subscription",
        targetId: id,
        details: { label, pushService: new URL(input.endpoint).host },
      });
      return { id };
    },
    { behavior: "immediate" },
  );
}

/** Removes a device: your own; an admin may remove anyone's. NOT_FOUND otherwise (another user's ids are not confirmed). */
export function unsubscribePush(db: Db, actor: Actor & { userId: string }, role: Role, id: string): { removed: true } {
  const row = db.select().from(pushSubscriptions).where(eq(pushSubscriptions.id, id)).get();
  if (!row || (row.userId !== actor.userId && role !== "admin")) throw new DomainError("NOT_FOUND", `No device with id ${id} among your devices.`);
  db.delete(pushSubscriptions).where(eq(pushSubscriptions.id, id)).run();
  recordAudit(db, actor, {
    action: "notifications.device_remove",
    targetType: "push_subscription",
    targetId: id,
    details: { label: row.label, userId: row.userId },
  });
  return { removed: true };
}

/** The caller's own devices, most recently added first. */
export function listDevices(db: Db, userId: string): DeviceView[] {
  return db
    .select({ id: pushSubscriptions.id, label: pushSubscriptions.label, createdAt: pushSubscriptions.createdAt, lastUsedAt: pushSubscriptions.lastUsedAt })
    .from(pushSubscriptions)
    .where(eq(pushSubscriptions.userId, userId))
    .orderBy(desc(pushSubscriptions.createdAt))
    .all();
}

/** Every device of one user (a push recipient). */
export function subscriptionsOf(db: Db, userId: string): PushSubscription[] {
  return db.select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, userId)).all();
}

/** A push service said the subscription is gone (404/410): the browser unsubscribed or the user revoked permission. */
export function removeDeadSubscription(db: Db, id: string): void {
  db.delete(pushSubscriptions).where(eq(pushSubscriptions.id, id)).run();
}

export function markSubscriptionDelivered(db: Db, id: string, at = new Date()): void {
  db.update(pushSubscriptions).set({ lastUsedAt: at, lastError: null }).where(eq(pushSubscriptions.id, id)).run();
}

export function markSubscriptionFailed(db: Db, id: string, error: string): void {
  db.update(pushSubscriptions)
    .set({ lastError: error.slice(0, 300) })
    .where(eq(pushSubscriptions.id, id))
    .run();
}
