// Users and roles: creation, role changes, disabling. Every change commits
// together with its audit event.
import crypto from "node:crypto";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { apiTokens, ROLES, users, type Role, type User } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announceAccessChange } from "@/server/auth/access-events";
import { hashPassword, MIN_PASSWORD_LENGTH } from "@/server/auth/password";
import { DomainError } from "@/server/errors/domain-error";
import { atLeast } from "@/lib/permissions";

export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, reviewer: 2, admin: 3 };

/** Whether `role` is `minimum` or above; the ladder is lib/permissions.ts' `atLeast`, shared with the UI. */
export function hasRole(role: Role, minimum: Role): boolean {
  return atLeast(role, minimum);
}

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, "Email is too long (254 characters at most).")
  .email("Enter a valid email address, like alice@example.com.");

export const roleSchema = z.enum(ROLES, {
  error: (issue) =>
    issue.input === undefined || issue.input === ""
      ? `A role is required. Use one of: ${ROLES.join(", ")}.`
      : typeof issue.input === "string"
        ? `Unknown role "${issue.input.slice(0, 50)}". Use one of: ${ROLES.join(", ")}.`
        : // Not a string: say what it was rather than print "[object Object]" (F3).
          `A role is one of: ${ROLES.join(", ")}; got ${Array.isArray(issue.input) ? "an array" : issue.input === null ? "null" : `a ${typeof issue.input}`}.`,
});

export const passwordSchema = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `Password must be at least ${MIN_PASSWORD_LENGTH} characters; a phrase of a few words is easy to remember.`)
  .max(256, "Password is too long (256 characters at most).");

/**
 * Validates with a schema and throws a DomainError carrying the schema's own
 * message: callers outside tRPC (the CLI) then print one readable sentence
 * instead of a ZodError's JSON dump.
 */
function parseInput<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new DomainError("INVALID_INPUT", parsed.error.issues[0]?.message ?? "Invalid input.");
  return parsed.data;
}

export function parseRole(value: string): Role {
  return parseInput(roleSchema, value);
}

/** What the API shows of a user (never the password hash). */
export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  /** Where the role came from: "local", "admin", "oidc-default" or "oidc-claim:<group>". */
  roleSource: string;
  /** Signs in through single sign-on (linked to a provider's subject). */
  sso: boolean;
}

export function toPublicUser(u: User): PublicUser {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    disabled: u.disabledAt !== null,
    createdAt: u.createdAt,
    roleSource: u.roleSource,
    sso: u.oidcSubject !== null,
  };
}

export function findUserByEmail(db: Db, email: string): User | undefined {
  return db.select().from(users).where(eq(users.email, email.trim().toLowerCase())).get();
}

export function findUserById(db: Db, id: string): User | undefined {
  return db.select().from(users).where(eq(users.id, id)).get();
}

export function countUsers(db: Db): number {
  return (
    db
      .select({ n: sql<number>`count(*)` })
      .from(users)
      .get()?.n ?? 0
  );
}

export function listUsers(db: Db): PublicUser[] {
  return db.select().from(users).orderBy(asc(users.createdAt)).all().map(toPublicUser);
}

export async function createUser(db: Db, actor: Actor, input: { email: string; role: Role; password?: string; name?: string | null }): Promise<PublicUser> {
  const email = parseInput(emailSchema, input.email);
  const role = parseRole(input.role);
  const passwordHash = input.password !== undefined ? await hashPassword(parseInput(passwordSchema, input.password)) : null;
  const id = crypto.randomUUID();
  return db.transaction(
    (tx) => {
      if (tx.select({ id: users.id }).from(users).where(eq(users.email, email)).get()) {
        throw new DomainError("CONFLICT", `A user with email ${email} already exists. Pick another email or change that user's role instead.`);
      }
      tx.insert(users)
        .values({ id, email, role, passwordHash, name: input.name ?? null })
        .run();
      appendAudit(tx, actor, { action: "user.create", targetType: "user", targetId: id, details: { email, role } });
      return toPublicUser(tx.select().from(users).where(eq(users.id, id)).get()!);
    },
    { behavior: "immediate" },
  );
}

function requireUser(tx: Pick<Db, "select">, id: string): User {
  const user = tx.select().from(users).where(eq(users.id, id)).get();
  if (!user) throw new DomainError("NOT_FOUND", `No user with id ${id}.`);
  return user;
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

export function setUserRole(db: Db, actor: Actor, userId: string, roleInput: string): PublicUser {
  const role = parseRole(roleInput);
  const updated = db.transaction(
    (tx) => {
      const user = requireUser(tx, userId);
      if (user.role === role) return toPublicUser(user);
      if (user.role === "admin" && !user.disabledAt && countActiveAdmins(tx) <= 1) {
        throw new DomainError("PRECONDITION_FAILED", "This is the last active admin; make another user admin first.");
      }
      tx.update(users)
        .set({ role, roleSource: "admin", sessionVersion: user.sessionVersion + 1 })
        .where(eq(users.id, userId))
        .run();
      appendAudit(tx, actor, { action: "user.set_role", targetType: "user", targetId: userId, details: { email: user.email, from: user.role, to: role } });
      return toPublicUser(requireUser(tx, userId));
    },
    { behavior: "immediate" },
  );
  announceAccessChange(userId);
  return updated;
}

/**
 * Revokes the user's API tokens: a password reset or a disabled account is
 * how an admin answers a compromised account, and a token minted by whoever
 * had the old password must not outlive it.
 */
function revokeTokensOf(tx: Pick<Db, "update">, userId: string, now: Date): number {
  return tx
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
    .run().changes;
}

export function setUserDisabled(db: Db, actor: Actor, userId: string, disabled: boolean): PublicUser {
  const updated = db.transaction(
    (tx) => {
      const user = requireUser(tx, userId);
      if (disabled && actor.userId === userId) {
        throw new DomainError("PRECONDITION_FAILED", "You cannot disable your own account; ask another admin.");
      }
      if (disabled && user.role === "admin" && !user.disabledAt && countActiveAdmins(tx) <= 1) {
        throw new DomainError("PRECONDITION_FAILED", "This is the last active admin; make another user admin first.");
      }
      if (Boolean(user.disabledAt) === disabled) return toPublicUser(user);
      const now = new Date();
      tx.update(users)
        .set({ disabledAt: disabled ? now : null, sessionVersion: user.sessionVersion + 1 })
        .where(eq(users.id, userId))
        .run();
      const tokensRevoked = disabled ? revokeTokensOf(tx, userId, now) : 0;
      appendAudit(tx, actor, {
        action: disabled ? "user.disable" : "user.enable",
        targetType: "user",
        targetId: userId,
        details: { email: user.email, ...(disabled ? { tokensRevoked } : {}) },
      });
      return toPublicUser(requireUser(tx, userId));
    },
    { behavior: "immediate" },
  );
  announceAccessChange(userId);
  return updated;
}

/** Sets a new password: every session and every API token of the user ends. Returns how many tokens were revoked. */
export async function setUserPassword(db: Db, actor: Actor, userId: string, password: string): Promise<{ tokensRevoked: number }> {
  const passwordHash = await hashPassword(parseInput(passwordSchema, password));
  const tokensRevoked = db.transaction(
    (tx) => {
      const user = requireUser(tx, userId);
      tx.update(users)
        .set({ passwordHash, sessionVersion: user.sessionVersion + 1 })
        .where(eq(users.id, userId))
        .run();
      const revoked = revokeTokensOf(tx, userId, new Date());
      appendAudit(tx, actor, { action: "user.set_password", targetType: "user", targetId: userId, details: { email: user.email, tokensRevoked: revoked } });
      return revoked;
    },
    { behavior: "immediate" },
  );
  announceAccessChange(userId);
  return { tokensRevoked };
}
