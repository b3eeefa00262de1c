// GET /api/runs/<id>/bundle[?checkpointId=…]: the run's result as a git
// bundle with one branch (airlock/run-<id>). Cookie session or bearer token; viewer and up.
import { download, withCaller } from "@/server/workspace/downloads";
import { resultBundle } from "@/server/workspace/merge-back";

export const dynamic = "force-dynamic";

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const checkpointId = new URL(req.url).searchParams.get("checkpointId") ?? undefined;
  return withCaller(req, "viewer", "download a run's bundle", async (database, actor) => download(database, actor, id, "bundle", await resultBundle(database, id, checkpointId), "application/x-git-bundle"));
}
