// Request bodies read up to a limit (README, "Limits"). A chunked body has no Content-Length to
// refuse it by, so the limit is enforced while reading, before anything parses it.

/** POST /api/trpc: mutations and batched calls. */
export const TRPC_MAX_BODY_BYTES = 1024 * 1024;
/** POST /api/auth/*: sign-in forms. */
export const AUTH_MAX_BODY_BYTES = 64 * 1024;
/** POST /api/approvals/act: a notification's action button. */
export const APPROVAL_ACTION_MAX_BODY_BYTES = 16 * 1024;

export function payloadTooLarge(size: string, limit: number): Response {
  return Response.json(
    {
      error: {
        message: `Request body is ${size}; the limit is ${limit} bytes. Send less (split the request or upload files another way).`,
        code: "PAYLOAD_TOO_LARGE",
      },
    },
    { status: 413, headers: { "Cache-Control": "no-store" } },
  );
}

/** The body, read up to `limit` bytes; null past the limit (the rest is not read). */
export async function readCappedBody(req: Request, limit: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!req.body) return new Uint8Array(new ArrayBuffer(0));
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(new ArrayBuffer(total));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A 413 for a declared Content-Length over the limit, else null (the body itself is checked while reading). */
export function declaredTooLarge(req: Request, limit: number): Response | null {
  const length = Number(req.headers.get("content-length") ?? "0");
  return length > limit ? payloadTooLarge(`${length} bytes`, limit) : null;
}
