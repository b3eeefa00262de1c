// Server-side session lookup for pages and layouts: the next-auth cookie is
// re-checked against the database on every render, so a disabled user, a
// changed role or password (session version bump) counts as signed out.
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import { db } from "@/db/client";
import type { Role } from "@/db/schema";
import { identityFromSessionCookie, type Identity } from "@/server/auth/identity";
import { hasRole } from "@/server/users/users";
import type { SessionUser } from "@/lib/session-user";

/** Set by proxy.ts so a layout can send people back where they were going after sign-in. */
export const REQUEST_PATH_HEADER = "x-airlock-path";

/** Resolved once per request, however many layouts and pages ask. */
export const currentIdentity = cache(async (): Promise<Identity | null> => {
  const cookieHeader = (await cookies()).toString();
  return identityFromSessionCookie(db(), cookieHeader);
});

/** The signed-in identity, or a redirect to /login that comes back to the requested page. */
export async function requireIdentity(minimum?: Role): Promise<Identity> {
  const identity = await currentIdentity();
  if (!identity) {
    const path = (await headers()).get(REQUEST_PATH_HEADER);
    redirect(path && path !== "/" ? `/login?callbackUrl=${encodeURIComponent(path)}` : "/login");
  }
  if (minimum && !hasRole(identity.user.role, minimum)) redirect("/runs");
  return identity;
}

export function toSessionUser(identity: Identity): SessionUser {
  const { id, email, name, role } = identity.user;
  return { id, email, name, role };
}
