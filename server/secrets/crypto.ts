// Encryption at rest for secrets (model API keys, later run secrets):
// AES-256-GCM with a key generated once under the data directory.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { config } from "@/server/config/env";

let cachedKey: Buffer | undefined;

function masterKey(): Buffer {
  if (cachedKey) return cachedKey;
  const file = path.join(config().dataDir, "keys", "secrets.key");
  try {
    cachedKey = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
  } catch {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      fs.writeFileSync(file, crypto.randomBytes(32).toString("base64"), { mode: 0o600, flag: "wx" });
    } catch {
      // another process created it first
    }
    cachedKey = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
  }
  if (cachedKey.length !== 32) throw new Error(`The secrets key ${file} is damaged (expected 32 bytes). Restore it from a backup; encrypted values cannot be read without it.`);
  return cachedKey;
}

export function encryptSecret(plain: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv("aes-256-gcm", masterKey(), iv);
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return ["v1", iv.toString("base64"), cipher.getAuthTag().toString("base64"), body.toString("base64")].join(":");
}

export function decryptSecret(sealed: string): string {
  const [version, iv, tag, body] = sealed.split(":");
  if (version !== "v1" || !iv || !tag || body === undefined) throw new Error("Unreadable encrypted value (unknown format).");
  const decipher = crypto.createDecipheriv("aes-256-gcm", masterKey(), Buffer.from(iv, "base64"));
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(body, "base64")), decipher.final()]).toString("utf8");
}
