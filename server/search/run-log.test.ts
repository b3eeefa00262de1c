// GET /api/runs/<id>/log, called as Next.js calls it, against the process-wide
// database of a fresh data directory: who may download a run's log, and what
// the file holds in each format.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@/db/client";
import { publishRunEvent } from "@/server/events/bus";
import { createModel } from "@/server/models/models";
import { createRun } from "@/server/runs/runs";
import type { PublicUser } from "@/server/users/users";
import { actorOf, addUser, issueToken } from "@/test/helpers/users";

let dataDir: string;
let database: Db;
let viewer: PublicUser;
let runId: string;

const params = (id: string) => ({ params: Promise.resolve({ id }) });
const bearer = (user: PublicUser) => ({ authorization: `Bearer ${issueToken(database, user.id).token}` });

async function download(id: string, query = "", headers: Record<string, string> = {}) {
  const { GET } = await import("@/app/api/runs/[id]/log/route");
  return GET(new Request(`http://x/api/runs/${id}/log${query}`, { headers }), params(id));
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-log-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
  database = (await import("@/db/client")).db();
  const admin = await addUser(database, "admin");
  viewer = await addUser(database, "viewer");
  const modelId = createModel(database, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
  runId = createRun(database, { ...actorOf(admin), userId: admin.id }, { title: "Logged run", task: "print things", modelId }).id;
  publishRunEvent(database, runId, "tool_call", { toolCallId: "tc-1", seq: 1, tool: "run_command", args: { command: "echo hello" } });
  publishRunEvent(database, runId, "output", { toolCallId: "tc-1", stream: "stdout", text: "hello from the sandbox\n" });
  publishRunEvent(database, runId, "tool_result", { toolCallId: "tc-1", ok: true, code: null, message: null, result: { exitCode: 0 } });
});

afterAll(() => {
  database?.$client.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("GET /api/runs/<id>/log", () => {
  it("refuses someone who is not signed in (401), like the run page", async () => {
    const res = await download(runId, "?format=text");
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain("hello from the sandbox");
  });

  it("refuses an unknown API token (401)", async () => {
    const res = await download(runId, "", { authorization: "Bearer airlock_pat_not-a-real-token" });
    expect(res.status).toBe(401);
  });

  it("gives a viewer the run's log as a text file, command output as printed", async () => {
    const res = await download(runId, "?format=text", bearer(viewer));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="airlock-run-[0-9a-f-]{8}\.log"$/);
    const text = await res.text();
    expect(text).toContain("Airlock run");
    expect(text).toContain("Logged run");
    expect(text).toMatch(/tool call #1 run_command \{"command":"echo hello"\}\nhello from the sandbox\n\[.*\] result: ok/);
  });

  it("gives the events one per line as NDJSON", async () => {
    const res = await download(runId, "?format=ndjson", bearer(viewer));
    expect(res.headers.get("content-type")).toContain("application/x-ndjson");
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(expect.arrayContaining(["tool_call", "output", "tool_result"]));
  });

  it("answers 404 for a run that does not exist and 400 for an unknown format", async () => {
    expect((await download("no-such-run", "", bearer(viewer))).status).toBe(404);
    const bad = await download(runId, "?format=html", bearer(viewer));
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("format=ndjson");
  });
});
