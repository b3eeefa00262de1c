// Reads and validates Airlock's environment once; every module asks here
// instead of reading process.env, so a bad value fails with one clear message.
import net from "node:net";
import path from "node:path";
import { isValidAllowEntry } from "@/server/egress/addresses";
import { MIN_PASSWORD_LENGTH } from "@/server/auth/password-policy";

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
  /** Proxies whose X-Forwarded-For is believed (IP addresses and CIDR ranges); empty: none. */
  trustedProxies: string[];
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function readConfig(env: Record<string, string | undefined> = process.env): AirlockConfig {
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
  if (adminPassword !== undefined && adminPassword.length < MIN_PASSWORD_LENGTH) {
    throw new ConfigError(
      `AIRLOCK_ADMIN_PASSWORD must be at least ${MIN_PASSWORD_LENGTH} characters (it has ${adminPassword.length}). Choose a longer one, or unset it to have Airlock generate one.`,
    );
  }
  return {
    port,
    dataDir,
    databasePath: path.join(dataDir, "airlock.db"),
    adminEmail,
    adminPassword,
    sandboxImage: env.AIRLOCK_SANDBOX_IMAGE?.trim() || undefined,
    authSecretPath: path.join(dataDir, "keys", "auth-secret"),
    trustedProxies: readTrustedProxies(env),
  };
}

/**
 * AIRLOCK_TRUSTED_PROXIES: comma-separated IP addresses or CIDR ranges of the
 * reverse proxies in front of Airlock, e.g. "127.0.0.1,10.0.0.0/8". Only a
 * connection from one of them may say who the client is (X-Forwarded-For).
 * Unset (the default): nobody is trusted and the socket address is the client.
 */
export function readTrustedProxies(env: Record<string, string | undefined> = process.env): string[] {
  const entries = (env.AIRLOCK_TRUSTED_PROXIES ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [ip, prefix, extra] = entry.split("/");
    const family = net.isIP(ip ?? "");
    const bits = family === 6 ? 128 : 32;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (!family || extra !== undefined || !prefixOk) {
      throw new ConfigError(
        `AIRLOCK_TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR range. List your reverse proxies' addresses, comma-separated, e.g. "127.0.0.1,10.0.0.0/8" (host names are not accepted).`,
      );
    }
  }
  return entries;
}

let cached: AirlockConfig | undefined;
export function config(): AirlockConfig {
  cached ??= readConfig();
  return cached;
}

/**
 * Which non-public addresses http_fetch may reach (read on every fetch, so tests
 * and `airlock doctor` see the current environment):
 *  - AIRLOCK_EGRESS_ALLOW_PRIVATE=1: every private, loopback and link-local
 *    address (never cloud metadata services);
 *  - AIRLOCK_EGRESS_ALLOW_HOSTS: comma-separated IP addresses, CIDR ranges or
 *    host names, e.g. "127.0.0.1,10.1.0.0/16,git.internal".
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
