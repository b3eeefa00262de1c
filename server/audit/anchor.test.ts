// The audit anchor against real destinations: an append-only file in another
// directory, a Standard Webhooks receiver on loopback, a real SMTP server on
// loopback (test/helpers/smtp.ts), a real SQLite file. And the check that the
// chain still extends every anchor, against the attacks the seal alone cannot
// catch (the attacker holds the data directory's audit key).
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { asc, eq } from "drizzle-orm";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { auditEvents } from "@/db/schema";
import { openDatabase } from "@/db/client";
import {
  ANCHOR_EMAIL,
  auditAnchorStatus,
  checkAnchors,
  parseAnchors,
  publishAuditAnchor,
  startAuditAnchorTimer,
  type AuditAnchor,
} from "@/server/audit/anchor";
import { recordAudit, SYSTEM_ACTOR, verifyAuditChain } from "@/server/audit/chain";
import { config, readAuditAnchorSettings, type AuditAnchorSettings } from "@/server/config/env";
import { checkAuditAnchor } from "@/server/doctor/doctor";
import { checkHealth } from "@/server/health/health";
import { WEBHOOK_DELIVERY } from "@/server/notify/webhooks";
import { dataKey } from "@/server/secrets/keys";
import { rewriteAndReseal, truncateAndReseal } from "@/test/helpers/audit-tamper";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { startSmtpServer, type TestSmtpServer } from "@/test/helpers/smtp";
import { withRawConnection } from "@/test/helpers/sqlite";

const env = vi.hoisted(() => {
  // Read once by config(): the audit key lives under this data dir; only 127.0.0.1 is allowed as a receiver.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { mkdtempSync } = require("node:fs") as typeof import("node:fs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { join } = require("node:path") as typeof import("node:path");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { tmpdir } = require("node:os") as typeof import("node:os");
  process.env.AIRLOCK_DATA_DIR = mkdtempSync(join(tmpdir(), "airlock-anchor-data-"));
  // The instance's own setting (health reads it); the tests below pass their own destinations.
  process.env.AIRLOCK_AUDIT_ANCHOR_FILE = join(mkdtempSync(join(tmpdir(), "airlock-anchor-env-")), "anchors.jsonl");
  process.env.AIRLOCK_NOTIFY_ALLOW_HOSTS = "127.0.0.1";
  process.env.NEXTAUTH_URL = "https://airlock.example.com";
  return { dataDir: process.env.AIRLOCK_DATA_DIR, anchorFile: process.env.AIRLOCK_AUDIT_ANCHOR_FILE };
});

const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const POLICY = { ...WEBHOOK_DELIVERY };
const EMAIL_POLICY = { ...ANCHOR_EMAIL };
let t: TestDb;
let outside: string; // "another mount": a directory outside the data directory
let servers: http.Server[] = [];

beforeEach(() => {
  t = createTestDb();
  outside = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-anchor-out-"));
});
afterEach(async () => {
  Object.assign(WEBHOOK_DELIVERY, POLICY);
  Object.assign(ANCHOR_EMAIL, EMAIL_POLICY);
  t.close();
  fs.rmSync(outside, { recursive: true, force: true });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  servers = [];
});
afterAll(() => {
  fs.rmSync(env.dataDir, { recursive: true, force: true });
  fs.rmSync(path.dirname(env.anchorFile), { recursive: true, force: true });
});

function settings(extra: Partial<AuditAnchorSettings> = {}): AuditAnchorSettings {
  return { intervalMs: 0, email: [], file: path.join(outside, "anchors.jsonl"), ...extra };
}

function writeEvents(n: number, from = 1): void {
  for (let i = from; i < from + n; i++) recordAudit(t.db, SYSTEM_ACTOR, { action: "test.event", targetType: "thing", targetId: `t${i}`, details: { i } });
}

function fileAnchors(file: string): AuditAnchor[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditAnchor);
}

function anchorEvents(): { action: string; details: Record<string, unknown> }[] {
  return t.db
    .select()
    .from(auditEvents)
    .orderBy(asc(auditEvents.seq))
    .all()
    .filter((e) => e.action.startsWith("audit.anchor"))
    .map((e) => ({ action: e.action, details: JSON.parse(e.details) as Record<string, unknown> }));
}

async function receiver(script: number[] = [204]) {
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(script[Math.min(received.length - 1, script.length - 1)]!).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/anchors`, received };
}

function rewriteOldEvent(fromSeq: number, details: string): void {
  rewriteAndReseal(t.file, dataKey("audit")!, fromSeq, details);
}

function cutChain(keep: number): void {
  truncateAndReseal(t.file, dataKey("audit")!, keep);
}

describe("publishing the audit anchor", () => {
  it("A1: appends the sealed head (count, last hash, time, instance) as one JSON line to the file and records where it went", async () => {
    writeEvents(5);
    const out = await publishAuditAnchor(t.db, { reason: "manual", settings: settings() });
    expect(out.published).toBe(true);
    const [line] = fileAnchors(path.join(outside, "anchors.jsonl"));
    const head = t.db.select().from(auditEvents).where(eq(auditEvents.seq, 5)).get()!;
    expect(line).toMatchObject({ type: "airlock.audit.anchor", count: 5, lastSeq: 5, lastHash: head.hash, reason: "manual" });
    expect(line!.instance.url).toBe("https://airlock.example.com");
    expect(line!.instance.id).toMatch(/^[0-9a-f]{16}$/);
    expect(Date.parse(line!.at)).not.toBeNaN();
    expect(line!.headAt).toBe(head.at.toISOString());
    expect(anchorEvents()).toEqual([
      {
        action: "audit.anchored",
        details: expect.objectContaining({ count: 5, reason: "manual", deliveries: [expect.objectContaining({ kind: "file", ok: true })] }) as unknown,
      },
    ]);
    expect(verifyAuditChain(t.db).ok).toBe(true);
  });

  it("A2: an interval tick skips a head that only grew by anchor bookkeeping, and publishes once real events were added", async () => {
    const file = path.join(outside, "anchors.jsonl");
    writeEvents(3);
    expect((await publishAuditAnchor(t.db, { reason: "interval", settings: settings() })).published).toBe(true);
    const again = await publishAuditAnchor(t.db, { reason: "interval", settings: settings() });
    expect(again).toMatchObject({ published: false, skipped: expect.stringMatching(/has not changed/) as unknown });
    expect(fileAnchors(file)).toHaveLength(1);
    writeEvents(2, 4);
    expect((await publishAuditAnchor(t.db, { reason: "interval", settings: settings() })).published).toBe(true);
    // A backup always anchors, changed or not.
    expect((await publishAuditAnchor(t.db, { reason: "backup", settings: settings() })).published).toBe(true);
    expect(fileAnchors(file).map((a) => [a.count, a.reason])).toEqual([
      [3, "interval"],
      [6, "interval"], // 5 events + the first anchor's own audit event
      [7, "backup"],
    ]);
  });

  it("A3: posts the anchor to a webhook signed per Standard Webhooks, retrying a failing receiver", async () => {
    WEBHOOK_DELIVERY.baseDelayMs = 20;
    const hook = await receiver([503, 204]);
    writeEvents(4);
    const out = await publishAuditAnchor(t.db, { reason: "manual", settings: settings({ file: undefined, webhook: { url: hook.url, secret: SECRET } }) });
    expect(out.deliveries).toEqual([expect.objectContaining({ kind: "webhook", ok: true, attempts: 2 })]);
    expect(hook.received).toHaveLength(2);
    const last = hook.received[1]!;
    const verified = new StandardWebhook(SECRET).verify(last.body, {
      "webhook-id": String(last.headers["webhook-id"]),
      "webhook-timestamp": String(last.headers["webhook-timestamp"]),
      "webhook-signature": String(last.headers["webhook-signature"]),
    }) as AuditAnchor;
    expect(verified).toMatchObject({ type: "airlock.audit.anchor", count: 4, id: out.anchor!.id });
    // What the receiver stores, one body per line, is what verify --anchor reads.
    expect(checkAnchors(t.db, parseAnchors(`${last.body}\n`).anchors)).toEqual([]);
  });

  it("A4: mails the anchor to the admin through the notification mail server; the mail's text is a valid anchor file", async () => {
    const smtp: TestSmtpServer = await startSmtpServer();
    try {
      writeEvents(2);
      const out = await publishAuditAnchor(t.db, {
        reason: "backup",
        settings: settings({ file: undefined, email: ["admin@example.com"] }),
        smtp: smtp.settings(),
      });
      expect(out.deliveries).toEqual([expect.objectContaining({ kind: "email", target: "admin@example.com", ok: true })]);
      expect(smtp.mails).toHaveLength(1);
      expect(smtp.mails[0]!.envelopeTo).toEqual(["admin@example.com"]);
      expect(smtp.mails[0]!.subject).toMatch(/Audit anchor: 2 events/);
      const parsed = parseAnchors(smtp.mails[0]!.text ?? "");
      expect(parsed.problems).toEqual([]);
      expect(parsed.anchors.map((a) => a.anchor.count)).toEqual([2]);
      expect(checkAnchors(t.db, parsed.anchors)).toEqual([]);
    } finally {
      await smtp.close();
    }
  });

  it("A5: refuses an anchor file inside the data directory, naming the variable and why", () => {
    const inside = path.join(env.dataDir, "anchors.jsonl");
    expect(() => readAuditAnchorSettings({ AIRLOCK_AUDIT_ANCHOR_FILE: inside }, env.dataDir)).toThrow(
      /AIRLOCK_AUDIT_ANCHOR_FILE .* is inside the data directory .*would prove nothing/,
    );
    // Through a symbolic link too.
    const link = path.join(outside, "sneaky");
    fs.symlinkSync(env.dataDir, link);
    expect(() => readAuditAnchorSettings({ AIRLOCK_AUDIT_ANCHOR_FILE: path.join(link, "a.jsonl") }, env.dataDir)).toThrow(/inside the data directory/);
    expect(() => readAuditAnchorSettings({ AIRLOCK_AUDIT_ANCHOR_FILE: "anchors.jsonl" }, env.dataDir)).toThrow(
      /AIRLOCK_AUDIT_ANCHOR_FILE must be an absolute path/,
    );
  });

  it("A6: a link swapped to point into the data directory after start is refused at publish time; the failure is audited and shown", async () => {
    writeEvents(2);
    const dir = path.join(outside, "mnt");
    fs.symlinkSync(env.dataDir, dir); // was another mount when Airlock started; now points into the data directory
    const out = await publishAuditAnchor(t.db, { reason: "interval", settings: settings({ file: path.join(dir, "anchors.jsonl"), intervalMs: 60_000 }) });
    expect(out.published).toBe(false);
    expect(out.deliveries[0]).toMatchObject({ kind: "file", ok: false, error: expect.stringMatching(/inside the data directory/) as unknown });
    expect(fs.existsSync(path.join(env.dataDir, "anchors.jsonl"))).toBe(false);
    expect(anchorEvents().map((e) => e.action)).toEqual(["audit.anchor_failed"]);
    const status = auditAnchorStatus(t.db, settings({ file: path.join(dir, "anchors.jsonl"), intervalMs: 60_000 }));
    expect(status.problem).toMatch(/the last audit anchor .* failed: file .*inside the data directory/);
  });

  it("A7: a dead webhook and a refused mail server do not stop the file anchor; each failure is named in the audit event", async () => {
    WEBHOOK_DELIVERY.maxAttempts = 2;
    WEBHOOK_DELIVERY.baseDelayMs = 10;
    ANCHOR_EMAIL.retryDelayMs = 10;
    const hook = await receiver([500]);
    writeEvents(1);
    const out = await publishAuditAnchor(t.db, {
      reason: "manual",
      settings: settings({ webhook: { url: hook.url, secret: SECRET }, email: ["admin@example.com"] }),
      smtp: { host: "10.255.255.1", port: 25, secure: false, from: "airlock@example.com" }, // a private address nobody allowed
    });
    expect(out.published).toBe(true);
    expect(out.deliveries).toEqual([
      expect.objectContaining({ kind: "file", ok: true }),
      expect.objectContaining({ kind: "webhook", ok: false, attempts: 2, error: expect.stringMatching(/answered 500/) as unknown }),
      expect.objectContaining({ kind: "email", ok: false, error: expect.stringMatching(/AIRLOCK_NOTIFY_ALLOW_HOSTS/) as unknown }),
    ]);
    const status = auditAnchorStatus(t.db, settings({ webhook: { url: hook.url, secret: SECRET }, email: ["admin@example.com"] }));
    expect(status.lastAnchor?.count).toBe(1);
    expect(status.problem).toMatch(/webhook http:\/\/127\.0\.0\.1:\d+\/anchors: The receiver answered 500.*email admin@example\.com/);
  });

  it("A8: the timer started with the supervisor publishes at its interval and skips an unchanged head", async () => {
    const file = path.join(outside, "anchors.jsonl");
    writeEvents(2);
    const stop = startAuditAnchorTimer(t.db, { settings: settings({ intervalMs: 150 }), firstDelayMs: 10 });
    try {
      await vi.waitFor(() => expect(fs.existsSync(file) && fileAnchors(file).length).toBe(1), { timeout: 5_000 });
      await new Promise((r) => setTimeout(r, 600)); // ~4 ticks with nothing new
      expect(fileAnchors(file)).toHaveLength(1);
      writeEvents(1, 3);
      await vi.waitFor(() => expect(fileAnchors(file).length).toBe(2), { timeout: 5_000 });
    } finally {
      stop();
    }
    expect(fileAnchors(file).map((a) => a.reason)).toEqual(["interval", "interval"]);
  });

  it("A9: settings are validated loudly with the variable's name", () => {
    const base = { AIRLOCK_AUDIT_ANCHOR_FILE: path.join(outside, "a.jsonl") };
    expect(() => readAuditAnchorSettings({ ...base, AIRLOCK_AUDIT_ANCHOR_INTERVAL_S: "hourly" }, env.dataDir)).toThrow(
      /AIRLOCK_AUDIT_ANCHOR_INTERVAL_S must be/,
    );
    expect(() => readAuditAnchorSettings({ ...base, AIRLOCK_AUDIT_ANCHOR_INTERVAL_S: "5" }, env.dataDir)).toThrow(/from 60 to 604800/);
    expect(() => readAuditAnchorSettings({ AIRLOCK_AUDIT_ANCHOR_INTERVAL_S: "600" }, env.dataDir)).toThrow(/no anchor destination is/);
    expect(() => readAuditAnchorSettings({ AIRLOCK_AUDIT_ANCHOR_WEBHOOK: "https://audit.example.com/a" }, env.dataDir)).toThrow(
      /AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET is not/,
    );
    expect(() =>
      readAuditAnchorSettings({ AIRLOCK_AUDIT_ANCHOR_WEBHOOK: "https://audit.example.com/a", AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET: "hunter2" }, env.dataDir),
    ).toThrow(/AIRLOCK_AUDIT_ANCHOR_WEBHOOK_SECRET must be whsec_/);
    expect(() => readAuditAnchorSettings({ AIRLOCK_AUDIT_ANCHOR_EMAIL: "admin@example.com" }, env.dataDir)).toThrow(/AIRLOCK_SMTP_URL is not/);
    expect(() => readAuditAnchorSettings({ AIRLOCK_AUDIT_ANCHOR_EMAIL: "not-an-address", AIRLOCK_SMTP_URL: "smtp://mail.example.com" }, env.dataDir)).toThrow(
      /AIRLOCK_AUDIT_ANCHOR_EMAIL: "not-an-address"/,
    );
    expect(readAuditAnchorSettings(base, env.dataDir)).toMatchObject({ intervalMs: 3_600_000, file: base.AIRLOCK_AUDIT_ANCHOR_FILE });
    expect(readAuditAnchorSettings({}, env.dataDir)).toEqual({ intervalMs: 0, file: undefined, webhook: undefined, email: [] });
  });

  it("A19: airlock doctor shows where anchors go and when the last went out, and fails on a failed publication or an anchor file on the data directory's disk", async () => {
    const cfg = { ...config(), auditAnchor: settings({ intervalMs: 3_600_000 }) };
    expect(checkAuditAnchor({ ...cfg, auditAnchor: { intervalMs: 0, email: [] } }, t.db)).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^off:/) as unknown,
    });
    writeEvents(2);
    await publishAuditAnchor(t.db, { reason: "manual", settings: cfg.auditAnchor });
    const sameDisk = fs.statSync(outside).dev === fs.statSync(cfg.dataDir).dev;
    const check = checkAuditAnchor(cfg, t.db);
    expect(check.detail).toMatch(new RegExp(`^file ${cfg.auditAnchor.file}; last \\S+ \\(2 events, manual\\)`));
    // Here the temporary directories share one file system, which doctor points out (another mount is the point).
    expect(check.ok).toBe(!sameDisk);
    if (sameDisk) expect(check.detail).toMatch(/on the same file system as the data directory/);
    fs.rmSync(outside, { recursive: true });
    writeEvents(1, 3);
    await publishAuditAnchor(t.db, { reason: "interval", settings: cfg.auditAnchor });
    fs.mkdirSync(outside);
    const failing = checkAuditAnchor(cfg, t.db);
    expect(failing.ok).toBe(false);
    expect(failing.detail).toMatch(/the last audit anchor \(\S+\) failed: file .*ENOENT/);
    expect(failing.fix).toMatch(/airlock audit anchor/);
  });

  it("A20: /api/health says when the last anchor went out and whether publishing fails, without naming where anchors go", async () => {
    writeEvents(2);
    const ok = await publishAuditAnchor(t.db, { reason: "manual" }); // the instance's AIRLOCK_AUDIT_ANCHOR_FILE
    expect(fileAnchors(env.anchorFile).map((a) => a.id)).toEqual([ok.anchor!.id]);
    const healthy = await checkHealth(() => t.db);
    expect(healthy.auditAnchor).toEqual({ lastAnchorAt: expect.any(String) as unknown, failing: false });
    fs.rmSync(path.dirname(env.anchorFile), { recursive: true });
    writeEvents(1, 3);
    await publishAuditAnchor(t.db, { reason: "interval" });
    fs.mkdirSync(path.dirname(env.anchorFile));
    const failing = await checkHealth(() => t.db);
    expect(failing.auditAnchor).toEqual({ lastAnchorAt: healthy.auditAnchor!.lastAnchorAt, failing: true });
    expect(JSON.stringify(failing)).not.toContain(env.anchorFile);
  });

  it("A10: refuses to anchor a head that does not carry the key's seal (a forged head must not be blessed)", async () => {
    writeEvents(3);
    withRawConnection(t.file, (raw) => raw.prepare("update audit_head set mac = ? where id = 1").run("0".repeat(64)));
    await expect(publishAuditAnchor(t.db, { reason: "manual", settings: settings() })).rejects.toThrow(/does not carry the audit key's seal/);
    expect(fs.existsSync(path.join(outside, "anchors.jsonl"))).toBe(false);
  });
});

describe("checking the chain against its anchors", () => {
  it("A11: a chain that grew after the anchors extends them all", async () => {
    writeEvents(4);
    await publishAuditAnchor(t.db, { reason: "manual", settings: settings() });
    writeEvents(3, 5);
    await publishAuditAnchor(t.db, { reason: "manual", settings: settings() });
    writeEvents(2, 8);
    const { anchors } = parseAnchors(fs.readFileSync(path.join(outside, "anchors.jsonl"), "utf8"));
    expect(anchors).toHaveLength(2);
    expect(verifyAuditChain(t.db).ok).toBe(true);
    expect(checkAnchors(t.db, anchors)).toEqual([]);
  });

  it("A12: a chain cut short and re-sealed with the key verifies on its own, but not against the anchor", async () => {
    writeEvents(6);
    const out = await publishAuditAnchor(t.db, { reason: "manual", settings: settings() });
    cutChain(4);
    expect(verifyAuditChain(t.db).ok).toBe(true); // the seal alone cannot tell
    const breaks = checkAnchors(t.db, parseAnchors(fs.readFileSync(path.join(outside, "anchors.jsonl"), "utf8")).anchors);
    expect(breaks).toHaveLength(1);
    expect(breaks[0]!.problem).toBe(
      `the chain has 4 events but the anchor of ${out.anchor!.at} (count 6, line 1) was published when it had 6: this database is an older copy, or events at its end were deleted`,
    );
    // Cut short, then padded back past the anchor with new events: the anchored event is not there any more.
    writeEvents(5, 100);
    expect(verifyAuditChain(t.db).ok).toBe(true);
    expect(checkAnchors(t.db, parseAnchors(fs.readFileSync(path.join(outside, "anchors.jsonl"), "utf8")).anchors)[0]!.problem).toMatch(
      /^event #6 is not the event the anchor of .* \(count 6, line 1\) names .*rewritten after it was anchored/,
    );
  });

  it("A13: an old event rewritten with the whole chain re-hashed and re-sealed with the key fails against the anchor", async () => {
    writeEvents(5);
    await publishAuditAnchor(t.db, { reason: "manual", settings: settings() });
    writeEvents(2, 6);
    rewriteOldEvent(2, JSON.stringify({ i: 2, note: "nothing to see" }));
    expect(verifyAuditChain(t.db).ok).toBe(true);
    const breaks = checkAnchors(t.db, parseAnchors(fs.readFileSync(path.join(outside, "anchors.jsonl"), "utf8")).anchors);
    expect(breaks.map((b) => b.count)).toEqual([5]);
    expect(breaks[0]!.problem).toMatch(/event #5 is not the event the anchor of .*\(count 5, line 1\)/);
  });

  it("A14: an older copy of the database (taken before the last anchor) fails against it", async () => {
    writeEvents(3);
    t.db.$client.pragma("wal_checkpoint(TRUNCATE)");
    const older = path.join(t.dir, "older.db");
    fs.copyFileSync(t.file, older);
    writeEvents(3, 4);
    await publishAuditAnchor(t.db, { reason: "backup", settings: settings() });
    const copy = openDatabase(older);
    try {
      expect(verifyAuditChain(copy).ok).toBe(true);
      const breaks = checkAnchors(copy, parseAnchors(fs.readFileSync(path.join(outside, "anchors.jsonl"), "utf8")).anchors);
      expect(breaks[0]!.problem).toMatch(/^the chain has 3 events but the anchor of .* \(count 6, line 1\) .*older copy/);
    } finally {
      copy.$client.close();
    }
  });

  it("A15: reads what the destinations carry and names lines that are not anchors instead of skipping them", () => {
    const good = JSON.stringify({ type: "airlock.audit.anchor", count: 2, lastSeq: 2, lastHash: "a".repeat(64), at: "2026-12-05T03:00:00.000Z" });
    const envelope = JSON.stringify({ type: "audit.anchor", timestamp: "x", data: JSON.parse(good) as unknown });
    const { anchors, problems } = parseAnchors(`Dear admin,\n\n${good}\n${envelope}\n{"type":"other"}\n{"torn":\n`);
    expect(anchors.map((a) => a.line)).toEqual([3, 4]);
    expect(problems).toEqual([expect.stringMatching(/^line 5 is not an Airlock audit anchor/), expect.stringMatching(/^line 6 is not complete JSON/)]);
  });
});
