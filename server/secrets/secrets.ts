// The secret store: named values admins keep for agents' commands, encrypted
// at rest, granted to one run at a time through an approved request_secret.
// No function here returns a value to a caller outside the execution path,
// and no audit event carries one.
import crypto from "node:crypto";
import { and, asc, count, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { projects, secretExposures, secretGrants, secrets, SECRET_NAME_RE, type Run, type Secret } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { requireProject } from "@/server/projects/projects";
import { decryptSecret, encryptSecret } from "@/server/secrets/crypto";
import { dataKey } from "@/server/secrets/keys";
import { SecretRedactor, type SecretValue } from "@/server/secrets/redaction";

/** Shorter values would be redacted from ordinary output by accident, or not reliably at all. */
export const MIN_SECRET_CHARS = 8;
export const MAX_SECRET_BYTES = 64 * 1024;

const secretName = z
  .string()
  .trim()
  .regex(SECRET_NAME_RE, "Secret names look like environment variables: letters, digits and _, not starting with a digit (e.g. NPM_TOKEN).");
const secretValue = z
  .string()
  .min(MIN_SECRET_CHARS, `A secret value needs at least ${MIN_SECRET_CHARS} characters, so it can be told apart from ordinary output.`)
  .refine((v) => Buffer.byteLength(v) <= MAX_SECRET_BYTES, `A secret value may be at most ${MAX_SECRET_BYTES} bytes.`)
  .refine((v) => !v.includes("\0"), "A secret value cannot contain NUL bytes (it becomes an environment variable).");

export const createSecretInput = z.object({
  name: secretName,
  value: secretValue,
  description: z.string().trim().max(500).optional(),
  projectId: z.string().min(1).max(100).optional(),
});
export const updateSecretInput = z.object({
  id: z.string().min(1).max(100),
  value: secretValue.optional(),
  description: z.string().trim().max(500).optional(),
});
export const deleteSecretInput = z.object({ id: z.string().min(1).max(100) });

export interface SecretView {
  id: string;
  name: string;
  description: string;
  projectId: string | null;
  projectName: string | null;
  createdAt: Date;
  createdBy: string | null;
  updatedAt: Date;
  rotatedAt: Date | null;
  grants: number;
}

export function createSecret(db: Db, actor: Actor, input: z.infer<typeof createSecretInput>): { id: string } {
  const parsed = createSecretInput.parse(input);
  const id = crypto.randomUUID();
  // A project by id or slug (the CLI takes slugs); none: every project's runs.
  const projectId = parsed.projectId ? requireProject(db, parsed.projectId).id : null;
  db.transaction(
    (tx) => {
      const clash = tx
        .select({ id: secrets.id })
        .from(secrets)
        .where(and(eq(secrets.name, parsed.name), projectId ? eq(secrets.projectId, projectId) : isNull(secrets.projectId)))
        .get();
      if (clash)
        throw new DomainError(
          "CONFLICT",
          `A secret named ${parsed.name} already exists ${projectId ? "in this project" : "for all projects"}; rotate its value instead.`,
        );
      const now = new Date();
      tx.insert(secrets)
        .values({
          id,
          name: parsed.name,
          projectId,
          description: parsed.description ?? "",
          valueEnc: encryptSecret(parsed.value),
          createdBy: actor.userId,
          updatedAt: now,
        })
        .run();
      appendAudit(tx, actor, {
        action: "secret.create",
        targetType: "secret",
        targetId: id,
        details: { name: parsed.name, projectId, description: parsed.description ?? "" },
      });
    },
    { behavior: "immediate" },
  );
  return { id };
}

export function listSecrets(db: Db): SecretView[] {
  const grantCounts = new Map(
    db
      .select({ secretId: secretGrants.secretId, n: count() })
      .from(secretGrants)
      .groupBy(secretGrants.secretId)
      .all()
      .map((r) => [r.secretId, r.n]),
  );
  return db
    .select({ s: secrets, projectName: projects.name })
    .from(secrets)
    .leftJoin(projects, eq(projects.id, secrets.projectId))
    .orderBy(asc(secrets.name), asc(secrets.createdAt))
    .all()
    .map(({ s, projectName }) => ({
      id: s.id,
      name: s.name,
      description: s.description,
      projectId: s.projectId,
      projectName: projectName ?? null,
      createdAt: s.createdAt,
      createdBy: s.createdBy,
      updatedAt: s.updatedAt,
      rotatedAt: s.rotatedAt,
      grants: grantCounts.get(s.id) ?? 0,
    }));
}

/** Rotates the value and/or changes the description. Runs already granted the secret get the new value on their next command. */
export function updateSecret(db: Db, actor: Actor, input: z.infer<typeof updateSecretInput>): { id: string; rotatedAt: Date | null } {
  const parsed = updateSecretInput.parse(input);
  return db.transaction(
    (tx) => {
      const current = tx.select().from(secrets).where(eq(secrets.id, parsed.id)).get();
      if (!current) throw new DomainError("NOT_FOUND", `No secret with id ${parsed.id}. List them with secrets.list.`);
      const now = new Date();
      const rotatedAt = parsed.value !== undefined ? now : current.rotatedAt;
      tx.update(secrets)
        .set({
          ...(parsed.value !== undefined ? { valueEnc: encryptSecret(parsed.value), rotatedAt: now } : {}),
          ...(parsed.description !== undefined ? { description: parsed.description } : {}),
          updatedAt: now,
        })
        .where(eq(secrets.id, parsed.id))
        .run();
      appendAudit(tx, actor, {
        action: parsed.value !== undefined ? "secret.rotate" : "secret.update",
        targetType: "secret",
        targetId: parsed.id,
        details: {
          name: current.name,
          projectId: current.projectId,
          rotated: parsed.value !== undefined,
          ...(parsed.description !== undefined ? { description: parsed.description } : {}),
        },
      });
      return { id: parsed.id, rotatedAt };
    },
    { behavior: "immediate" },
  );
}

/** Deletes a secret and its grants: runs that had it stop getting it on their next command. */
export function deleteSecret(db: Db, actor: Actor, input: z.infer<typeof deleteSecretInput>): { id: string } {
  const parsed = deleteSecretInput.parse(input);
  db.transaction(
    (tx) => {
      const current = tx.select().from(secrets).where(eq(secrets.id, parsed.id)).get();
      if (!current) throw new DomainError("NOT_FOUND", `No secret with id ${parsed.id}. List them with secrets.list.`);
      const grants = tx.select({ n: count() }).from(secretGrants).where(eq(secretGrants.secretId, parsed.id)).get()?.n ?? 0;
      tx.delete(secrets).where(eq(secrets.id, parsed.id)).run();
      appendAudit(tx, actor, {
        action: "secret.delete",
        targetType: "secret",
        targetId: parsed.id,
        details: { name: current.name, projectId: current.projectId, grants },
      });
    },
    { behavior: "immediate" },
  );
  return { id: parsed.id };
}

/** The secret a run's request for `name` refers to: its project's own first, then one for all projects. */
export function findSecretForRun(db: Db, run: Pick<Run, "projectId">, name: string): Secret | null {
  if (run.projectId) {
    const own = db
      .select()
      .from(secrets)
      .where(and(eq(secrets.name, name), eq(secrets.projectId, run.projectId)))
      .get();
    if (own) return own;
  }
  return (
    db
      .select()
      .from(secrets)
      .where(and(eq(secrets.name, name), isNull(secrets.projectId)))
      .get() ?? null
  );
}

export interface GrantInput {
  runId: string;
  secret: Secret;
  toolCallId: string | null;
  approvalId: string | null;
  grantedBy: string | null;
}

/** Records that a run may use a secret (idempotent per run and secret), audited in the same transaction. */
export function grantSecret(db: Db, actor: Actor, input: GrantInput): { grantId: string; alreadyGranted: boolean } {
  return db.transaction(
    (tx) => {
      const existing = tx
        .select({ id: secretGrants.id })
        .from(secretGrants)
        .where(and(eq(secretGrants.runId, input.runId), eq(secretGrants.secretId, input.secret.id)))
        .get();
      if (existing) return { grantId: existing.id, alreadyGranted: true };
      const id = crypto.randomUUID();
      tx.insert(secretGrants)
        .values({ id, runId: input.runId, secretId: input.secret.id, toolCallId: input.toolCallId, approvalId: input.approvalId, grantedBy: input.grantedBy })
        .run();
      appendAudit(tx, actor, {
        action: "secret.grant",
        targetType: "secret",
        targetId: input.secret.id,
        details: { name: input.secret.name, runId: input.runId, toolCallId: input.toolCallId, approvalId: input.approvalId, grantedBy: input.grantedBy },
      });
      return { grantId: id, alreadyGranted: false };
    },
    { behavior: "immediate" },
  );
}

/** The names and values of the secrets granted to a run (execution path only: env and redaction). */
export function grantedSecretValues(db: Db, runId: string): SecretValue[] {
  return db
    .select({ name: secrets.name, valueEnc: secrets.valueEnc })
    .from(secretGrants)
    .innerJoin(secrets, eq(secrets.id, secretGrants.secretId))
    .where(eq(secretGrants.runId, runId))
    .orderBy(asc(secretGrants.createdAt))
    .all()
    .map((r) => ({ name: r.name, value: decryptSecret(r.valueEnc) }));
}

export function grantedSecretNames(db: Db, runId: string): string[] {
  return db
    .select({ name: secrets.name })
    .from(secretGrants)
    .innerJoin(secrets, eq(secrets.id, secretGrants.secretId))
    .where(eq(secretGrants.runId, runId))
    .all()
    .map((r) => r.name);
}

/** For showing a run's diffs: every value the run was given (current grants and earlier ones), without recording anything. */
export function redactorForRun(db: Db, runId: string): SecretRedactor {
  const earlier = exposuresOf(db, runId).map((e) => ({ name: e.name, value: decryptSecret(e.valueEnc) }));
  return new SecretRedactor([...grantedSecretValues(db, runId), ...earlier]);
}

function exposuresOf(db: Db, runId: string) {
  return db
    .select({ name: secretExposures.name, valueMac: secretExposures.valueMac, valueEnc: secretExposures.valueEnc })
    .from(secretExposures)
    .where(eq(secretExposures.runId, runId))
    .all();
}

function valueMac(value: string): string {
  return crypto.createHmac("sha256", dataKey("secrets")!).update(value).digest("hex");
}

/**
 * What a run's commands and outputs need: the environment to add (current
 * values of its granted secrets) and the redactor to apply, which also knows
 * every value the run was ever given — a rotated or deleted secret's old
 * value can still be in its files or processes.
 */
export function secretsForRun(db: Db, runId: string): { env: Record<string, string>; redactor: SecretRedactor; values: SecretValue[] } {
  const values = grantedSecretValues(db, runId);
  const exposed = exposuresOf(db, runId);
  // Record a value the first time the run is given it (this runs for every command: no write once known).
  const known = new Set(exposed.map((e) => e.valueMac));
  const fresh = values.map((v) => ({ ...v, mac: valueMac(v.value) })).filter((v) => !known.has(v.mac));
  if (fresh.length > 0) {
    db.transaction((tx) => {
      for (const v of fresh) {
        tx.insert(secretExposures)
          .values({ id: crypto.randomUUID(), runId, name: v.name, valueMac: v.mac, valueEnc: encryptSecret(v.value) })
          .onConflictDoNothing()
          .run();
      }
    });
  }
  const current = new Set(values.map((v) => v.value));
  const earlier = exposed.map((e) => ({ name: e.name, value: decryptSecret(e.valueEnc) })).filter((e) => !current.has(e.value));
  return { env: Object.fromEntries(values.map((v) => [v.name, v.value])), redactor: new SecretRedactor([...values, ...earlier]), values };
}
