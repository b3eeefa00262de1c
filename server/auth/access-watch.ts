// Long-lived streams (run events, the approvals feed) outlive the request
// that opened them, so the access check done when they opened is not enough:
// a user disabled, demoted, given a new password or signed out elsewhere must
// stop receiving events at once. Every such change announces itself on the
// event bus (server/auth/access-events.ts); a stream re-checks its caller then, and every
// RECHECK_MS anyway (a change made by another process, e.g. the CLI).
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { apiTokens } from "@/db/schema";
import type { Identity } from "@/server/auth/identity";
import { activeSession } from "@/server/auth/sessions";
import { onAccessChange } from "@/server/auth/access-events";
import { findUserById } from "@/server/users/users";

const RECHECK_MS = 15_000;

export const ACCESS_CHANGED_MESSAGE =
  "Your access changed (signed out, account disabled, role or password changed, or token revoked), so this live view stopped. Sign in again or reload the page.";

/**
 * Whether the identity a stream was opened with still stands: the user is
 * enabled, their session version (bumped by role, password and disable
 * changes) is unchanged, and their sign-in session or API token is still open.
 */
export function accessStillHolds(db: Db, identity: Identity, now = Date.now()): boolean {
  const user = findUserById(db, identity.user.id);
  if (!user || user.disabledAt || user.sessionVersion !== identity.user.sessionVersion || user.role !== identity.user.role) return false;
  if (identity.via === "session") return identity.sessionId !== null && activeSession(db, identity.sessionId, user.id, now) !== null;
  if (!identity.tokenId) return false;
  const token = db.select().from(apiTokens).where(eq(apiTokens.id, identity.tokenId)).get();
  return Boolean(token && !token.revokedAt && (!token.expiresAt || token.expiresAt.getTime() > now));
}

export interface AccessWatch {
  /** Aborts when the caller goes away or loses access. */
  signal: AbortSignal;
  /** True once access was found lost (not when the caller merely disconnected). */
  lost(): boolean;
  stop(): void;
}

export function watchAccess(db: Db, identity: Identity, outer?: AbortSignal, recheckMs = RECHECK_MS): AccessWatch {
  const controller = new AbortController();
  let lost = false;
  const check = () => {
    if (controller.signal.aborted) return;
    let holds: boolean;
    try {
      holds = accessStillHolds(db, identity);
    } catch {
      holds = false; // the database is gone: stop rather than stream unchecked
    }
    if (!holds) {
      lost = true;
      controller.abort();
    }
  };
  const off = onAccessChange((userId) => {
    if (userId === identity.user.id) check();
  });
  const timer = setInterval(check, recheckMs);
  timer.unref?.();
  const onOuterAbort = () => controller.abort();
  if (outer?.aborted) controller.abort();
  else outer?.addEventListener("abort", onOuterAbort);
  const stop = () => {
    off();
    clearInterval(timer);
    outer?.removeEventListener("abort", onOuterAbort);
  };
  controller.signal.addEventListener("abort", stop, { once: true });
  return { signal: controller.signal, lost: () => lost, stop };
}
