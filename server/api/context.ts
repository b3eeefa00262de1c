import { db } from "@/db/client";
import { identityFromHeaders } from "@/server/auth/identity";
import { clientIpFromHeaders } from "@/server/auth/request-ip";
import type { Context } from "@/server/api/trpc";

export async function createContextFromHeaders(headers: Headers): Promise<Context> {
  const database = db();
  return { db: database, identity: await identityFromHeaders(database, headers), sourceIp: clientIpFromHeaders(headers) };
}
