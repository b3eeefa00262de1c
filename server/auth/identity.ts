// Who is calling: a session cookie (next-auth JWT) or a bearer token, always
// re-checked against the database so disabling a user takes effect at once.
import { decode } from "next-auth/jwt";
import type { Db } from "@/db/client";
import type { User } from "@/db/schema";
import { authSecret } from "@/server/auth/secret";
import { activeSession } from "@/server/auth/sessions";
import { authenticateToken } from "@/server/auth/tokens";
import { findUserById } from "@/server/users/users";

export interface Identity {
  user: User;
  via: "session" | "token";
  tokenId: string | null;
  /** The sign-in session (cookie callers only). */
  sessionId: string | null;
}

export const SESSION_COOKIES = ["__Secure-next-auth.session-token", "next-auth.session-token"];

export function parseCookies(header: string | null | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) {
      try {
        map.set(part.slice(0, i).trim(), decodeURIComponent(part.slice(i + 1).trim()));
      } catch {
        // ignore a malformed cookie rather than failing the request
      }
    }
  }
  return map;
}

export async function identityFromSessionCookie(db: Db, cookieHeader: string | null | undefined): Promise<Identity | null> {
  const cookies = parseCookies(cookieHeader);
  for (const name of SESSION_COOKIES) {
    const raw = cookies.get(name);
    if (!raw) continue;
    let payload: Awaited<ReturnType<typeof decode>>;
    try {
      payload = await decode({ token: raw, secret: authSecret() });
    } catch {
      payload = null;
    }
    if (!payload || typeof payload.uid !== "string") continue;
    const user = findUserById(db, payload.uid);
    if (!user || user.disabledAt || user.sessionVersion !== payload.sv) return null;
    // The cookie must name a session that is still open (not signed out or revoked).
    if (typeof payload.sid !== "string" || !activeSession(db, payload.sid, user.id)) return null;
    return { user, via: "session", tokenId: null, sessionId: payload.sid };
  }
  return null;
}

export function bearerToken(authorization: string | null | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return m ? m[1]! : null;
}

export async function identityFromHeaders(db: Db, headers: Headers): Promise<Identity | null> {
  const bearer = bearerToken(headers.get("authorization"));
  if (bearer) {
    const found = authenticateToken(db, bearer);
    return found ? { user: found.user, via: "token", tokenId: found.token.id, sessionId: null } : null;
  }
  return identityFromSessionCookie(db, headers.get("cookie"));
}
