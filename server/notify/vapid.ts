// The VAPID key pair that signs every Web Push request (RFC 8292): generated
// once, on first use, under the data directory's keys/ like the other keys
// (0600 file, 0700 directory). Browsers subscribe with its public half, so a
// new pair would silently orphan every device: it is never regenerated.
import fs from "node:fs";
import path from "node:path";
import webpush from "web-push";
import { config } from "@/server/config/env";

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  /** Who runs this push sender, for push services to contact: mailto: the admin, else the dashboard's https URL. */
  subject: string;
}

const cache = new Map<string, { publicKey: string; privateKey: string }>();

export function vapidKeyFile(): string {
  return path.join(config().dataDir, "keys", "vapid.json");
}

function readPair(file: string): { publicKey: string; privateKey: string } {
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { publicKey?: unknown; privateKey?: unknown };
  if (typeof parsed.publicKey !== "string" || typeof parsed.privateKey !== "string") {
    throw new Error(`The push key file ${file} is damaged. Restore it from a backup of the data directory (a new key would cut off every device).`);
  }
  return { publicKey: parsed.publicKey, privateKey: parsed.privateKey };
}

/** The subject push services may contact: the first admin's address, else the public URL when it is https. */
export function vapidSubject(): string {
  const { adminEmail, publicUrl } = config();
  if (adminEmail) return `mailto:${adminEmail}`;
  const url = new URL(publicUrl);
  // web-push accepts only mailto: or https: subjects.
  return url.protocol === "https:" ? url.origin : `mailto:airlock@${url.hostname}`;
}

export function vapidKeys(): VapidKeys {
  const file = vapidKeyFile();
  let pair = cache.get(file);
  if (!pair) {
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      try {
        fs.writeFileSync(file, JSON.stringify(webpush.generateVAPIDKeys()), { mode: 0o600, flag: "wx" });
      } catch {
        // another process created it first: use theirs
      }
    }
    pair = readPair(file);
    cache.set(file, pair);
  }
  return { ...pair, subject: vapidSubject() };
}

/** A VAPID JWT lives this long (web-push's default; RFC 8292 allows at most 24 h). */
export const VAPID_JWT_LIFETIME_S = 12 * 60 * 60;
/** A cached JWT is renewed once less than this is left, so a push service never receives one about to lapse. */
export const VAPID_JWT_RENEW_BEFORE_S = 60 * 60;

const jwtCache = new Map<string, { authorization: string; exp: number }>();

/**
 * The Authorization header for a push service's origin (the JWT's audience).
 * Signing an ES256 JWT costs milliseconds of synchronous CPU per message, yet
 * the token depends only on audience, subject, key pair and expiry: it is
 * signed once per push service and reused until an hour before it expires.
 */
export function vapidAuthorization(audience: string, nowMs = Date.now()): string {
  const { subject, publicKey, privateKey } = vapidKeys();
  const key = `${audience}\n${subject}\n${publicKey}`;
  const nowS = Math.floor(nowMs / 1000);
  const cached = jwtCache.get(key);
  if (cached && cached.exp - nowS > VAPID_JWT_RENEW_BEFORE_S) return cached.authorization;
  const exp = nowS + VAPID_JWT_LIFETIME_S;
  const { Authorization } = webpush.getVapidHeaders(audience, subject, publicKey, privateKey, "aes128gcm", exp) as { Authorization: string };
  // Only the latest token per push service is kept; a changed subject or key pair makes a new entry.
  if (jwtCache.size > 100) jwtCache.clear();
  jwtCache.set(key, { authorization: Authorization, exp });
  return Authorization;
}
