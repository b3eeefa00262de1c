// POST /api/approvals/act {token, decision, reason?}: a push notification's
// Approve / Deny button. Decides only for the signed-in user the token was
// issued to (session cookie from the service worker, or a bearer token), with
// every check of the dashboard made again (server/notify/action-tokens.ts).
import { z } from "zod";
import { db } from "@/db/client";
import { APPROVAL_ACTION_MAX_BODY_BYTES as MAX_BODY_BYTES, declaredTooLarge, payloadTooLarge, readCappedBody } from "@/server/api/body-limit";
import { crossSiteRefusal, crossSiteResponse } from "@/server/auth/csrf";
import { identityFromHeaders } from "@/server/auth/identity";
import { clientIpFromHeaders } from "@/server/auth/request-ip";
import { ActionRefused, actOnApproval } from "@/server/notify/action-tokens";

export const dynamic = "force-dynamic";

const actSchema = z.object({
  token: z.string().min(1).max(200),
  decision: z.enum(["approve", "deny"]),
  reason: z.string().max(4000).optional(),
});

function refusal(status: number, code: string, message: string, approvalId?: string): Response {
  return Response.json({ error: { code, message, ...(approvalId ? { approvalId } : {}) } }, { status, headers: { "Cache-Control": "no-store" } });
}

export async function POST(req: Request): Promise<Response> {
  // The service worker's fetch is same-origin; a form or script on another site riding the cookie is not.
  const crossSite = crossSiteRefusal(req.method, req.headers);
  if (crossSite) return crossSiteResponse(crossSite);
  const tooLarge = declaredTooLarge(req, MAX_BODY_BYTES);
  if (tooLarge) return tooLarge;
  if ((req.headers.get("content-type") ?? "").split(";", 1)[0]!.trim().toLowerCase() !== "application/json") {
    return refusal(415, "UNSUPPORTED_MEDIA_TYPE", "Send {token, decision, reason?} as JSON (Content-Type: application/json).");
  }
  const body = await readCappedBody(req, MAX_BODY_BYTES);
  if (!body) return payloadTooLarge(`over ${MAX_BODY_BYTES} bytes`, MAX_BODY_BYTES);
  let parsed: z.infer<typeof actSchema>;
  try {
    const result = actSchema.safeParse(JSON.parse(new TextDecoder().decode(body)));
    if (!result.success) {
      const detail = result.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
      return refusal(400, "INVALID_INPUT", `Invalid input: ${detail}. Send {token, decision: "approve" | "deny", reason?}.`);
    }
    parsed = result.data;
  } catch {
    return refusal(400, "INVALID_INPUT", "The body is not JSON. Send {token, decision, reason?}.");
  }

  const database = db();
  const identity = await identityFromHeaders(database, req.headers);
  const caller = identity
    ? {
        actor: { userId: identity.user.id, label: identity.user.email, sourceIp: clientIpFromHeaders(req.headers), tokenId: identity.tokenId },
        role: identity.user.role,
      }
    : null;
  try {
    const approval = actOnApproval(database, caller, parsed);
    return Response.json({ state: approval.state, approvalId: approval.id }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    if (error instanceof ActionRefused) return refusal(error.status, error.code, error.message, error.approvalId);
    console.error("airlock: a notification action failed:", error);
    return refusal(500, "INTERNAL", `The decision could not be recorded: ${(error as Error).message}`);
  }
}
