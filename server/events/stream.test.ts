// runs.events over the real tRPC route handler (SSE): a client that drops
// and reconnects with lastEventId gets every event exactly once, in order.
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
let publish: (text: string) => void;
let publishOutput: (text: string) => void;
let flushOutput: () => void;

async function readSse(res: Response, want: number, onEach?: (id: number) => void): Promise<{ id: number; data: unknown }[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const events: { id: number; data: unknown }[] = [];
  while (events.length < want) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const id = /^id: ?(.*)$/m.exec(frame)?.[1];
      const data = /^data: ?(.*)$/m.exec(frame)?.[1];
      if (id && data) {
        events.push({ id: Number(id), data: JSON.parse(data) });
        onEach?.(Number(id));
      }
    }
  }
  await reader.cancel();
  return events;
}

function subscribe(lastEventId?: number): Promise<Response> {
  const input = encodeURIComponent(JSON.stringify({ json: { id: runId } }));
  const headers = new Headers({ authorization: `Bearer ${token}` });
  if (lastEventId) headers.set("last-event-id", String(lastEventId));
  return GET(new Request(`http://localhost/api/trpc/runs.events?input=${input}`, { headers }));
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-sse-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
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
  runId = createRun(db, { ...actorOf(operator), userId: operator.id }, { title: "sse", task: "t", modelId }).id;
  publish = (text) => publishRunEvent(db, runId, "note", { text });
  // Command output takes the gateway's path: coalesced by OutputBuffer, then published.
  const { OutputBuffer } = await import("@/server/tools/output");
  const output = new OutputBuffer((chunk, stream) => publishRunEvent(db, runId, "output", { toolCallId: "call-1", stream, text: chunk }));
  publishOutput = (text) => output.push(text, "stdout");
  flushOutput = () => output.flush();
}, 120_000); // importing the whole router is slow on a loaded machine

afterAll(() => {
  db?.$client.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("runs.events", () => {
  it("replays stored events, streams live ones, and resumes after a reconnect without loss or duplicates", async () => {
    for (let i = 0; i < 5; i++) publish(`before-${i}`);
    const first = await subscribe();
    expect(first.headers.get("content-type")).toContain("text/event-stream");
    // Live events arrive while the client reads; it drops after 8 events.
    let sent = 0;
    const firstBatch = await readSse(first, 8, () => {
      if (sent < 10) publish(`live-${sent++}`);
    });
    // More events happen while the client is disconnected.
    for (let i = 0; i < 4; i++) publish(`gap-${i}`);
    const lastSeen = firstBatch.at(-1)!.id;
    const second = await subscribe(lastSeen);
    const rows = db.$client.prepare("select count(*) n from run_events where run_id = ?").get(runId) as { n: number };
    const remaining = rows.n - firstBatch.length;
    const secondBatch = await readSse(second, remaining);
    const all = [...firstBatch, ...secondBatch];
    const ids = all.map((e) => e.id);
    const stored = (db.$client.prepare("select id from run_events where run_id = ? order by id").all(runId) as { id: number }[]).map((r) => r.id);
    expect(ids).toEqual(stored);
    expect(new Set(ids).size).toBe(ids.length);
    const texts = all.map((e) => (e.data as { json?: { payload?: { text?: string } } }).json?.payload?.text).filter(Boolean);
    expect(texts).toContain("gap-3");
  });

  it("L1: 20 viewers of a command's live output each receive all of its 200 000 lines, in order", async () => {
    const lines = 200_000;
    const after = (db.$client.prepare("select max(id) n from run_events where run_id = ?").get(runId) as { n: number }).n;
    const viewers = await Promise.all(Array.from({ length: 20 }, () => subscribe(after)));
    // What `seq 1 200000` prints (1.3 MB, under the live stream's 2 MiB cap), in the 64 KB pieces an exec stream delivers.
    const printed = Array.from({ length: lines }, (_, i) => `${i + 1}\n`).join("");
    for (let i = 0; i < printed.length; i += 64 * 1024) publishOutput(printed.slice(i, i + 64 * 1024));
    flushOutput();
    const published = (db.$client.prepare("select count(*) n from run_events where run_id = ? and id > ?").get(runId, after) as { n: number }).n;
    const received = await Promise.all(viewers.map((res) => readSse(res, published)));
    for (const events of received) {
      const text = events.map((e) => (e.data as { json: { payload: { text: string } } }).json.payload.text).join("");
      expect(text.length).toBe(printed.length);
      expect(text === printed).toBe(true);
    }
  }, 60_000);

  it("L2: the route streams SSE through the chunked encoder (Node 20's own TextEncoderStream costs several times the CPU per viewer)", async () => {
    const { ChunkTextEncoderStream } = await import("@/server/api/text-encoder-stream");
    expect(new TextEncoderStream()).toBeInstanceOf(ChunkTextEncoderStream);
  });

  it("refuses an anonymous subscriber", async () => {
    const input = encodeURIComponent(JSON.stringify({ json: { id: runId } }));
    const res = await GET(new Request(`http://localhost/api/trpc/runs.events?input=${input}`));
    const text = await res.text();
    expect(text).toMatch(/UNAUTHORIZED|Sign in/);
  });
});
