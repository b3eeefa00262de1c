import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { auditEvents } from "@/db/schema";
import type { OidcSettings } from "@/server/config/env";
import { activeSession } from "@/server/auth/sessions";
import { mapClaimToRole, passwordSignInAllowed, signInWithOidc, type OidcClaims } from "@/server/auth/oidc";
import { findUserById, setUserDisabled, setUserRole } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { addUser, SETUP_ACTOR } from "@/test/helpers/users";

const settings: OidcSettings = {
  issuer: "https://idp.example.com",
  clientId: "airlock",
  clientSecret: "secret",
  name: "Example IdP",
  scopes: "openid email profile",
  defaultRole: "viewer",
  roleClaim: "groups",
  roleMap: [
    { group: "airlock-reviewers", role: "reviewer" },
    { group: "airlock-admins", role: "admin" },
    { group: "airlock-operators", role: "operator" },
  ],
};
const request = { sourceIp: "127.0.0.1", userAgent: "test", sessionMaxAgeS: 3600 };

const claims = (over: Partial<OidcClaims> = {}): OidcClaims => ({
  iss: "https://idp.example.com/",
  sub: "sub-1",
  email: "Dana@Example.com",
  email_verified: true,
  name: "Dana",
  ...over,
});

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());

function signIn(c: OidcClaims) {
  return signInWithOidc(t.db, settings, c, request);
}

function signedIn(c: OidcClaims) {
  const result = signIn(c);
  if (!result.ok) throw new Error(`sign-in refused: ${result.code}`);
  return result;
}

const auditActions = () =>
  t.db
    .select()
    .from(auditEvents)
    .all()
    .map((e) => e.action);

describe("mapping the role claim", () => {
  it("picks the highest role among the matching groups and names the group", () => {
    expect(mapClaimToRole(settings, { groups: ["airlock-operators", "airlock-admins", "airlock-reviewers"] })).toEqual({
      role: "admin",
      source: "oidc-claim:airlock-admins",
    });
  });

  it("accepts a single string claim and ignores groups that map to nothing", () => {
    expect(mapClaimToRole(settings, { groups: "airlock-operators" })).toEqual({ role: "operator", source: "oidc-claim:airlock-operators" });
    expect(mapClaimToRole(settings, { groups: ["everyone", 42] })).toBeNull();
    expect(mapClaimToRole(settings, {})).toBeNull();
  });
});

describe("signing in with single sign-on", () => {
  it("creates the user on first sign-in with the default role and opens a server-side session", () => {
    const { user, session } = signedIn(claims());

    expect(user).toMatchObject({
      email: "dana@example.com",
      name: "Dana",
      role: "viewer",
      roleSource: "oidc-default",
      oidcIssuer: "https://idp.example.com",
      oidcSubject: "sub-1",
      passwordHash: null,
    });
    expect(activeSession(t.db, session.id, user.id)).not.toBeNull();
    expect(auditActions()).toEqual(["user.create", "auth.sign_in"]);
  });

  it("maps groups at every sign-in and falls back to the default role after the user leaves the group", () => {
    const first = signedIn(claims({ groups: ["airlock-reviewers"] })).user;
    expect(first).toMatchObject({ role: "reviewer", roleSource: "oidc-claim:airlock-reviewers" });

    const promoted = signedIn(claims({ groups: ["airlock-reviewers", "airlock-admins"] })).user;
    expect(promoted).toMatchObject({ id: first.id, role: "admin", roleSource: "oidc-claim:airlock-admins" });
    // The role changed: sessions opened with the old role stop working.
    expect(promoted.sessionVersion).toBe(first.sessionVersion + 1);

    // Another admin exists, so leaving the group may demote this one.
    signedIn(claims({ sub: "sub-2", email: "other@example.com", groups: ["airlock-admins"] }));
    expect(signedIn(claims({ groups: [] })).user).toMatchObject({ role: "viewer", roleSource: "oidc-default" });
  });

  it("keeps a role an admin set when no group maps, and lets a mapped group override it", () => {
    const { user } = signedIn(claims());
    setUserRole(t.db, SETUP_ACTOR, user.id, "operator");

    expect(signedIn(claims()).user).toMatchObject({ role: "operator", roleSource: "admin" });
    expect(signedIn(claims({ groups: ["airlock-reviewers"] })).user).toMatchObject({ role: "reviewer", roleSource: "oidc-claim:airlock-reviewers" });
  });

  it("never demotes the last active admin when the provider drops the group", () => {
    signedIn(claims({ groups: ["airlock-admins"] }));

    const { user } = signedIn(claims({ groups: [] }));

    expect(user.role).toBe("admin");
    expect(auditActions()).toContain("user.role_kept");
  });

  it("links an existing local user by email only when the provider says the email is verified", async () => {
    const local = await addUser(t.db, "operator", { email: "dana@example.com", password: "local-password-1" });

    const refused = signIn(claims({ email_verified: false }));
    expect(refused).toMatchObject({ ok: false, code: "OidcEmailUnverified" });
    expect(findUserById(t.db, local.id)!.oidcSubject).toBeNull();

    const { user } = signedIn(claims({ email_verified: true }));
    expect(user).toMatchObject({ id: local.id, role: "operator", roleSource: "local", oidcSubject: "sub-1" });
    expect(auditActions()).toContain("user.oidc_link");
  });

  it("refuses a second provider identity that claims an email already linked to another", () => {
    signedIn(claims());

    expect(signIn(claims({ sub: "someone-else" }))).toMatchObject({ ok: false, code: "OidcEmailTaken" });
  });

  it("still finds the user by issuer and subject after the email changed at the provider, and follows the new verified email", () => {
    const { user } = signedIn(claims());

    const again = signedIn(claims({ email: "dana.new@example.com" })).user;

    expect(again.id).toBe(user.id);
    expect(again.email).toBe("dana.new@example.com");
  });

  it("refuses a disabled user, records the refusal, and opens no session", () => {
    const { user } = signedIn(claims());
    setUserDisabled(t.db, SETUP_ACTOR, user.id, true);

    expect(signIn(claims())).toMatchObject({ ok: false, code: "OidcDisabled" });
    const failed = t.db.select().from(auditEvents).where(eq(auditEvents.action, "auth.sign_in_failed")).get();
    expect(JSON.parse(failed!.details)).toMatchObject({ method: "oidc", reason: "user disabled" });
  });

  it("refuses claims from another issuer and a first sign-in without an email", () => {
    expect(signIn(claims({ iss: "https://evil.example.com" }))).toMatchObject({ ok: false, code: "OidcIssuer" });
    expect(signIn(claims({ email: undefined }))).toMatchObject({ ok: false, code: "OidcNoEmail" });
  });
});

describe("password sign-in switch", () => {
  it("lets everyone use a password when local sign-in is on, and only break-glass accounts when it is off", () => {
    expect(passwordSignInAllowed({ localLogin: true, breakGlassEmails: [] }, "anyone@example.com")).toBe(true);
    expect(passwordSignInAllowed({ localLogin: false, breakGlassEmails: ["root@example.com"] }, "anyone@example.com")).toBe(false);
    expect(passwordSignInAllowed({ localLogin: false, breakGlassEmails: ["root@example.com"] }, " Root@Example.com ")).toBe(true);
  });
});
