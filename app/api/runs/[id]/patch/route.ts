// GET /api/runs/<id>/patch[?checkpointId=…]: the run's result as a git patch
// (git am / git apply). Cookie session or bearer token; viewer and up (below reviewer, granted secrets show as [secret:NAME]).
import { downloadResult, withCaller } from "@/server/workspace/downloads";

export const dynamic = "force-dynamic";

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const checkpointId = new URL(req.url).searchParams.get("checkpointId") ?? undefined;
  return withCaller(req, "viewer", "download a run's patch", (database, actor, role) => downloadResult(database, actor, role, id, "patch", checkpointId));
}
