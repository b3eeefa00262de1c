// Who may scrape GET /metrics, and the scrape itself. A Prometheus scraper has
// no session: it sends an API token, which must belong to an admin or carry the
// "metrics" scope. The answer is always plain text, never a sign-in redirect.
import type { Db } from "@/db/client";
import { authenticateToken, tokenHasScope } from "@/server/auth/tokens";
import { bearerToken } from "@/server/auth/identity";
import { metricsRegistry } from "@/server/metrics/registry";
import { atLeast } from "@/lib/permissions";

export type ScrapeAccess = { ok: true; userId: string } | { ok: false; status: 401 | 403; message: string };

export function authorizeScrape(db: Db, headers: Headers): ScrapeAccess {
  const token = bearerToken(headers.get("authorization"));
  if (!token) {
    return { ok: false, status: 401, message: "Send an API token: Authorization: Bearer <token> (an admin's token, or one created with the metrics scope)." };
  }
  const found = authenticateToken(db, token);
  if (!found) return { ok: false, status: 401, message: "This API token is unknown, revoked or expired, or its user is disabled." };
  if (!atLeast(found.user.role, "admin") && !tokenHasScope(found.token, "metrics")) {
    return {
      ok: false,
      status: 403,
      message: `This token may not read /metrics: it belongs to a ${found.user.role} and lacks the metrics scope. Create a token with "May read /metrics" ticked (Settings → API tokens) or \`airlock token create --scope metrics\`.`,
    };
  }
  return { ok: true, userId: found.user.id };
}

/** The whole scrape as a Response (the route handler is only this call). */
export async function scrapeResponse(db: Db, headers: Headers): Promise<Response> {
  const access = authorizeScrape(db, headers);
  if (!access.ok) {
    return new Response(`${access.message}\n`, {
      status: access.status,
      headers: {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
        ...(access.status === 401 ? { "www-authenticate": 'Bearer realm="airlock-metrics"' } : {}),
      },
    });
  }
  const registry = metricsRegistry(db);
  return new Response(await registry.metrics(), { status: 200, headers: { "content-type": registry.contentType, "cache-control": "no-store" } });
}
