// Where a visitor may be sent after signing in: a path on this dashboard and
// nowhere else. The login page, the login form and next-auth's redirect
// callback all ask here, so one check decides.
//
// A prefix check is not enough: browsers drop tabs and newlines inside a URL
// ("/\t/evil.example" becomes "//evil.example"), treat "\" like "/", and
// "/.//evil.example" normalises to "//evil.example". So the value is resolved
// the way a browser would resolve it and the result must stay on our origin.

/** Any control character, any whitespace (ASCII or Unicode) and the backslash. */
const UNSAFE_CHARACTERS = /[\u0000-\u0020\u007f-\u00a0\u1680\u180e\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff\\]/;

/** Stands in for the dashboard's origin where only the path matters (a reserved, never-resolving name). */
const PLACEHOLDER_ORIGIN = "http://airlock.invalid";

/**
 * The path (with query and fragment) `value` leads to if it stays on `origin`,
 * else null: absolute URLs to other origins, protocol-relative "//host",
 * backslashes, control characters, whitespace and anything that normalises to
 * "//host" are refused.
 */
export function sameOriginPath(value: unknown, origin: string): string | null {
  if (typeof value !== "string" || value === "" || value.length > 2048 || UNSAFE_CHARACTERS.test(value)) return null;
  let base: URL;
  let url: URL;
  try {
    base = new URL(origin);
    url = new URL(value, base);
  } catch {
    return null;
  }
  if (url.origin !== base.origin || url.username || url.password) return null;
  const path = url.pathname + url.search + url.hash;
  // A path that starts with "//" reads as another host when it is put in a Location header.
  if (!path.startsWith("/") || path.startsWith("//")) return null;
  return path;
}

/** Only same-site paths are allowed after sign-in, so a crafted link can't send people elsewhere. */
export function safeCallbackPath(value: string | null | undefined, fallback = "/runs"): string {
  const path = sameOriginPath(value, PLACEHOLDER_ORIGIN);
  if (!path) return fallback;
  // Back to the login page (a loop) or to a raw API answer is never what the visitor wanted.
  const pathname = path.split(/[?#]/, 1)[0]!;
  if (pathname === "/login" || pathname.startsWith("/login/") || pathname.startsWith("/api/")) return fallback;
  return path;
}

/** next-auth's redirect callback: an absolute URL on the dashboard's own origin, else the dashboard's root. */
export function safeAuthRedirect(url: string, baseUrl: string): string {
  const origin = new URL(baseUrl).origin;
  const path = sameOriginPath(url, origin);
  return path ? origin + path : `${origin}/`;
}
