// next-auth configuration (kept out of the route file, see docs/ARCHITECTURE.md, "Sessions and tokens").
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { db } from "@/db/client";
import { recordAudit } from "@/server/audit/chain";
import { dummyPasswordHash, verifyPassword } from "@/server/auth/password";
import { authSecret } from "@/server/auth/secret";
import { checkThrottle, clearFailures, lockedMessage, recordFailure } from "@/server/auth/throttle";
import { createSession, endSession } from "@/server/auth/sessions";
import { findUserByEmail } from "@/server/users/users";
import { clientIpFromHeaders } from "@/server/auth/request-ip";
import { config } from "@/server/config/env";
import { headers } from "next/headers";
import { OIDC_PROVIDER_ID, oidcProvider, PASSWORD_SIGN_IN_OFF_MESSAGE, passwordSignInAllowed, signInWithOidc, type OidcClaims } from "@/server/auth/oidc";
import { safeAuthRedirect } from "@/server/auth/callback-url";

export const SESSION_MAX_AGE_S = 12 * 60 * 60;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The caller's address and browser for the session list and the audit trail (OAuth callbacks get no request object). */
async function requestMeta(): Promise<{ sourceIp: string | null; userAgent: string | null }> {
  try {
    const h = await headers();
    return { sourceIp: clientIpFromHeaders(h), userAgent: h.get("user-agent") };
  } catch {
    return { sourceIp: null, userAgent: null };
  }
}

export const authOptions: NextAuthOptions = {
  secret: authSecret(),
  session: { strategy: "jwt", maxAge: SESSION_MAX_AGE_S },
  // Errors (a provider that is down, a refused single sign-on) land on the login page, which explains them.
  pages: { signIn: "/login", error: "/login" },
  providers: [
    CredentialsProvider({
      name: "Email and password",
      credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
      async authorize(credentials, req) {
        const email = String(credentials?.email ?? "")
          .trim()
          .toLowerCase();
        const password = String(credentials?.password ?? "");
        if (!email || !password) throw new Error("Enter your email and password.");
        const ip = clientIpFromHeaders(req?.headers as Record<string, string | string[] | undefined> | undefined);
        const database = db();
        if (!passwordSignInAllowed(config(), email)) {
          recordAudit(
            database,
            { userId: null, label: email, sourceIp: ip },
            { action: "auth.sign_in_failed", targetType: "user", targetId: null, details: { reason: "password sign-in off" } },
          );
          throw new Error(PASSWORD_SIGN_IN_OFF_MESSAGE);
        }
        const state = checkThrottle(database, email, ip);
        if (state.lockedUntil) throw new Error(lockedMessage(state.lockedUntil));
        // Count the attempt before checking the password, so parallel guesses
        // cannot get past the limit; a success takes it back.
        const after = recordFailure(database, email, ip);
        if (state.delayMs) await sleep(state.delayMs);
        const user = findUserByEmail(database, email);
        const ok = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), password);
        if (!user || !ok || user.disabledAt) {
          recordAudit(
            database,
            { userId: null, label: email, sourceIp: ip },
            {
              action: "auth.sign_in_failed",
              targetType: "user",
              targetId: user?.id ?? null,
              details: { reason: !user ? "unknown email" : user.disabledAt ? "user disabled" : "wrong password" },
            },
          );
          if (after.lockedUntil) throw new Error(lockedMessage(after.lockedUntil));
          if (user?.disabledAt && ok) throw new Error("This account is disabled. Ask an admin to enable it.");
          throw new Error("Wrong email or password.");
        }
        clearFailures(database, email, ip);
        const userAgent = (req?.headers as Record<string, string | string[] | undefined> | undefined)?.["user-agent"];
        const session = createSession(database, {
          userId: user.id,
          maxAgeS: SESSION_MAX_AGE_S,
          sourceIp: ip,
          userAgent: Array.isArray(userAgent) ? userAgent[0] : userAgent,
        });
        recordAudit(
          database,
          { userId: user.id, label: user.email, sourceIp: ip },
          { action: "auth.sign_in", targetType: "user", targetId: user.id, details: { sessionId: session.id } },
        );
        return { id: user.id, email: user.email, name: user.name ?? user.email, sv: user.sessionVersion, sid: session.id, role: user.role };
      },
    }),
    ...(config().oidc ? [oidcProvider(config().oidc!)] : []),
  ],
  events: {
    signOut({ token }) {
      const uid = typeof token?.uid === "string" ? token.uid : null;
      const sid = typeof token?.sid === "string" ? token.sid : null;
      // The cookie is deleted in this browser; ending its session also kills any copy of it.
      if (sid) endSession(db(), sid);
      if (uid) {
        recordAudit(
          db(),
          { userId: uid, label: typeof token?.email === "string" ? token.email : uid },
          { action: "auth.sign_out", targetType: "user", targetId: uid, details: sid ? { sessionId: sid } : undefined },
        );
      }
    },
  },
  callbacks: {
    async signIn({ user, account, profile }) {
      const settings = config().oidc;
      if (account?.provider !== OIDC_PROVIDER_ID) return true;
      if (!settings || !profile) return false;
      const request = await requestMeta();
      const result = signInWithOidc(db(), settings, profile as OidcClaims, { ...request, sessionMaxAgeS: SESSION_MAX_AGE_S });
      if (!result.ok) return `/login?error=${result.code}`;
      // next-auth hands this same object to the jwt callback below: from here on
      // it is the Airlock user (id, session version, session id), not the provider's profile.
      Object.assign(user, {
        id: result.user.id,
        email: result.user.email,
        name: result.user.name ?? result.user.email,
        sv: result.user.sessionVersion,
        sid: result.session.id,
        role: result.user.role,
      });
      return true;
    },
    // The same check as the login page's callbackUrl (M4): only this dashboard's own origin.
    redirect({ url, baseUrl }) {
      return safeAuthRedirect(url, baseUrl);
    },
    jwt({ token, user }) {
      if (user) {
        const u = user as { id: string; sv?: number; sid?: string };
        token.uid = u.id;
        token.sv = u.sv;
        token.sid = u.sid;
      }
      return token;
    },
    session({ session, token }) {
      return { ...session, uid: token.uid, sv: token.sv };
    },
  },
};
