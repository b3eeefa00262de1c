// GET /api/runs/<id>/log?format=text|ndjson: the run's events and command
// output as a file. Cookie session or bearer token; viewer and up, like the
// run page (which shows the same events).
import { withCaller } from "@/server/workspace/downloads";
import { parseLogFormat, runLogDownload } from "@/server/search/run-log";

export const dynamic = "force-dynamic";

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const format = new URL(req.url).searchParams.get("format");
  return withCaller(req, "viewer", "download a run's log", async (database) => runLogDownload(database, id, parseLogFormat(format)));
}
