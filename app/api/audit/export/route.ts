// Download of the audit trail as JSONL or CSV, with the same filters as the
// audit page (GET /api/audit/export?format=csv&action=user.*&from=…).
// Cookie session or bearer token; any role (viewer and up) may export.
import { db } from "@/db/client";
import { auditExportInput, exportAuditEvents } from "@/server/audit/query";
import { identityFromHeaders } from "@/server/auth/identity";
import { hasRole } from "@/server/users/users";
import { recordAudit } from "@/server/audit/chain";
import { clientIpFromHeaders } from "@/server/auth/request-ip";

export const dynamic = "force-dynamic";

function problem(status: number, message: string) {
  return Response.json({ error: { message } }, { status, headers: { "Cache-Control": "no-store" } });
}

export async function GET(req: Request) {
  const database = db();
  const identity = await identityFromHeaders(database, req.headers);
  if (!identity) return problem(401, "Sign in or send an API token (Authorization: Bearer …) to export the audit trail.");
  if (!hasRole(identity.user.role, "viewer")) return problem(403, "Exporting the audit trail needs the viewer role.");

  const params = new URL(req.url).searchParams;
  const raw: Record<string, string> = {};
  for (const key of ["format", "actor", "action", "target", "from", "to"]) {
    const value = params.get(key)?.trim();
    if (value) raw[key] = value;
  }
  raw.format ??= "jsonl";
  const parsed = auditExportInput.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
    return problem(400, `Invalid export request: ${detail}. Use format=jsonl or format=csv, and ISO dates for from/to.`);
  }

  const file = exportAuditEvents(database, parsed.data);
  // Who took a copy of the trail is itself worth knowing.
  recordAudit(
    database,
    { userId: identity.user.id, label: identity.user.email, sourceIp: clientIpFromHeaders(req.headers), tokenId: identity.tokenId },
    {
      action: "audit.export",
      details: {
        format: parsed.data.format,
        count: file.count,
        actor: parsed.data.actor ?? null,
        action: parsed.data.action ?? null,
        target: parsed.data.target ?? null,
        from: parsed.data.from?.toISOString() ?? null,
        to: parsed.data.to?.toISOString() ?? null,
      },
    },
  );
  return new Response(file.body, {
    headers: {
      "Content-Type": `${file.contentType}; charset=utf-8`,
      "Content-Disposition": `attachment; filename="${file.filename}"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      "X-Airlock-Event-Count": String(file.count),
    },
  });
}
