// Personal API tokens: shown once, stored as SHA-256, revocable, optional expiry.
import crypto from "node:crypto";
import { and, desc, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { API_TOKEN_SCOPES, apiTokens, users, type ApiToken, type ApiTokenScope, type User } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announceAccessChange } from "@/server/auth/access-events";
import { DomainError } from "@/server/errors/domain-error";

const TOKEN_PREFIX = "alk_";

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

export interface PublicToken {
  id: string;
  name: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  /** Rights beyond the user's role, e.g. "metrics" (may scrape /metrics). */
  scopes: ApiTokenScope[];
}

function toPublicToken(t: ApiToken): PublicToken {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    lastUsedAt: t.lastUsedAt,
    scopes: t.scopes ?? [],
  };
}

export function createApiToken(
  db: Db,
  actor: Actor,
  input: { userId: string; name: string; expiresInDays?: number | null; scopes?: readonly string[] | null },
): { token: string; id: string; expiresAt: Date | null; scopes: ApiTokenScope[] } {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new DomainError("INVALID_INPUT", 'A token needs a name of 1 to 100 characters, e.g. "ci".');
  if (input.expiresInDays != null && (!Number.isInteger(input.expiresInDays) || input.expiresInDays < 1 || input.expiresInDays > 3650)) {
    throw new DomainError("INVALID_INPUT", "expiresInDays must be a whole number of days between 1 and 3650 (or left out for no expiry).");
  }
  const scopes = [...new Set(input.scopes ?? [])];
  for (const scope of scopes) {
    if (!(API_TOKEN_SCOPES as readonly string[]).includes(scope)) {
      throw new DomainError("INVALID_INPUT", `Unknown token scope "${scope}"; the scopes are: ${API_TOKEN_SCOPES.join(", ")}.`);
    }
  }
  const token = TOKEN_PREFIX + crypto.randomBytes(24).toString("base64url");
  const id = crypto.randomUUID();
  const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
  db.transaction(
    (tx) => {
      const user = tx.select().from(users).where(eq(users.id, input.userId)).get();
      if (!user) throw new DomainError("NOT_FOUND", `No user with id ${input.userId}.`);
      if (user.disabledAt) throw new DomainError("PRECONDITION_FAILED", `${user.email} is disabled; enable the user before creating tokens.`);
      tx.insert(apiTokens)
        .values({ id, userId: input.userId, name, tokenHash: hashToken(token), prefix: token.slice(0, 8), expiresAt, scopes: scopes as ApiTokenScope[] })
        .run();
      appendAudit(tx, actor, {
        action: "token.create",
        targetType: "token",
        targetId: id,
        details: { userId: input.userId, name, expiresAt: expiresAt?.toISOString() ?? null, ...(scopes.length ? { scopes } : {}) },
      });
    },
    { behavior: "immediate" },
  );
  return { token, id, expiresAt, scopes: scopes as ApiTokenScope[] };
}

export function listApiTokens(db: Db, userId: string): PublicToken[] {
  return db.select().from(apiTokens).where(eq(apiTokens.userId, userId)).orderBy(desc(apiTokens.createdAt)).all().map(toPublicToken);
}

export function revokeApiToken(db: Db, actor: Actor, input: { tokenId: string; userId?: string }): PublicToken {
  const revoked = db.transaction(
    (tx) => {
      const where = input.userId ? and(eq(apiTokens.id, input.tokenId), eq(apiTokens.userId, input.userId)) : eq(apiTokens.id, input.tokenId);
      const token = tx.select().from(apiTokens).where(where).get();
      if (!token) throw new DomainError("NOT_FOUND", `No token with id ${input.tokenId}.`);
      if (!token.revokedAt) {
        tx.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, token.id)).run();
        appendAudit(tx, actor, { action: "token.revoke", targetType: "token", targetId: token.id, details: { userId: token.userId, name: token.name } });
      }
      return { view: toPublicToken(tx.select().from(apiTokens).where(eq(apiTokens.id, token.id)).get()!), userId: token.userId };
    },
    { behavior: "immediate" },
  );
  announceAccessChange(revoked.userId);
  return revoked.view;
}

/** The active user behind a bearer token, or null when it is unknown, revoked, expired or its user is disabled. */
export function authenticateToken(db: Db, token: string): { user: User; token: ApiToken } | null {
  if (!token.startsWith(TOKEN_PREFIX)) return null;
  const row = db
    .select()
    .from(apiTokens)
    .innerJoin(users, eq(apiTokens.userId, users.id))
    .where(eq(apiTokens.tokenHash, hashToken(token)))
    .get();
  if (!row) return null;
  const now = Date.now();
  if (row.api_tokens.revokedAt || (row.api_tokens.expiresAt && row.api_tokens.expiresAt.getTime() <= now) || row.users.disabledAt) return null;
  // Touch at most once a minute to keep reads cheap.
  if (!row.api_tokens.lastUsedAt || now - row.api_tokens.lastUsedAt.getTime() > 60_000) {
    db.update(apiTokens)
      .set({ lastUsedAt: new Date(now) })
      .where(eq(apiTokens.id, row.api_tokens.id))
      .run();
  }
  return { user: row.users, token: row.api_tokens };
}

/** Whether a token's scopes include `scope` (rows written before issue 16 have none). */
export function tokenHasScope(token: Pick<ApiToken, "scopes">, scope: ApiTokenScope): boolean {
  return Array.isArray(token.scopes) && token.scopes.includes(scope);
}
