// The HTTP side of workspace downloads and uploads (route handlers stay a few
// lines): who is asking, whether their role suffices, and the response.
import { db } from "@/db/client";
import type { Role } from "@/db/schema";
import { recordAudit, type Actor } from "@/server/audit/chain";
import { identityFromHeaders } from "@/server/auth/identity";
import { clientIpFromHeaders } from "@/server/auth/request-ip";
import { DomainError } from "@/server/errors/domain-error";
import { hasRole } from "@/server/users/users";
import { maySeeSecretValues } from "@/lib/permissions";
import { resultBundle, resultPatch } from "./merge-back";
import type { Db } from "@/db/client";

const STATUS: Record<DomainError["code"], number> = {
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  FORBIDDEN: 403,
  UNAUTHORIZED: 401,
  TOO_MANY_ATTEMPTS: 429,
  PRECONDITION_FAILED: 412,
  STORAGE_FULL: 507,
};

export function problem(status: number, message: string, code?: string): Response {
  return Response.json({ error: { message, ...(code ? { code } : {}) } }, { status, headers: { "Cache-Control": "no-store" } });
}

/** Resolves the caller (cookie session or bearer token) and checks the role; answers 401/403 otherwise. */
export async function withCaller(
  req: Request,
  minimum: Role,
  what: string,
  fn: (database: Db, actor: Actor & { userId: string }, role: Role) => Promise<Response>,
): Promise<Response> {
  const database = db();
  const identity = await identityFromHeaders(database, req.headers);
  if (!identity) return problem(401, `Sign in or send an API token (Authorization: Bearer …) to ${what}.`);
  if (!hasRole(identity.user.role, minimum)) return problem(403, `To ${what} you need the ${minimum} role; you are ${identity.user.role}.`);
  const actor = { userId: identity.user.id, label: identity.user.email, sourceIp: clientIpFromHeaders(req.headers), tokenId: identity.tokenId };
  try {
    return await fn(database, actor, identity.user.role);
  } catch (err) {
    if (err instanceof DomainError) return problem(STATUS[err.code], err.message, err.code);
    console.error(`airlock: ${what} failed:`, err);
    return problem(500, `Could not ${what}: ${(err as Error).message}`);
  }
}

/**
 * A run's result as a patch or bundle. Below reviewer every value the run
 * was given shows as [secret:NAME] (as in runs.diff, which viewers read);
 * reviewers and admins get the real content, which merge-back needs. Every
 * download is in the audit trail: who, which run, which form, redacted or not.
 */
export async function downloadResult(
  database: Db,
  actor: Actor,
  role: Role,
  runId: string,
  kind: "patch" | "bundle",
  checkpointId: string | undefined,
): Promise<Response> {
  const redactSecrets = !maySeeSecretValues(role);
  const opts = { checkpointId, redactSecrets };
  const file = kind === "patch" ? await resultPatch(database, runId, opts) : await resultBundle(database, runId, opts);
  recordAudit(database, actor, {
    action: "run.download",
    targetType: "run",
    targetId: runId,
    details: {
      kind,
      checkpointId: checkpointId ?? null,
      bytes: file.body.length,
      omitted: file.omitted,
      redacted: redactSecrets,
      redactedPaths: file.redacted,
    },
  });
  return new Response(new Uint8Array(file.body), {
    headers: {
      "Content-Type": kind === "patch" ? "text/x-patch; charset=utf-8" : "application/x-git-bundle",
      "Content-Disposition": `attachment; filename="${file.filename}"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      ...(file.omitted.length ? { "X-Airlock-Omitted-Paths": String(file.omitted.length) } : {}),
      ...(redactSecrets ? { "X-Airlock-Secrets-Redacted": String(file.redacted.length) } : {}),
    },
  });
}
