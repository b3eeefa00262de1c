/** Only same-site paths are allowed after sign-in, so a crafted link can't send people elsewhere. */
export function safeCallbackPath(value: string | null | undefined, fallback = "/runs"): string {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return fallback;
  if (value.startsWith("/login") || value.startsWith("/api/")) return fallback;
  return value;
}
