// The client address as seen by the dashboard: the first X-Forwarded-For hop
// (Next's server sets it from the socket), else X-Real-IP.
export function clientIpFromHeaders(headers: Headers | Record<string, string | string[] | undefined> | undefined): string | null {
  if (!headers) return null;
  const get = (name: string): string | undefined => {
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const forwarded = get("x-forwarded-for")?.split(",")[0]?.trim();
  const ip = forwarded || get("x-real-ip")?.trim() || null;
  // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d; it is a.b.c.d.
  return ip?.replace(/^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i, "$1") ?? null;
}
