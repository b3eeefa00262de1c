import { db } from "@/db/client";
import { identityFromHeaders } from "@/server/auth/identity";
import { clientIpFromHeaders } from "@/server/auth/request-ip";
import type { Context } from "@/server/api/trpc";
import { requireSupervisor } from "@/server/supervisor/boot";
import { processEgressController } from "@/server/egress/boot";

export async function createContextFromHeaders(headers: Headers): Promise<Context> {
  const database = db();
  return {
    db: database,
    identity: await identityFromHeaders(database, headers),
    sourceIp: clientIpFromHeaders(headers),
    userAgent: headers.get("user-agent"),
    supervisor: requireSupervisor,
    egress: processEgressController,
  };
}
