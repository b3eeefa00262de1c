import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/api/root";
import { createContextFromHeaders } from "@/server/api/context";

export const dynamic = "force-dynamic";

const MAX_BODY_BYTES = 1024 * 1024;

async function handler(req: Request) {
  const length = Number(req.headers.get("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) {
    return Response.json(
      { error: { message: `Request body is ${length} bytes; the limit is ${MAX_BODY_BYTES} bytes. Send less (split the request or upload files another way).`, code: "PAYLOAD_TOO_LARGE" } },
      { status: 413 },
    );
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
