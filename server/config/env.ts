// Reads and validates Airlock's environment once; every module asks here
// instead of reading process.env, so a bad value fails with one clear message.
import path from "node:path";
import { isValidAllowEntry } from "@/server/egress/addresses";

export class ConfigError extends Error {
  readonly code = "CONFIG_ERROR";
}

export interface AirlockConfig {
  port: number;
  dataDir: string;
  databasePath: string;
  adminEmail?: string;
  adminPassword?: string;
  sandboxImage?: string;
  authSecretPath: string;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function readConfig(env: NodeJS.ProcessEnv = process.env): AirlockConfig {
  const portText = env.PORT ?? "3000";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`PORT must be a whole number between 1 and 65535, got "${portText}". Set PORT=3000 or another free port.`);
  }
  const dataDir = path.resolve(env.AIRLOCK_DATA_DIR ?? "./data");
  const adminEmail = env.AIRLOCK_ADMIN_EMAIL?.trim() || undefined;
  if (adminEmail && !EMAIL_RE.test(adminEmail)) {
    throw new ConfigError(`AIRLOCK_ADMIN_EMAIL is not an email address: "${adminEmail}". Use a form like admin@example.com.`);
  }
  const adminPassword = env.AIRLOCK_ADMIN_PASSWORD || undefined;
  if (adminPassword !== undefined && adminPassword.length < 8) {
    throw new ConfigError("AIRLOCK_ADMIN_PASSWORD must be at least 8 characters. Choose a longer one, or unset it to have Airlock generate one.");
  }
  return {
    port,
    dataDir,
    databasePath: path.join(dataDir, "airlock.db"),
    adminEmail,
    adminPassword,
    sandboxImage: env.AIRLOCK_SANDBOX_IMAGE?.trim() || undefined,
    authSecretPath: path.join(dataDir, "keys", "auth-secret"),
  };
}

let cached: AirlockConfig | undefined;
export function config(): AirlockConfig {
  cached ??= readConfig();
  return cached;
}

/**
 * Which non-public addresses http_fetch may reach (read on every fetch, so tests
 * and `airlock doctor` see the current environment):
 *  - AIRLOCK_EGRESS_ALLOW_PRIVATE=1: private, shared, link-local and
 *    unique-local addresses (never this host's own, never metadata services);
 *  - AIRLOCK_EGRESS_ALLOW_HOSTS: comma-separated IP addresses, CIDR ranges or
 *    host names, e.g. "127.0.0.1,10.1.0.0/16,git.internal"; this host's own
 *    addresses only by exact address (see refuseAddress in egress/addresses.ts).
 * Unset (the default): only public addresses.
 */
export function readEgressAllowance(env: Record<string, string | undefined> = process.env): { allowPrivate: boolean; allowHosts: string[] } {
  const flag = (env.AIRLOCK_EGRESS_ALLOW_PRIVATE ?? "").trim().toLowerCase();
  if (flag && !["1", "true", "yes", "0", "false", "no"].includes(flag)) {
    throw new ConfigError(`AIRLOCK_EGRESS_ALLOW_PRIVATE must be 1/true/yes or 0/false/no, got "${flag}".`);
  }
  const allowHosts = (env.AIRLOCK_EGRESS_ALLOW_HOSTS ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  for (const h of allowHosts) {
    if (!isValidAllowEntry(h)) throw new ConfigError(`AIRLOCK_EGRESS_ALLOW_HOSTS: "${h}" is not an IP address, CIDR range or host name.`);
  }
  return { allowPrivate: ["1", "true", "yes"].includes(flag), allowHosts };
}
