// users.changePassword through the real router: a wrong current password is
// refused and audited, repeated guesses lock the account like failed
// sign-ins, and the right one changes the password.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditEvents } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { THROTTLE } from "@/server/auth/throttle";
import { verifyPassword } from "@/server/auth/password";
import { findUserById } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { addUser, identityOfToken, issueToken } from "@/test/helpers/users";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
const maxDelayMs = THROTTLE.maxDelayMs;
afterEach(() => {
  THROTTLE.maxDelayMs = maxDelayMs;
  t.close();
});

async function callerFor(role: "viewer" | "admin", password: string) {
  const user = await addUser(t.db, role, { password });
  const identity = await identityOfToken(t.db, issueToken(t.db, user.id).token);
  return { user, caller: createCallerFactory(appRouter)({ db: t.db, identity, sourceIp: "192.0.2.7" }) };
}

describe("users.changePassword", () => {
  it("changes the password with the right current one", async () => {
    const { user, caller } = await callerFor("viewer", "old password 123");
    await expect(caller.users.changePassword({ currentPassword: "old password 123", newPassword: "new password 456" })).resolves.toEqual({
      ok: true,
      tokensRevoked: 1,
    }); // the token this caller used, too
    expect(await verifyPassword(findUserById(t.db, user.id)!.passwordHash, "new password 456")).toBe(true);
  });

  it("refuses and audits a wrong current password, and locks the account after repeated guesses", async () => {
    const { user, caller } = await callerFor("viewer", "old password 123");
    await expect(caller.users.changePassword({ currentPassword: "guess", newPassword: "new password 456" })).rejects.toThrow(
      "Your current password is not correct.",
    );
    expect(
      t.db
        .select()
        .from(auditEvents)
        .all()
        .filter((e) => e.action === "auth.password_change_failed" && e.targetId === user.id),
    ).toHaveLength(1);

    THROTTLE.maxDelayMs = 0; // the delays themselves are the throttle's own tests' business
    let locked: unknown = null;
    for (let i = 1; i < THROTTLE.lockAfter + 1 && !locked; i++) {
      await caller.users.changePassword({ currentPassword: `guess ${i}`, newPassword: "new password 456" }).catch((err: unknown) => {
        if ((err as { message?: string }).message?.includes("locked")) locked = err;
      });
    }
    expect(locked).toMatchObject({ message: expect.stringMatching(/locked for \d+ more minute/) });
    // Even the right password is refused while locked.
    await expect(caller.users.changePassword({ currentPassword: "old password 123", newPassword: "new password 456" })).rejects.toThrow(/locked/);
    expect(await verifyPassword(findUserById(t.db, user.id)!.passwordHash, "old password 123")).toBe(true);
  }, 60_000);
});
