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
