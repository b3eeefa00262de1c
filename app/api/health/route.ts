import { db } from "@/db/client";
import { checkHealth } from "@/server/health/health";

export const dynamic = "force-dynamic";

export async function GET() {
  const report = await checkHealth(db);
  return Response.json(report, { status: report.ok ? 200 : 503 });
}
