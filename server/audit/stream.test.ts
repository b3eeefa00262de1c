// The audit stream under a burst: more events than the batch processor's queue
// holds reach the collector, every one, once and in chain order (the stream
// reads no faster than the processor sends). A plain loopback OTLP/HTTP receiver.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { appendAuditEvents, SYSTEM_ACTOR } from "@/server/audit/chain";
import { createAuditStream } from "@/server/audit/stream";
import { readOtlpLogSettings } from "@/server/config/env";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { waitFor } from "@/test/helpers/runs";

const BURST = 12_000; // above the processor's queue of 10 000

let t: TestDb;
let server: http.Server;
let url: string;
const seqs: number[] = [];

beforeAll(async () => {
  t = createTestDb();
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceLogs: { scopeLogs: { logRecords: { attributes: { key: string; value: { intValue?: number | string } }[] }[] }[] }[];
      };
      for (const rl of body.resourceLogs)
        for (const sl of rl.scopeLogs)
          for (const lr of sl.logRecords) seqs.push(Number(lr.attributes.find((a) => a.key === "airlock.audit.seq")?.value.intValue));
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  t.close();
});

it("a burst larger than the export queue reaches the collector whole, once each and in chain order", async () => {
  const start = Number(t.db.$client.prepare("select coalesce(max(seq), 0) from audit_events").pluck().get());
  const stream = createAuditStream(t.db, readOtlpLogSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: url })!, { batchDelayMs: 20, pollMs: 100 });
  try {
    t.db.transaction(
      (tx) =>
        appendAuditEvents(
          tx,
          Array.from({ length: BURST }, (_, i) => ({ actor: SYSTEM_ACTOR, input: { action: "test.burst", details: { i } } })),
        ),
      {
        behavior: "immediate",
      },
    );
    await waitFor(`${BURST} records at the collector (have ${seqs.length})`, () => seqs.length >= BURST, 60_000);
    await stream.flush();
    expect(seqs).toEqual(Array.from({ length: BURST }, (_, i) => start + i + 1));
    expect(stream.status().failedRecords).toBe(0);
  } finally {
    await stream.stop();
  }
}, 90_000);
