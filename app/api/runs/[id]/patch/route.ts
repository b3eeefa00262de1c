// GET /api/runs/<id>/patch[?checkpointId=…]: the run's result as a git patch
// (git am / git apply). Cookie session or bearer token; viewer and up.
import { download, withCaller } from "@/server/workspace/downloads";
import { resultPatch } from "@/server/workspace/merge-back";

export const dynamic = "force-dynamic";

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const checkpointId = new URL(req.url).searchParams.get("checkpointId") ?? undefined;
  return withCaller(req, "viewer", "download a run's patch", async (database, actor) => download(database, actor, id, "patch", await resultPatch(database, id, checkpointId), "text/x-patch; charset=utf-8"));
}
