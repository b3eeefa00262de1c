// The audit anchor: publishes the chain's sealed head (count, last hash, time
// and which instance) to places the database's owner cannot rewrite — an
// append-only file on another mount, a webhook receiver, the admin's mailbox.
// The seal key lives beside the database, so a restored older copy (or a
// chain cut short and re-sealed with the key) still verifies on its own;
// checked against the anchors (`airlock audit verify --anchor FILE`) it does
// not: the chain must still extend every head ever published.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { and, desc, eq, gt, inArray, notInArray, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { auditEvents, auditHead } from "@/db/schema";
import { recordAudit, sealOf, SYSTEM_ACTOR, type Actor } from "@/server/audit/chain";
import { config, refuseAnchorFile, type AuditAnchorSettings, type SmtpSettings } from "@/server/config/env";
import { sendNotificationEmail } from "@/server/notify/email";
import { DestinationRefused } from "@/server/notify/destination";
import { standardHeaders } from "@/server/notify/webhook-payloads";
import { backoffDelayMs, displayUrl, postWebhook, WEBHOOK_DELIVERY } from "@/server/notify/webhooks";
import { instanceIdForDataDir } from "@/server/sandbox/runtime";
import { dataKey } from "@/server/secrets/keys";

export type AnchorReason = "interval" | "backup" | "manual";

/** The record published everywhere (README, "Audit anchors"): fields may be added, never renamed. */
export interface AuditAnchor {
  type: typeof ANCHOR_TYPE;
  version: 1;
  /** Unique per publication (the webhook-id of its delivery). */
  id: string;
  /** Which Airlock: a hash of its data directory's path, and its public URL. */
  instance: { id: string; url: string };
  /** Events in the chain when the head was read, the last one's seq and hash. */
  count: number;
  lastSeq: number;
  lastHash: string;
  /** When the last anchored event was written (ISO 8601). */
  headAt: string;
  /** When this anchor was published (ISO 8601). */
  at: string;
  reason: AnchorReason;
}

export const ANCHOR_TYPE = "airlock.audit.anchor";

/** The audit actions publishing writes; a head that only grew by these has nothing new to anchor. */
export const ANCHOR_ACTIONS = ["audit.anchored", "audit.anchor_failed"] as const;

export type AnchorDestinationKind = "file" | "webhook" | "email";

export interface AnchorDelivery {
  kind: AnchorDestinationKind;
  /** The file's path, the receiver's shortened URL, or the mail address. */
  target: string;
  ok: boolean;
  attempts: number;
  error?: string;
}

export interface PublishOutcome {
  published: boolean;
  /** Why nothing was published (no destination, empty chain, head unchanged). */
  skipped?: string;
  anchor?: AuditAnchor;
  deliveries: AnchorDelivery[];
}

/** Delays of the email destination (mutable so tests can shorten them, like WEBHOOK_DELIVERY). */
export const ANCHOR_EMAIL = { retryDelayMs: 5_000, timeoutMs: 10_000 };

export class AnchorRefused extends Error {
  readonly code = "AUDIT_ANCHOR_REFUSED";
}

export function anchorDestinations(settings: AuditAnchorSettings): { kind: AnchorDestinationKind; target: string }[] {
  return [
    ...(settings.file ? [{ kind: "file" as const, target: settings.file }] : []),
    ...(settings.webhook ? [{ kind: "webhook" as const, target: displayUrl(settings.webhook.url) }] : []),
    ...settings.email.map((address) => ({ kind: "email" as const, target: address })),
  ];
}

/**
 * The head as it stands now, read in one snapshot, after checking that the
 * head record carries the key's seal and names the chain's real last event
 * (a cheap check, not a full verify: an anchor must not bless a head that
 * was forged without the key).
 */
function readSealedHead(db: Db): Omit<AuditAnchor, "type" | "version" | "id" | "instance" | "at" | "reason"> | null {
  return db.$client.transaction(() => {
    const head = db.select().from(auditHead).where(eq(auditHead.id, 1)).get();
    if (!head || head.count === 0) return null;
    const key = dataKey("audit", { create: false });
    if (!key) throw new AnchorRefused("the audit key is missing, so the chain's head cannot be checked; nothing was published");
    const want = sealOf(key, head);
    if (!head.mac || head.mac.length !== want.length || !crypto.timingSafeEqual(Buffer.from(head.mac), Buffer.from(want))) {
      throw new AnchorRefused("the chain's head record does not carry the audit key's seal (run `airlock audit verify`); nothing was published");
    }
    const last = db
      .select({ seq: auditEvents.seq, hash: auditEvents.hash, at: auditEvents.at })
      .from(auditEvents)
      .orderBy(desc(auditEvents.seq))
      .limit(1)
      .get();
    if (!last || last.seq !== head.lastSeq || last.hash !== head.lastHash) {
      throw new AnchorRefused(`the chain's last event is not the one its head record names (run \`airlock audit verify\`); nothing was published`);
    }
    return { count: head.count, lastSeq: head.lastSeq, lastHash: head.lastHash, headAt: last.at.toISOString() };
  })();
}

/** The last successful publication's audit event, if any. */
function lastPublication(db: Db): { seq: number; at: Date; details: string } | undefined {
  return db
    .select({ seq: auditEvents.seq, at: auditEvents.at, details: auditEvents.details })
    .from(auditEvents)
    .where(eq(auditEvents.action, "audit.anchored"))
    .orderBy(desc(auditEvents.seq))
    .limit(1)
    .get();
}

/** True when nothing but anchor bookkeeping was written since the last published anchor. */
function headUnchangedSinceLastAnchor(db: Db, head: { lastSeq: number }): boolean {
  const last = lastPublication(db);
  if (!last) return false;
  const anchoredSeq = (JSON.parse(last.details) as { lastSeq?: number }).lastSeq;
  if (typeof anchoredSeq !== "number" || anchoredSeq > head.lastSeq) return false;
  const newer = db
    .select({ n: sql<number>`count(*)` })
    .from(auditEvents)
    .where(and(gt(auditEvents.seq, anchoredSeq), notInArray(auditEvents.action, [...ANCHOR_ACTIONS])))
    .get();
  return (newer?.n ?? 0) === 0;
}

/** One JSON line per anchor, appended with O_APPEND and fsynced (and the directory too when the file is new). */
export function appendAnchorLine(file: string, line: string, dataDir: string): void {
  // Checked again here: a symbolic link on the way may have changed since start.
  const refused = refuseAnchorFile(file, dataDir);
  if (refused) throw new AnchorRefused(refused);
  const existed = fs.existsSync(file);
  let prefix = "";
  if (existed) {
    // A line torn by a crash must not swallow this one.
    const size = fs.statSync(file).size;
    if (size > 0) {
      const fd = fs.openSync(file, "r");
      try {
        const last = Buffer.alloc(1);
        fs.readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = "\n";
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
  try {
    fs.writeSync(fd, `${prefix}${line}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (!existed) {
    const dir = fs.openSync(path.dirname(file), "r");
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function deliverToWebhook(webhook: { url: string; secret: string }, anchor: AuditAnchor, body: string): Promise<AnchorDelivery> {
  const target = displayUrl(webhook.url);
  for (let attempt = 1; ; attempt++) {
    const outcome = await postWebhook(webhook.url, () => ({ body, headers: standardHeaders(webhook.secret, anchor.id, body) }));
    if (outcome.ok) return { kind: "webhook", target, ok: true, attempts: attempt };
    if (!outcome.retryable || attempt >= WEBHOOK_DELIVERY.maxAttempts) {
      return { kind: "webhook", target, ok: false, attempts: attempt, error: outcome.error ?? "failed" };
    }
    await sleep(backoffDelayMs(attempt, outcome.retryAfterMs));
  }
}

/** The anchor mail: why it came, the anchor as one JSON line (what `airlock audit verify --anchor` reads), and what to do with it. */
export function composeAnchorEmail(anchor: AuditAnchor, line: string): { subject: string; text: string; html: string } {
  const subject = `[Airlock] Audit anchor: ${anchor.count} events at ${anchor.at} (${anchor.reason})`;
  const intro = `Airlock (${anchor.instance.url}, instance ${anchor.instance.id}) published the head of its audit chain. Keep this mail: it lets you prove later that the audit trail was not cut short, replaced by an older copy or rewritten.`;
  const howTo = "To check: save the JSON line below in a file (one anchor per line) and run: airlock audit verify --anchor FILE";
  const text = [intro, "", howTo, "", line, ""].join("\n");
  const esc = (t: string) => t.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111"><p>${esc(intro)}</p><p>${esc(howTo)}</p><pre style="white-space:pre-wrap;word-break:break-all">${esc(line)}</pre></body></html>`;
  return { subject, text, html };
}

async function deliverByEmail(address: string, mail: { subject: string; text: string; html: string }, smtp: SmtpSettings | undefined): Promise<AnchorDelivery> {
  if (!smtp) return { kind: "email", target: address, ok: false, attempts: 0, error: "AIRLOCK_SMTP_URL is not set" };
  for (let attempt = 1; ; attempt++) {
    try {
      await sendNotificationEmail(smtp, { to: address, ...mail }, { timeoutMs: ANCHOR_EMAIL.timeoutMs });
      return { kind: "email", target: address, ok: true, attempts: attempt };
    } catch (error) {
      if (error instanceof DestinationRefused || attempt >= 2)
        return { kind: "email", target: address, ok: false, attempts: attempt, error: (error as Error).message };
      await sleep(ANCHOR_EMAIL.retryDelayMs);
    }
  }
}

/**
 * Publishes the chain's sealed head to every configured destination (file,
 * webhook, email), then records an audit event saying where it went and what
 * failed ("audit.anchored" when at least one destination took it, else
 * "audit.anchor_failed"). With reason "interval" it skips a head that has not
 * changed since the last anchor. Never throws for a destination's failure;
 * throws AnchorRefused when the head itself is not sealed as it should be.
 */
export async function publishAuditAnchor(
  db: Db,
  opts: { reason: AnchorReason; actor?: Actor; settings?: AuditAnchorSettings; smtp?: SmtpSettings },
): Promise<PublishOutcome> {
  const cfg = config();
  const settings = opts.settings ?? cfg.auditAnchor;
  if (anchorDestinations(settings).length === 0) {
    return {
      published: false,
      skipped: "no anchor destination is set (AIRLOCK_AUDIT_ANCHOR_FILE, AIRLOCK_AUDIT_ANCHOR_WEBHOOK or AIRLOCK_AUDIT_ANCHOR_EMAIL)",
      deliveries: [],
    };
  }
  // Refused without an audit event: the chain is not in a state to append to (`airlock doctor` reports it as broken).
  const head = readSealedHead(db);
  if (!head) return { published: false, skipped: "the audit chain is empty", deliveries: [] };
  if (opts.reason === "interval" && headUnchangedSinceLastAnchor(db, head)) {
    return { published: false, skipped: "the chain's head has not changed since the last anchor", deliveries: [] };
  }
  const anchor: AuditAnchor = {
    type: ANCHOR_TYPE,
    version: 1,
    id: `anchor_${crypto.randomUUID()}`,
    instance: { id: instanceIdForDataDir(cfg.dataDir), url: cfg.publicUrl },
    ...head,
    at: new Date().toISOString(),
    reason: opts.reason,
  };
  const line = JSON.stringify(anchor);
  const deliveries: Promise<AnchorDelivery>[] = [];
  if (settings.file) {
    const file = settings.file;
    deliveries.push(
      Promise.resolve().then(() => {
        try {
          appendAnchorLine(file, line, cfg.dataDir);
          return { kind: "file" as const, target: file, ok: true, attempts: 1 };
        } catch (error) {
          return { kind: "file" as const, target: file, ok: false, attempts: 1, error: (error as Error).message };
        }
      }),
    );
  }
  if (settings.webhook) deliveries.push(deliverToWebhook(settings.webhook, anchor, line));
  if (settings.email.length) {
    const mail = composeAnchorEmail(anchor, line);
    for (const address of settings.email) deliveries.push(deliverByEmail(address, mail, opts.smtp ?? cfg.smtp));
  }
  const results = await Promise.all(deliveries);
  const published = results.some((r) => r.ok);
  recordAudit(db, opts.actor ?? SYSTEM_ACTOR, {
    action: published ? "audit.anchored" : "audit.anchor_failed",
    targetType: "audit_anchor",
    targetId: anchor.id,
    details: { reason: anchor.reason, count: anchor.count, lastSeq: anchor.lastSeq, lastHash: anchor.lastHash, deliveries: results },
  });
  for (const r of results) if (!r.ok) console.warn(`airlock: the audit anchor could not be published to ${r.kind} ${r.target}: ${r.error}`);
  return { published, anchor, deliveries: results };
}

export interface AnchorStatus {
  /** Where anchors go (empty: not configured). */
  destinations: { kind: AnchorDestinationKind; target: string }[];
  intervalS: number;
  /** The last publication that reached at least one destination. */
  lastAnchor?: { at: string; count: number; reason: string; deliveries: AnchorDelivery[] };
  /** The last attempt, when it was a failure or partly failed. */
  lastFailure?: { at: string; error: string };
  /** What an admin should fix, or undefined when anchors are fine (or off). */
  problem?: string;
}

/** The anchors' state for `airlock doctor` and /api/health: when the last went out, where, and what failed. */
export function auditAnchorStatus(db: Db, settings: AuditAnchorSettings = config().auditAnchor, now = new Date()): AnchorStatus {
  const destinations = anchorDestinations(settings);
  const status: AnchorStatus = { destinations, intervalS: settings.intervalMs / 1000 };
  const latest = db
    .select({ action: auditEvents.action, at: auditEvents.at, details: auditEvents.details })
    .from(auditEvents)
    .where(inArray(auditEvents.action, [...ANCHOR_ACTIONS]))
    .orderBy(desc(auditEvents.seq))
    .limit(1)
    .get();
  const success = lastPublication(db);
  if (success) {
    const d = JSON.parse(success.details) as { count: number; reason: string; deliveries: AnchorDelivery[] };
    status.lastAnchor = { at: success.at.toISOString(), count: d.count, reason: d.reason, deliveries: d.deliveries ?? [] };
  }
  if (latest) {
    const d = JSON.parse(latest.details) as { error?: string; deliveries?: AnchorDelivery[] };
    const failed = (d.deliveries ?? []).filter((r) => !r.ok);
    const error = d.error ?? failed.map((r) => `${r.kind} ${r.target}: ${r.error}`).join("; ");
    if (latest.action === "audit.anchor_failed" || failed.length) status.lastFailure = { at: latest.at.toISOString(), error };
  }
  if (destinations.length === 0) return status;
  if (status.lastFailure) status.problem = `the last audit anchor (${status.lastFailure.at}) failed: ${status.lastFailure.error}`;
  else if (settings.intervalMs > 0 && status.lastAnchor && now.getTime() - Date.parse(status.lastAnchor.at) > 2 * settings.intervalMs + 60_000) {
    status.problem = `no audit anchor since ${status.lastAnchor.at} although one is due every ${settings.intervalMs / 1000} s (is Airlock running?)`;
  }
  return status;
}

// ---------------------------------------------------------------- checking

/** An anchor read back from a file, with the line it came from. */
export interface ReadAnchor {
  line: number;
  anchor: Pick<AuditAnchor, "count" | "lastSeq" | "lastHash" | "at"> & Partial<AuditAnchor>;
}

/**
 * Reads anchors from what the destinations carry: the file (one JSON object
 * per line), the webhook bodies saved one per line, or a saved mail. Lines that
 * do not start with "{" are ignored (a mail's prose); a line that starts with
 * "{" but is not an anchor is reported, never skipped silently.
 */
export function parseAnchors(text: string): { anchors: ReadAnchor[]; problems: string[] } {
  const anchors: ReadAnchor[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line.startsWith("{")) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push(`line ${i + 1} is not complete JSON (a line torn while it was written?)`);
      return;
    }
    // A Standard Webhooks style envelope ({type, timestamp, data}) is accepted too.
    const record = (value as { type?: unknown; data?: unknown }).type === ANCHOR_TYPE ? value : (value as { data?: unknown }).data;
    const a = record as Partial<AuditAnchor> | undefined;
    if (
      !a ||
      a.type !== ANCHOR_TYPE ||
      !Number.isInteger(a.count) ||
      a.count! < 1 ||
      !Number.isInteger(a.lastSeq) ||
      typeof a.lastHash !== "string" ||
      !/^[0-9a-f]{64}$/.test(a.lastHash) ||
      typeof a.at !== "string"
    ) {
      problems.push(`line ${i + 1} is not an Airlock audit anchor (expected {"type":"${ANCHOR_TYPE}","count":…,"lastSeq":…,"lastHash":…,"at":…})`);
      return;
    }
    anchors.push({ line: i + 1, anchor: a as ReadAnchor["anchor"] });
  });
  return { anchors, problems };
}

export interface AnchorBreak {
  line: number;
  at: string;
  count: number;
  problem: string;
}

/**
 * Which anchors the chain no longer extends: for each, the chain must be at
 * least as long and its event at position `count` must be exactly the
 * anchored event (same seq, same hash). Run it after verifyAuditChain passed:
 * then the chain is linked from the genesis to the head, so an anchored
 * event still in place means every event before it is as it was.
 */
export function checkAnchors(db: Db, anchors: ReadAnchor[]): AnchorBreak[] {
  return db.$client.transaction(() => {
    const chainCount = (db.$client.prepare("select count(*) from audit_events").pluck().get() as number) ?? 0;
    const at = db.$client.prepare("select seq, hash from audit_events order by seq limit 1 offset ?");
    const breaks: AnchorBreak[] = [];
    for (const { line, anchor } of anchors) {
      const name = `the anchor of ${anchor.at} (count ${anchor.count}, line ${line})`;
      if (chainCount < anchor.count) {
        breaks.push({
          line,
          at: anchor.at,
          count: anchor.count,
          problem: `the chain has ${chainCount} events but ${name} was published when it had ${anchor.count}: this database is an older copy, or events at its end were deleted`,
        });
        continue;
      }
      const event = at.get(anchor.count - 1) as { seq: number; hash: string };
      if (event.seq !== anchor.lastSeq || event.hash !== anchor.lastHash) {
        breaks.push({
          line,
          at: anchor.at,
          count: anchor.count,
          problem: `event #${event.seq} is not the event ${name} names (seq ${anchor.lastSeq}, hash ${anchor.lastHash.slice(0, 12)}…): the chain up to it was rewritten after it was anchored`,
        });
      }
    }
    return breaks;
  })();
}

// ---------------------------------------------------------------- the timer

const timerState = globalThis as unknown as { __airlockAnchorTimer?: { stop(): void } };

/**
 * Publishes an anchor every settings.intervalMs (and once soon after start, so
 * an instance restarted more often than the interval still anchors); each tick
 * skips an unchanged head. Started with the supervisor; one per process.
 * Returns a stop function. Failures are recorded as audit events, never thrown.
 */
export function startAuditAnchorTimer(db: Db, opts: { settings?: AuditAnchorSettings; firstDelayMs?: number; smtp?: SmtpSettings } = {}): () => void {
  const settings = opts.settings ?? config().auditAnchor;
  timerState.__airlockAnchorTimer?.stop();
  if (settings.intervalMs <= 0 || anchorDestinations(settings).length === 0) return () => {};
  let running = false;
  const tick = () => {
    if (running) return; // a slow webhook must not pile ticks up
    running = true;
    publishAuditAnchor(db, { reason: "interval", settings, smtp: opts.smtp })
      .catch((error: unknown) => console.error("airlock: the audit anchor could not be published:", (error as Error).message))
      .finally(() => {
        running = false;
      });
  };
  const first = setTimeout(tick, opts.firstDelayMs ?? Math.min(15_000, settings.intervalMs));
  const every = setInterval(tick, settings.intervalMs);
  first.unref();
  every.unref();
  const stop = () => {
    clearTimeout(first);
    clearInterval(every);
    if (timerState.__airlockAnchorTimer?.stop === stop) timerState.__airlockAnchorTimer = undefined;
  };
  timerState.__airlockAnchorTimer = { stop };
  return stop;
}
