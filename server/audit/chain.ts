// The tamper-evident audit trail: every event is hash-chained to the one
// before it (SHA-256 over the previous hash and a canonical JSON of the event),
// and the chain's head record (count, last seq, last hash) is sealed with an
// HMAC under a key kept outside the database (keys/audit.key in the data
// directory). The hashes let anyone check the chain's integrity; the seal
// makes a rewrite with recomputed hashes detectable by whoever holds the key.
import crypto from "node:crypto";
import Database from "better-sqlite3";
import { eq } from "drizzle-orm";
import { auditHead, type AuditEvent } from "@/db/schema";
import type { Db } from "@/db/client";
import { dataKey, keyFile } from "@/server/secrets/keys";

export const GENESIS_HASH = "0".repeat(64);

/** audit_events' columns in the order the append writes and verify reads them. */
const EVENT_COLUMNS = "seq, id, at, actor_id, actor_label, action, target_type, target_id, details, source_ip, token_id, prev_hash, hash";

/** Who did something and from where; attached to every audit event. */
export interface Actor {
  userId: string | null;
  label: string; // email, "system", "cli:<user>"…
  sourceIp?: string | null;
  tokenId?: string | null;
}

export const SYSTEM_ACTOR: Actor = { userId: null, label: "system" };

export interface AuditInput {
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  details?: Record<string, unknown>;
}

/** JSON with object keys sorted at every depth, so the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i ? "," : "") + canonicalJson(value[i]);
    return out + "]";
  }
  // Object.keys + sort (UTF-16 code unit order, as `<` compares) without the
  // per-key arrays Object.entries makes: verify canonicalises a million events.
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += (first ? "" : ",") + JSON.stringify(key) + ":" + canonicalJson(v);
    first = false;
  }
  return out + "}";
}

type HashedFields = Omit<AuditEvent, "hash" | "prevHash">;

/** The hashed fields' names, in canonicalJson's (sorted) order. */
const BODY_KEYS = ["action", "actorId", "actorLabel", "at", "details", "id", "seq", "sourceIp", "targetId", "targetType", "tokenId"] as const;
const BODY_KEY_PREFIXES = BODY_KEYS.map((k) => `${JSON.stringify(k)}:`);

/**
 * The canonical JSON of an event's hashed fields: the string canonicalJson()
 * gives for the object of these fields, written out with the keys' order
 * known in advance because verify builds it once per event.
 */
function eventBody(event: HashedFields): string {
  const values = [
    event.action,
    event.actorId,
    event.actorLabel,
    event.at instanceof Date ? event.at.getTime() : event.at,
    PARSED_DETAILS,
    event.id,
    event.seq,
    event.sourceIp,
    event.targetId,
    event.targetType,
    event.tokenId,
  ];
  const details = JSON.parse(event.details) as unknown;
  // canonicalJson leaves undefined values out; typed rows never have them, but keep one definition.
  if (values.some((v) => v === undefined)) {
    return canonicalJson(Object.fromEntries(BODY_KEYS.map((k, i) => [k, values[i] === PARSED_DETAILS ? details : values[i]])));
  }
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    out += (i ? "," : "") + BODY_KEY_PREFIXES[i] + (values[i] === PARSED_DETAILS ? canonicalJsonOfParsed(details) : scalarJson(values[i]));
  }
  return out + "}";
}

/** Stands for the parsed details in eventBody's list of values. */
const PARSED_DETAILS = Symbol("details");

/** canonicalJson of a column value: a string, a number or null (a blob only if the file was edited). */
function scalarJson(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : canonicalJson(value);
}

/**
 * canonicalJson of a value JSON.parse returned. Airlock stores details
 * canonical, so their keys are already in order at every depth; then
 * canonicalJson's output is exactly JSON.stringify's (same key order, and
 * parsed JSON has no undefined, Date or toJSON to treat apart), which is
 * native and several times faster over a million events.
 */
function canonicalJsonOfParsed(value: unknown): string {
  return keysSortedDeep(value) ? JSON.stringify(value) : canonicalJson(value);
}

function keysSortedDeep(value: unknown): boolean {
  if (value === null || typeof value !== "object") return true;
  if (Array.isArray(value)) {
    for (const item of value) if (!keysSortedDeep(item)) return false;
    return true;
  }
  const record = value as Record<string, unknown>;
  let previous: string | null = null;
  for (const key of Object.keys(record)) {
    if (previous !== null && !(previous < key)) return false;
    if (!keysSortedDeep(record[key])) return false;
    previous = key;
  }
  return true;
}

export function hashEvent(prevHash: string, event: HashedFields): string {
  // One-shot hash of the same bytes as update(prevHash).update("\n").update(body): prevHash is hex (or the genesis zeros).
  return crypto.hash("sha256", `${prevHash}\n${eventBody(event)}`, "hex");
}

/** The seal of a head record under the audit key. */
export function sealOf(key: Buffer, head: { count: number; lastSeq: number; lastHash: string }): string {
  return crypto.createHmac("sha256", key).update(`airlock-audit-head\n${head.count}\n${head.lastSeq}\n${head.lastHash}`).digest("hex");
}

/** How a head appended over an unsealed (tampered) head is marked: never a valid seal. */
const BROKEN_SEAL_PREFIX = "broken-since:";

function sealMatches(key: Buffer, head: { count: number; lastSeq: number; lastHash: string }, mac: string): boolean {
  const want = Buffer.from(sealOf(key, head), "hex");
  const got = Buffer.from(mac, "hex");
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

/**
 * Appends one event. Call it inside the same transaction as the change it
 * records (db.transaction(tx => { change(tx); appendAudit(tx, …) }, {behavior: "immediate"})),
 * so the change and its audit event commit or roll back together.
 */
export function appendAudit(tx: AuditWriter, actor: Actor, input: AuditInput): AuditEvent {
  return appendAuditEvents(tx, [{ actor, input }])[0]!;
}

type AuditWriter = Pick<Db, "select" | "insert" | "update">;

interface AppendStatements {
  last: Database.Statement;
  insert: Database.Statement;
  head: Database.Statement;
  updateHead: Database.Statement;
  insertHead: Database.Statement;
}
const appendStatements = new WeakMap<Database.Database, AppendStatements>();

/**
 * The append's statements, prepared once per connection. Every tool call
 * appends events, and building these queries through drizzle each time cost
 * several times the INSERT itself (issue 14). `tx` is a drizzle database or
 * transaction: both run on the one better-sqlite3 connection drizzle keeps as
 * session.client, so the statements run inside the caller's transaction.
 */
function statementsOf(tx: AuditWriter): AppendStatements {
  const client = (tx as unknown as { session?: { client?: unknown } }).session?.client;
  if (!(client instanceof Database)) throw new Error("appendAudit needs a drizzle better-sqlite3 database or transaction (no session.client found)");
  let prepared = appendStatements.get(client);
  if (!prepared) {
    prepared = {
      last: client.prepare("select seq, hash from audit_events order by seq desc limit 1"),
      insert: client.prepare(`insert into audit_events (${EVENT_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      head: client.prepare("select count, last_seq as lastSeq, last_hash as lastHash, mac from audit_head where id = 1"),
      updateHead: client.prepare("update audit_head set count = ?, last_seq = ?, last_hash = ?, mac = ? where id = 1"),
      insertHead: client.prepare("insert into audit_head (id, count, last_seq, last_hash, mac) values (1, ?, ?, ?, ?)"),
    };
    appendStatements.set(client, prepared);
  }
  return prepared;
}

/**
 * Appends several events in order, exactly as appendAudit appends one (same
 * hashes, same sealed head), reading the chain's end and writing its head
 * once. For bulk writes inside one transaction.
 */
export function appendAuditEvents(tx: AuditWriter, events: readonly { actor: Actor; input: AuditInput }[]): AuditEvent[] {
  if (events.length === 0) return [];
  const st = statementsOf(tx);
  const last = st.last.get() as { seq: number; hash: string } | undefined;
  let prevHash = last?.hash ?? GENESIS_HASH;
  let seq = last?.seq ?? 0;
  const rows: AuditEvent[] = [];
  for (const { actor, input } of events) {
    const fields: HashedFields = {
      seq: ++seq,
      id: crypto.randomUUID(),
      at: new Date(),
      actorId: actor.userId,
      actorLabel: actor.label,
      action: input.action,
      targetType: input.targetType ?? null,
      targetId: input.targetId ?? null,
      details: canonicalJson(input.details ?? {}),
      sourceIp: actor.sourceIp ?? null,
      tokenId: actor.tokenId ?? null,
    };
    const row: AuditEvent = { ...fields, prevHash, hash: hashEvent(prevHash, fields) };
    st.insert.run(
      row.seq,
      row.id,
      row.at.getTime(),
      row.actorId,
      row.actorLabel,
      row.action,
      row.targetType,
      row.targetId,
      row.details,
      row.sourceIp,
      row.tokenId,
      row.prevHash,
      row.hash,
    );
    rows.push(row);
    prevHash = row.hash;
  }
  const end = rows[rows.length - 1]!;
  const head = st.head.get() as { count: number; lastSeq: number; lastHash: string; mac: string | null } | undefined;
  const next = { count: (head?.count ?? 0) + rows.length, lastSeq: end.seq, lastHash: end.hash };
  const key = dataKey("audit")!;
  // Sealing the new head over a head that lost its seal would launder a rewrite made without the key
  // (events edited, hashes and head recomputed): the new head then stays marked, and verify keeps reporting it.
  const mac = !head?.mac
    ? sealOf(key, next)
    : head.mac.startsWith(BROKEN_SEAL_PREFIX)
      ? head.mac // keeps naming where the seal was first found broken
      : sealMatches(key, head, head.mac)
        ? sealOf(key, next)
        : `${BROKEN_SEAL_PREFIX}${head.lastSeq}`;
  if (head) st.updateHead.run(next.count, next.lastSeq, next.lastHash, mac);
  else st.insertHead.run(next.count, next.lastSeq, next.lastHash, mac);
  appendListener.current?.();
  return rows;
}

// On globalThis: Next.js bundles route handlers and instrumentation.ts apart, and each has its copy of this module.
const appendListener = ((globalThis as unknown as { __airlockAuditAppendListener?: { current: (() => void) | null } }).__airlockAuditAppendListener ??= {
  current: null,
});

/**
 * Called after every append, inside the caller's transaction: the OTLP stream
 * (stream.ts) only schedules a read for after the transaction, so the listener
 * must not throw nor touch the database.
 */
export function setAuditAppendListener(listener: (() => void) | null): void {
  appendListener.current = listener;
}

/** Records an event on its own (for actions with no other state change, like a failed sign-in). */
export function recordAudit(db: Db, actor: Actor, input: AuditInput): AuditEvent {
  return db.transaction((tx) => appendAudit(tx, actor, input), { behavior: "immediate" });
}

export interface VerifyResult {
  ok: boolean;
  count: number;
  firstBrokenId?: string;
  firstBrokenSeq?: number;
  problem?: string;
}

/** Events read per query while verifying: memory stays bounded however long the chain is. */
const VERIFY_PAGE_SIZE = 2000;

/** A row read with EVENT_COLUMNS in raw (array) mode, mapped as drizzle maps it (only `at` becomes a Date). */
function eventOfRow(r: unknown[]): AuditEvent {
  return {
    seq: r[0] as number,
    id: r[1] as string,
    at: (r[2] === null ? null : new Date(r[2] as number)) as Date,
    actorId: r[3] as string | null,
    actorLabel: r[4] as string,
    action: r[5] as string,
    targetType: r[6] as string | null,
    targetId: r[7] as string | null,
    details: r[8] as string,
    sourceIp: r[9] as string | null,
    tokenId: r[10] as string | null,
    prevHash: r[11] as string,
    hash: r[12] as string,
  };
}

/**
 * Walks the whole chain in order and reports the first event that does not
 * fit, then checks the head record and its seal. Every event's link and hash
 * is checked; the events are read page by page so a chain of millions never
 * sits in memory, all in one read transaction (one snapshot of the events
 * and the head, while Airlock goes on appending).
 */
export function verifyAuditChain(db: Db, opts: { pageSize?: number; key?: AuditKey } = {}): VerifyResult {
  const pageSize = opts.pageSize ?? VERIFY_PAGE_SIZE;
  return db.$client.transaction(() => verifySnapshot(db, pageSize, opts.key))();
}

/** The seal key and where it lives (for messages), when it is not this data directory's keys/audit.key (a backup's). */
export interface AuditKey {
  key: Buffer | null;
  file: string;
}

function verifySnapshot(db: Db, pageSize: number, key?: AuditKey): VerifyResult {
  const sqlite = db.$client;
  const firstPage = sqlite.prepare(`select ${EVENT_COLUMNS} from audit_events order by seq limit ?`).raw(true);
  const nextPage = sqlite.prepare(`select ${EVENT_COLUMNS} from audit_events where seq > ? order by seq limit ?`).raw(true);
  const countAll = () => (sqlite.prepare("select count(*) from audit_events").pluck().get() as number) ?? 0;
  const head = db.select().from(auditHead).where(eq(auditHead.id, 1)).get();
  // A negative or fractional count can only come from editing the file.
  const known = head && Number.isInteger(head.count) && head.count > 0 ? head.count : 0;
  let anchor: AuditEvent | undefined;
  let appended: AuditEvent | undefined;
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let count = 0;
  for (;;) {
    const page = (count === 0 ? firstPage.all(pageSize) : nextPage.all(expectedSeq - 1, pageSize)) as unknown[][];
    for (const raw of page) {
      const problem = eventProblem(raw, expectedSeq, prevHash);
      if (problem) {
        const row = eventOfRow(raw);
        return { ok: false, count: countAll(), firstBrokenId: row.id, firstBrokenSeq: row.seq, problem };
      }
      count += 1;
      // The head check needs the event the head says the chain ends with, and the one after it.
      if (count === known) anchor = eventOfRow(raw);
      else if (count === known + 1) appended = eventOfRow(raw);
      prevHash = raw[12] as string;
      expectedSeq += 1;
    }
    if (page.length < pageSize) break;
  }
  const headProblem = checkHead(count, head, anchor, appended);
  if (headProblem) return { ok: false, count, ...headProblem };
  const sealProblem = head ? checkSeal(head, key) : null;
  if (sealProblem) return { ok: false, count, firstBrokenSeq: head!.lastSeq, problem: sealProblem };
  return { ok: true, count };
}

/** Why the event (a raw row of EVENT_COLUMNS) does not fit where it stands in the chain, or null. */
function eventProblem(raw: unknown[], expectedSeq: number, prevHash: string): string | null {
  const seq = raw[0] as number;
  if (seq !== expectedSeq) {
    return seq > expectedSeq
      ? `event #${seq} follows #${expectedSeq - 1}: ${seq - expectedSeq} event(s) before it were deleted`
      : `event #${seq} is out of order`;
  }
  if (raw[11] !== prevHash) return `event #${seq} does not link to the event before it (an event was deleted, inserted or reordered)`;
  let recomputed: string;
  try {
    recomputed = hashEvent(prevHash, eventOfRow(raw));
  } catch {
    return `event #${seq} has unreadable details (edited)`;
  }
  if (recomputed !== raw[12]) return `event #${seq} was edited after it was written (its hash no longer matches its content)`;
  return null;
}

function checkSeal(head: typeof auditHead.$inferSelect, given?: AuditKey): string | null {
  if (!head.mac) {
    return "the chain's head record carries no seal: it was removed outside Airlock, or this database comes from an older Airlock and was not upgraded (run `airlock setup`)";
  }
  if (head.mac.startsWith(BROKEN_SEAL_PREFIX)) {
    return `the chain's head record had lost the audit key's seal when Airlock appended after event #${head.mac.slice(BROKEN_SEAL_PREFIX.length)}: the chain up to there was rewritten outside Airlock (hashes recomputed)`;
  }
  const key = given ? given.key : dataKey("audit", { create: false });
  const file = given ? given.file : keyFile("audit");
  if (!key) return `the audit key ${file} is missing, so the chain's seal cannot be checked; restore the data directory's keys/ from a backup`;
  const want = Buffer.from(sealOf(key, head), "hex");
  const got = Buffer.from(head.mac, "hex");
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) {
    return `the chain's head record does not carry the seal of the audit key: the chain was rewritten outside Airlock (hashes recomputed), or ${file} is not this database's key`;
  }
  return null;
}

/**
 * Upgrades a chain written before heads were sealed: seals the current head
 * (trusting the chain as it is now) and records that it did. Does nothing
 * for a sealed or empty chain. Called by `airlock setup` and at server start.
 */
export function sealAuditHead(db: Db): boolean {
  const head = db.select().from(auditHead).where(eq(auditHead.id, 1)).get();
  if (!head || head.mac) return false;
  recordAudit(db, SYSTEM_ACTOR, {
    action: "audit.sealed",
    details: { sealedFromSeq: head.lastSeq, note: "events up to this point were written before the chain was sealed" },
  });
  return true;
}

/**
 * Compares the (already linked and consecutive) events with the head record
 * written alongside every append. The chain alone cannot show events cut off
 * its end, nor events appended by someone who computed their hashes.
 * `anchor` is the event at the head's count, `appended` the one after it.
 */
function checkHead(
  count: number,
  head: typeof auditHead.$inferSelect | undefined,
  anchor: AuditEvent | undefined,
  appended: AuditEvent | undefined,
): Pick<VerifyResult, "firstBrokenId" | "firstBrokenSeq" | "problem"> | null {
  if (!head) {
    if (count === 0) return null;
    return {
      firstBrokenSeq: count + 1,
      problem: `the chain's head record is missing (deleted outside Airlock), so events deleted from the end after #${count} would go unnoticed`,
    };
  }
  // A negative or fractional count can only come from editing the file.
  const known = Number.isInteger(head.count) && head.count > 0 ? head.count : 0;
  if (known > count) {
    // The missing events' ids are gone with them; only their position is known.
    return {
      firstBrokenSeq: count + 1,
      problem: `the chain ends at #${count} but ${head.count} events were written: event(s) #${count + 1} to #${head.count} at the end were deleted`,
    };
  }
  if (anchor && (anchor.hash !== head.lastHash || anchor.seq !== head.lastSeq)) {
    return {
      firstBrokenId: anchor.id,
      firstBrokenSeq: anchor.seq,
      problem: `event #${anchor.seq} is not the event the chain's head record ends with (it was replaced and its hash recomputed outside Airlock)`,
    };
  }
  if (appended) {
    return {
      firstBrokenId: appended.id,
      firstBrokenSeq: appended.seq,
      problem: `event #${appended.seq} and any after it were appended outside Airlock (the chain's head record ends at #${known})`,
    };
  }
  return null;
}
