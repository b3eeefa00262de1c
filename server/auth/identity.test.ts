import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// Before any import reads them: sessions are signed with this secret, and the
// sign-in path's process-wide database lives in a throw-away data directory.
const env = vi.hoisted(() => {
  const secret = "identity-test-secret-0123456789abcdef";
  process.env.NEXTAUTH_SECRET = secret;
  // vi.hoisted runs before the imports, so only require() is available here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.env.AIRLOCK_DATA_DIR = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "airlock-identity-"));
  return { secret, dataDir: process.env.AIRLOCK_DATA_DIR as string };
});

import { encode, type JWT } from "next-auth/jwt";
import type { CredentialsConfig } from "next-auth/providers/credentials";
import { db as processDb } from "@/db/client";
import { identityFromHeaders } from "@/server/auth/identity";
import { authOptions, SESSION_MAX_AGE_S } from "@/server/auth/options";
import { authSecret } from "@/server/auth/secret";
import { hashPassword } from "@/server/auth/password";
import { installPeerAddressStamp } from "@/server/auth/request-ip";
import { THROTTLE } from "@/server/auth/throttle";
import { createSession, listSessions, revokeOtherSessions, revokeSession } from "@/server/auth/sessions";
import { revokeApiToken } from "@/server/auth/tokens";
import { findUserById, setUserDisabled, setUserPassword, setUserRole, type PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { addUser, bearerHeaders, issueToken, SETUP_ACTOR } from "@/test/helpers/users";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());
afterAll(() => {
  const g = globalThis as unknown as { __airlockDb?: { $client: { close(): void } } };
  g.__airlockDb?.$client.close();
  delete g.__airlockDb;
  fs.rmSync(env.dataDir, { recursive: true, force: true });
});

/** A session JWT as next-auth writes it after sign-in: the user's id, session version and sign-in session. */
function sessionJwt(user: PublicUser, opts: { secret?: string; maxAge?: number; sv?: number; sid?: string | null } = {}): Promise<string> {
  const sv = opts.sv ?? findUserById(t.db, user.id)!.sessionVersion;
  const sid = opts.sid === undefined ? createSession(t.db, { userId: user.id, maxAgeS: SESSION_MAX_AGE_S }).id : opts.sid;
  const token: JWT = { email: user.email, uid: user.id, sv, ...(sid ? { sid } : {}) };
  return encode({ token, secret: opts.secret ?? env.secret, maxAge: opts.maxAge ?? SESSION_MAX_AGE_S });
}

function cookieHeaders(jwt: string, name = "next-auth.session-token"): Headers {
  return new Headers({ cookie: `theme=dark; ${name}=${jwt}; other=1` });
}

describe("session cookies", () => {
  it("the server's secret is the one from NEXTAUTH_SECRET", () => {
    expect(authSecret()).toBe(env.secret);
  });

  it("a session cookie signed with the server's secret resolves to its user", async () => {
    const user = await addUser(t.db, "reviewer");

    const identity = await identityFromHeaders(t.db, cookieHeaders(await sessionJwt(user)));

    expect(identity).toMatchObject({ via: "session", tokenId: null, user: { id: user.id, role: "reviewer" } });
  });

  it("the secure cookie name used over HTTPS works too", async () => {
    const user = await addUser(t.db, "viewer");

    const identity = await identityFromHeaders(t.db, cookieHeaders(await sessionJwt(user), "__Secure-next-auth.session-token"));

    expect(identity?.user.id).toBe(user.id);
  });

  it("a cookie signed with another secret resolves to nobody", async () => {
    const user = await addUser(t.db, "admin");

    const identity = await identityFromHeaders(t.db, cookieHeaders(await sessionJwt(user, { secret: "someone-elses-secret-0123456789" })));

    expect(identity).toBeNull();
  });

  it("a cookie altered in transit resolves to nobody", async () => {
    const user = await addUser(t.db, "admin");
    const jwt = await sessionJwt(user);
    const parts = jwt.split(".");
    parts[3] = parts[3]!.slice(0, -2) + (parts[3]!.endsWith("AA") ? "BB" : "AA");

    const identity = await identityFromHeaders(t.db, cookieHeaders(parts.join(".")));

    expect(identity).toBeNull();
  });

  it("an expired session cookie resolves to nobody", async () => {
    const user = await addUser(t.db, "admin");

    const identity = await identityFromHeaders(t.db, cookieHeaders(await sessionJwt(user, { maxAge: -60 })));

    expect(identity).toBeNull();
  });

  it("a session cookie of a user that no longer exists resolves to nobody", async () => {
    const user = await addUser(t.db, "viewer");
    const jwt = await sessionJwt(user);

    t.db.$client.prepare("delete from users where id = ?").run(user.id);

    expect(await identityFromHeaders(t.db, cookieHeaders(jwt))).toBeNull();
  });

  it("after the user is disabled, the same cookie resolves to nobody", async () => {
    const user = await addUser(t.db, "operator");
    const jwt = await sessionJwt(user);

    setUserDisabled(t.db, SETUP_ACTOR, user.id, true);

    expect(await identityFromHeaders(t.db, cookieHeaders(jwt))).toBeNull();
  });

  it("after the user is disabled and enabled again, the old cookie still resolves to nobody", async () => {
    const user = await addUser(t.db, "operator");
    const jwt = await sessionJwt(user);

    setUserDisabled(t.db, SETUP_ACTOR, user.id, true);
    setUserDisabled(t.db, SETUP_ACTOR, user.id, false);

    expect(await identityFromHeaders(t.db, cookieHeaders(jwt))).toBeNull();
  });

  it("after the user's role changes, the same cookie resolves to nobody", async () => {
    const user = await addUser(t.db, "admin");
    await addUser(t.db, "admin");
    const jwt = await sessionJwt(user);

    setUserRole(t.db, SETUP_ACTOR, user.id, "viewer");

    expect(await identityFromHeaders(t.db, cookieHeaders(jwt))).toBeNull();
  });

  it("after the user's password changes, the same cookie resolves to nobody", async () => {
    const user = await addUser(t.db, "viewer", { password: "first password" });
    const jwt = await sessionJwt(user);

    await setUserPassword(t.db, SETUP_ACTOR, user.id, "second password");

    expect(await identityFromHeaders(t.db, cookieHeaders(jwt))).toBeNull();
  });

  it("a cookie without a session version resolves to nobody", async () => {
    const user = await addUser(t.db, "viewer");
    const jwt = await encode({ token: { uid: user.id }, secret: env.secret });

    expect(await identityFromHeaders(t.db, cookieHeaders(jwt))).toBeNull();
  });

  it("a cookie without a sign-in session (issued before sessions were recorded) resolves to nobody", async () => {
    const user = await addUser(t.db, "admin");
    expect(await identityFromHeaders(t.db, cookieHeaders(await sessionJwt(user, { sid: null })))).toBeNull();
    expect(await identityFromHeaders(t.db, cookieHeaders(await sessionJwt(user, { sid: "made-up" })))).toBeNull();
  });

  it("a cookie naming another user's session resolves to nobody", async () => {
    const user = await addUser(t.db, "admin");
    const other = await addUser(t.db, "viewer");
    const theirs = createSession(t.db, { userId: other.id, maxAgeS: 60 });
    expect(await identityFromHeaders(t.db, cookieHeaders(await sessionJwt(user, { sid: theirs.id })))).toBeNull();
  });

  it("a revoked session's cookie resolves to nobody; revoking the others keeps the current one", async () => {
    const user = await addUser(t.db, "operator");
    const here = createSession(t.db, { userId: user.id, maxAgeS: SESSION_MAX_AGE_S, sourceIp: "192.0.2.1", userAgent: "phone" });
    const phone = createSession(t.db, { userId: user.id, maxAgeS: SESSION_MAX_AGE_S });
    const laptop = createSession(t.db, { userId: user.id, maxAgeS: SESSION_MAX_AGE_S });
    const cookie = async (sid: string) => identityFromHeaders(t.db, cookieHeaders(await sessionJwt(user, { sid })));
    expect((await cookie(here.id))?.sessionId).toBe(here.id);
    expect(listSessions(t.db, user.id, here.id).map((s) => [s.id, s.current])).toEqual(
      expect.arrayContaining([
        [here.id, true],
        [phone.id, false],
        [laptop.id, false],
      ]),
    );

    revokeSession(t.db, SETUP_ACTOR, user.id, phone.id);
    expect(await cookie(phone.id)).toBeNull();
    expect(() => revokeSession(t.db, SETUP_ACTOR, "someone-else", laptop.id)).toThrow(/No such session/);

    expect(revokeOtherSessions(t.db, SETUP_ACTOR, user.id, here.id)).toBe(1);
    expect(await cookie(laptop.id)).toBeNull();
    expect((await cookie(here.id))?.user.id).toBe(user.id);
    expect(listSessions(t.db, user.id, here.id).map((s) => s.id)).toEqual([here.id]);
  });

  it("no cookie and no token resolve to nobody", async () => {
    expect(await identityFromHeaders(t.db, new Headers({ cookie: "theme=dark" }))).toBeNull();
    expect(await identityFromHeaders(t.db, new Headers())).toBeNull();
  });
});

describe("bearer tokens", () => {
  it("a bearer token resolves to its user, marked as a token identity", async () => {
    const user = await addUser(t.db, "operator");
    const { token, id } = issueToken(t.db, user.id);

    const identity = await identityFromHeaders(t.db, bearerHeaders(token));

    expect(identity).toMatchObject({ via: "token", tokenId: id, user: { id: user.id } });
  });

  it("the Bearer scheme is case-insensitive", async () => {
    const user = await addUser(t.db, "operator");
    const { token } = issueToken(t.db, user.id);

    const identity = await identityFromHeaders(t.db, new Headers({ authorization: `bearer ${token}` }));

    expect(identity?.user.id).toBe(user.id);
  });

  it("a revoked bearer token resolves to nobody", async () => {
    const user = await addUser(t.db, "operator");
    const { token, id } = issueToken(t.db, user.id);

    revokeApiToken(t.db, SETUP_ACTOR, { tokenId: id });

    expect(await identityFromHeaders(t.db, bearerHeaders(token))).toBeNull();
  });

  it("a bad bearer token is not rescued by a valid session cookie sent with it", async () => {
    const user = await addUser(t.db, "admin");
    const headers = cookieHeaders(await sessionJwt(user));
    headers.set("authorization", "Bearer alk_not-a-real-token");

    expect(await identityFromHeaders(t.db, headers)).toBeNull();
  });
});

describe("signing in", () => {
  const provider = authOptions.providers[0] as unknown as { options: Pick<CredentialsConfig, "authorize"> };
  const authorize = (email: string, password: string) => provider.options.authorize({ email, password }, { headers: { "x-forwarded-for": "192.0.2.10" } });

  it("signing in with the right password yields a session cookie that resolves to the user", async () => {
    const database = processDb();
    const user = await addUser(database, "reviewer", { email: "signin@example.com", password: "right password" });

    const signedIn = await authorize("SignIn@Example.com", "right password");
    const token = await authOptions.callbacks!.jwt!({ token: {}, user: signedIn!, account: null });
    const jwt = await encode({ token, secret: authSecret(), maxAge: SESSION_MAX_AGE_S });
    const identity = await identityFromHeaders(database, cookieHeaders(jwt));

    expect(identity).toMatchObject({ via: "session", user: { id: user.id, role: "reviewer" } });

    // Signing out ends the session: a copy of the cookie stops working too.
    await authOptions.events!.signOut!({ token, session: null as never });
    expect(await identityFromHeaders(database, cookieHeaders(jwt))).toBeNull();
  });

  it("M5: rotating spoofed X-Forwarded-For addresses still count against one source address and hit its lock", async () => {
    const database = processDb();
    await addUser(database, "viewer", { email: "target@example.com", password: "the right password" });
    // Requests through a real HTTP server in this process, stamped with their socket address as `next start`'s are.
    installPeerAddressStamp();
    const server = http.createServer((req, res) => res.end(JSON.stringify(req.headers)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const headersFrom = async (spoofed: string) => (await (await fetch(url, { headers: { "x-forwarded-for": spoofed } })).json()) as Record<string, string>;
    const saved = THROTTLE.ipLockAfter;
    THROTTLE.ipLockAfter = 4;
    try {
      for (let i = 1; i <= 4; i++) {
        // A different account and a different claimed address each time, as the outside test did.
        const attempt = provider.options.authorize(
          { email: `guess-${i}@example.com`, password: "wrong password" },
          { headers: await headersFrom(`198.51.100.${i}`) },
        );
        await expect(attempt).rejects.toThrow();
      }
      const next = provider.options.authorize(
        { email: "target@example.com", password: "the right password" },
        { headers: await headersFrom("198.51.100.200") },
      );
      await expect(next).rejects.toThrow(/Too many failed sign-ins/);
      const rows = database.$client.prepare("select key from login_throttles where key like 'ip:%'").all() as { key: string }[];
      expect(rows.map((r) => r.key)).toEqual(["ip:127.0.0.1"]);
    } finally {
      THROTTLE.ipLockAfter = saved;
      database.$client.prepare("delete from login_throttles").run();
      server.close();
    }
  });

  it("hardening: a password set before the 12-character minimum still signs in", async () => {
    const database = processDb();
    const user = await addUser(database, "viewer", { email: "oldpw@example.com" });
    // As stored by an older Airlock, when 8 characters were enough.
    database.$client.prepare("update users set password_hash = ? where id = ?").run(await hashPassword("8chars!!"), user.id);

    await expect(authorize("oldpw@example.com", "8chars!!")).resolves.toMatchObject({ id: user.id });
  });

  it("a wrong password is refused without saying whether the email exists", async () => {
    await addUser(processDb(), "viewer", { email: "wrongpw@example.com", password: "right password" });

    await expect(authorize("wrongpw@example.com", "wrong password")).rejects.toThrow("Wrong email or password.");
    await expect(authorize("nobody@example.com", "wrong password")).rejects.toThrow("Wrong email or password.");
  });

  it("a disabled user with the right password is told the account is disabled", async () => {
    const database = processDb();
    const user = await addUser(database, "viewer", { email: "disabled@example.com", password: "right password" });
    setUserDisabled(database, SETUP_ACTOR, user.id, true);

    await expect(authorize("disabled@example.com", "right password")).rejects.toThrow("This account is disabled. Ask an admin to enable it.");
  });
});
