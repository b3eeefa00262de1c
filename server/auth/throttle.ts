// Sign-in throttling per email and per source address: after a few failures
// each attempt is slowed, after more the key is locked for a while.
import { eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { loginThrottles } from "@/db/schema";

export const THROTTLE = {
  slowAfter: 3, // failures before answers are delayed
  lockAfter: 8, // failures for one email before it is locked
  ipLockAfter: 50, // a source address trying many accounts (shared NATs stay usable)
  lockMs: 15 * 60_000,
  windowMs: 60 * 60_000, // failures older than this are forgotten
  maxDelayMs: 4000,
};

export interface ThrottleState {
  lockedUntil: Date | null;
  delayMs: number;
}

function keysFor(email: string, ip: string | null): string[] {
  const keys = [`email:${email.trim().toLowerCase()}`];
  if (ip) keys.push(`ip:${ip}`);
  return keys;
}

// Failures are forgotten after the window, and a served lock wipes the slate
// (otherwise the first attempt after a lock would still wait the longest delay).
function isStale(row: typeof loginThrottles.$inferSelect, now: number): boolean {
  return now - row.lastFailureAt.getTime() >= THROTTLE.windowMs || (row.lockedUntil !== null && row.lockedUntil.getTime() <= now);
}

export function checkThrottle(db: Db, email: string, ip: string | null, now = Date.now()): ThrottleState {
  const rows = db
    .select()
    .from(loginThrottles)
    .where(inArray(loginThrottles.key, keysFor(email, ip)))
    .all();
  let lockedUntil: Date | null = null;
  let failures = 0;
  for (const row of rows) {
    if (row.lockedUntil && row.lockedUntil.getTime() > now) {
      if (!lockedUntil || row.lockedUntil > lockedUntil) lockedUntil = row.lockedUntil;
    }
    if (row.key.startsWith("email:") && !isStale(row, now)) failures = row.failures;
  }
  const over = failures - THROTTLE.slowAfter + 1;
  const delayMs = over > 0 ? Math.min(THROTTLE.maxDelayMs, 250 * 2 ** (over - 1)) : 0;
  return { lockedUntil, delayMs };
}

export function recordFailure(db: Db, email: string, ip: string | null, now = Date.now()): ThrottleState {
  db.transaction(
    (tx) => {
      for (const key of keysFor(email, ip)) {
        const row = tx.select().from(loginThrottles).where(eq(loginThrottles.key, key)).get();
        const failures = !row || isStale(row, now) ? 1 : row.failures + 1;
        const limit = key.startsWith("ip:") ? THROTTLE.ipLockAfter : THROTTLE.lockAfter;
        const lockedUntil = failures >= limit ? new Date(now + THROTTLE.lockMs) : null;
        tx.insert(loginThrottles)
          .values({ key, failures, lastFailureAt: new Date(now), lockedUntil })
          .onConflictDoUpdate({ target: loginThrottles.key, set: { failures, lastFailureAt: new Date(now), lockedUntil } })
          .run();
      }
    },
    { behavior: "immediate" },
  );
  return checkThrottle(db, email, ip, now);
}

/** After a successful sign-in: forget the email's failures and take back the attempt counted for the address. */
export function clearFailures(db: Db, email: string, ip: string | null = null): void {
  db.transaction(
    (tx) => {
      tx.delete(loginThrottles)
        .where(eq(loginThrottles.key, `email:${email.trim().toLowerCase()}`))
        .run();
      if (ip) {
        const row = tx
          .select()
          .from(loginThrottles)
          .where(eq(loginThrottles.key, `ip:${ip}`))
          .get();
        if (row && !row.lockedUntil)
          tx.update(loginThrottles)
            .set({ failures: Math.max(0, row.failures - 1) })
            .where(eq(loginThrottles.key, row.key))
            .run();
      }
    },
    { behavior: "immediate" },
  );
}

export function lockedMessage(lockedUntil: Date, now = Date.now()): string {
  const minutes = Math.max(1, Math.ceil((lockedUntil.getTime() - now) / 60_000));
  return `Too many failed sign-ins. Sign-in is locked for ${minutes} more minute${minutes === 1 ? "" : "s"}; try again later or ask an admin to reset your password.`;
}
