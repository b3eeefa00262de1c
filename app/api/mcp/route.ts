// MCP for external agents: Streamable HTTP, `Authorization: Bearer <run token>`.
import { db } from "@/db/client";
import { handleMcpRequest } from "@/server/agents/mcp-server";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

async function handler(req: Request) {
  return handleMcpRequest(db(), req);
}

export { handler as GET, handler as POST, handler as DELETE };
