// Model endpoints (OpenAI-compatible). API keys are encrypted at rest and never returned.
import crypto from "node:crypto";
import { and, asc, desc, eq, isNotNull, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { models, runs } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { decryptSecret, encryptSecret } from "@/server/secrets/crypto";
import { DomainError } from "@/server/errors/domain-error";

const nameField = z.string().trim().min(1, 'Give the endpoint a name, e.g. "local llama".').max(100);
const baseUrlField = z
  .string()
  .trim()
  .max(2000)
  .refine((u) => {
    try {
      const p = new URL(u);
      return p.protocol === "http:" || p.protocol === "https:";
    } catch {
      return false;
    }
  }, "baseUrl must be an http(s) URL such as http://localhost:11434/v1 (Ollama) or https://api.openai.com/v1");
const modelField = z.string().trim().min(1, 'Name the model, e.g. "llama3.1:8b" or "gpt-4o-mini".').max(200);

export const modelInput = z.object({
  name: nameField,
  baseUrl: baseUrlField,
  model: modelField,
  apiKey: z.string().max(4000).optional(),
});

/**
 * models.update: fields left out keep their value. The key is kept unless
 * `apiKey` replaces it (a non-empty string) or `clearApiKey` removes it.
 */
export const modelUpdateInput = z.object({
  id: z.string().min(1),
  name: nameField.optional(),
  baseUrl: baseUrlField.optional(),
  model: modelField.optional(),
  apiKey: z.string().min(1, "Leave the key out to keep it, or set clearApiKey to remove it.").max(4000).optional(),
  clearApiKey: z.boolean().optional(),
});

/** models.test: a saved endpoint (`id`), optionally with unsaved edits of its address, model or key (the edit form's "Test" before saving). */
export const modelTestInput = z
  .object({
    id: z.string().min(1).optional(),
    baseUrl: baseUrlField.optional(),
    model: modelField.optional(),
    apiKey: z.string().max(4000).optional(),
  })
  .refine((v) => v.id !== undefined || v.baseUrl !== undefined, "Name a saved endpoint (id) or a baseUrl to test.");

/** What leaves the server about an endpoint (models.list, models.update): never the key, only whether one is set. */
export const modelViewOutput = z.object({
  id: z.string(),
  name: z.string(),
  baseUrl: z.string(),
  model: z.string(),
  hasApiKey: z.boolean(),
  createdAt: z.date(),
  retired: z.boolean(),
  retiredAt: z.date().nullable(),
  runCount: z.number(),
  lastUsedAt: z.date().nullable(),
});

export interface ModelView {
  id: string;
  name: string;
  baseUrl: string;
  model: string;
  hasApiKey: boolean;
  createdAt: Date;
  /** Retired: runs used it, so it was kept for their history; new runs cannot choose it. */
  retired: boolean;
  retiredAt: Date | null;
  /** Runs that used it, and when the latest of them was created (null: never used). */
  runCount: number;
  lastUsedAt: Date | null;
}

export function createModel(db: Db, actor: Actor, input: z.infer<typeof modelInput>): { id: string } {
  const id = crypto.randomUUID();
  db.transaction(
    (tx) => {
      tx.insert(models)
        .values({
          id,
          name: input.name,
          baseUrl: input.baseUrl.replace(/\/+$/, ""),
          model: input.model,
          apiKeyEnc: input.apiKey ? encryptSecret(input.apiKey) : null,
          createdBy: actor.userId,
        })
        .run();
      appendAudit(tx, actor, {
        action: "model.create",
        targetType: "model",
        targetId: id,
        details: { name: input.name, baseUrl: input.baseUrl, model: input.model, hasApiKey: Boolean(input.apiKey) },
      });
    },
    { behavior: "immediate" },
  );
  return { id };
}

function usageByModel(db: Db): Map<string, { runCount: number; lastUsedAt: Date | null }> {
  const rows = db
    .select({ modelId: runs.modelId, runCount: sql<number>`count(*)`, lastUsedAt: sql<number | null>`max(${runs.createdAt})` })
    .from(runs)
    .where(isNotNull(runs.modelId))
    .groupBy(runs.modelId)
    .all();
  return new Map(rows.map((r) => [r.modelId!, { runCount: r.runCount, lastUsedAt: r.lastUsedAt === null ? null : new Date(r.lastUsedAt) }]));
}

/** Every endpoint, retired ones included (flagged): the run pages still name them. */
export function listModels(db: Db): ModelView[] {
  const usage = usageByModel(db);
  return db
    .select()
    .from(models)
    .orderBy(asc(models.createdAt))
    .all()
    .map((m) => ({
      id: m.id,
      name: m.name,
      baseUrl: m.baseUrl,
      model: m.model,
      hasApiKey: Boolean(m.apiKeyEnc),
      createdAt: m.createdAt,
      retired: m.retiredAt !== null,
      retiredAt: m.retiredAt,
      runCount: usage.get(m.id)?.runCount ?? 0,
      lastUsedAt: usage.get(m.id)?.lastUsedAt ?? null,
    }));
}

/**
 * The endpoint the user's latest built-in run used, while it is not retired:
 * the New run form preselects it. Read from the runs themselves, so there is
 * no preference to keep in step.
 */
export function lastUsedModelId(db: Db, userId: string): string | null {
  const row = db
    .select({ id: models.id })
    .from(runs)
    .innerJoin(models, eq(models.id, runs.modelId))
    .where(and(eq(runs.createdBy, userId), sql`${models.retiredAt} is null`))
    .orderBy(desc(runs.createdAt))
    .limit(1)
    .get();
  return row?.id ?? null;
}

export function requireModel(db: Db, id: string) {
  const m = db.select().from(models).where(eq(models.id, id)).get();
  if (!m) throw new DomainError("NOT_FOUND", `No model endpoint with id ${id}. List them with models.list.`);
  return m;
}

/** An endpoint a new run may use: it exists and is not retired. */
export function requireActiveModel(db: Db, id: string) {
  const m = requireModel(db, id);
  if (m.retiredAt)
    throw new DomainError("INVALID_INPUT", `The model endpoint ${m.name} is retired; choose another one (models.list shows which are not retired).`);
  return m;
}

/** Edits an endpoint (admins). Runs started later use the new values; the built-in agent reads its endpoint when a run starts. */
export function updateModel(db: Db, actor: Actor, input: z.infer<typeof modelUpdateInput>): ModelView {
  if (input.apiKey !== undefined && input.clearApiKey)
    throw new DomainError("INVALID_INPUT", "Either replace the API key (apiKey) or remove it (clearApiKey), not both.");
  db.transaction(
    (tx) => {
      const before = tx.select().from(models).where(eq(models.id, input.id)).get();
      if (!before) throw new DomainError("NOT_FOUND", `No model endpoint with id ${input.id}. List them with models.list.`);
      const set: Partial<typeof models.$inferInsert> = {};
      if (input.name !== undefined && input.name !== before.name) set.name = input.name;
      if (input.baseUrl !== undefined) {
        const baseUrl = input.baseUrl.replace(/\/+$/, "");
        if (baseUrl !== before.baseUrl) set.baseUrl = baseUrl;
      }
      if (input.model !== undefined && input.model !== before.model) set.model = input.model;
      if (input.apiKey !== undefined) set.apiKeyEnc = encryptSecret(input.apiKey);
      if (input.clearApiKey && before.apiKeyEnc) set.apiKeyEnc = null;
      if (Object.keys(set).length === 0) return;
      tx.update(models).set(set).where(eq(models.id, input.id)).run();
      // What changed, never the key itself: only whether it was replaced or removed.
      const changes: Record<string, unknown> = {};
      for (const k of ["name", "baseUrl", "model"] as const) if (k in set) changes[k] = { from: before[k], to: set[k] };
      if (input.apiKey !== undefined) changes.apiKey = "replaced";
      else if ("apiKeyEnc" in set) changes.apiKey = "removed";
      appendAudit(tx, actor, { action: "model.update", targetType: "model", targetId: input.id, details: { name: set.name ?? before.name, changes } });
    },
    { behavior: "immediate" },
  );
  return listModels(db).find((m) => m.id === input.id)!;
}

/**
 * Deletes an endpoint no run used; one that runs used is retired instead
 * (hidden from new runs, kept for the runs' history and name). Says which.
 */
export function deleteModel(db: Db, actor: Actor, id: string): { outcome: "deleted" | "retired"; runCount: number } {
  return db.transaction(
    (tx) => {
      const m = tx.select().from(models).where(eq(models.id, id)).get();
      if (!m) throw new DomainError("NOT_FOUND", `No model endpoint with id ${id}. List them with models.list.`);
      const runCount =
        tx
          .select({ n: sql<number>`count(*)` })
          .from(runs)
          .where(eq(runs.modelId, id))
          .get()?.n ?? 0;
      if (runCount === 0) {
        tx.delete(models).where(eq(models.id, id)).run();
        appendAudit(tx, actor, { action: "model.delete", targetType: "model", targetId: id, details: { name: m.name, baseUrl: m.baseUrl, model: m.model } });
        return { outcome: "deleted" as const, runCount };
      }
      if (!m.retiredAt) {
        tx.update(models).set({ retiredAt: new Date() }).where(eq(models.id, id)).run();
        appendAudit(tx, actor, { action: "model.retire", targetType: "model", targetId: id, details: { name: m.name, runCount } });
      }
      return { outcome: "retired" as const, runCount };
    },
    { behavior: "immediate" },
  );
}

/** An endpoint's connection settings with its key decrypted, for models.test (server-side only). */
export function endpointForTest(db: Db, input: z.infer<typeof modelTestInput>): { baseUrl: string; model: string; apiKey: string | null } {
  const stored = input.id ? requireModel(db, input.id) : null;
  const baseUrl = input.baseUrl ?? stored?.baseUrl;
  if (!baseUrl) throw new DomainError("INVALID_INPUT", "Name a saved endpoint (id) or a baseUrl to test.");
  return {
    baseUrl,
    model: input.model ?? stored?.model ?? "",
    apiKey: input.apiKey ? input.apiKey : stored?.apiKeyEnc ? decryptSecret(stored.apiKeyEnc) : null,
  };
}
