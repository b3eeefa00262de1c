// The tamper-evident audit trail: every event is hash-chained to the one
// before it (SHA-256 over the previous hash and a canonical JSON of the event),
// and the chain's head record (count, last seq, last hash) is sealed with an
// HMAC under a key kept outside the database (keys/audit.key in the data
// directory). The hashes let anyone check the chain's integrity; the seal
// makes a rewrite with recomputed hashes detectable by whoever holds the key.
import crypto from "node:crypto";
import { asc, desc, eq } from "drizzle-orm";
import { auditEvents, auditHead, type AuditEvent } from "@/db/schema";
import type { Db } from "@/db/client";
import { dataKey, keyFile } from "@/server/secrets/keys";

export const GENESIS_HASH = "0".repeat(64);

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
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

type HashedFields = Omit<AuditEvent, "hash" | "prevHash">;

export function hashEvent(prevHash: string, event: HashedFields): string {
  const body = canonicalJson({
    seq: event.seq,
    id: event.id,
    at: event.at instanceof Date ? event.at.getTime() : event.at,
    actorId: event.actorId,
    actorLabel: event.actorLabel,
    action: event.action,
    targetType: event.targetType,
    targetId: event.targetId,
    details: JSON.parse(event.details) as unknown,
    sourceIp: event.sourceIp,
    tokenId: event.tokenId,
  });
  return crypto.createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}

/** The seal of a head record under the audit key. */
export function sealOf(key: Buffer, head: { count: number; lastSeq: number; lastHash: string }): string {
  return crypto.createHmac("sha256", key).update(`airlock-audit-head\n${head.count}\n${head.lastSeq}\n${head.lastHash}`).digest("hex");
}

/**
 * Appends one event. Call it inside the same transaction as the change it
 * records (db.transaction(tx => { change(tx); appendAudit(tx, …) }, {behavior: "immediate"})),
 * so the change and its audit event commit or roll back together.
 */
export function appendAudit(tx: Pick<Db, "select" | "insert" | "update">, actor: Actor, input: AuditInput): AuditEvent {
  const last = tx.select().from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1).get();
  const prevHash = last?.hash ?? GENESIS_HASH;
  const fields: HashedFields = {
    seq: (last?.seq ?? 0) + 1,
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
  tx.insert(auditEvents).values(row).run();
  const head = tx.select().from(auditHead).where(eq(auditHead.id, 1)).get();
  const next = { count: (head?.count ?? 0) + 1, lastSeq: row.seq, lastHash: row.hash };
  const mac = sealOf(dataKey("audit")!, next);
  if (head) {
    tx.update(auditHead)
      .set({ ...next, mac })
      .where(eq(auditHead.id, 1))
      .run();
  } else {
    tx.insert(auditHead)
      .values({ id: 1, ...next, mac })
      .run();
  }
  return row;
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

/** Walks the whole chain in order and reports the first event that does not fit. */
export function verifyAuditChain(db: Db): VerifyResult {
  const rows = db.select().from(auditEvents).orderBy(asc(auditEvents.seq)).all();
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  for (const row of rows) {
    const broken = (problem: string): VerifyResult => ({
      ok: false,
      count: rows.length,
      firstBrokenId: row.id,
      firstBrokenSeq: row.seq,
      problem,
    });
    if (row.seq !== expectedSeq) {
      return broken(
        row.seq > expectedSeq
          ? `event #${row.seq} follows #${expectedSeq - 1}: ${row.seq - expectedSeq} event(s) before it were deleted`
          : `event #${row.seq} is out of order`,
      );
    }
    if (row.prevHash !== prevHash) {
      return broken(`event #${row.seq} does not link to the event before it (an event was deleted, inserted or reordered)`);
    }
    let recomputed: string;
    try {
      recomputed = hashEvent(prevHash, row);
    } catch {
      return broken(`event #${row.seq} has unreadable details (edited)`);
    }
    if (recomputed !== row.hash) {
      return broken(`event #${row.seq} was edited after it was written (its hash no longer matches its content)`);
    }
    prevHash = row.hash;
    expectedSeq += 1;
  }
  const head = db.select().from(auditHead).where(eq(auditHead.id, 1)).get();
  const headProblem = checkHead(rows, head);
  if (headProblem) return { ok: false, count: rows.length, ...headProblem };
  const sealProblem = head ? checkSeal(head) : null;
  if (sealProblem) return { ok: false, count: rows.length, firstBrokenSeq: head!.lastSeq, problem: sealProblem };
  return { ok: true, count: rows.length };
}

function checkSeal(head: typeof auditHead.$inferSelect): string | null {
  if (!head.mac) {
    return "the chain's head record carries no seal: it was removed outside Airlock, or this database comes from an older Airlock and was not upgraded (run `airlock setup`)";
  }
  const key = dataKey("audit", { create: false });
  if (!key) return `the audit key ${keyFile("audit")} is missing, so the chain's seal cannot be checked; restore the data directory's keys/ from a backup`;
  const want = Buffer.from(sealOf(key, head), "hex");
  const got = Buffer.from(head.mac, "hex");
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) {
    return `the chain's head record does not carry the seal of the audit key: the chain was rewritten outside Airlock (hashes recomputed), or ${keyFile("audit")} is not this database's key`;
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
 */
function checkHead(
  rows: AuditEvent[],
  head: typeof auditHead.$inferSelect | undefined,
): Pick<VerifyResult, "firstBrokenId" | "firstBrokenSeq" | "problem"> | null {
  const count = rows.length;
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
  const anchor = known > 0 ? rows[known - 1] : undefined;
  if (anchor && (anchor.hash !== head.lastHash || anchor.seq !== head.lastSeq)) {
    return {
      firstBrokenId: anchor.id,
      firstBrokenSeq: anchor.seq,
      problem: `event #${anchor.seq} is not the event the chain's head record ends with (it was replaced and its hash recomputed outside Airlock)`,
    };
  }
  const appended = rows[known];
  if (appended) {
    return {
      firstBrokenId: appended.id,
      firstBrokenSeq: appended.seq,
      problem: `event #${appended.seq} and any after it were appended outside Airlock (the chain's head record ends at #${known})`,
    };
  }
  return null;
}
