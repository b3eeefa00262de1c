// The HTTP side of workspace downloads and uploads (route handlers stay a few
// lines): who is asking, whether their role suffices, and the response.
import { db } from "@/db/client";
import type { Role } from "@/db/schema";
import { recordAudit, type Actor } from "@/server/audit/chain";
import { identityFromHeaders } from "@/server/auth/identity";
import { clientIpFromHeaders } from "@/server/auth/request-ip";
import { DomainError } from "@/server/errors/domain-error";
import { hasRole } from "@/server/users/users";
import type { Db } from "@/db/client";

const STATUS: Record<DomainError["code"], number> = {
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  FORBIDDEN: 403,
  UNAUTHORIZED: 401,
  TOO_MANY_ATTEMPTS: 429,
  PRECONDITION_FAILED: 412,
};

export function problem(status: number, message: string, code?: string): Response {
  return Response.json({ error: { message, ...(code ? { code } : {}) } }, { status, headers: { "Cache-Control": "no-store" } });
}

/** Resolves the caller (cookie session or bearer token) and checks the role; answers 401/403 otherwise. */
export async function withCaller(req: Request, minimum: Role, what: string, fn: (database: Db, actor: Actor & { userId: string }) => Promise<Response>): Promise<Response> {
  const database = db();
  const identity = await identityFromHeaders(database, req.headers);
  if (!identity) return problem(401, `Sign in or send an API token (Authorization: Bearer …) to ${what}.`);
  if (!hasRole(identity.user.role, minimum)) return problem(403, `To ${what} you need the ${minimum} role; you are ${identity.user.role}.`);
  const actor = { userId: identity.user.id, label: identity.user.email, sourceIp: clientIpFromHeaders(req.headers), tokenId: identity.tokenId };
  try {
    return await fn(database, actor);
  } catch (err) {
    if (err instanceof DomainError) return problem(STATUS[err.code], err.message, err.code);
    console.error(`airlock: ${what} failed:`, err);
    return problem(500, `Could not ${what}: ${(err as Error).message}`);
  }
}

/** A file download, recorded in the audit trail (who took a copy of a run's result matters). */
export function download(database: Db, actor: Actor, runId: string, kind: string, file: { filename: string; body: Buffer; omitted: string[] }, contentType: string): Response {
  recordAudit(database, actor, { action: "run.download", targetType: "run", targetId: runId, details: { kind, bytes: file.body.length, omitted: file.omitted } });
  return new Response(new Uint8Array(file.body), {
    headers: {
      "Content-Type": contentType,
      "Content-Disposition": `attachment; filename="${file.filename}"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      ...(file.omitted.length ? { "X-Airlock-Omitted-Paths": String(file.omitted.length) } : {}),
    },
  });
}
