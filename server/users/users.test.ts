import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TRPCError } from "@trpc/server";
import { createCallerFactory } from "@/server/api/trpc";
import { appRouter } from "@/server/api/root";
import { verifyPassword } from "@/server/auth/password";
import { createUser, findUserById, setUserDisabled, setUserPassword, setUserRole } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser, identityOfToken, issueToken, SETUP_ACTOR } from "@/test/helpers/users";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());

const sessionVersionOf = (id: string) => findUserById(t.db, id)!.sessionVersion;

describe("creating users", () => {
  it("stores the email trimmed and in lower case", async () => {
    const user = await createUser(t.db, SETUP_ACTOR, { email: "  Alice@Example.COM ", role: "viewer" });

    expect(user.email).toBe("alice@example.com");
    expect(findUserById(t.db, user.id)!.email).toBe("alice@example.com");
  });

  it("refuses a second user with the same email in another letter case, with CONFLICT and a message naming the email", async () => {
    await createUser(t.db, SETUP_ACTOR, { email: "alice@example.com", role: "viewer" });

    const second = createUser(t.db, SETUP_ACTOR, { email: "ALICE@example.com", role: "admin" });

    await expect(second).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/alice@example\.com already exists/) });
  });

  it("refuses an unknown role with a message listing the roles", async () => {
    const attempt = createUser(t.db, SETUP_ACTOR, { email: "bob@example.com", role: "superuser" as never });

    await expect(attempt).rejects.toMatchObject({
      code: "INVALID_INPUT",
      message: 'Unknown role "superuser". Use one of: viewer, operator, reviewer, admin.',
    });
  });

  it("hardening: a new password shorter than 12 characters is refused with a message saying the minimum", async () => {
    for (const password of ["short", "elevenchars"]) {
      const attempt = createUser(t.db, SETUP_ACTOR, { email: "bob@example.com", role: "viewer", password });
      await expect(attempt).rejects.toMatchObject({
        code: "INVALID_INPUT",
        message: "Password must be at least 12 characters; a phrase of a few words is easy to remember.",
      });
    }
    await expect(createUser(t.db, SETUP_ACTOR, { email: "bob@example.com", role: "viewer", password: "twelve chars" })).resolves.toMatchObject({
      email: "bob@example.com",
    });
  });

  it("refuses an address that is not an email with an example of one", async () => {
    const attempt = createUser(t.db, SETUP_ACTOR, { email: "bob", role: "viewer" });

    await expect(attempt).rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringMatching(/valid email address, like/) });
  });

  it("stores the password as an argon2id hash that verifies", async () => {
    const user = await createUser(t.db, SETUP_ACTOR, { email: "carol@example.com", role: "viewer", password: "correct horse" });

    const stored = findUserById(t.db, user.id)!.passwordHash!;

    expect(stored).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(stored, "correct horse")).toBe(true);
    expect(await verifyPassword(stored, "wrong horse")).toBe(false);
  });

  it("through the API, a duplicate email comes back as CONFLICT with the same clear message", async () => {
    const admin = await addUser(t.db, "admin");
    await addUser(t.db, "viewer", { email: "dup@example.com" });
    const caller = createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, admin.id).token), sourceIp: null });

    const attempt = caller.users.create({ email: "Dup@Example.com", role: "viewer" });

    await expect(attempt).rejects.toBeInstanceOf(TRPCError);
    await expect(attempt).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/dup@example\.com already exists/) });
  });

  it("through the API, an unknown role comes back as BAD_REQUEST listing the roles", async () => {
    const admin = await addUser(t.db, "admin");
    const caller = createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, admin.id).token), sourceIp: null });

    const attempt = caller.users.create({ email: "eve@example.com", role: "root" as never });

    await expect(attempt).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/Use one of: viewer, operator, reviewer, admin/) });
  });
});

describe("changing roles", () => {
  it("changes the role and bumps the session version, so existing sessions end", async () => {
    const user = await addUser(t.db, "viewer");
    const before = sessionVersionOf(user.id);

    const changed = setUserRole(t.db, SETUP_ACTOR, user.id, "reviewer");

    expect(changed.role).toBe("reviewer");
    expect(sessionVersionOf(user.id)).toBe(before + 1);
  });

  it("setting the role a user already has changes nothing", async () => {
    const user = await addUser(t.db, "operator");
    const before = findUserById(t.db, user.id);

    setUserRole(t.db, SETUP_ACTOR, user.id, "operator");

    expect(findUserById(t.db, user.id)).toEqual(before);
  });

  it("refuses an unknown role with a message listing the roles", async () => {
    const user = await addUser(t.db, "viewer");

    expect(() => setUserRole(t.db, SETUP_ACTOR, user.id, "owner")).toThrow('Unknown role "owner". Use one of: viewer, operator, reviewer, admin.');
  });

  it("refuses an unknown user with NOT_FOUND", () => {
    expect(() => setUserRole(t.db, SETUP_ACTOR, "no-such-id", "viewer")).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
  });

  it("the last active admin cannot be demoted", async () => {
    const admin = await addUser(t.db, "admin");

    expect(() => setUserRole(t.db, actorOf(admin), admin.id, "reviewer")).toThrow(
      expect.objectContaining({ code: "PRECONDITION_FAILED", message: expect.stringMatching(/last active admin; make another user admin first/) }),
    );
    expect(findUserById(t.db, admin.id)!.role).toBe("admin");
  });

  it("a disabled admin does not count as another admin", async () => {
    const active = await addUser(t.db, "admin");
    const disabled = await addUser(t.db, "admin");
    setUserDisabled(t.db, actorOf(active), disabled.id, true);

    expect(() => setUserRole(t.db, actorOf(active), active.id, "viewer")).toThrow(/last active admin/);
  });

  it("an admin can be demoted while another active admin remains", async () => {
    const first = await addUser(t.db, "admin");
    const second = await addUser(t.db, "admin");

    const demoted = setUserRole(t.db, actorOf(second), first.id, "operator");

    expect(demoted.role).toBe("operator");
  });
});

describe("disabling users", () => {
  it("disabling marks the user disabled and bumps the session version", async () => {
    const admin = await addUser(t.db, "admin");
    const user = await addUser(t.db, "operator");
    const before = sessionVersionOf(user.id);

    const disabled = setUserDisabled(t.db, actorOf(admin), user.id, true);

    expect(disabled.disabled).toBe(true);
    expect(sessionVersionOf(user.id)).toBe(before + 1);
  });

  it("enabling again bumps the session version once more, so sessions from before the disable stay dead", async () => {
    const admin = await addUser(t.db, "admin");
    const user = await addUser(t.db, "operator");
    const before = sessionVersionOf(user.id);
    setUserDisabled(t.db, actorOf(admin), user.id, true);

    const enabled = setUserDisabled(t.db, actorOf(admin), user.id, false);

    expect(enabled.disabled).toBe(false);
    expect(sessionVersionOf(user.id)).toBe(before + 2);
  });

  it("the last active admin cannot be disabled, even by someone else", async () => {
    const admin = await addUser(t.db, "admin");

    expect(() => setUserDisabled(t.db, SETUP_ACTOR, admin.id, true)).toThrow(
      expect.objectContaining({ code: "PRECONDITION_FAILED", message: expect.stringMatching(/last active admin/) }),
    );
    expect(findUserById(t.db, admin.id)!.disabledAt).toBeNull();
  });

  it("an admin cannot disable their own account, even when other admins exist", async () => {
    const self = await addUser(t.db, "admin");
    await addUser(t.db, "admin");

    expect(() => setUserDisabled(t.db, actorOf(self), self.id, true)).toThrow(
      expect.objectContaining({ code: "PRECONDITION_FAILED", message: expect.stringMatching(/cannot disable your own account/) }),
    );
    expect(findUserById(t.db, self.id)!.disabledAt).toBeNull();
  });

  it("an admin can disable another admin while one active admin remains", async () => {
    const first = await addUser(t.db, "admin");
    const second = await addUser(t.db, "admin");

    expect(setUserDisabled(t.db, actorOf(first), second.id, true).disabled).toBe(true);
  });
});

describe("changing passwords", () => {
  it("a new password bumps the session version", async () => {
    const user = await addUser(t.db, "viewer", { password: "first password" });
    const before = sessionVersionOf(user.id);

    await setUserPassword(t.db, actorOf(user), user.id, "second password");

    expect(sessionVersionOf(user.id)).toBe(before + 1);
    expect(await verifyPassword(findUserById(t.db, user.id)!.passwordHash, "second password")).toBe(true);
  });

  it("a too-short new password is refused with a message saying the minimum, and nothing changes", async () => {
    const user = await addUser(t.db, "viewer", { password: "first password" });
    const before = findUserById(t.db, user.id);

    await expect(setUserPassword(t.db, actorOf(user), user.id, "2short")).rejects.toMatchObject({
      code: "INVALID_INPUT",
      message: "Password must be at least 12 characters; a phrase of a few words is easy to remember.",
    });
    expect(findUserById(t.db, user.id)).toEqual(before);
  });
});
