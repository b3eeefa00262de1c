// What an attacker holding the data directory's audit key (keys/audit.key) can
// do to the chain behind Airlock's back, through a raw SQLite connection: every
// result verifies on its own (links, hashes and seal), which is why the chain
// is anchored outside the machine (server/audit/anchor.ts).
import { GENESIS_HASH, hashEvent, sealOf } from "@/server/audit/chain";
import { withRawConnection } from "@/test/helpers/sqlite";

type Row = Record<string, unknown>;

function reseal(raw: import("better-sqlite3").Database, key: Buffer, head: { count: number; lastSeq: number; lastHash: string }): void {
  raw
    .prepare("update audit_head set count = ?, last_seq = ?, last_hash = ?, mac = ? where id = 1")
    .run(head.count, head.lastSeq, head.lastHash, sealOf(key, head));
}

/** Replaces event #fromSeq's details, recomputes every hash from there to the end and re-seals the head. */
export function rewriteAndReseal(file: string, key: Buffer, fromSeq: number, details: string): void {
  withRawConnection(file, (raw) => {
    const rows = raw.prepare("select * from audit_events order by seq").all() as Row[];
    const update = raw.prepare("update audit_events set details = ?, prev_hash = ?, hash = ? where seq = ?");
    let prev = GENESIS_HASH;
    for (const r of rows) {
      const seq = Number(r.seq);
      const newDetails = seq === fromSeq ? details : String(r.details);
      const hash = hashEvent(prev, {
        seq,
        id: String(r.id),
        at: new Date(Number(r.at)),
        actorId: (r.actor_id as string | null) ?? null,
        actorLabel: String(r.actor_label),
        action: String(r.action),
        targetType: (r.target_type as string | null) ?? null,
        targetId: (r.target_id as string | null) ?? null,
        details: newDetails,
        sourceIp: (r.source_ip as string | null) ?? null,
        tokenId: (r.token_id as string | null) ?? null,
      });
      update.run(newDetails, prev, hash, seq);
      prev = hash;
    }
    reseal(raw, key, { count: rows.length, lastSeq: Number(rows[rows.length - 1]!.seq), lastHash: prev });
  });
}

/** Deletes the events after #keep and re-seals the head so it ends there. */
export function truncateAndReseal(file: string, key: Buffer, keep: number): void {
  withRawConnection(file, (raw) => {
    raw.prepare("delete from audit_events where seq > ?").run(keep);
    const last = raw.prepare("select seq, hash from audit_events where seq = ?").get(keep) as { seq: number; hash: string };
    reseal(raw, key, { count: keep, lastSeq: last.seq, lastHash: last.hash });
  });
}
