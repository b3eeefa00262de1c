// The key that signs session JWTs: NEXTAUTH_SECRET if set, else a random key
// generated once and kept under the data directory.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { config } from "@/server/config/env";

let cached: string | undefined;

export function authSecret(): string {
  if (cached) return cached;
  const { authSecret: configured, authSecretPath: file } = config();
  if (configured) return (cached = configured);
  try {
    cached = fs.readFileSync(file, "utf8").trim();
  } catch {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const secret = crypto.randomBytes(32).toString("base64url");
    try {
      fs.writeFileSync(file, secret, { mode: 0o600, flag: "wx" });
      cached = secret;
    } catch {
      cached = fs.readFileSync(file, "utf8").trim(); // another process won the race
    }
  }
  return cached!;
}
