import fs from "node:fs";
import { afterAll, describe, expect, it, vi } from "vitest";

// Before any import reads them: single sign-on configured, password sign-in
// off except for the break-glass admin, and a throw-away data directory.
const env = vi.hoisted(() => {
  process.env.NEXTAUTH_SECRET = "options-sso-test-secret-0123456789abcdef";
  // vi.hoisted runs before the imports, so only require() is available here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.env.AIRLOCK_DATA_DIR = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "airlock-options-sso-"));
  process.env.AIRLOCK_OIDC_ISSUER = "https://idp.example.com";
  process.env.AIRLOCK_OIDC_CLIENT_ID = "airlock";
  process.env.AIRLOCK_OIDC_CLIENT_SECRET = "client-secret";
  process.env.AIRLOCK_LOCAL_LOGIN = "off";
  process.env.AIRLOCK_ADMIN_EMAIL = "root@example.com";
  return { dataDir: process.env.AIRLOCK_DATA_DIR as string };
});

import { eq } from "drizzle-orm";
import { encode } from "next-auth/jwt";
import type { CredentialsConfig } from "next-auth/providers/credentials";
import type { OAuthConfig } from "next-auth/providers/oauth";
import { db as processDb } from "@/db/client";
import { auditEvents } from "@/db/schema";
import { identityFromHeaders } from "@/server/auth/identity";
import { authOptions, SESSION_MAX_AGE_S } from "@/server/auth/options";
import { authSecret } from "@/server/auth/secret";
import { findUserByEmail, setUserDisabled } from "@/server/users/users";
import { addUser, SETUP_ACTOR } from "@/test/helpers/users";

afterAll(() => {
  const g = globalThis as unknown as { __airlockDb?: { $client: { close(): void } } };
  g.__airlockDb?.$client.close();
  delete g.__airlockDb;
  fs.rmSync(env.dataDir, { recursive: true, force: true });
});

const credentials = authOptions.providers[0] as unknown as { options: Pick<CredentialsConfig, "authorize"> };
const authorize = (email: string, password: string) => credentials.options.authorize({ email, password }, { headers: { "x-forwarded-for": "192.0.2.20" } });

describe("password sign-in turned off", () => {
  it("refuses a user who is not a break-glass account, even with the right password, and records why", async () => {
    await addUser(processDb(), "admin", { email: "alice@example.com", password: "right password" });

    await expect(authorize("alice@example.com", "right password")).rejects.toThrow(
      "Password sign-in is turned off here; use single sign-on. Only break-glass accounts may sign in with a password.",
    );
    const failed = processDb().select().from(auditEvents).where(eq(auditEvents.action, "auth.sign_in_failed")).all().at(-1)!;
    expect(failed.actorLabel).toBe("alice@example.com");
    expect(JSON.parse(failed.details)).toEqual({ reason: "password sign-in off" });
  });

  it("lets the break-glass admin sign in with a password", async () => {
    const root = await addUser(processDb(), "admin", { email: "root@example.com", password: "root password" });

    await expect(authorize("Root@Example.com", "root password")).resolves.toMatchObject({ id: root.id, role: "admin" });
  });
});

describe("single sign-on wiring", () => {
  const oidc = authOptions.providers[1] as OAuthConfig<unknown>;
  const account = { provider: "oidc", type: "oauth" as const, providerAccountId: "sub-erin" };
  const claims = { iss: "https://idp.example.com", sub: "sub-erin", email: "erin@example.com", email_verified: true, name: "Erin" };

  it("uses discovery, PKCE, state and nonce, and the verified ID token", () => {
    expect(oidc).toMatchObject({
      id: "oidc",
      type: "oauth",
      wellKnown: "https://idp.example.com/.well-known/openid-configuration",
      clientId: "airlock",
      checks: ["pkce", "state", "nonce"],
      idToken: true,
    });
  });

  it("turns the provider's profile into the Airlock user with a server-side session that signing out ends", async () => {
    const user: Record<string, unknown> = { id: claims.sub, email: claims.email };

    expect(await authOptions.callbacks!.signIn!({ user: user as never, account, profile: claims })).toBe(true);
    const created = findUserByEmail(processDb(), "erin@example.com")!;
    expect(user).toMatchObject({ id: created.id, sid: expect.any(String), sv: created.sessionVersion });

    const token = await authOptions.callbacks!.jwt!({ token: {}, user: user as never, account: null });
    const jwt = await encode({ token, secret: authSecret(), maxAge: SESSION_MAX_AGE_S });
    const cookie = new Headers({ cookie: `next-auth.session-token=${jwt}` });
    expect(await identityFromHeaders(processDb(), cookie)).toMatchObject({ user: { id: created.id, role: "viewer", roleSource: "oidc-default" } });

    await authOptions.events!.signOut!({ token, session: null as never });
    expect(await identityFromHeaders(processDb(), cookie)).toBeNull();
  });

  it("sends a disabled user back to the login page with the reason", async () => {
    const user = findUserByEmail(processDb(), "erin@example.com")!;
    setUserDisabled(processDb(), SETUP_ACTOR, user.id, true);

    expect(await authOptions.callbacks!.signIn!({ user: { id: claims.sub } as never, account, profile: claims })).toBe("/login?error=OidcDisabled");
  });
});
