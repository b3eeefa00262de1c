// Real users, tokens and identities for tests, made through the domain
// functions and resolved the way a request is (never hand-built objects).
import type { Db } from "@/db/client";
import type { Role } from "@/db/schema";
import type { Actor } from "@/server/audit/chain";
import { identityFromHeaders, type Identity } from "@/server/auth/identity";
import { createApiToken } from "@/server/auth/tokens";
import { createUser, type PublicUser } from "@/server/users/users";

/** The actor the tests' own setup acts as (like the CLI would). */
export const SETUP_ACTOR: Actor = { userId: null, label: "test-setup" };

let counter = 0;

export function uniqueEmail(prefix = "user"): string {
  counter += 1;
  return `${prefix}-${counter}@example.com`;
}

export function addUser(db: Db, role: Role, opts: { email?: string; password?: string } = {}): Promise<PublicUser> {
  return createUser(db, SETUP_ACTOR, { email: opts.email ?? uniqueEmail(role), role, password: opts.password });
}

/** A personal API token for the user, as `airlock token create` would issue it. */
export function issueToken(db: Db, userId: string, opts: { name?: string; expiresInDays?: number } = {}): { token: string; id: string } {
  const { token, id } = createApiToken(db, SETUP_ACTOR, { userId, name: opts.name ?? "test", expiresInDays: opts.expiresInDays });
  return { token, id };
}

export function bearerHeaders(token: string): Headers {
  return new Headers({ authorization: `Bearer ${token}` });
}

/** Who the server sees behind this bearer token (null: nobody). */
export function identityOfToken(db: Db, token: string): Promise<Identity | null> {
  return identityFromHeaders(db, bearerHeaders(token));
}

/** The actor an API call by this user would be recorded as. */
export function actorOf(user: PublicUser): Actor {
  return { userId: user.id, label: user.email };
}
