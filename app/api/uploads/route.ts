// POST /api/uploads?name=<file name>: an archive (tar, tar.gz or zip) as the
// raw request body, to start a run's workspace from ({type: "archive",
// uploadId} in runs.create). Checked entry by entry; operator and up.
import { config } from "@/server/config/env";
import { problem, withCaller } from "@/server/workspace/downloads";
import { storeUpload } from "@/server/workspace/uploads";
import { crossSiteRefusal, crossSiteResponse } from "@/server/auth/csrf";

export const dynamic = "force-dynamic";

export async function POST(req: Request) {
  // A form on another site could post an archive with the visitor's cookie (M3).
  const refusal = crossSiteRefusal(req.method, req.headers);
  if (refusal) return crossSiteResponse(refusal);
  return withCaller(req, "operator", "upload an archive", async (database, actor) => {
    if (!req.body) return problem(400, "Send the archive as the request body (Content-Type: application/octet-stream).");
    const name = new URL(req.url).searchParams.get("name") ?? req.headers.get("x-filename");
    const upload = await storeUpload(database, actor, config().dataDir, req.body, name);
    return Response.json(
      {
        id: upload.id,
        filename: upload.filename,
        format: upload.format,
        sizeBytes: upload.sizeBytes,
        fileCount: upload.fileCount,
        expandedBytes: upload.expandedBytes,
      },
      { status: 201, headers: { "Cache-Control": "no-store" } },
    );
  });
}
