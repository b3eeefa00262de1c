// Reads and validates Airlock's environment once; every module asks here
// instead of reading process.env, so a bad value fails with one clear message.
import path from "node:path";

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
