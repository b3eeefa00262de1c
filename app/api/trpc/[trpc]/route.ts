import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/api/root";
import { createContextFromHeaders } from "@/server/api/context";

export const dynamic = "force-dynamic";

const MAX_BODY_BYTES = 1024 * 1024;

function tooLarge(size: string) {
  return Response.json(
    { error: { message: `Request body is ${size}; the limit is ${MAX_BODY_BYTES} bytes. Send less (split the request or upload files another way).`, code: "PAYLOAD_TOO_LARGE" } },
    { status: 413 },
  );
}

/** The body, read up to the limit (a chunked body has no Content-Length to refuse it by); null past the limit. */
async function readCapped(req: Request): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!req.body) return new Uint8Array(new ArrayBuffer(0));
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
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

async function handler(incoming: Request) {
  const length = Number(incoming.headers.get("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) return tooLarge(`${length} bytes`);
  let req = incoming;
  if (incoming.method === "POST") {
    const body = await readCapped(incoming);
    if (!body) return tooLarge(`over ${MAX_BODY_BYTES} bytes`);
    req = new Request(incoming.url, { method: "POST", headers: incoming.headers, body });
  }
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContextFromHeaders(req.headers),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`tRPC ${path ?? "?"} failed:`, error.cause ?? error);
    },
  });
}

export { handler as GET, handler as POST };
