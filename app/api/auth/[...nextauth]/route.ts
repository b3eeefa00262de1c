import NextAuth from "next-auth";
import { NextRequest } from "next/server";
import { authOptions } from "@/server/auth/options";
import { AUTH_MAX_BODY_BYTES, declaredTooLarge, payloadTooLarge, readCappedBody } from "@/server/api/body-limit";

const handler = NextAuth(authOptions);

/** Sign-in forms and callbacks are a few hundred bytes; anything near this is not one. */

type RouteContext = { params: Promise<{ nextauth: string[] }> };

async function POST(incoming: NextRequest, context: RouteContext) {
  const tooLarge = declaredTooLarge(incoming, AUTH_MAX_BODY_BYTES);
  if (tooLarge) return tooLarge;
  const body = await readCappedBody(incoming, AUTH_MAX_BODY_BYTES);
  if (!body) return payloadTooLarge(`over ${AUTH_MAX_BODY_BYTES} bytes`, AUTH_MAX_BODY_BYTES);
  return handler(new NextRequest(incoming.url, { method: "POST", headers: incoming.headers, body }), context);
}

export { handler as GET, POST };
