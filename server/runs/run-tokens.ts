// Run tokens: the bearer secret an external agent uses at /api/mcp. One per
// external run, shown once at creation, stored as SHA-256, valid only for its
// run while the run is live; the state machine revokes it in the transaction
// that ends the run.
import crypto from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs, runTokens, type Run, type RunToken } from "@/db/schema";
import { hashToken } from "@/server/auth/tokens";
import { config } from "@/server/config/env";
import { isTerminal } from "@/server/runs/state-machine";

/** Run tokens look different from personal API tokens (`alk_`), so a mix-up can be explained. */
export const RUN_TOKEN_PREFIX = "alr_";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Creates the token of a new external run inside its creating transaction; returns the secret (never stored). */
export function issueRunTokenInTx(tx: Tx, runId: string): string {
  const token = RUN_TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
  tx.insert(runTokens)
    .values({ runId, tokenHash: hashToken(token), prefix: token.slice(0, 10) })
    .run();
  return token;
}

export type RunTokenCheck =
  | { ok: true; run: Run; token: RunToken }
  /** The token belonged to a run that has ended: nothing may run under it any more. */
  | { ok: false; reason: "ended"; run: Run; token: RunToken }
  | { ok: false; reason: "missing" | "malformed" | "api_token" | "unknown" };

/** Reads `Authorization: Bearer <run token>` and says whose run it opens, or why it opens none. */
export function checkRunToken(db: Db, authorization: string | null): RunTokenCheck {
  if (!authorization) return { ok: false, reason: "missing" };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) return { ok: false, reason: "malformed" };
  const secret = match[1]!;
  if (secret.startsWith("alk_")) return { ok: false, reason: "api_token" };
  if (!secret.startsWith(RUN_TOKEN_PREFIX)) return { ok: false, reason: "unknown" };
  const row = db
    .select()
    .from(runTokens)
    .innerJoin(runs, eq(runTokens.runId, runs.id))
    .where(eq(runTokens.tokenHash, hashToken(secret)))
    .get();
  if (!row) return { ok: false, reason: "unknown" };
  if (row.run_tokens.revokedAt || isTerminal(row.runs.state)) return { ok: false, reason: "ended", run: row.runs, token: row.run_tokens };
  return { ok: true, run: row.runs, token: row.run_tokens };
}

/** Records MCP activity; returns true for the first request ever made with the token. */
export function touchRunToken(db: Db, runId: string, now = new Date()): boolean {
  const first = db
    .update(runTokens)
    .set({ connectedAt: now, lastUsedAt: now })
    .where(and(eq(runTokens.runId, runId), isNull(runTokens.connectedAt)))
    .run();
  if (first.changes === 1) return true;
  db.update(runTokens).set({ lastUsedAt: now }).where(eq(runTokens.runId, runId)).run();
  return false;
}

export function runTokenOf(db: Db, runId: string): RunToken | undefined {
  return db.select().from(runTokens).where(eq(runTokens.runId, runId)).get();
}

/** Where external agents connect: the dashboard's public URL (NEXTAUTH_URL, as npm start sets it; see readPublicUrl) plus /api/mcp. */
export function mcpUrl(publicUrl: string = config().publicUrl): string {
  return `${publicUrl}/api/mcp`;
}
