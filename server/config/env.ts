// Reads and validates Airlock's environment once; every module asks here
// instead of reading process.env, so a bad value fails with one clear message.
import net from "node:net";
import path from "node:path";
import { ROLES, type Role } from "@/db/schema";
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
  /** Single sign-on through an OpenID provider; undefined when not configured. */
  oidc?: OidcSettings;
  /** AIRLOCK_LOCAL_LOGIN: false turns password sign-in off for everyone but the break-glass accounts. */
  localLogin: boolean;
  /** Accounts that may always sign in with a password (AIRLOCK_BREAK_GLASS_EMAILS, else AIRLOCK_ADMIN_EMAIL). */
  breakGlassEmails: string[];
  /** Proxies whose X-Forwarded-For is believed (IP addresses and CIDR ranges); empty: none. */
  trustedProxies: string[];
}

export interface OidcRoleMapping {
  /** A value of the role claim, e.g. a group name. */
  group: string;
  role: Role;
}

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The provider's name on the sign-in button ("Sign in with <name>"). */
  name: string;
  scopes: string;
  defaultRole: Role;
  /** The claim whose values map to roles (a string or a list of strings). */
  roleClaim: string;
  roleMap: OidcRoleMapping[];
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
    ...readSignInSettings(env, adminEmail),
    trustedProxies: readTrustedProxies(env),
  };
}

const OIDC_REQUIRED = ["AIRLOCK_OIDC_ISSUER", "AIRLOCK_OIDC_CLIENT_ID", "AIRLOCK_OIDC_CLIENT_SECRET"] as const;
const OIDC_OPTIONAL = ["AIRLOCK_OIDC_NAME", "AIRLOCK_OIDC_SCOPES", "AIRLOCK_OIDC_DEFAULT_ROLE", "AIRLOCK_OIDC_ROLE_CLAIM", "AIRLOCK_OIDC_ROLE_MAP"] as const;
const LOOPBACK_HOST_RE = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

function parseSwitch(name: string, value: string | undefined, fallback: boolean): boolean {
  const text = (value ?? "").trim().toLowerCase();
  if (!text) return fallback;
  if (["1", "true", "yes", "on"].includes(text)) return true;
  if (["0", "false", "no", "off"].includes(text)) return false;
  throw new ConfigError(`${name} must be on or off, got "${value}".`);
}

function parseRoleSetting(name: string, value: string): Role {
  const role = value.trim().toLowerCase();
  if (!(ROLES as readonly string[]).includes(role)) throw new ConfigError(`${name}: unknown role "${value.trim()}". Use one of: ${ROLES.join(", ")}.`);
  return role as Role;
}

/** "airlock-admins=admin,airlock-reviewers=reviewer": a group may itself contain "=" or "/", so the role is after the last "=". */
export function parseRoleMap(text: string): OidcRoleMapping[] {
  const mappings: OidcRoleMapping[] = [];
  for (const entry of text.split(",").map((e) => e.trim()).filter(Boolean)) {
    const at = entry.lastIndexOf("=");
    const group = at > 0 ? entry.slice(0, at).trim() : "";
    if (!group) throw new ConfigError(`AIRLOCK_OIDC_ROLE_MAP: "${entry}" is not group=role. Write it like airlock-admins=admin,airlock-reviewers=reviewer.`);
    mappings.push({ group, role: parseRoleSetting("AIRLOCK_OIDC_ROLE_MAP", entry.slice(at + 1)) });
  }
  return mappings;
}

function readOidcSettings(env: Record<string, string | undefined>): OidcSettings | undefined {
  const given = OIDC_REQUIRED.filter((name) => env[name]?.trim());
  if (given.length === 0) {
    const stray = OIDC_OPTIONAL.find((name) => env[name]?.trim());
    if (stray) throw new ConfigError(`${stray} is set but single sign-on is not: set ${OIDC_REQUIRED.join(", ")} too, or unset ${stray}.`);
    return undefined;
  }
  const missing = OIDC_REQUIRED.filter((name) => !env[name]?.trim());
  if (missing.length) {
    throw new ConfigError(`Single sign-on needs ${OIDC_REQUIRED.join(", ")} together; ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} missing.`);
  }
  const issuerText = env.AIRLOCK_OIDC_ISSUER!.trim();
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuerText);
  } catch {
    throw new ConfigError(`AIRLOCK_OIDC_ISSUER is not a URL: "${issuerText}". Use the issuer your provider publishes, like https://login.example.com/realms/main.`);
  }
  // Codes and tokens travel to the issuer: plain http only to this machine itself.
  if (issuerUrl.protocol !== "https:" && !(issuerUrl.protocol === "http:" && LOOPBACK_HOST_RE.test(issuerUrl.hostname))) {
    throw new ConfigError(`AIRLOCK_OIDC_ISSUER must be an https:// URL (http:// only for a provider on this machine's loopback), got "${issuerText}".`);
  }
  if (issuerUrl.search || issuerUrl.hash || issuerUrl.username || issuerUrl.password) {
    throw new ConfigError(`AIRLOCK_OIDC_ISSUER must not carry a query, fragment or credentials, got "${issuerText}".`);
  }
  const scopes = (env.AIRLOCK_OIDC_SCOPES?.trim() || "openid email profile").split(/\s+/).join(" ");
  if (!scopes.split(" ").includes("openid")) throw new ConfigError(`AIRLOCK_OIDC_SCOPES must include "openid", got "${scopes}".`);
  const roleClaim = env.AIRLOCK_OIDC_ROLE_CLAIM?.trim() || "groups";
  if (/\s/.test(roleClaim) || roleClaim.length > 200) throw new ConfigError(`AIRLOCK_OIDC_ROLE_CLAIM must be one claim name, like groups, got "${roleClaim}".`);
  return {
    issuer: issuerText.replace(/\/+$/, ""),
    clientId: env.AIRLOCK_OIDC_CLIENT_ID!.trim(),
    clientSecret: env.AIRLOCK_OIDC_CLIENT_SECRET!.trim(),
    name: env.AIRLOCK_OIDC_NAME?.trim() || "SSO",
    scopes,
    defaultRole: env.AIRLOCK_OIDC_DEFAULT_ROLE?.trim() ? parseRoleSetting("AIRLOCK_OIDC_DEFAULT_ROLE", env.AIRLOCK_OIDC_DEFAULT_ROLE) : "viewer",
    roleClaim,
    roleMap: parseRoleMap(env.AIRLOCK_OIDC_ROLE_MAP ?? ""),
  };
}

function readSignInSettings(env: Record<string, string | undefined>, adminEmail: string | undefined): Pick<AirlockConfig, "oidc" | "localLogin" | "breakGlassEmails"> {
  const oidc = readOidcSettings(env);
  const localLogin = parseSwitch("AIRLOCK_LOCAL_LOGIN", env.AIRLOCK_LOCAL_LOGIN, true);
  const listed = (env.AIRLOCK_BREAK_GLASS_EMAILS ?? "")
    .split(",")
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  for (const email of listed) {
    if (!EMAIL_RE.test(email)) throw new ConfigError(`AIRLOCK_BREAK_GLASS_EMAILS: "${email}" is not an email address.`);
  }
  const breakGlassEmails = listed.length ? listed : adminEmail ? [adminEmail.toLowerCase()] : [];
  if (!localLogin && !oidc) {
    throw new ConfigError(`AIRLOCK_LOCAL_LOGIN=off leaves no way to sign in: configure single sign-on (${OIDC_REQUIRED.join(", ")}) or unset AIRLOCK_LOCAL_LOGIN.`);
  }
  // Without a break-glass account, a provider outage would lock every admin out.
  if (!localLogin && breakGlassEmails.length === 0) {
    throw new ConfigError("AIRLOCK_LOCAL_LOGIN=off needs a break-glass admin who can still sign in with a password: set AIRLOCK_BREAK_GLASS_EMAILS (or AIRLOCK_ADMIN_EMAIL).");
  }
  return { oidc, localLogin, breakGlassEmails };
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
