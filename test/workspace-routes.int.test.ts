// The HTTP routes of issue 5 — archive upload, patch and bundle downloads —
// called as Next.js calls them, with bearer tokens, against the process-wide
// database of a fresh data directory.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@/db/client";
import { addUser, issueToken } from "@/test/helpers/users";
import { registerModel, requireDocker } from "@/test/helpers/runs";
import { agentShell, sandboxedRun } from "@/test/helpers/workspaces";
import { buildTarGz, buildZip } from "@/test/helpers/archives";
import { dockerRuntime } from "@/server/sandbox/runtime";
import { checkpointWorkspace } from "@/server/workspace/checkpoints";
import type { PublicUser } from "@/server/users/users";

let dataDir: string;
let database: Db;
let operator: PublicUser;
let viewer: PublicUser;
let runId: string;
const runtime = dockerRuntime();
const containers: string[] = [];

const bearer = (user: PublicUser) => ({ authorization: `Bearer ${issueToken(database, user.id).token}` });
const params = (id: string) => ({ params: Promise.resolve({ id }) });

beforeAll(async () => {
  await requireDocker();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-routes-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
  database = (await import("@/db/client")).db();
  const admin = await addUser(database, "admin");
  operator = await addUser(database, "operator");
  viewer = await addUser(database, "viewer");
  const modelId = registerModel(database, admin, "http://127.0.0.1:9");
  const r = await sandboxedRun(database, runtime, dataDir, operator, modelId);
  containers.push(r.containerId);
  runId = r.run.id;
  await agentShell(runtime, r.containerId, "echo result > /workspace/result.txt");
  await checkpointWorkspace(database, runId, { label: "result", kind: "tool", runtime });
});

afterAll(async () => {
  await Promise.all(containers.map((c) => runtime.removeSandbox(c).catch(() => undefined)));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("POST /api/uploads", () => {
  it("stores a good archive for an operator", async () => {
    const { POST } = await import("@/app/api/uploads/route");
    const res = await POST(
      new Request("http://x/api/uploads?name=app.tar.gz", {
        method: "POST",
        headers: bearer(operator),
        body: new Uint8Array(buildTarGz([{ name: "a.txt", content: "a" }])),
      }),
    );
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ format: "tar.gz", fileCount: 1, filename: "app.tar.gz" });
  });

  it("refuses a zip-slip archive with the reason", async () => {
    const { POST } = await import("@/app/api/uploads/route");
    const res = await POST(
      new Request("http://x/api/uploads?name=evil.zip", {
        method: "POST",
        headers: bearer(operator),
        body: new Uint8Array(buildZip([{ name: "../../etc/cron.d/evil", content: "x" }])),
      }),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/climbs out/);
  });

  it("refuses viewers and anonymous callers", async () => {
    const { POST } = await import("@/app/api/uploads/route");
    expect((await POST(new Request("http://x/api/uploads", { method: "POST", headers: bearer(viewer), body: "x" }))).status).toBe(403);
    expect((await POST(new Request("http://x/api/uploads", { method: "POST", body: "x" }))).status).toBe(401);
  });
});

describe("GET /api/runs/<id>/patch and /bundle", () => {
  it("gives a viewer the patch and the bundle, and records the download", async () => {
    const { GET: patch } = await import("@/app/api/runs/[id]/patch/route");
    const res = await patch(new Request(`http://x/api/runs/${runId}/patch`, { headers: bearer(viewer) }), params(runId));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toContain(".patch");
    expect(await res.text()).toContain("+result");
    const { GET: bundle } = await import("@/app/api/runs/[id]/bundle/route");
    const b = await bundle(new Request(`http://x/api/runs/${runId}/bundle`, { headers: bearer(viewer) }), params(runId));
    expect(b.status).toBe(200);
    expect(
      Buffer.from(await b.arrayBuffer())
        .subarray(0, 16)
        .toString(),
    ).toMatch(/^# v[23] git bundle/);
    const downloads = database.$client.prepare("select count(*) as n from audit_events where action = 'run.download'").get() as { n: number };
    expect(downloads.n).toBe(2);
  });

  it("answers 401 without credentials and 404 for an unknown run", async () => {
    const { GET } = await import("@/app/api/runs/[id]/patch/route");
    expect((await GET(new Request(`http://x/api/runs/${runId}/patch`), params(runId))).status).toBe(401);
    expect((await GET(new Request("http://x/api/runs/nope/patch", { headers: bearer(viewer) }), params("nope"))).status).toBe(404);
  });
});
