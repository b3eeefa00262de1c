// GET /metrics: Prometheus text format, for an admin's token or one with the metrics scope (server/metrics/scrape.ts).
import { db } from "@/db/client";
import { scrapeResponse } from "@/server/metrics/scrape";

export const dynamic = "force-dynamic";

export async function GET(req: Request) {
  return scrapeResponse(db(), req.headers);
}
