import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiTokens } from "@/db/schema";
import { createCallerFactory } from "@/server/api/trpc";
import { appRouter } from "@/server/api/root";
import { authenticateToken, createApiToken, hashToken, listApiTokens, revokeApiToken } from "@/server/auth/tokens";
import { setUserDisabled } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { databaseBytes, withRawConnection } from "@/test/helpers/sqlite";
import { addUser, identityOfToken, issueToken, SETUP_ACTOR } from "@/test/helpers/users";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());

async function callerWithToken(token: string) {
  return createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, token), sourceIp: null });
}

describe("issuing tokens", () => {
  it("the token is returned once and the token list never shows it", async () => {
    const user = await addUser(t.db, "operator");

    const { token, id } = createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "ci" });

    expect(token).toMatch(/^alk_[A-Za-z0-9_-]{32}$/);
    const listed = listApiTokens(t.db, user.id);
    expect(listed.map((x) => x.id)).toEqual([id]);
    expect(JSON.stringify(listed)).not.toContain(token.slice(8));
  });

  it("the database file never contains the token, only its SHA-256", async () => {
    const user = await addUser(t.db, "operator");

    const { token } = createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "ci" });
    t.db.$client.pragma("wal_checkpoint(TRUNCATE)");

    const bytes = databaseBytes(t.file);
    expect(bytes.includes(Buffer.from(hashToken(token)))).toBe(true);
    expect(bytes.includes(Buffer.from(token))).toBe(false);
    expect(bytes.includes(Buffer.from(token.slice(8)))).toBe(false);
  });

  it("the write-ahead log never contains the token either", async () => {
    const user = await addUser(t.db, "operator");

    const { token } = createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "ci" });

    expect(databaseBytes(t.file).includes(Buffer.from(token))).toBe(false);
  });

  it("two tokens for the same user are different", async () => {
    const user = await addUser(t.db, "operator");

    const a = issueToken(t.db, user.id).token;
    const b = issueToken(t.db, user.id).token;

    expect(a).not.toBe(b);
  });

  it("a token needs a name", async () => {
    const user = await addUser(t.db, "operator");

    expect(() => createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "  " })).toThrow(
      expect.objectContaining({ code: "INVALID_INPUT", message: expect.stringMatching(/needs a name/) }),
    );
  });

  it("an expiry must be a whole number of days from 1 to 3650", async () => {
    const user = await addUser(t.db, "operator");

    expect(() => createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "ci", expiresInDays: 0 })).toThrow(/between 1 and 3650/);
  });

  it("a disabled user cannot be given a token", async () => {
    const user = await addUser(t.db, "operator");
    setUserDisabled(t.db, SETUP_ACTOR, user.id, true);

    expect(() => createApiToken(t.db, SETUP_ACTOR, { userId: user.id, name: "ci" })).toThrow(
      expect.objectContaining({ code: "PRECONDITION_FAILED", message: expect.stringMatching(/is disabled; enable the user/) }),
    );
  });
});

describe("authenticating with a token", () => {
  it("a fresh token authenticates as its user", async () => {
    const user = await addUser(t.db, "reviewer");
    const { token, id } = issueToken(t.db, user.id);

    const found = authenticateToken(t.db, token);

    expect(found?.user.id).toBe(user.id);
    expect(found?.token.id).toBe(id);
  });

  it("using a token records when it was last used", async () => {
    const user = await addUser(t.db, "reviewer");
    const { token, id } = issueToken(t.db, user.id);

    authenticateToken(t.db, token);

    expect(t.db.select().from(apiTokens).where(eq(apiTokens.id, id)).get()!.lastUsedAt).toBeInstanceOf(Date);
  });

  it("an unknown token authenticates nobody", async () => {
    const user = await addUser(t.db, "reviewer");
    const { token } = issueToken(t.db, user.id);

    expect(authenticateToken(t.db, token.slice(0, -1) + (token.endsWith("A") ? "B" : "A"))).toBeNull();
    expect(authenticateToken(t.db, "not-a-token")).toBeNull();
  });

  it("a revoked token authenticates nobody", async () => {
    const user = await addUser(t.db, "reviewer");
    const { token, id } = issueToken(t.db, user.id);

    revokeApiToken(t.db, SETUP_ACTOR, { tokenId: id });

    expect(authenticateToken(t.db, token)).toBeNull();
  });

  it("an expired token authenticates nobody", async () => {
    const user = await addUser(t.db, "reviewer");
    const { token, id } = issueToken(t.db, user.id, { expiresInDays: 1 });
    expect(authenticateToken(t.db, token)).not.toBeNull();

    withRawConnection(t.file, (raw) => raw.prepare("update api_tokens set expires_at = ? where id = ?").run(Date.now() - 1000, id));

    expect(authenticateToken(t.db, token)).toBeNull();
  });

  it("a token not yet expired still authenticates", async () => {
    const user = await addUser(t.db, "reviewer");
    const { token } = issueToken(t.db, user.id, { expiresInDays: 1 });

    expect(authenticateToken(t.db, token)?.user.id).toBe(user.id);
  });

  it("the token of a disabled user authenticates nobody", async () => {
    const user = await addUser(t.db, "reviewer");
    const { token } = issueToken(t.db, user.id);

    setUserDisabled(t.db, SETUP_ACTOR, user.id, true);

    expect(authenticateToken(t.db, token)).toBeNull();
  });
});

describe("tokens through the API", () => {
  it("tokens.create answers with the token, which then authenticates the caller", async () => {
    const user = await addUser(t.db, "viewer");
    const caller = await callerWithToken(issueToken(t.db, user.id).token);

    const created = await caller.tokens.create({ name: "laptop" });

    expect(authenticateToken(t.db, created.token)?.user.id).toBe(user.id);
  });

  it("tokens.list shows only the caller's own tokens", async () => {
    const alice = await addUser(t.db, "operator");
    const bob = await addUser(t.db, "operator");
    const alicesToken = issueToken(t.db, alice.id, { name: "alice-ci" });
    issueToken(t.db, bob.id, { name: "bob-ci" });
    const caller = await callerWithToken(alicesToken.token);

    const { items } = await caller.tokens.list();

    expect(items.map((x) => x.name)).toEqual(["alice-ci"]);
  });

  it("a non-admin cannot revoke someone else's token: NOT_FOUND, and the token keeps working", async () => {
    const alice = await addUser(t.db, "reviewer");
    const bob = await addUser(t.db, "reviewer");
    const bobs = issueToken(t.db, bob.id);
    const caller = await callerWithToken(issueToken(t.db, alice.id).token);

    await expect(caller.tokens.revoke({ id: bobs.id })).rejects.toMatchObject({ code: "NOT_FOUND" });

    expect(authenticateToken(t.db, bobs.token)?.user.id).toBe(bob.id);
  });

  it("a user can revoke their own token", async () => {
    const alice = await addUser(t.db, "viewer");
    const spare = issueToken(t.db, alice.id, { name: "spare" });
    const caller = await callerWithToken(issueToken(t.db, alice.id).token);

    const revoked = await caller.tokens.revoke({ id: spare.id });

    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(authenticateToken(t.db, spare.token)).toBeNull();
  });

  it("an admin can revoke anyone's token", async () => {
    const admin = await addUser(t.db, "admin");
    const bob = await addUser(t.db, "operator");
    const bobs = issueToken(t.db, bob.id);
    const caller = await callerWithToken(issueToken(t.db, admin.id).token);

    await caller.tokens.revoke({ id: bobs.id });

    expect(authenticateToken(t.db, bobs.token)).toBeNull();
  });
});
