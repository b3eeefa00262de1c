// Sign-in sessions. The session cookie is a stateless JWT (next-auth), so on
// its own it stays valid until it expires, even after signing out. Each
// sign-in therefore gets a row here, named by the JWT (`sid`), and every
// request checks it: signing out, "sign out other sessions" and the session
// list in Settings revoke a row, and a cookie copied before that stops
// working at once.
import { randomBytes } from "node:crypto";
import { and, desc, eq, isNull, lt, ne } from "drizzle-orm";
import type { Db } from "@/db/client";
import { authSessions, type AuthSession } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announceAccessChange } from "@/server/auth/access-events";
import { DomainError } from "@/server/errors/domain-error";

/** How often lastSeenAt is written (not on every request). */
const TOUCH_EVERY_MS = 60_000;
/** Revoked and expired rows are kept this long for the session list, then deleted. */
const KEEP_ENDED_MS = 7 * 24 * 60 * 60 * 1000;

export interface SessionView {
  id: string;
  createdAt: Date;
  expiresAt: Date;
  lastSeenAt: Date | null;
  sourceIp: string | null;
  userAgent: string | null;
  current: boolean;
}

export function createSession(db: Db, input: { userId: string; maxAgeS: number; sourceIp?: string | null; userAgent?: string | null }): AuthSession {
  const now = Date.now();
  // Housekeeping: this user's long-ended sessions.
  db.delete(authSessions)
    .where(and(eq(authSessions.userId, input.userId), lt(authSessions.expiresAt, new Date(now - KEEP_ENDED_MS))))
    .run();
  return db
    .insert(authSessions)
    .values({
      id: randomBytes(18).toString("base64url"),
      userId: input.userId,
      createdAt: new Date(now),
      expiresAt: new Date(now + input.maxAgeS * 1000),
      lastSeenAt: new Date(now),
      sourceIp: input.sourceIp ?? null,
      userAgent: input.userAgent ? input.userAgent.slice(0, 300) : null,
    })
    .returning()
    .get();
}

/** The session if it belongs to the user and is neither revoked nor expired; touches lastSeenAt now and then. */
export function activeSession(db: Db, sessionId: string, userId: string, now = Date.now()): AuthSession | null {
  const row = db.select().from(authSessions).where(eq(authSessions.id, sessionId)).get();
  if (!row || row.userId !== userId || row.revokedAt || row.expiresAt.getTime() <= now) return null;
  if (!row.lastSeenAt || now - row.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
    db.update(authSessions)
      .set({ lastSeenAt: new Date(now) })
      .where(eq(authSessions.id, sessionId))
      .run();
  }
  return row;
}

/** The user's sessions that still work, newest first. */
export function listSessions(db: Db, userId: string, currentSessionId: string | null, now = Date.now()): SessionView[] {
  return db
    .select()
    .from(authSessions)
    .where(and(eq(authSessions.userId, userId), isNull(authSessions.revokedAt)))
    .orderBy(desc(authSessions.createdAt))
    .all()
    .filter((s) => s.expiresAt.getTime() > now)
    .map((s) => ({
      id: s.id,
      createdAt: s.createdAt,
      expiresAt: s.expiresAt,
      lastSeenAt: s.lastSeenAt,
      sourceIp: s.sourceIp,
      userAgent: s.userAgent,
      current: s.id === currentSessionId,
    }));
}

/** Sign-out: idempotent, audited by the caller (next-auth's signOut event records auth.sign_out). */
export function endSession(db: Db, sessionId: string): void {
  const ended = db
    .update(authSessions)
    .set({ revokedAt: new Date(), revokedReason: "signed out" })
    .where(and(eq(authSessions.id, sessionId), isNull(authSessions.revokedAt)))
    .returning({ userId: authSessions.userId })
    .all();
  for (const { userId } of ended) announceAccessChange(userId);
}

/** Revokes one of the user's own sessions (from the session list). */
export function revokeSession(db: Db, actor: Actor, userId: string, sessionId: string): void {
  const revoked = db.transaction(
    (tx) => {
      const row = tx.select().from(authSessions).where(eq(authSessions.id, sessionId)).get();
      if (!row || row.userId !== userId) throw new DomainError("NOT_FOUND", "No such session of yours; it may have ended already. Reload the list.");
      if (row.revokedAt) return false;
      tx.update(authSessions)
        .set({ revokedAt: new Date(), revokedReason: `revoked by ${actor.label}` })
        .where(eq(authSessions.id, sessionId))
        .run();
      appendAudit(tx, actor, {
        action: "auth.session_revoke",
        targetType: "user",
        targetId: userId,
        details: { sessionId, sourceIp: row.sourceIp, userAgent: row.userAgent },
      });
      return true;
    },
    { behavior: "immediate" },
  );
  if (revoked) announceAccessChange(userId);
}

/** "Sign out everywhere else": every session of the user but the current one. */
export function revokeOtherSessions(db: Db, actor: Actor, userId: string, keepSessionId: string | null): number {
  const revoked = db.transaction(
    (tx) => {
      const where = and(eq(authSessions.userId, userId), isNull(authSessions.revokedAt), keepSessionId ? ne(authSessions.id, keepSessionId) : undefined);
      const n = tx
        .update(authSessions)
        .set({ revokedAt: new Date(), revokedReason: `signed out everywhere else by ${actor.label}` })
        .where(where)
        .run().changes;
      appendAudit(tx, actor, { action: "auth.sessions_revoke_others", targetType: "user", targetId: userId, details: { revoked: n } });
      return n;
    },
    { behavior: "immediate" },
  );
  if (revoked) announceAccessChange(userId);
  return revoked;
}
