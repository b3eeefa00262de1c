// The database schema: one table per domain concept, plural names.
import { relations, sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const ROLES = ["viewer", "operator", "reviewer", "admin"] as const;
export type Role = (typeof ROLES)[number];

const createdAt = () =>
  integer("created_at", { mode: "timestamp_ms" })
    .notNull()
    .default(sql`(unixepoch('subsec') * 1000)`);

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    name: text("name"),
    role: text("role", { enum: ROLES }).notNull(),
    passwordHash: text("password_hash"),
    // Bumped on disable, role change and password change so that existing
    // sessions (stateless JWTs) stop working at once.
    sessionVersion: integer("session_version").notNull().default(1),
    disabledAt: integer("disabled_at", { mode: "timestamp_ms" }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("users_email_unique").on(t.email)],
);

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // SHA-256 of the token; the token itself is shown once and never stored.
    tokenHash: text("token_hash").notNull(),
    prefix: text("prefix").notNull(),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
  },
  (t) => [uniqueIndex("api_tokens_hash_unique").on(t.tokenHash), index("api_tokens_user_idx").on(t.userId)],
);

export const loginThrottles = sqliteTable("login_throttles", {
  // "email:<address>" or "ip:<address>": both are throttled.
  key: text("key").primaryKey(),
  failures: integer("failures").notNull().default(0),
  lastFailureAt: integer("last_failure_at", { mode: "timestamp_ms" }).notNull(),
  lockedUntil: integer("locked_until", { mode: "timestamp_ms" }),
});

export const auditEvents = sqliteTable(
  "audit_events",
  {
    seq: integer("seq").primaryKey(),
    id: text("id").notNull(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
    actorId: text("actor_id"),
    actorLabel: text("actor_label").notNull(),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    details: text("details").notNull().default("{}"),
    sourceIp: text("source_ip"),
    tokenId: text("token_id"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    uniqueIndex("audit_events_id_unique").on(t.id),
    index("audit_events_actor_idx").on(t.actorId),
    index("audit_events_action_idx").on(t.action),
    index("audit_events_target_idx").on(t.targetType, t.targetId),
    index("audit_events_at_idx").on(t.at),
  ],
);

// The chain's head (count and last hash), updated in the same transaction as
// each append: deleting events from the end of the chain shows up as a
// mismatch here.
export const auditHead = sqliteTable("audit_head", {
  id: integer("id").primaryKey(),
  count: integer("count").notNull(),
  lastSeq: integer("last_seq").notNull(),
  lastHash: text("last_hash").notNull(),
});

export const usersRelations = relations(users, ({ many }) => ({ apiTokens: many(apiTokens) }));
export const apiTokensRelations = relations(apiTokens, ({ one }) => ({
  user: one(users, { fields: [apiTokens.userId], references: [users.id] }),
}));

export type User = typeof users.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
export type AuditEvent = typeof auditEvents.$inferSelect;
