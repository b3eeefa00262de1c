// Model endpoints (OpenAI-compatible). API keys are encrypted at rest and never returned.
import crypto from "node:crypto";
import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { models } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { encryptSecret } from "@/server/secrets/crypto";
import { DomainError } from "@/server/errors/domain-error";

export const modelInput = z.object({
  name: z.string().trim().min(1, 'Give the endpoint a name, e.g. "local llama".').max(100),
  baseUrl: z
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
    }, "baseUrl must be an http(s) URL such as http://localhost:11434/v1 (Ollama) or https://api.openai.com/v1"),
  model: z.string().trim().min(1, 'Name the model, e.g. "llama3.1:8b" or "gpt-4o-mini".').max(200),
  apiKey: z.string().max(4000).optional(),
});

export interface ModelView {
  id: string;
  name: string;
  baseUrl: string;
  model: string;
  hasApiKey: boolean;
  createdAt: Date;
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

export function listModels(db: Db): ModelView[] {
  return db
    .select()
    .from(models)
    .orderBy(asc(models.createdAt))
    .all()
    .map((m) => ({ id: m.id, name: m.name, baseUrl: m.baseUrl, model: m.model, hasApiKey: Boolean(m.apiKeyEnc), createdAt: m.createdAt }));
}

export function requireModel(db: Db, id: string) {
  const m = db.select().from(models).where(eq(models.id, id)).get();
  if (!m) throw new DomainError("NOT_FOUND", `No model endpoint with id ${id}. List them with models.list.`);
  return m;
}
