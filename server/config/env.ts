// Reads and validates Airlock's environment once; every module asks here
// instead of reading process.env, so a bad value fails with one clear message.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { ROLES, type Role } from "@/db/schema";
import { isValidAllowEntry } from "@/server/egress/addresses";
import { MIN_PASSWORD_LENGTH } from "@/server/auth/password-policy";
import { parseFailpoints, type FailpointSetting } from "@/server/faults/points";

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
  /** NEXTAUTH_SECRET: the key that signs session JWTs; undefined: a generated key kept under the data directory. */
  authSecret?: string;
  /** The dashboard's public URL (NEXTAUTH_URL, else http://localhost:PORT), without a trailing slash. */
  publicUrl: string;
  /** AIRLOCK_MCP_IDLE_TIMEOUT_S in milliseconds: no MCP request for this long ends an external run. */
  mcpIdleTimeoutMs: number;
  /** AIRLOCK_APPROVAL_TTL_S in milliseconds, as read at start (approvalTtlMs() re-reads it per request). */
  approvalTtlMs: number;
  /** AIRLOCK_EGRESS_ASK_TIMEOUT_S in milliseconds: how long the egress proxy holds a connection a domain rule asks about. */
  egressAskTimeoutMs: number;
  /** Workspace and checkpoint limits (AIRLOCK_CHECKPOINT_*, AIRLOCK_WORKSPACE_*, AIRLOCK_ARCHIVE_*, AIRLOCK_REPO_ROOTS). */
  workspace: WorkspaceSettings;
  /** AIRLOCK_NOTIFY_ALLOW_HOSTS: private or loopback destinations webhooks, push endpoints and SMTP may reach. */
  notifyAllowHosts: string[];
  /** AIRLOCK_SMTP_URL and AIRLOCK_SMTP_FROM: where notification email goes out; undefined when email is not configured. */
  smtp?: SmtpSettings;
  /** AIRLOCK_RUNTIME: which container runtime isolates sandboxes ("auto": gVisor wherever it works, else runc). */
  runtime: RuntimeSetting;
  /** AIRLOCK_MAX_CONCURRENT_RUNS: how many runs may execute at once on this instance; undefined: derived from the machine's cores and memory. */
  maxConcurrentRuns?: number;
  /** AIRLOCK_MAX_CONCURRENT_RUNS_PER_USER: how many runs of one user may execute at once; undefined: no per-user limit. */
  maxConcurrentRunsPerUser?: number;
  /** AIRLOCK_RUN_MEMORY_RATIO: the memory limits of executing runs may add up to at most this share of the host's memory. */
  runMemoryRatio: number;
  /** AIRLOCK_AUDIT_ANCHOR_*: where the audit chain's sealed head is published, off this machine's database. */
  auditAnchor: AuditAnchorSettings;
  /** AIRLOCK_MAX_SUBSCRIBERS_PER_RUN: live runs.events subscriptions one run may have at once in this process. */
  maxSubscribersPerRun: number;
  /** OTEL_EXPORTER_OTLP_* and OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES: where audit events stream as OpenTelemetry logs; undefined: off. */
  auditStream?: OtlpLogSettings;
  /** AIRLOCK_FAILPOINTS (tests only): kill points where the process SIGKILLs itself (server/faults/failpoints.ts); empty: none. */
  failpoints: FailpointSetting[];
  /** AIRLOCK_ENGINES: the absolute path of a YAML or JSON file listing Docker engines (server/engines/file.ts); undefined: none. */
  enginesFile?: string;
  /** AIRLOCK_ENGINE_LOST_AFTER_S in milliseconds: how long a remote engine may not answer before its runs fail (a blip shorter than this ends no run). */
  engineLostAfterMs: number;
}

/** Where and how often the audit chain's head is published (server/audit/anchor.ts). */
export interface AuditAnchorSettings {
  /** AIRLOCK_AUDIT_ANCHOR_INTERVAL_S in milliseconds; 0: no timer (anchors only at backups and on `airlock audit anchor`). */
  intervalMs: number;
  /** AIRLOCK_AUDIT_ANCHOR_FILE: an absolute path outside the data directory, appended to (one JSON line per anchor). */
  file?: string;
  /** AIRLOCK_AUDIT_ANCHOR_WEBHOOK and AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET: a receiver signed per Standard Webhooks. */
  webhook?: { url: string; secret: string };
  /** AIRLOCK_AUDIT_ANCHOR_EMAIL: addresses that get every anchor by mail (through AIRLOCK_SMTP_URL). */
  email: string[];
}

export const RUNTIME_SETTINGS = ["auto", "runc", "runsc"] as const;
export type RuntimeSetting = (typeof RUNTIME_SETTINGS)[number];

export interface SmtpSettings {
  host: string;
  port: number;
  /** smtps:// (TLS from the first byte); smtp:// upgrades with STARTTLS when the server offers it. */
  secure: boolean;
  user?: string;
  pass?: string;
  /** The From address: AIRLOCK_SMTP_FROM, else airlock@<the public URL's host>. */
  from: string;
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
    sandboxImage: readSandboxImage(env),
    authSecretPath: path.join(dataDir, "keys", "auth-secret"),
    ...readSignInSettings(env, adminEmail),
    trustedProxies: readTrustedProxies(env),
    authSecret: env.NEXTAUTH_SECRET || undefined,
    publicUrl: readPublicUrl(env),
    mcpIdleTimeoutMs: readMcpIdleTimeoutMs(env),
    approvalTtlMs: readApprovalTtlMs(env),
    egressAskTimeoutMs: readEgressAskTimeoutMs(env),
    workspace: readWorkspaceSettings(env),
    notifyAllowHosts: readNotifyAllowHosts(env),
    smtp: readSmtpSettings(env),
    runtime: readRuntimeSetting(env),
    maxConcurrentRuns: readMaxConcurrentRuns(env),
    maxConcurrentRunsPerUser: readMaxConcurrentRunsPerUser(env),
    runMemoryRatio: readRunMemoryRatio(env),
    auditAnchor: readAuditAnchorSettings(env, dataDir),
    maxSubscribersPerRun: readMaxSubscribersPerRun(env),
    failpoints: readFailpoints(env),
    auditStream: readOtlpLogSettings(env),
    enginesFile: readEnginesFilePath(env),
    engineLostAfterMs: readEngineLostAfterMs(env),
  };
}

/**
 * AIRLOCK_ENGINES: a YAML or JSON file of Docker engines runs may be placed
 * on (README, "Engines"). Only the path is read here; the file itself is
 * parsed and checked at start (server/engines/file.ts), where a bad entry
 * stops the start naming the entry and field.
 */
export function readEnginesFilePath(env: Record<string, string | undefined> = process.env): string | undefined {
  const text = env.AIRLOCK_ENGINES?.trim();
  if (!text) return undefined;
  const file = path.resolve(text);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new ConfigError(`AIRLOCK_ENGINES names ${file}, which does not exist. Point it at your engines file (YAML or JSON), or unset it.`);
  }
  if (!stat.isFile()) throw new ConfigError(`AIRLOCK_ENGINES names ${file}, which is not a file. Point it at your engines file (YAML or JSON), or unset it.`);
  return file;
}

/** Live viewers of one run by default: each holds a connection and a reader of the run's events (README, "Limits"). */
export const DEFAULT_MAX_SUBSCRIBERS_PER_RUN = 100;

/** AIRLOCK_MAX_SUBSCRIBERS_PER_RUN: a whole number from 1 to 10000; default 100. */
export function readMaxSubscribersPerRun(env: Record<string, string | undefined> = process.env): number {
  const text = env.AIRLOCK_MAX_SUBSCRIBERS_PER_RUN?.trim();
  if (!text) return DEFAULT_MAX_SUBSCRIBERS_PER_RUN;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new ConfigError(
      `AIRLOCK_MAX_SUBSCRIBERS_PER_RUN must be a whole number of live viewers between 1 and 10000, got "${text}"; the default is ${DEFAULT_MAX_SUBSCRIBERS_PER_RUN}.`,
    );
  return n;
}

/** AIRLOCK_FAILPOINTS: the fault suite's kill points (test-only), e.g. "mid-checkpoint,mid-stream@3". */
export function readFailpoints(env: Record<string, string | undefined> = process.env): FailpointSetting[] {
  try {
    return parseFailpoints(env.AIRLOCK_FAILPOINTS);
  } catch (err) {
    throw new ConfigError(`AIRLOCK_FAILPOINTS: ${(err as Error).message} It is for the fault suite only; unset it.`);
  }
}

/** AIRLOCK_RUNTIME: auto (default), runc or runsc (gVisor). */
export function readRuntimeSetting(env: Record<string, string | undefined> = process.env): RuntimeSetting {
  const text = env.AIRLOCK_RUNTIME?.trim().toLowerCase();
  if (!text) return "auto";
  if (!(RUNTIME_SETTINGS as readonly string[]).includes(text))
    throw new ConfigError(
      `AIRLOCK_RUNTIME must be one of ${RUNTIME_SETTINGS.join(", ")}, got "${env.AIRLOCK_RUNTIME}": runsc is gVisor, runc the engine's default, auto uses gVisor wherever it works.`,
    );
  return text as RuntimeSetting;
}

/** AIRLOCK_MAX_CONCURRENT_RUNS: a whole number from 1 to 1000, or unset for a default that fits the machine. */
export function readMaxConcurrentRuns(env: Record<string, string | undefined> = process.env): number | undefined {
  const text = env.AIRLOCK_MAX_CONCURRENT_RUNS?.trim();
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new ConfigError(
      `AIRLOCK_MAX_CONCURRENT_RUNS must be a whole number of runs between 1 and 1000, got "${text}"; unset it to derive the limit from the machine's cores and memory.`,
    );
  return n;
}

/** AIRLOCK_MAX_CONCURRENT_RUNS_PER_USER: a whole number from 1 to 1000, or unset for no per-user limit. */
export function readMaxConcurrentRunsPerUser(env: Record<string, string | undefined> = process.env): number | undefined {
  const text = env.AIRLOCK_MAX_CONCURRENT_RUNS_PER_USER?.trim();
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new ConfigError(
      `AIRLOCK_MAX_CONCURRENT_RUNS_PER_USER must be a whole number of runs between 1 and 1000, got "${text}"; unset it for no per-user limit.`,
    );
  return n;
}

/** The default share of the host's memory that executing runs' memory limits may reserve (see README, "Run queue"). */
export const DEFAULT_RUN_MEMORY_RATIO = 0.8;
export const RUN_MEMORY_RATIO_RANGE = { min: 0.01, max: 4 } as const;

/** AIRLOCK_RUN_MEMORY_RATIO: a number from 0.01 to 4 (above 1 overcommits: limits are ceilings, not use); default 0.8. */
export function readRunMemoryRatio(env: Record<string, string | undefined> = process.env): number {
  const text = env.AIRLOCK_RUN_MEMORY_RATIO?.trim();
  if (!text) return DEFAULT_RUN_MEMORY_RATIO;
  const n = Number(text);
  if (!Number.isFinite(n) || n < RUN_MEMORY_RATIO_RANGE.min || n > RUN_MEMORY_RATIO_RANGE.max)
    throw new ConfigError(
      `AIRLOCK_RUN_MEMORY_RATIO must be a number between ${RUN_MEMORY_RATIO_RANGE.min} and ${RUN_MEMORY_RATIO_RANGE.max} (the share of the host's memory that running runs' memory limits may reserve), got "${text}".`,
    );
  return n;
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
  for (const entry of text
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
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
    throw new ConfigError(
      `AIRLOCK_OIDC_ISSUER is not a URL: "${issuerText}". Use the issuer your provider publishes, like https://login.example.com/realms/main.`,
    );
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

function readSignInSettings(
  env: Record<string, string | undefined>,
  adminEmail: string | undefined,
): Pick<AirlockConfig, "oidc" | "localLogin" | "breakGlassEmails"> {
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
    throw new ConfigError(
      `AIRLOCK_LOCAL_LOGIN=off leaves no way to sign in: configure single sign-on (${OIDC_REQUIRED.join(", ")}) or unset AIRLOCK_LOCAL_LOGIN.`,
    );
  }
  // Without a break-glass account, a provider outage would lock every admin out.
  if (!localLogin && breakGlassEmails.length === 0) {
    throw new ConfigError(
      "AIRLOCK_LOCAL_LOGIN=off needs a break-glass admin who can still sign in with a password: set AIRLOCK_BREAK_GLASS_EMAILS (or AIRLOCK_ADMIN_EMAIL).",
    );
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

/**
 * AIRLOCK_NOTIFY_ALLOW_HOSTS: private or loopback destinations (addresses,
 * CIDR ranges or host names) that webhooks, push endpoints and SMTP may reach.
 * Unset: only public addresses, as for agent egress.
 */
export function readNotifyAllowHosts(env: Record<string, string | undefined> = process.env): string[] {
  const hosts = (env.AIRLOCK_NOTIFY_ALLOW_HOSTS ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  for (const h of hosts) {
    if (!isValidAllowEntry(h)) throw new ConfigError(`AIRLOCK_NOTIFY_ALLOW_HOSTS: "${h}" is not an IP address, CIDR range or host name.`);
  }
  return hosts;
}

const SMTP_EXAMPLE = "smtps://user:password@mail.example.com:465 or smtp://mail.example.com:587";

/**
 * AIRLOCK_SMTP_URL: one URL for the mail server, smtp:// or smtps://, with
 * optional user:password (URL-encoded) and port (587 for smtp, 465 for smtps).
 * AIRLOCK_SMTP_FROM: the sender (an address, or "Name <address>").
 */
export function readSmtpSettings(env: Record<string, string | undefined> = process.env): SmtpSettings | undefined {
  const text = env.AIRLOCK_SMTP_URL?.trim();
  const fromText = env.AIRLOCK_SMTP_FROM?.trim();
  if (!text) {
    if (fromText)
      throw new ConfigError(
        "AIRLOCK_SMTP_FROM is set but AIRLOCK_SMTP_URL is not: set the mail server too (" + SMTP_EXAMPLE + "), or unset AIRLOCK_SMTP_FROM.",
      );
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`AIRLOCK_SMTP_URL is not a URL. Write it like ${SMTP_EXAMPLE}.`);
  }
  if (url.protocol !== "smtp:" && url.protocol !== "smtps:") {
    throw new ConfigError(`AIRLOCK_SMTP_URL must start with smtp:// or smtps://, got ${url.protocol}//. Write it like ${SMTP_EXAMPLE}.`);
  }
  if (!url.hostname) throw new ConfigError(`AIRLOCK_SMTP_URL names no mail server host. Write it like ${SMTP_EXAMPLE}.`);
  if ((url.pathname && url.pathname !== "/") || url.search || url.hash) {
    throw new ConfigError(`AIRLOCK_SMTP_URL must be only scheme, credentials, host and port (no path, query or fragment). Write it like ${SMTP_EXAMPLE}.`);
  }
  const secure = url.protocol === "smtps:";
  const port = url.port ? Number(url.port) : secure ? 465 : 587;
  let user: string | undefined;
  let pass: string | undefined;
  try {
    user = url.username ? decodeURIComponent(url.username) : undefined;
    pass = url.password ? decodeURIComponent(url.password) : undefined;
  } catch {
    throw new ConfigError("AIRLOCK_SMTP_URL: the user name or password is not valid URL-encoding; encode special characters (e.g. @ as %40).");
  }
  if (pass !== undefined && user === undefined) throw new ConfigError("AIRLOCK_SMTP_URL has a password but no user name; write smtps://user:password@host.");
  let from = fromText;
  if (from) {
    const address = /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from;
    if (!EMAIL_RE.test(address.trim()) || /[\r\n]/.test(from)) {
      throw new ConfigError(`AIRLOCK_SMTP_FROM is not an email address: "${from}". Use a form like airlock@example.com or "Airlock <airlock@example.com>".`);
    }
  } else {
    const host = new URL(readPublicUrl(env)).hostname.replace(/^\[|\]$/g, "");
    from = `airlock@${host.includes(".") ? host : `${host}.localdomain`}`;
  }
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port, secure, user, pass, from };
}

/** Where the dashboard is reached: NEXTAUTH_URL (as npm start sets it), else http://localhost:PORT. */
export function readPublicUrl(env: Record<string, string | undefined> = process.env): string {
  const base = env.NEXTAUTH_URL?.trim() || `http://localhost:${env.PORT?.trim() || "3000"}`;
  return base.replace(/\/+$/, "");
}

/** No MCP request for this long (and no call in flight) ends an external run; AIRLOCK_MCP_IDLE_TIMEOUT_S overrides it. */
export const DEFAULT_MCP_IDLE_TIMEOUT_S = 30 * 60;

export function readMcpIdleTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const text = env.AIRLOCK_MCP_IDLE_TIMEOUT_S?.trim();
  if (!text) return DEFAULT_MCP_IDLE_TIMEOUT_S * 1000;
  const s = Number(text);
  if (!Number.isInteger(s) || s < 10 || s > 7 * 86_400) {
    throw new ConfigError(
      `AIRLOCK_MCP_IDLE_TIMEOUT_S must be a whole number of seconds between 10 and 604800, got "${text}"; the default is ${DEFAULT_MCP_IDLE_TIMEOUT_S}.`,
    );
  }
  return s * 1000;
}

/** A remote engine that has not answered for this long is lost: its runs fail (issue 17). AIRLOCK_ENGINE_LOST_AFTER_S overrides it. */
export const DEFAULT_ENGINE_LOST_AFTER_S = 30;

export function readEngineLostAfterMs(env: Record<string, string | undefined> = process.env): number {
  const text = env.AIRLOCK_ENGINE_LOST_AFTER_S?.trim();
  if (!text) return DEFAULT_ENGINE_LOST_AFTER_S * 1000;
  const s = Number(text);
  if (!Number.isInteger(s) || s < 0 || s > 3600) {
    throw new ConfigError(
      `AIRLOCK_ENGINE_LOST_AFTER_S must be a whole number of seconds between 0 and 3600, got "${text}"; the default is ${DEFAULT_ENGINE_LOST_AFTER_S}.`,
    );
  }
  return s * 1000;
}

/** How long an approval request waits for a decision before it expires. */
export const DEFAULT_APPROVAL_TTL_MS = 30 * 60_000;

/**
 * AIRLOCK_APPROVAL_TTL_S: seconds an approval request waits. Read again for
 * every new request (approvalTtlMs in approvals/approvals.ts), so a test can
 * shorten it for one case; readConfig checks it once at start.
 */
export function readApprovalTtlMs(env: Record<string, string | undefined> = process.env): number {
  const text = env.AIRLOCK_APPROVAL_TTL_S?.trim();
  if (!text) return DEFAULT_APPROVAL_TTL_MS;
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0)
    throw new ConfigError(
      `AIRLOCK_APPROVAL_TTL_S must be a positive number of seconds, got "${text}"; unset it for the default of ${DEFAULT_APPROVAL_TTL_MS / 1000}.`,
    );
  return s * 1000;
}

/** How long the egress proxy holds a connection while a reviewer decides (a project domain rule says ask). */
export const DEFAULT_EGRESS_ASK_TIMEOUT_S = 120;

/**
 * AIRLOCK_EGRESS_ASK_TIMEOUT_S: seconds a held connection waits for a
 * reviewer (1 to 3600). Read again for every held connection, so a test can
 * shorten it; readConfig checks it once at start.
 */
export function readEgressAskTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const text = env.AIRLOCK_EGRESS_ASK_TIMEOUT_S?.trim();
  if (!text) return DEFAULT_EGRESS_ASK_TIMEOUT_S * 1000;
  const s = Number(text);
  if (!Number.isFinite(s) || s < 1 || s > 3600)
    throw new ConfigError(
      `AIRLOCK_EGRESS_ASK_TIMEOUT_S must be a number of seconds between 1 and 3600, got "${text}"; unset it for the default of ${DEFAULT_EGRESS_ASK_TIMEOUT_S}.`,
    );
  return s * 1000;
}

export interface WorkspaceSettings {
  /** Cap on a run's shadow repository (bytes on disk). */
  checkpointCapBytes: number;
  /** Files larger than this are left out of checkpoints. */
  maxFileBytes: number;
  /** Directory names left out of checkpoints wherever they appear. */
  ignoredDirs: string[];
  /** Finished runs' workspaces and shadow repositories are removed after this long (0: never). */
  retentionMs: number;
  /** Local git repositories a workspace may start from (AIRLOCK_REPO_ROOTS, colon-separated). */
  repoRoots: string[];
  /** Uploaded archives: compressed size, expanded size, entries. */
  archiveMaxBytes: number;
  archiveMaxExpandedBytes: number;
  archiveMaxFiles: number;
  /** Bytes a run's workspace may hold on the host disk (AIRLOCK_WORKSPACE_QUOTA_MB). */
  workspaceQuotaBytes: number;
}

export const DEFAULT_IGNORED_DIRS = ["node_modules", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".tox", ".gradle", ".next"];

function positiveNumber(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name} must be a non-negative number, got "${raw}".`);
  return value;
}

function workspaceQuota(env: Record<string, string | undefined>): number {
  const mb = positiveNumber(env, "AIRLOCK_WORKSPACE_QUOTA_MB", 1024);
  // Below a few MB no real project fits (a git checkout alone is larger).
  if (mb < 16) throw new ConfigError(`AIRLOCK_WORKSPACE_QUOTA_MB must be at least 16 (MB), got "${env.AIRLOCK_WORKSPACE_QUOTA_MB}".`);
  return Math.round(mb * 1024 * 1024);
}

export function readWorkspaceSettings(env: Record<string, string | undefined> = process.env): WorkspaceSettings {
  const MB = 1024 * 1024;
  const ignored = env.AIRLOCK_CHECKPOINT_IGNORE?.trim();
  const ignoredDirs = ignored
    ? ignored
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : DEFAULT_IGNORED_DIRS;
  for (const name of ignoredDirs) {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..") {
      throw new ConfigError(`AIRLOCK_CHECKPOINT_IGNORE lists directory names separated by commas; "${name}" is not a plain directory name.`);
    }
  }
  const repoRoots = (env.AIRLOCK_REPO_ROOTS ?? "")
    .split(":")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((root) => {
      if (!path.isAbsolute(root)) throw new ConfigError(`AIRLOCK_REPO_ROOTS must list absolute directories separated by ":"; "${root}" is relative.`);
      return path.resolve(root);
    });
  return {
    checkpointCapBytes: Math.round(positiveNumber(env, "AIRLOCK_CHECKPOINT_CAP_MB", 200) * MB),
    maxFileBytes: Math.round(positiveNumber(env, "AIRLOCK_CHECKPOINT_MAX_FILE_MB", 10) * MB),
    ignoredDirs,
    retentionMs: Math.round(positiveNumber(env, "AIRLOCK_WORKSPACE_RETENTION_DAYS", 14) * 24 * 3600 * 1000),
    repoRoots,
    archiveMaxBytes: Math.round(positiveNumber(env, "AIRLOCK_ARCHIVE_MAX_MB", 100) * MB),
    archiveMaxExpandedBytes: Math.round(positiveNumber(env, "AIRLOCK_ARCHIVE_MAX_EXPANDED_MB", 500) * MB),
    archiveMaxFiles: Math.round(positiveNumber(env, "AIRLOCK_ARCHIVE_MAX_FILES", 20_000)),
    workspaceQuotaBytes: workspaceQuota(env),
  };
}

/** A variable the operator names on the command line (airlock model add --api-key-env), so a key never shows in ps. */
export function namedVariable(name: string, env: Record<string, string | undefined> = process.env): string | undefined {
  return env[name];
}

/**
 * AIRLOCK_SANDBOX_IMAGE, or undefined for Airlock's own image. Read per call
 * (sandboxImageName in sandbox/image.ts) rather than through config(): test
 * set-up asks for the image before it points AIRLOCK_DATA_DIR at its own
 * directory, and config() would keep the data directory it saw first.
 */
export function readSandboxImage(env: Record<string, string | undefined> = process.env): string | undefined {
  return env.AIRLOCK_SANDBOX_IMAGE?.trim() || undefined;
}

/** How often the audit anchor is published when a destination is set and AIRLOCK_AUDIT_ANCHOR_INTERVAL_S is not. */
export const DEFAULT_AUDIT_ANCHOR_INTERVAL_S = 3600;

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The real path of `p`, or of its nearest existing ancestor with the rest appended (the file may not exist yet). */
export function realPathOf(p: string): string {
  const rest: string[] = [];
  let at = path.resolve(p);
  for (;;) {
    try {
      return path.join(fs.realpathSync(at), ...rest.reverse());
    } catch {
      const parent = path.dirname(at);
      if (parent === at) return path.resolve(p);
      rest.push(path.basename(at));
      at = parent;
    }
  }
}

/**
 * Why `file` cannot hold audit anchors, or null. An anchor inside the data
 * directory is rewritten (or restored) together with the database it is
 * meant to check, so it would prove nothing. Symbolic links are followed.
 */
export function refuseAnchorFile(file: string, dataDir: string): string | null {
  if (!path.isAbsolute(file)) return `AIRLOCK_AUDIT_ANCHOR_FILE must be an absolute path, got "${file}".`;
  if (file.endsWith("/")) return `AIRLOCK_AUDIT_ANCHOR_FILE names a directory ("${file}"); give a file name, e.g. /mnt/audit-anchors/airlock.jsonl.`;
  if (isInside(path.resolve(file), path.resolve(dataDir)) || isInside(realPathOf(file), realPathOf(dataDir))) {
    return (
      `AIRLOCK_AUDIT_ANCHOR_FILE (${file}) is inside the data directory ${dataDir}: whoever can rewrite or restore the database can rewrite that file too, ` +
      "so it would prove nothing. Put it on another mount the database's owner cannot rewrite (e.g. an append-only or remote file system)."
    );
  }
  return null;
}

/**
 * AIRLOCK_AUDIT_ANCHOR_INTERVAL_S (seconds between anchors, 60 to 604800, or
 * 0 for none but backups and the CLI; default 3600 when a destination is set),
 * AIRLOCK_AUDIT_ANCHOR_FILE, AIRLOCK_AUDIT_ANCHOR_WEBHOOK with
 * AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET, AIRLOCK_AUDIT_ANCHOR_EMAIL (comma-separated).
 */
export function readAuditAnchorSettings(
  env: Record<string, string | undefined> = process.env,
  dataDir = path.resolve(env.AIRLOCK_DATA_DIR ?? "./data"),
): AuditAnchorSettings {
  const file = env.AIRLOCK_AUDIT_ANCHOR_FILE?.trim() || undefined;
  if (file) {
    const refused = refuseAnchorFile(file, dataDir);
    if (refused) throw new ConfigError(refused);
  }
  const webhookUrl = env.AIRLOCK_AUDIT_ANCHOR_WEBHOOK?.trim() || undefined;
  const secret = env.AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET?.trim() || undefined;
  let webhook: AuditAnchorSettings["webhook"];
  if (webhookUrl) {
    let url: URL;
    try {
      url = new URL(webhookUrl);
    } catch {
      throw new ConfigError(`AIRLOCK_AUDIT_ANCHOR_WEBHOOK is not a URL: "${webhookUrl}". Write it like https://audit.example.com/anchors.`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw new ConfigError(`AIRLOCK_AUDIT_ANCHOR_WEBHOOK must be an https:// (or http://) URL, got ${url.protocol}//.`);
    if (url.username || url.password)
      throw new ConfigError(
        "AIRLOCK_AUDIT_ANCHOR_WEBHOOK must not carry credentials; the receiver checks the signature made with AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET.",
      );
    if (!secret)
      throw new ConfigError(
        "AIRLOCK_AUDIT_ANCHOR_WEBHOOK is set but AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET is not: set a Standard Webhooks secret (whsec_ and base64, e.g. `echo whsec_$(openssl rand -base64 32)`) so the receiver can tell Airlock's anchors from forgeries.",
      );
    const key = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret)?.[1];
    if (!key || Buffer.from(key, "base64").length < 24)
      throw new ConfigError(
        "AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET must be whsec_ followed by at least 24 random bytes in base64, e.g. `echo whsec_$(openssl rand -base64 32)`.",
      );
    webhook = { url: url.toString(), secret };
  } else if (secret) {
    throw new ConfigError(
      "AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET is set but AIRLOCK_AUDIT_ANCHOR_WEBHOOK is not: set the receiver's URL too, or unset the secret.",
    );
  }
  const email = (env.AIRLOCK_AUDIT_ANCHOR_EMAIL ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  for (const address of email) {
    if (!EMAIL_RE.test(address)) throw new ConfigError(`AIRLOCK_AUDIT_ANCHOR_EMAIL: "${address}" is not an email address; list addresses separated by commas.`);
  }
  if (email.length && !env.AIRLOCK_SMTP_URL?.trim())
    throw new ConfigError(
      "AIRLOCK_AUDIT_ANCHOR_EMAIL is set but AIRLOCK_SMTP_URL is not: anchors are mailed through the notification mail server; set it too.",
    );
  const anyDestination = Boolean(file || webhook || email.length);
  const text = env.AIRLOCK_AUDIT_ANCHOR_INTERVAL_S?.trim();
  let intervalS = anyDestination ? DEFAULT_AUDIT_ANCHOR_INTERVAL_S : 0;
  if (text) {
    const s = Number(text);
    if (!Number.isInteger(s) || (s !== 0 && (s < 60 || s > 7 * 86_400)))
      throw new ConfigError(
        `AIRLOCK_AUDIT_ANCHOR_INTERVAL_S must be a whole number of seconds from 60 to 604800, or 0 for anchors only at backups and on \`airlock audit anchor\`; got "${text}" (default ${DEFAULT_AUDIT_ANCHOR_INTERVAL_S}).`,
      );
    if (s > 0 && !anyDestination)
      throw new ConfigError(
        "AIRLOCK_AUDIT_ANCHOR_INTERVAL_S is set but no anchor destination is: set AIRLOCK_AUDIT_ANCHOR_FILE, AIRLOCK_AUDIT_ANCHOR_WEBHOOK or AIRLOCK_AUDIT_ANCHOR_EMAIL.",
      );
    intervalS = s;
  }
  return { intervalMs: intervalS * 1000, file, webhook, email };
}

/** Where audit events go as OpenTelemetry logs (server/audit/stream.ts). */
export interface OtlpLogSettings {
  /** The OTLP/HTTP logs URL (…/v1/logs). */
  url: string;
  headers: Record<string, string>;
  serviceName: string;
  resourceAttributes: Record<string, string>;
}

/** Parses the OTel "key=value,key2=value2" lists (values percent-encoded), naming the variable on a bad entry. */
function parseOtelKeyValues(name: string, text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? "").split(",")) {
    if (!part.trim()) continue;
    const i = part.indexOf("=");
    const key = i > 0 ? part.slice(0, i).trim() : "";
    if (!key) throw new ConfigError(`${name}: "${part.trim()}" is not key=value; write it like ${name}=key1=value1,key2=value2.`);
    try {
      out[key] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      throw new ConfigError(`${name}: the value of "${key}" is not valid percent-encoding.`);
    }
  }
  return out;
}

function otlpUrl(name: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${name} is not a URL: "${text}". Write it like http://otel-collector:4318${name.includes("LOGS") ? "/v1/logs" : ""}.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ConfigError(`${name} must be an http:// or https:// URL (OTLP/HTTP), got ${url.protocol}//.`);
  return url;
}

/**
 * The standard OpenTelemetry exporter variables, for the audit stream:
 * OTEL_EXPORTER_OTLP_LOGS_ENDPOINT (used as is) or OTEL_EXPORTER_OTLP_ENDPOINT
 * (+ /v1/logs); OTEL_EXPORTER_OTLP_HEADERS and _LOGS_HEADERS (the latter wins
 * per key); OTEL_SERVICE_NAME (default "airlock"); OTEL_RESOURCE_ATTRIBUTES.
 * Off (undefined) without an endpoint or with OTEL_SDK_DISABLED=true. Only
 * OTLP/HTTP with JSON is spoken, so another OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL fails.
 */
export function readOtlpLogSettings(env: Record<string, string | undefined> = process.env): OtlpLogSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  const logsEndpoint = env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!logsEndpoint && !endpoint) return undefined;
  for (const name of ["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]) {
    const protocol = env[name]?.trim();
    if (protocol && protocol !== "http/json") {
      throw new ConfigError(
        `${name}="${protocol}": Airlock sends audit logs as OTLP/HTTP with JSON only; set it to http/json or unset it (collectors accept JSON on /v1/logs).`,
      );
    }
    if (protocol) break; // the logs-specific one decides when set
  }
  const url = logsEndpoint
    ? otlpUrl("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logsEndpoint)
    : new URL(`${otlpUrl("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint!).toString().replace(/\/+$/, "")}/v1/logs`);
  const resourceAttributes = parseOtelKeyValues("OTEL_RESOURCE_ATTRIBUTES", env.OTEL_RESOURCE_ATTRIBUTES);
  return {
    url: url.toString(),
    headers: {
      ...parseOtelKeyValues("OTEL_EXPORTER_OTLP_HEADERS", env.OTEL_EXPORTER_OTLP_HEADERS),
      ...parseOtelKeyValues("OTEL_EXPORTER_OTLP_LOGS_HEADERS", env.OTEL_EXPORTER_OTLP_LOGS_HEADERS),
    },
    serviceName: env.OTEL_SERVICE_NAME?.trim() || resourceAttributes["service.name"] || "airlock",
    resourceAttributes,
  };
}
