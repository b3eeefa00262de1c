import crypto from "node:crypto";
import { asc, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditEvents, auditHead, users, type AuditEvent } from "@/db/schema";
import {
  appendAudit,
  appendAuditEvents,
  canonicalJson,
  hashEvent,
  recordAudit,
  sealAuditHead,
  sealOf,
  SYSTEM_ACTOR,
  verifyAuditChain,
} from "@/server/audit/chain";
import { createApiToken, revokeApiToken } from "@/server/auth/tokens";
import { createUser, setUserDisabled, setUserRole } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { withRawConnection } from "@/test/helpers/sqlite";
import { addUser, SETUP_ACTOR } from "@/test/helpers/users";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());

function writeEvents(n: number): void {
  for (let i = 1; i <= n; i++) recordAudit(t.db, SYSTEM_ACTOR, { action: "test.event", targetType: "thing", targetId: `t${i}`, details: { i } });
}

function eventAt(seq: number): AuditEvent {
  const row = t.db.select().from(auditEvents).where(eq(auditEvents.seq, seq)).get();
  if (!row) throw new Error(`test setup: no audit event #${seq}`);
  return row;
}

function allEvents(): AuditEvent[] {
  return t.db.select().from(auditEvents).orderBy(asc(auditEvents.seq)).all();
}

/** Runs raw SQL on the database file through a second connection, as an attacker with file access would. */
function tamper(sql: string, ...params: unknown[]): void {
  withRawConnection(t.file, (raw) => raw.prepare(sql).run(...params));
}

/** A forged event at `seq` whose hash is computed exactly as Airlock computes it. */
function forgeEvent(seq: number, prevHash: string, action = "user.create"): AuditEvent {
  const fields = {
    seq,
    id: crypto.randomUUID(),
    at: new Date(),
    actorId: null,
    actorLabel: "admin@example.com",
    action,
    targetType: "user",
    targetId: "forged",
    details: canonicalJson({ email: "mallory@example.com", role: "admin" }),
    sourceIp: null,
    tokenId: null,
  };
  return { ...fields, prevHash, hash: hashEvent(prevHash, fields) };
}

function insertRaw(e: AuditEvent): void {
  tamper(
    `insert into audit_events (seq, id, at, actor_id, actor_label, action, target_type, target_id, details, source_ip, token_id, prev_hash, hash)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    e.seq,
    e.id,
    e.at.getTime(),
    e.actorId,
    e.actorLabel,
    e.action,
    e.targetType,
    e.targetId,
    e.details,
    e.sourceIp,
    e.tokenId,
    e.prevHash,
    e.hash,
  );
}

function overwriteRaw(seq: number, e: AuditEvent): void {
  tamper(
    `update audit_events set id = ?, at = ?, actor_id = ?, actor_label = ?, action = ?, target_type = ?, target_id = ?, details = ?,
     source_ip = ?, token_id = ?, prev_hash = ?, hash = ? where seq = ?`,
    e.id,
    e.at.getTime(),
    e.actorId,
    e.actorLabel,
    e.action,
    e.targetType,
    e.targetId,
    e.details,
    e.sourceIp,
    e.tokenId,
    e.prevHash,
    e.hash,
    seq,
  );
}

function auditCount(): number {
  return t.db.select().from(auditEvents).all().length;
}

describe("audit chain verification", () => {
  it("an untouched chain verifies", () => {
    writeEvents(5);

    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 5 });
  });

  it("an empty chain verifies", () => {
    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 0 });
  });

  it("an event whose details were edited in the file is reported as the first broken one", () => {
    writeEvents(5);
    const edited = eventAt(3);

    tamper("update audit_events set details = ? where seq = 3", canonicalJson({ i: 300 }));

    expect(verifyAuditChain(t.db)).toMatchObject({
      ok: false,
      count: 5,
      firstBrokenSeq: 3,
      firstBrokenId: edited.id,
      problem: expect.stringMatching(/edited/),
    });
  });

  it("an event whose actor was changed in the file is reported as the first broken one", () => {
    writeEvents(5);
    const edited = eventAt(2);

    tamper("update audit_events set actor_label = 'someone-else@example.com' where seq = 2");

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, firstBrokenSeq: 2, firstBrokenId: edited.id });
  });

  // Every stored column but the hashes themselves is covered by the hash.
  it.each([
    ["id", "'forged-id'"],
    ["at", "at - 86400000"],
    ["actor_id", "'u-other'"],
    ["actor_label", "'someone-else@example.com'"],
    ["action", "'user.delete'"],
    ["target_type", "'run'"],
    ["target_id", "'t-other'"],
    ["source_ip", "'198.51.100.9'"],
    ["token_id", "'tok-other'"],
    ["details", `'{"i":200}'`],
  ])("an event whose %s alone was changed is reported as the first broken one", (column, value) => {
    writeEvents(3);
    const edited = eventAt(2);

    tamper(`update audit_events set ${column} = ${value} where seq = 2`);

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, firstBrokenSeq: 2 });
    expect(verifyAuditChain(t.db).firstBrokenId).toBe(column === "id" ? "forged-id" : edited.id);
  });

  it("an event whose details are no longer JSON is reported as broken, not thrown", () => {
    writeEvents(3);
    const edited = eventAt(1);

    tamper("update audit_events set details = '{not json' where seq = 1");

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, firstBrokenSeq: 1, firstBrokenId: edited.id });
  });

  it("a deleted middle event breaks the chain at the event after the gap", () => {
    writeEvents(5);
    const after = eventAt(4);

    tamper("delete from audit_events where seq = 3");

    expect(verifyAuditChain(t.db)).toMatchObject({
      ok: false,
      count: 4,
      firstBrokenSeq: 4,
      firstBrokenId: after.id,
      problem: expect.stringMatching(/deleted/),
    });
  });

  it("a deleted first event breaks the chain at the new first event", () => {
    writeEvents(3);
    const second = eventAt(2);

    tamper("delete from audit_events where seq = 1");

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, firstBrokenSeq: 2, firstBrokenId: second.id });
  });

  it("a deleted last event is caught by the head record, at the missing position", () => {
    writeEvents(5);

    tamper("delete from audit_events where seq = 5");

    const result = verifyAuditChain(t.db);
    expect(result).toMatchObject({ ok: false, count: 4, firstBrokenSeq: 5, problem: expect.stringMatching(/#5 to #5 at the end were deleted/) });
    expect(result.firstBrokenId).toBeUndefined();
  });

  it("several deleted last events are caught by the head record, at the first missing position", () => {
    writeEvents(5);

    tamper("delete from audit_events where seq >= 3");

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, count: 2, firstBrokenSeq: 3, problem: expect.stringMatching(/#3 to #5/) });
  });

  it("deleting every event is caught by the head record", () => {
    writeEvents(3);

    tamper("delete from audit_events");

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, count: 0, firstBrokenSeq: 1 });
  });

  it("a deleted head record is reported", () => {
    writeEvents(3);

    tamper("delete from audit_head");

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, count: 3, problem: expect.stringMatching(/head record is missing/) });
  });

  it("a head record with a corrupt count is reported", () => {
    writeEvents(3);
    const first = eventAt(1);

    tamper("update audit_head set count = -1");

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, firstBrokenSeq: 1, firstBrokenId: first.id });
  });

  it("a forged event inserted mid-chain (later seqs shifted, hash well computed) breaks the chain at the event it displaced", () => {
    writeEvents(5);
    const displaced = eventAt(3);
    const before = eventAt(2);
    // Shift #3..#5 up by one in two steps, so the primary key never collides.
    tamper("update audit_events set seq = -seq where seq >= 3");
    tamper("update audit_events set seq = -seq + 1 where seq < 0");

    insertRaw(forgeEvent(3, before.hash));

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, count: 6, firstBrokenSeq: 4, firstBrokenId: displaced.id });
  });

  it("an appended event with a fake but well-formed hash is reported as the first broken one", () => {
    writeEvents(3);
    const forged = { ...forgeEvent(4, eventAt(3).hash), hash: crypto.randomBytes(32).toString("hex") };

    insertRaw(forged);

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, count: 4, firstBrokenSeq: 4, firstBrokenId: forged.id });
  });

  it("an appended event with a correctly computed hash is caught by the head record", () => {
    writeEvents(3);
    const forged = forgeEvent(4, eventAt(3).hash);

    insertRaw(forged);

    expect(verifyAuditChain(t.db)).toMatchObject({
      ok: false,
      count: 4,
      firstBrokenSeq: 4,
      firstBrokenId: forged.id,
      problem: expect.stringMatching(/appended outside Airlock/),
    });
  });

  it("two events whose contents were swapped break the chain at the earlier position", () => {
    writeEvents(5);
    const second = eventAt(2);
    const fourth = eventAt(4);
    tamper("update audit_events set id = id || '-moving' where seq = 2"); // frees the unique id

    overwriteRaw(4, second);
    overwriteRaw(2, fourth);

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, count: 5, firstBrokenSeq: 2, firstBrokenId: fourth.id });
  });

  it("two neighbouring events whose contents were swapped break the chain at the earlier position", () => {
    writeEvents(4);
    const second = eventAt(2);
    const third = eventAt(3);
    tamper("update audit_events set id = id || '-moving' where seq = 2");

    overwriteRaw(3, second);
    overwriteRaw(2, third);

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, firstBrokenSeq: 2, firstBrokenId: third.id });
  });

  it("an edited event whose hash the attacker recomputed breaks the chain at the next event", () => {
    writeEvents(5);
    const next = eventAt(4);
    tamper("update audit_events set details = ? where seq = 3", canonicalJson({ i: 300 }));
    const edited = eventAt(3);

    tamper("update audit_events set hash = ? where seq = 3", hashEvent(edited.prevHash, edited));

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, firstBrokenSeq: 4, firstBrokenId: next.id, problem: expect.stringMatching(/does not link/) });
  });

  it("an edited last event whose hash the attacker recomputed is caught by the head record", () => {
    writeEvents(3);
    tamper("update audit_events set details = ? where seq = 3", canonicalJson({ i: 300 }));
    const edited = eventAt(3);

    tamper("update audit_events set hash = ? where seq = 3", hashEvent(edited.prevHash, edited));

    expect(verifyAuditChain(t.db)).toMatchObject({
      ok: false,
      count: 3,
      firstBrokenSeq: 3,
      firstBrokenId: edited.id,
      problem: expect.stringMatching(/head record/),
    });
  });

  it("a chain rewritten from the middle with every hash and the head record recomputed is caught by the head's seal", () => {
    writeEvents(5);
    // The attacker edits #3 and recomputes #3..#5 and the head, as anyone with the file (but not the key) can.
    tamper("update audit_events set details = ? where seq = 3", canonicalJson({ i: 300 }));
    let prev = eventAt(2).hash;
    for (let seq = 3; seq <= 5; seq++) {
      tamper("update audit_events set prev_hash = ? where seq = ?", prev, seq);
      const e = eventAt(seq);
      prev = hashEvent(prev, e);
      tamper("update audit_events set hash = ? where seq = ?", prev, seq);
    }
    tamper("update audit_head set last_hash = ? where id = 1", prev);

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, count: 5, firstBrokenSeq: 5, problem: expect.stringMatching(/seal of the audit key/) });
  });

  it("a seal forged with another key, or removed, is reported", () => {
    writeEvents(2);
    const head = t.db.select().from(auditHead).get()!;
    tamper("update audit_head set mac = ? where id = 1", sealOf(crypto.randomBytes(32), head));
    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, problem: expect.stringMatching(/seal of the audit key/) });

    tamper("update audit_head set mac = null where id = 1");
    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, problem: expect.stringMatching(/carries no seal/) });
  });

  it("an unsealed chain from an older Airlock is sealed on upgrade, with an event saying so, and verifies", () => {
    writeEvents(3);
    tamper("update audit_head set mac = null where id = 1");
    expect(verifyAuditChain(t.db).ok).toBe(false);

    expect(sealAuditHead(t.db)).toBe(true);
    expect(sealAuditHead(t.db)).toBe(false); // once
    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 4 });
    expect(eventAt(4)).toMatchObject({
      action: "audit.sealed",
      details: canonicalJson({ note: "events up to this point were written before the chain was sealed", sealedFromSeq: 3 }),
    });
  });

  it("an event appended by Airlock after a verified chain still verifies", () => {
    writeEvents(2);
    expect(verifyAuditChain(t.db).ok).toBe(true);

    writeEvents(1);

    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 3 });
  });
});

// Issue 14: verify reads the chain page by page (2 000 events a query) so a
// million events never sit in memory; these chains span many pages.
describe("verifying a large chain", () => {
  const LARGE = 10_000;

  function writeLargeChain(): void {
    const events = Array.from({ length: LARGE }, (_, k) => ({
      actor: SYSTEM_ACTOR,
      input: { action: "tool.decision", targetType: "tool_call", targetId: `c${k + 1}`, details: { runId: "r1", verdict: "allow", n: k + 1 } },
    }));
    t.db.transaction((tx) => appendAuditEvents(tx, events), { behavior: "immediate" });
  }

  it("A1: a 10 000-event chain written in one batch verifies, with every event counted", () => {
    writeLargeChain();

    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: LARGE });
  });

  it("A1: an event edited deep in a 10 000-event chain is found at its position", () => {
    writeLargeChain();
    const edited = eventAt(7_345);

    tamper("update audit_events set details = ? where seq = 7345", canonicalJson({ runId: "r1", verdict: "deny", n: 7_345 }));

    expect(verifyAuditChain(t.db)).toMatchObject({
      ok: false,
      count: LARGE,
      firstBrokenSeq: 7_345,
      firstBrokenId: edited.id,
      problem: expect.stringMatching(/edited/),
    });
  });

  it("A1: an event deleted at a page boundary of a large chain is found at the event after the gap", () => {
    writeLargeChain();
    const after = eventAt(4_002);

    tamper("delete from audit_events where seq = 4001");

    expect(verifyAuditChain(t.db)).toMatchObject({
      ok: false,
      count: LARGE - 1,
      firstBrokenSeq: 4_002,
      firstBrokenId: after.id,
      problem: expect.stringMatching(/deleted/),
    });
  });

  it("A1: an edited last event of a large chain whose hash was recomputed is caught by the head record", () => {
    writeLargeChain();
    const last = eventAt(LARGE);
    const forged = forgeEvent(LARGE, last.prevHash);

    overwriteRaw(LARGE, forged);

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, firstBrokenSeq: LARGE, firstBrokenId: forged.id, problem: expect.stringMatching(/head record/) });
  });

  it("A1: events appended in a batch are chained and sealed exactly as one-by-one appends, and the two mix", () => {
    writeEvents(3);
    t.db.transaction(
      (tx) =>
        appendAuditEvents(tx, [
          { actor: SYSTEM_ACTOR, input: { action: "a.one" } },
          { actor: SYSTEM_ACTOR, input: { action: "a.two", details: { b: 1, a: 2 } } },
        ]),
      { behavior: "immediate" },
    );
    writeEvents(1);

    const events = allEvents();
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const [i, e] of events.entries()) expect(e.hash).toBe(hashEvent(i === 0 ? "0".repeat(64) : events[i - 1]!.hash, e));
    expect(t.db.select().from(auditHead).get()).toMatchObject({ count: 6, lastSeq: 6, lastHash: events[5]!.hash });
    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 6 });
  });

  it("A2: details whose keys JSON orders differently from the canonical order (numeric keys) still verify, and an edit to them is still found", () => {
    recordAudit(t.db, SYSTEM_ACTOR, { action: "test.numeric", details: { "10": "ten", "9": "nine", nested: { "2": [{ "11": 1, "1": 2 }] } } });
    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 1 });

    tamper("update audit_events set details = replace(details, 'ten', 'TEN') where seq = 1");

    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, firstBrokenSeq: 1, problem: expect.stringMatching(/edited/) });
  });
});

describe("canonical JSON", () => {
  it("is the same whatever the key order, at every depth", () => {
    const a = { b: 1, a: { d: [1, { z: 1, y: 2 }], c: "x" } };
    const b = { a: { c: "x", d: [1, { y: 2, z: 1 }] }, b: 1 };

    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it("keeps array order, which is meaningful", () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it("treats an undefined value like a missing key", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it("gives an event the same hash whatever the key order of its stored details", () => {
    writeEvents(1);
    const event = eventAt(1);

    const reordered = { ...event, details: '{"zeta":1,"alpha":{"y":2,"x":1}}' };
    const sorted = { ...event, details: '{"alpha":{"x":1,"y":2},"zeta":1}' };

    expect(hashEvent(event.prevHash, reordered)).toBe(hashEvent(event.prevHash, sorted));
  });
});

describe("audit events commit with the change they record", () => {
  it("a change that fails after its audit event was appended leaves neither the change nor the event", () => {
    const attempt = () =>
      t.db.transaction(
        (tx) => {
          tx.insert(users).values({ id: "u1", email: "x@example.com", role: "viewer" }).run();
          appendAudit(tx, SYSTEM_ACTOR, { action: "user.create", targetType: "user", targetId: "u1" });
          throw new Error("boom");
        },
        { behavior: "immediate" },
      );

    expect(attempt).toThrow("boom");

    expect(auditCount()).toBe(0);
    expect(t.db.select().from(users).all()).toHaveLength(0);
    expect(t.db.select().from(auditHead).all()).toHaveLength(0);
  });

  it("a successful user creation writes exactly one user.create event for that user", async () => {
    const user = await createUser(t.db, SETUP_ACTOR, { email: "Ann@Example.com", role: "operator" });

    const events = allEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "user.create", targetType: "user", targetId: user.id, actorLabel: SETUP_ACTOR.label });
    expect(JSON.parse(events[0]!.details)).toEqual({ email: "ann@example.com", role: "operator" });
  });

  it("a user creation refused for a duplicate email writes no audit event and changes nothing", async () => {
    await addUser(t.db, "viewer", { email: "ann@example.com" });
    const usersBefore = t.db.select().from(users).all();
    const eventsBefore = allEvents();

    await expect(createUser(t.db, SETUP_ACTOR, { email: "ANN@example.com", role: "admin" })).rejects.toMatchObject({ code: "CONFLICT" });

    expect(t.db.select().from(users).all()).toEqual(usersBefore);
    expect(allEvents()).toEqual(eventsBefore);
    expect(verifyAuditChain(t.db).ok).toBe(true);
  });

  it("a role change writes one user.set_role event naming the old and new role", async () => {
    const user = await addUser(t.db, "viewer");
    const before = auditCount();

    setUserRole(t.db, SETUP_ACTOR, user.id, "reviewer");

    const events = allEvents().slice(before);
    expect(events.map((e) => e.action)).toEqual(["user.set_role"]);
    expect(JSON.parse(events[0]!.details)).toMatchObject({ from: "viewer", to: "reviewer" });
  });

  it("a refused role change (the last admin) writes no audit event", async () => {
    const admin = await addUser(t.db, "admin");
    const before = allEvents();

    expect(() => setUserRole(t.db, SETUP_ACTOR, admin.id, "viewer")).toThrow(/last active admin/);

    expect(allEvents()).toEqual(before);
  });

  it("disabling and enabling a user write one event each", async () => {
    const user = await addUser(t.db, "operator");
    const before = auditCount();

    setUserDisabled(t.db, SETUP_ACTOR, user.id, true);
    setUserDisabled(t.db, SETUP_ACTOR, user.id, false);

    expect(
      allEvents()
        .slice(before)
        .map((e) => e.action),
    ).toEqual(["user.disable", "user.enable"]);
  });

  it("creating a token writes one token.create event that does not contain the token", async () => {
    const user = await addUser(t.db, "viewer");
    const before = auditCount();

    const { token, id } = createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "ci" });

    const events = allEvents().slice(before);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "token.create", targetId: id });
    expect(JSON.stringify(events)).not.toContain(token);
  });

  it("revoking a token writes one token.revoke event, and revoking it again writes none", async () => {
    const user = await addUser(t.db, "viewer");
    const { id } = createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "ci" });
    const before = auditCount();

    revokeApiToken(t.db, SETUP_ACTOR, { tokenId: id });
    revokeApiToken(t.db, SETUP_ACTOR, { tokenId: id });

    expect(
      allEvents()
        .slice(before)
        .map((e) => e.action),
    ).toEqual(["token.revoke"]);
  });

  it("a token refused for a disabled user writes no audit event", async () => {
    const user = await addUser(t.db, "viewer");
    setUserDisabled(t.db, SETUP_ACTOR, user.id, true);
    const before = allEvents();

    expect(() => createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "ci" })).toThrow(/disabled/);

    expect(allEvents()).toEqual(before);
  });

  it("a chain written by users and tokens changes verifies", async () => {
    const user = await addUser(t.db, "viewer");
    const { id } = createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "ci" });

    revokeApiToken(t.db, SETUP_ACTOR, { tokenId: id });
    setUserRole(t.db, SETUP_ACTOR, user.id, "operator");

    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 4 });
  });
});

// Issue 15: appending re-sealed whatever head it found, so a rewrite made
// without the key (events edited, hashes and head recomputed, or the key file
// deleted) became a valid sealed chain at Airlock's next append.
describe("a head that lost its seal", () => {
  function rewriteWithoutKey(): void {
    tamper("update audit_events set details = ? where seq = 2", canonicalJson({ i: 200 }));
    let prev = eventAt(1).hash;
    for (let seq = 2; seq <= 3; seq++) {
      tamper("update audit_events set prev_hash = ? where seq = ?", prev, seq);
      prev = hashEvent(prev, eventAt(seq));
      tamper("update audit_events set hash = ? where seq = ?", prev, seq);
    }
    tamper("update audit_head set last_hash = ? where id = 1", prev);
  }

  it("S1: a rewrite made without the key stays reported after Airlock appends more events (the append does not launder it)", () => {
    writeEvents(3);
    rewriteWithoutKey();
    expect(verifyAuditChain(t.db).ok).toBe(false);
    writeEvents(2);
    writeEvents(1);
    expect(verifyAuditChain(t.db)).toMatchObject({
      ok: false,
      count: 6,
      problem:
        "the chain's head record had lost the audit key's seal when Airlock appended after event #3: the chain up to there was rewritten outside Airlock (hashes recomputed)",
    });
  });

  it("S1: a head sealed with another key (the key file replaced) is not re-sealed by the next append either", () => {
    writeEvents(2);
    const head = t.db.select().from(auditHead).get()!;
    tamper("update audit_head set mac = ? where id = 1", sealOf(crypto.randomBytes(32), head));
    writeEvents(1);
    expect(verifyAuditChain(t.db)).toMatchObject({ ok: false, problem: expect.stringMatching(/had lost the audit key's seal .* after event #2/) });
  });

  it("S1: an intact sealed chain, and an unsealed one from an older Airlock, are still sealed by appends", () => {
    writeEvents(2);
    writeEvents(1);
    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 3 });
    tamper("update audit_head set mac = null where id = 1");
    writeEvents(1);
    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 4 });
  });
});
