// Single sign-on through an OpenID provider: the next-auth provider object
// (discovery, PKCE + state + nonce, the ID token) and what a sign-in does to
// Airlock's users: create on first sign-in, link by verified email, map a
// claim (groups) to a role at every sign-in, refuse disabled users.
import crypto from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import type { OAuthConfig } from "next-auth/providers/oauth";
import type { Db } from "@/db/client";
import { users, type AuthSession, type Role, type User } from "@/db/schema";
import { appendAudit, recordAudit } from "@/server/audit/chain";
import type { AirlockConfig, OidcSettings } from "@/server/config/env";
import { createSession } from "@/server/auth/sessions";
import { emailSchema, ROLE_RANK } from "@/server/users/users";
import type { SignInErrorCode } from "@/lib/sign-in-errors";

/** The next-auth provider id: the redirect URI is <NEXTAUTH_URL>/api/auth/callback/oidc. */
export const OIDC_PROVIDER_ID = "oidc";

/** The claims Airlock reads; providers send many more. */
export interface OidcClaims {
  iss: string;
  sub: string;
  email?: unknown;
  email_verified?: unknown;
  name?: unknown;
  preferred_username?: unknown;
  [claim: string]: unknown;
}

export function oidcProvider(settings: OidcSettings): OAuthConfig<OidcClaims> {
  return {
    id: OIDC_PROVIDER_ID,
    name: settings.name,
    type: "oauth",
    // Discovery runs at every sign-in (next-auth does not cache it), so a
    // provider that is down shows up as a clear error on the login page.
    wellKnown: `${settings.issuer}/.well-known/openid-configuration`,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    authorization: { params: { scope: settings.scopes } },
    checks: ["pkce", "state", "nonce"],
    idToken: true,
    // A provider that hangs must not hold the sign-in for minutes.
    httpOptions: { timeout: 8000 },
    userinfo: {
      // Many providers put email and groups only in the userinfo answer (the
      // ID token is still verified first: signature, issuer, audience, nonce).
      // openid-client checks that the userinfo subject is the ID token's.
      async request({ client, tokens }) {
        // next-auth passes openid-client's TokenSet here (typed as its plain fields).
        const tokenSet = tokens as Parameters<typeof client.userinfo>[0] & { claims(): Record<string, unknown>; access_token?: string };
        const idClaims = tokenSet.claims();
        if (!client.issuer.metadata.userinfo_endpoint || !tokenSet.access_token) return idClaims;
        const info = await client.userinfo(tokenSet);
        return { ...info, ...idClaims };
      },
    },
    profile(claims) {
      return { id: claims.sub, email: typeof claims.email === "string" ? claims.email : null, name: displayName(claims) };
    },
  };
}

function displayName(claims: OidcClaims): string | null {
  for (const v of [claims.name, claims.preferred_username]) if (typeof v === "string" && v.trim()) return v.trim().slice(0, 100);
  return null;
}

/** A role and where it came from (users.role_source). */
export interface RoleAssignment {
  role: Role;
  source: string;
}

/** The highest role whose group is among the claim's values; null when none matches (or no mapping is configured). */
export function mapClaimToRole(settings: Pick<OidcSettings, "roleClaim" | "roleMap">, claims: Record<string, unknown>): RoleAssignment | null {
  const raw = claims[settings.roleClaim];
  const values = new Set((Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === "string"));
  let best: RoleAssignment | null = null;
  for (const { group, role } of settings.roleMap) {
    if (values.has(group) && (!best || ROLE_RANK[role] > ROLE_RANK[best.role])) best = { role, source: `oidc-claim:${group}` };
  }
  return best;
}

export type OidcSignInResult = { ok: true; user: User; session: AuthSession } | { ok: false; code: SignInErrorCode; reason: string };

export interface SignInRequest {
  sourceIp?: string | null;
  userAgent?: string | null;
  sessionMaxAgeS: number;
}

const stripSlash = (s: string) => s.replace(/\/+$/, "");

function refuse(db: Db, label: string, userId: string | null, code: SignInErrorCode, reason: string, request: SignInRequest): OidcSignInResult {
  recordAudit(
    db,
    { userId: null, label, sourceIp: request.sourceIp },
    { action: "auth.sign_in_failed", targetType: "user", targetId: userId, details: { method: "oidc", reason } },
  );
  return { ok: false, code, reason };
}

function countActiveAdmins(tx: Pick<Db, "select">): number {
  return (
    tx
      .select({ n: sql<number>`count(*)` })
      .from(users)
      .where(sql`${users.role} = 'admin' and ${users.disabledAt} is null`)
      .get()?.n ?? 0
  );
}

/**
 * Signs a user in with the (already verified) claims of an ID token: finds
 * them by issuer + subject, else links an existing account by email (only
 * when the provider says the email is verified: an unverified address would
 * let anyone who can register it at the provider take over the account),
 * else creates them. Opens a server-side session like a password sign-in,
 * so sign-out and revocation work the same.
 */
export function signInWithOidc(db: Db, settings: OidcSettings, claims: OidcClaims, request: SignInRequest): OidcSignInResult {
  const issuer = stripSlash(String(claims.iss ?? ""));
  const subject = typeof claims.sub === "string" ? claims.sub : "";
  const parsedEmail = emailSchema.safeParse(claims.email);
  const email = parsedEmail.success ? parsedEmail.data : null;
  const label = email ?? `oidc:${subject}`;
  if (issuer !== settings.issuer || !subject) {
    return refuse(db, label, null, "OidcIssuer", `ID token from issuer "${issuer}", expected "${settings.issuer}"`, request);
  }
  // Some providers (Cognito) send the flag as a string.
  const emailVerified = claims.email_verified === true || claims.email_verified === "true";
  const mapped = mapClaimToRole(settings, claims);
  const actor = { userId: null, label, sourceIp: request.sourceIp };

  const outcome = db.transaction(
    (tx): { user: User } | { code: SignInErrorCode; reason: string; userId: string | null } => {
      let user = tx
        .select()
        .from(users)
        .where(and(eq(users.oidcIssuer, issuer), eq(users.oidcSubject, subject)))
        .get();
      if (!user && email) {
        const byEmail = tx.select().from(users).where(eq(users.email, email)).get();
        if (byEmail) {
          if (byEmail.oidcSubject) return { code: "OidcEmailTaken", reason: "email belongs to a user linked to another sign-on identity", userId: byEmail.id };
          if (!emailVerified)
            return { code: "OidcEmailUnverified", reason: "email matches a local user but the provider did not mark it verified", userId: byEmail.id };
          if (byEmail.disabledAt) return { code: "OidcDisabled", reason: "user disabled", userId: byEmail.id };
          tx.update(users).set({ oidcIssuer: issuer, oidcSubject: subject }).where(eq(users.id, byEmail.id)).run();
          appendAudit(
            tx,
            { ...actor, userId: byEmail.id },
            { action: "user.oidc_link", targetType: "user", targetId: byEmail.id, details: { email, issuer, subject, by: "verified email" } },
          );
          user = tx.select().from(users).where(eq(users.id, byEmail.id)).get()!;
        }
      }
      if (!user) {
        if (!email) return { code: "OidcNoEmail", reason: "the provider sent no valid email address", userId: null };
        const assigned = mapped ?? { role: settings.defaultRole, source: "oidc-default" };
        const id = crypto.randomUUID();
        tx.insert(users)
          .values({
            id,
            email,
            name: displayName(claims),
            role: assigned.role,
            roleSource: assigned.source,
            oidcIssuer: issuer,
            oidcSubject: subject,
            passwordHash: null,
          })
          .run();
        appendAudit(
          tx,
          { ...actor, userId: id },
          {
            action: "user.create",
            targetType: "user",
            targetId: id,
            details: { email, role: assigned.role, roleSource: assigned.source, via: "oidc", issuer, subject },
          },
        );
        return { user: tx.select().from(users).where(eq(users.id, id)).get()! };
      }
      if (user.disabledAt) return { code: "OidcDisabled", reason: "user disabled", userId: user.id };

      // The provider's email changed (same subject): follow it if it is verified and free.
      if (email && email !== user.email && emailVerified && !tx.select({ id: users.id }).from(users).where(eq(users.email, email)).get()) {
        tx.update(users).set({ email }).where(eq(users.id, user.id)).run();
        appendAudit(
          tx,
          { ...actor, userId: user.id },
          { action: "user.oidc_email_change", targetType: "user", targetId: user.id, details: { from: user.email, to: email, issuer, subject } },
        );
      }
      // Mapped roles are re-applied at every sign-in; a role that came from a
      // group the user has left falls back to the default. A role set by an
      // admin (or a local account's own) stays unless a group maps.
      const target = mapped ?? (user.roleSource.startsWith("oidc-") ? { role: settings.defaultRole, source: "oidc-default" } : null);
      if (target && (target.role !== user.role || target.source !== user.roleSource)) {
        const demotesLastAdmin = user.role === "admin" && target.role !== "admin" && countActiveAdmins(tx) <= 1;
        if (demotesLastAdmin) {
          appendAudit(
            tx,
            { ...actor, userId: user.id },
            {
              action: "user.role_kept",
              targetType: "user",
              targetId: user.id,
              details: { role: user.role, wanted: target.role, source: target.source, reason: "last active admin" },
            },
          );
        } else {
          tx.update(users)
            .set({ role: target.role, roleSource: target.source, sessionVersion: target.role !== user.role ? user.sessionVersion + 1 : user.sessionVersion })
            .where(eq(users.id, user.id))
            .run();
          appendAudit(
            tx,
            { ...actor, userId: user.id },
            {
              action: "user.set_role",
              targetType: "user",
              targetId: user.id,
              details: { email: user.email, from: user.role, to: target.role, source: target.source, via: "oidc" },
            },
          );
        }
      }
      return { user: tx.select().from(users).where(eq(users.id, user.id)).get()! };
    },
    { behavior: "immediate" },
  );
  if (!("user" in outcome)) return refuse(db, label, outcome.userId, outcome.code, outcome.reason, request);

  const user = outcome.user;
  const session = createSession(db, { userId: user.id, maxAgeS: request.sessionMaxAgeS, sourceIp: request.sourceIp, userAgent: request.userAgent });
  recordAudit(
    db,
    { userId: user.id, label: user.email, sourceIp: request.sourceIp },
    {
      action: "auth.sign_in",
      targetType: "user",
      targetId: user.id,
      details: { sessionId: session.id, method: "oidc", issuer, role: user.role, roleSource: user.roleSource },
    },
  );
  return { ok: true, user, session };
}

/**
 * With AIRLOCK_LOCAL_LOGIN=off only the break-glass accounts may sign in with
 * a password (so an outage at the provider cannot lock every admin out).
 */
export function passwordSignInAllowed(cfg: Pick<AirlockConfig, "localLogin" | "breakGlassEmails">, email: string): boolean {
  return cfg.localLogin || cfg.breakGlassEmails.includes(email.trim().toLowerCase());
}

export const PASSWORD_SIGN_IN_OFF_MESSAGE = "Password sign-in is turned off here; use single sign-on. Only break-glass accounts may sign in with a password.";
