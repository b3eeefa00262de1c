// Cross-site request forgery: a page on another origin (even another port of
// the same host, which counts as the same *site*, so SameSite=Lax cookies
// still go along) can make the browser send a form POST with the visitor's
// session cookie. State-changing requests that ride on a cookie must
// therefore come from the dashboard's own origin. Modern browsers say where a
// request comes from in Sec-Fetch-Site and Origin; neither can be set by a
// form or by a cross-origin script without a CORS preflight we never grant.
import { bearerToken, SESSION_COOKIES, parseCookies } from "@/server/auth/identity";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const CROSS_SITE_MESSAGE =
  "Refused: this request came from another site (or another port of this host) and would act with your session. Use the Airlock dashboard itself, or call the API with an API token (Authorization: Bearer …).";

/**
 * Why a request must be refused as cross-site, or null when it may go on.
 * Only cookie-authenticated, state-changing requests are judged: a call with
 * a bearer token and no session cookie carries no ambient credential, so a
 * forged form cannot make it (and MCP or CLI clients send no Origin at all).
 */
export function crossSiteRefusal(method: string, headers: Headers): string | null {
  if (SAFE_METHODS.has(method.toUpperCase())) return null;
  const cookies = parseCookies(headers.get("cookie"));
  const hasSessionCookie = SESSION_COOKIES.some((name) => cookies.has(name));
  if (bearerToken(headers.get("authorization")) && !hasSessionCookie) return null;

  const site = headers.get("sec-fetch-site");
  // "none": the user started the request (address bar, bookmark); "same-origin": our own pages.
  if (site && site !== "same-origin" && site !== "none") return CROSS_SITE_MESSAGE;

  const origin = headers.get("origin");
  if (origin !== null) {
    let host: string;
    try {
      host = new URL(origin).host; // "null" (sandboxed frames, data: URLs) throws
    } catch {
      return CROSS_SITE_MESSAGE;
    }
    // The host the browser addressed; behind a proxy, the one the proxy says it forwarded
    // (a browser cannot set X-Forwarded-Host on a cross-origin request).
    const forwardedHost = headers.get("x-forwarded-host")?.split(",")[0]?.trim();
    const ownHosts = [headers.get("host"), forwardedHost].filter((h): h is string => Boolean(h)).map((h) => h.toLowerCase());
    if (!ownHosts.includes(host.toLowerCase())) return CROSS_SITE_MESSAGE;
  }
  // Neither header: not a browser that could be tricked (browsers send Origin on every POST).
  return null;
}

/** The 403 answer for a refused cross-site request, in the tRPC/JSON error shape. */
export function crossSiteResponse(message: string): Response {
  return Response.json({ error: { message, code: "CROSS_SITE_REQUEST" } }, { status: 403, headers: { "Cache-Control": "no-store" } });
}
