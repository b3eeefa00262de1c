// Keys generated once under the data directory (keys/<name>.key, 0600, in a
// 0700 directory), outside the database: whoever can only write the database
// cannot read or use them.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { config } from "@/server/config/env";

export type KeyName = "secrets" | "audit";

const cache = new Map<string, Buffer>();

export function keyFile(name: KeyName): string {
  return path.join(config().dataDir, "keys", `${name}.key`);
}

/**
 * The 32-byte key `name` of this data directory; created on first use when
 * `create` (the default), else null when it does not exist.
 */
export function dataKey(name: KeyName, opts: { create?: boolean } = {}): Buffer | null {
  const file = keyFile(name);
  const cached = cache.get(file);
  if (cached) return cached;
  if (!fs.existsSync(file)) {
    if (opts.create === false) return null;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      fs.writeFileSync(file, crypto.randomBytes(32).toString("base64"), { mode: 0o600, flag: "wx" });
    } catch {
      // another process created it first
    }
  }
  const key = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== 32) throw new Error(`The key ${file} is damaged (expected 32 bytes). Restore it from a backup of the data directory.`);
  cache.set(file, key);
  return key;
}
