// GET /metrics and the audit stream to a SIEM, end to end: a real supervised
// run (real container, the scripted model server) decided through the real
// approvals router, the real /metrics route handler over loopback HTTP, and a
// loopback OTLP/HTTP receiver decoding what the exporter sends.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const env = vi.hoisted(() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const [nodeFs, nodePath, nodeOs] = [require("node:fs"), require("node:path"), require("node:os")];
  process.env.AIRLOCK_DATA_DIR = nodeFs.mkdtempSync(nodePath.join(nodeOs.tmpdir(), "airlock-metrics-"));
  process.env.AIRLOCK_NOTIFY_ALLOW_HOSTS = "127.0.0.1"; // the webhook receiver below
  return { dataDir: process.env.AIRLOCK_DATA_DIR as string };
});

import { and, eq } from "drizzle-orm";
import { db as processDb, type Db } from "@/db/client";
import { approvals, auditEvents, type Run } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { appendAudit, recordAudit } from "@/server/audit/chain";
import { createAuditStream, startAuditStream, stopAuditStream, type AuditStream } from "@/server/audit/stream";
import { readOtlpLogSettings } from "@/server/config/env";
import { createWebhook, testWebhook } from "@/server/notify/webhook-endpoints";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { readExposition } from "@/test/helpers/prometheus";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";
import { getRun, newSupervisor, registerModel, requireDocker, roomyQueue, startRun, stopSupervisor, tempDataDir, waitForState } from "@/test/helpers/runs";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A plain OTLP/HTTP (and webhook) receiver on loopback: keeps every request; answers 200. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ path: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

type AnyValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };
interface OtlpRecord {
  resource: Record<string, string>;
  body: string;
  attributes: Record<string, string | number | boolean>;
}

function flatten(attrs: { key: string; value: AnyValue }[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attrs ?? [])
    out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue ?? ""));
  return out;
}

/** Decodes the exporter's OTLP/HTTP JSON (ExportLogsServiceRequest) into one entry per log record. */
function otlpRecords(received: Received[]): OtlpRecord[] {
  const out: OtlpRecord[] = [];
  for (const r of received.filter((x) => x.path === "/v1/logs")) {
    expect(r.headers["content-type"]).toBe("application/json");
    const request = JSON.parse(r.body) as {
      resourceLogs: {
        resource: { attributes: { key: string; value: AnyValue }[] };
        scopeLogs: { logRecords: { body: AnyValue; attributes: { key: string; value: AnyValue }[] }[] }[];
      }[];
    };
    for (const rl of request.resourceLogs) {
      const resource = flatten(rl.resource.attributes) as Record<string, string>;
      for (const sl of rl.scopeLogs)
        for (const lr of sl.logRecords) out.push({ resource, body: lr.body.stringValue ?? "", attributes: flatten(lr.attributes) });
    }
  }
  return out;
}

let db: Db;
let supervisor: Supervisor;
let metricsRoute: RouteServer;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let model: ScriptedModelServer;
let stream: AuditStream;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let viewer: PublicUser;
let run: Run;

const caller = async (user: PublicUser) =>
  createCallerFactory(appRouter)({ db, identity: await identityOfToken(db, issueToken(db, user.id).token), sourceIp: "192.0.2.9" });
const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });

function scrape(token?: string): Promise<Response> {
  return fetch(metricsRoute.url, { headers: token ? { authorization: `Bearer ${token}` } : {}, redirect: "manual" });
}

beforeAll(async () => {
  await requireDocker();
  db = processDb();
  roomyQueue(db);
  receiver = await startReceiver();
  // The standard variables, read and checked as at start (server/config/env.ts).
  const settings = readOtlpLogSettings({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20siem-ingest-token",
    OTEL_SERVICE_NAME: "airlock-test",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=ci",
  });
  stream = startAuditStream(db, settings, { batchDelayMs: 100 })!;
  const { GET } = await import("@/app/metrics/route");
  metricsRoute = await serveRoute("/metrics", { GET });
  [admin, operator, reviewer, viewer] = await Promise.all([addUser(db, "admin"), addUser(db, "operator"), addUser(db, "reviewer"), addUser(db, "viewer")]);
  supervisor = newSupervisor(db, tempDataDir());
  await supervisor.start();

  model = await startScriptedModelServer([
    call("submit_plan", { steps: [{ title: "write a note", risk: "low", risk_note: "one file" }] }),
    call("write_file", { path: "note.txt", content: "hello\n" }),
    call("read_file", { path: "note.txt" }),
    call("no_such_tool", {}),
    call("finish", { summary: "wrote the note", status: "success" }),
  ]);
  run = startRun(db, supervisor, operator, registerModel(db, admin, model.baseUrl), { title: "metrics run" });
  // The reviewer decides every request through the approvals router with an API token (channel "api").
  const reviewerCaller = await caller(reviewer);
  for (;;) {
    const current = getRun(db, run.id);
    if (["succeeded", "failed", "killed"].includes(current.state)) break;
    const pending = db
      .select()
      .from(approvals)
      .where(and(eq(approvals.runId, run.id), eq(approvals.state, "pending")))
      .get();
    if (pending) await reviewerCaller.approvals.decide({ id: pending.id, decision: "approve" });
    await new Promise((r) => setTimeout(r, 30));
  }
  run = await waitForState(db, run.id, ["succeeded", "failed", "killed"]);
  // One real notification delivery: a webhook to the loopback receiver.
  const hook = await createWebhook(db, actorOf(admin), { url: `${receiver.url}/hook`, format: "standard", events: ["run.finished"] });
  await testWebhook(db, { ...actorOf(admin), userId: admin.id }, hook.id);
}, 300_000);

afterAll(async () => {
  await stopAuditStream();
  await stopSupervisor(supervisor);
  await metricsRoute?.close();
  await receiver?.close();
  await model?.close();
  const g = globalThis as unknown as { __airlockDb?: { $client: { close(): void } } };
  g.__airlockDb?.$client.close();
  delete g.__airlockDb;
  fs.rmSync(env.dataDir, { recursive: true, force: true });
});

describe("GET /metrics access", () => {
  it("refuses an anonymous scrape with 401 and a plain message, never a redirect to sign-in", async () => {
    const res = await scrape();
    expect(res.status).toBe(401);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(await res.text()).toContain("Authorization: Bearer");
    expect((await scrape("alk_not-a-real-token")).status).toBe(401);
  });

  it("refuses a viewer's token without the metrics scope (403), and accepts it with the scope and an admin's token", async () => {
    const plain = issueToken(db, viewer.id).token;
    const refused = await scrape(plain);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("metrics scope");

    // tokens.create takes the optional scope (Settings → API tokens, "May read /metrics").
    const scoped = await (await caller(viewer)).tokens.create({ name: "prometheus", scopes: ["metrics"] });
    expect(scoped.scopes).toEqual(["metrics"]);
    expect((await (await caller(viewer)).tokens.list()).items.find((t) => t.id === scoped.id)?.scopes).toEqual(["metrics"]);
    const accepted = await scrape(scoped.token);
    expect(accepted.status).toBe(200);
    expect(accepted.headers.get("content-type")).toContain("text/plain");

    expect((await scrape(issueToken(db, admin.id).token)).status).toBe(200);
  });
});

describe("GET /metrics after a supervised run", () => {
  it("parses as Prometheus text and carries every family with its labels", async () => {
    expect(run.state).toBe("succeeded");
    const res = await scrape(issueToken(db, admin.id).token);
    const x = readExposition(await res.text());

    expect(x.value("airlock_runs", { state: "succeeded" })).toBeGreaterThanOrEqual(1);
    expect(x.value("airlock_tool_calls_total", { tool: "write_file", verdict: "ask" })).toBeGreaterThanOrEqual(1);
    expect(x.value("airlock_tool_calls_total", { tool: "invalid", verdict: "none" })).toBeGreaterThanOrEqual(1);
    expect(x.value("airlock_approval_wait_seconds_count", { kind: "plan", outcome: "approved" })).toBeGreaterThanOrEqual(1);
    expect(x.value("airlock_approval_wait_seconds_count", { kind: "tool", outcome: "approved" })).toBeGreaterThanOrEqual(1);
    expect(x.value("airlock_gateway_latency_seconds_count", { tool: "write_file", outcome: "ok" })).toBeGreaterThanOrEqual(1);
    expect(x.value("airlock_gateway_latency_seconds_count", { tool: "invalid", outcome: "INVALID_INPUT" })).toBeGreaterThanOrEqual(1);
    expect(x.value("airlock_container_starts_total", { runtime: run.runtime ?? "runc" })).toBeGreaterThanOrEqual(1);
    expect(x.value("airlock_container_start_failures_total", { runtime: run.runtime ?? "runc" })).toBeGreaterThanOrEqual(0);
    expect(x.value("airlock_notification_deliveries_total", { channel: "webhook", status: "delivered" })).toBeGreaterThanOrEqual(1);
    expect(x.value("airlock_egress_decisions_total", { decision: "allowed" })).toBeGreaterThanOrEqual(0);
    expect(x.value("airlock_egress_decisions_total", { decision: "refused" })).toBeGreaterThanOrEqual(0);
    const chain = db.$client.prepare("select count(*) from audit_events").pluck().get() as number;
    expect(x.value("airlock_audit_chain_length")).toBeGreaterThanOrEqual(chain - 5); // audit events of the scrape's own token touch may follow
    expect(x.families.get("airlock_process_cpu_seconds_total")?.type).toBe("COUNTER");
    expect(x.families.get("airlock_nodejs_eventloop_lag_p99_seconds")?.type).toBe("GAUGE");
  });
});

describe("audit events to the SIEM over OTLP/HTTP", () => {
  it("sends each committed audit event as a log record with the actor, the approver, the channel and the chain's hashes", async () => {
    await stream.flush();
    const records = otlpRecords(receiver.received);
    const logs = receiver.received.filter((r) => r.path === "/v1/logs");
    expect(logs.length).toBeGreaterThan(0);
    expect(logs[0]!.headers.authorization).toBe("Bearer siem-ingest-token");
    expect(records[0]!.resource["service.name"]).toBe("airlock-test");
    expect(records[0]!.resource["deployment.environment"]).toBe("ci");

    const planDecision = db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "approval.approved"))
      .all()
      .find((e) => (JSON.parse(e.details) as { runId?: string; kind?: string }).runId === run.id && JSON.parse(e.details).kind === "plan")!;
    expect(planDecision).toBeDefined();
    const record = records.find((r) => r.attributes["airlock.audit.seq"] === planDecision.seq)!;
    expect(record, `no record for audit event #${planDecision.seq}`).toBeDefined();
    expect(record.attributes).toMatchObject({
      "airlock.audit.action": "approval.approved",
      "airlock.audit.hash": planDecision.hash,
      "airlock.audit.prev_hash": planDecision.prevHash,
      "airlock.actor.id": reviewer.id,
      "airlock.actor.email": reviewer.email,
      "airlock.actor.role": "reviewer",
      "airlock.approver.id": reviewer.id,
      "airlock.approver.email": reviewer.email,
      "airlock.approval.channel": "api",
      "airlock.run.id": run.id,
      "client.address": "192.0.2.9",
    });
    expect(record.attributes["airlock.project.id"]).toBeTruthy();
    expect(record.body).toContain(reviewer.email);

    // /api/health shows the stream's counts (not where it sends: health answers without signing in).
    const { GET: health } = await import("@/app/api/health/route");
    const report = (await (await health()).json()) as { auditStream?: { exportedRecords: number; failedRecords: number; failing: boolean } };
    expect(report.auditStream).toMatchObject({ failedRecords: 0, failing: false });
    expect(report.auditStream!.exportedRecords).toBeGreaterThanOrEqual(records.length);

    // Every event of the run's lifetime is there once, in chain order.
    const seqs = records.map((r) => Number(r.attributes["airlock.audit.seq"]));
    expect(new Set(seqs).size).toBe(seqs.length);
    const chainSeqs = db.$client.prepare("select seq from audit_events where seq >= ? and seq <= ? order by seq").pluck().all(seqs[0], seqs.at(-1)) as number[];
    expect(seqs).toEqual(chainSeqs);
  });

  it("never sends an audit event whose transaction rolled back", async () => {
    expect(() =>
      db.transaction(
        (tx) => {
          appendAudit(tx, actorOf(admin), { action: "test.rolled_back" });
          throw new Error("the change failed");
        },
        { behavior: "immediate" },
      ),
    ).toThrow("the change failed");
    const committed = recordAudit(db, actorOf(admin), { action: "test.committed" });
    await stream.flush();
    const records = otlpRecords(receiver.received);
    expect(records.find((r) => r.attributes["airlock.audit.action"] === "test.committed")?.attributes["airlock.audit.hash"]).toBe(committed.hash);
    expect(records.some((r) => r.attributes["airlock.audit.action"] === "test.rolled_back")).toBe(false);
  });

  it("a collector that is down neither blocks nor breaks audit writes; the failures are counted on /metrics", async () => {
    const closed = await startReceiver();
    await closed.close(); // a port nobody listens on any more
    const down = createAuditStream(db, readOtlpLogSettings({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${closed.url}/v1/logs` })!, {
      batchDelayMs: 50,
      pollMs: 100,
      exportTimeoutMs: 1500,
    });
    try {
      const started = performance.now();
      const event = recordAudit(db, actorOf(admin), { action: "test.while_collector_down" });
      expect(performance.now() - started).toBeLessThan(1000);
      await down.flush();
      expect(down.status().failedRecords).toBeGreaterThanOrEqual(1);
      expect(down.status().lastFailed).toBe(true);
      expect(db.select().from(auditEvents).where(eq(auditEvents.id, event.id)).get()?.hash).toBe(event.hash);
      const x = readExposition(await (await scrape(issueToken(db, admin.id).token)).text());
      expect(x.value("airlock_audit_export_records_total", { result: "failed" })).toBeGreaterThanOrEqual(1);
      expect(x.value("airlock_audit_export_records_total", { result: "exported" })).toBeGreaterThanOrEqual(1);
    } finally {
      await down.stop();
    }
  });
});
