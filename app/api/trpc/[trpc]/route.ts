import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/api/root";
import { createContextFromHeaders } from "@/server/api/context";
import { declaredTooLarge, payloadTooLarge, readCappedBody, TRPC_MAX_BODY_BYTES as MAX_BODY_BYTES } from "@/server/api/body-limit";
import { crossSiteRefusal, crossSiteResponse } from "@/server/auth/csrf";
import { installChunkTextEncoderStream } from "@/server/api/text-encoder-stream";

// Subscriptions stream through TextEncoderStream; Node 20's own costs live output several times the CPU (see the module).
installChunkTextEncoderStream();

export const dynamic = "force-dynamic";

/**
 * Mutations arrive as POST with a JSON body. A plain HTML form can only send
 * urlencoded, multipart or text/plain bodies, so accepting nothing else keeps
 * forms on other sites from calling mutations (M3), along with the Origin check.
 */
function isJson(contentType: string | null): boolean {
  return (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase() === "application/json";
}

async function handler(incoming: Request) {
  const refusal = crossSiteRefusal(incoming.method, incoming.headers);
  if (refusal) return crossSiteResponse(refusal);
  const tooLarge = declaredTooLarge(incoming, MAX_BODY_BYTES);
  if (tooLarge) return tooLarge;
  let req = incoming;
  if (incoming.method === "POST") {
    if (!isJson(incoming.headers.get("content-type"))) {
      return Response.json(
        { error: { message: "Send mutations as JSON (Content-Type: application/json); form posts are refused.", code: "UNSUPPORTED_MEDIA_TYPE" } },
        { status: 415, headers: { "Cache-Control": "no-store" } },
      );
    }
    const body = await readCappedBody(incoming, MAX_BODY_BYTES);
    if (!body) return payloadTooLarge(`over ${MAX_BODY_BYTES} bytes`, MAX_BODY_BYTES);
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
