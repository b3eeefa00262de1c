// A signed-in user changing their own password. Guessing the current password
// from a session counts like failed sign-ins for the account (server/auth/throttle.ts),
// so a stolen session cannot be used to brute-force it.
import type { Db } from "@/db/client";
import type { User } from "@/db/schema";
import { recordAudit, type Actor } from "@/server/audit/chain";
import { verifyPassword } from "@/server/auth/password";
import { checkThrottle, clearFailures, lockedMessage, recordFailure } from "@/server/auth/throttle";
import { DomainError } from "@/server/errors/domain-error";
import { setUserPassword } from "./users";

export async function changeOwnPassword(
  db: Db,
  actor: Actor,
  user: User,
  sourceIp: string | null,
  input: { currentPassword: string; newPassword: string },
): Promise<{ tokensRevoked: number }> {
  const state = checkThrottle(db, user.email, sourceIp);
  if (state.lockedUntil) throw new DomainError("TOO_MANY_ATTEMPTS", lockedMessage(state.lockedUntil));
  // Counted before the check, so parallel guesses cannot all slip under the limit.
  const after = recordFailure(db, user.email, sourceIp);
  if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    recordAudit(db, actor, { action: "auth.password_change_failed", targetType: "user", targetId: user.id, details: { reason: "wrong current password" } });
    if (after.lockedUntil) throw new DomainError("TOO_MANY_ATTEMPTS", lockedMessage(after.lockedUntil));
    throw new DomainError("INVALID_INPUT", "Your current password is not correct.");
  }
  clearFailures(db, user.email, sourceIp);
  return setUserPassword(db, actor, user.id, input.newPassword);
}
