// The live-viewer limit of one run (AIRLOCK_MAX_SUBSCRIBERS_PER_RUN) over the
// real tRPC route handler (SSE): past the limit a viewer is refused with a
// TOO_MANY_REQUESTS error that names the limit, and a viewer who leaves gives
// the place back.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@/db/client";

let dataDir: string;
let db: Db;
let GET: (req: Request) => Promise<Response>;
let token: string;
let runId: string;
let otherRunId: string;

function subscribe(id: string): { res: Promise<Response>; abort: () => void } {
  const input = encodeURIComponent(JSON.stringify({ json: { id } }));
  const controller = new AbortController();
  const res = GET(
    new Request(`http://localhost/api/trpc/runs.events?input=${input}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal }),
  );
  return { res, abort: () => controller.abort() };
}

/** Reads SSE frames until one with `want` in it (or the stream ends); returns everything read. */
async function readUntil(res: Response, want: string | RegExp): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + 20_000;
  while (!(typeof want === "string" ? text.includes(want) : want.test(text)) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-sse-limit-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
  process.env.AIRLOCK_MAX_SUBSCRIBERS_PER_RUN = "2";
  const client = await import("@/db/client");
  db = client.db();
  ({ GET } = await import("@/app/api/trpc/[trpc]/route"));
  const { addUser, issueToken, actorOf } = await import("@/test/helpers/users");
  const { createModel } = await import("@/server/models/models");
  const { createRun } = await import("@/server/runs/runs");
  const { publishRunEvent } = await import("@/server/events/bus");
  const viewer = await addUser(db, "viewer");
  const operator = await addUser(db, "operator");
  token = issueToken(db, viewer.id).token;
  const modelId = createModel(db, actorOf(operator), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
  runId = createRun(db, { ...actorOf(operator), userId: operator.id }, { title: "limit", task: "t", modelId }).id;
  otherRunId = createRun(db, { ...actorOf(operator), userId: operator.id }, { title: "other", task: "t", modelId }).id;
  publishRunEvent(db, runId, "note", { text: "hello" });
  publishRunEvent(db, otherRunId, "note", { text: "hello" });
}, 120_000); // importing the whole router is slow on a loaded machine

afterAll(() => {
  delete process.env.AIRLOCK_MAX_SUBSCRIBERS_PER_RUN;
  db?.$client.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("subscribers per run", () => {
  it("L1: a viewer past AIRLOCK_MAX_SUBSCRIBERS_PER_RUN is refused with TOO_MANY_REQUESTS naming the limit; one leaving frees a place", async () => {
    const first = subscribe(runId);
    const second = subscribe(runId);
    // Both are live: each got the run's stored note.
    expect(await readUntil(await first.res, "hello")).toContain("hello");
    expect(await readUntil(await second.res, "hello")).toContain("hello");

    const third = subscribe(runId);
    const refused = await readUntil(await third.res, /event: serialized-error\ndata: .*\n/);
    expect(refused).toContain("TOO_MANY_REQUESTS");
    expect(refused).toContain("This run already has 2 live viewers");
    expect(refused).toContain("AIRLOCK_MAX_SUBSCRIBERS_PER_RUN");
    expect(refused).not.toContain("hello");

    // The limit is per run: another run's page still opens.
    const elsewhere = subscribe(otherRunId);
    expect(await readUntil(await elsewhere.res, "hello")).toContain("hello");
    elsewhere.abort();

    // A viewer who closes the page gives its place back.
    first.abort();
    let again = "";
    const delivered = () => again.includes(`"runId":"${runId}"`);
    for (let i = 0; i < 50 && !delivered(); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const next = subscribe(runId);
      again = await readUntil(await next.res, /data: \{.+\}\n/);
      next.abort();
    }
    expect(again).toContain(`"runId":"${runId}"`);
    expect(again).not.toContain("TOO_MANY_REQUESTS");
    second.abort();
  }, 60_000);

  it("L2: a subscription refused by a domain error (an unknown run) answers NOT_FOUND with its message, not INTERNAL_SERVER_ERROR", async () => {
    const missing = subscribe("no-such-run");
    const refused = await readUntil(await missing.res, /event: serialized-error\ndata: .*\n/);
    missing.abort();
    expect(refused).toContain('"code":"NOT_FOUND"');
    expect(refused).toContain('"domainCode":"NOT_FOUND"');
    expect(refused).not.toContain("INTERNAL_SERVER_ERROR");
  }, 30_000);
});
