// Secrets and network access end to end: real container, real policy, the
// scripted model server, and HTTP servers on 127.0.0.1 that the test starts.
// A granted secret reaches commands' environment and HTTP headers, and its
// value reaches neither the model, nor the database, nor the event stream.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { type TestDb } from "@/test/helpers/db";
import { addUser, actorOf } from "@/test/helpers/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep, toolResultsSent } from "@/test/helpers/model-server";
import { getRun, registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitForState } from "@/test/helpers/runs";
import { decideApproval } from "@/server/approvals/approvals";
import { approvals, auditEvents, runEvents, secretGrants, toolCalls, type Approval } from "@/db/schema";
import { createSecret } from "@/server/secrets/secrets";
import type { PublicUser } from "@/server/users/users";
import type { Supervisor } from "@/server/supervisor/supervisor";
import { docker } from "@/server/sandbox/docker";

const VALUE = "s3cr3t-API-token-0123456789";
const VALUE_SHA256 = crypto.createHash("sha256").update(VALUE).digest("hex");
const BIG = 1024 * 1024 + 4096;

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let target: http.Server;
let targetBase: string;
const received: { path: string; authorization?: string }[] = [];
const servers: ScriptedModelServer[] = [];

const plan: ScriptStep = {
  type: "tool_calls",
  calls: [{ name: "submit_plan", arguments: { steps: [{ title: "use the token", risk: "high", risk_note: "uses a secret and the network" }] } }],
};
const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
const command = (cmd: string) => call("run_command", { command: cmd });
const finish: ScriptStep = call("finish", { summary: "done", status: "success" });

async function runScript(script: ScriptStep[], decide: (a: Approval, containerId: string | null) => "approve" | "deny" | Promise<"approve" | "deny">) {
  const server = await startScriptedModelServer(script);
  servers.push(server);
  const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl));
  for (;;) {
    if (["succeeded", "failed", "killed"].includes(getRun(t.db, run.id).state)) break;
    const pending = t.db
      .select()
      .from(approvals)
      .where(eq(approvals.runId, run.id))
      .all()
      .find((a) => a.state === "pending");
    if (pending) {
      const verdict = pending.kind === "plan" ? "approve" : await decide(pending, getRun(t.db, run.id).containerId);
      decideApproval(
        t.db,
        { ...actorOf(reviewer), userId: reviewer.id },
        { id: pending.id, decision: verdict, reason: verdict === "deny" ? "not for this task" : undefined },
      );
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  const done = await waitForState(t.db, run.id, ["succeeded", "failed", "killed"]);
  const results = toolResultsSent(server);
  return { run: done, results, modelSaw: JSON.stringify(server.requests.map((r) => r.body)) };
}

/** Every byte Airlock stored: the SQLite file after a checkpoint, plus the rows read back. */
function everythingStored(runId: string): string {
  t.db.$client.pragma("wal_checkpoint(TRUNCATE)");
  return [
    fs.readFileSync(t.file).toString("latin1"),
    JSON.stringify(t.db.select().from(toolCalls).where(eq(toolCalls.runId, runId)).all()),
    JSON.stringify(t.db.select().from(runEvents).where(eq(runEvents.runId, runId)).all()),
    JSON.stringify(t.db.select().from(auditEvents).all()),
    JSON.stringify(t.db.select().from(approvals).where(eq(approvals.runId, runId)).all()),
  ].join("\n");
}

function expectNoValue(text: string, where: string) {
  expect(text.includes(VALUE), `${where} contains the value`).toBe(false);
  expect(text.includes(Buffer.from(VALUE).toString("base64").slice(0, 32)), `${where} contains its base64`).toBe(false);
}

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
  createSecret(t.db, actorOf(admin), { name: "API_TOKEN", value: VALUE, description: "test token" });
  createSecret(t.db, actorOf(admin), { name: "DENIED_ONE", value: "another-value-987654" });
  target = http.createServer((req, res) => {
    received.push({ path: req.url!, authorization: req.headers.authorization });
    const u = new URL(req.url!, "http://x");
    if (u.pathname === "/hello") return res.writeHead(200, { "content-type": "text/plain" }).end("hello from loopback");
    if (u.pathname === "/whoami") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ youSent: req.headers.authorization }));
    if (u.pathname === "/big") return res.writeHead(200, { "content-type": "text/plain" }).end("y".repeat(BIG));
    if (u.pathname === "/to-metadata") return res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/iam/" }).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", () => r()));
  targetBase = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
});

afterAll(async () => {
  delete process.env.AIRLOCK_EGRESS_ALLOW_HOSTS;
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  target?.close();
  t?.close();
});

describe("a granted secret", () => {
  it("reaches commands and HTTP headers while the model, the database and the events only ever see [secret:API_TOKEN]", async () => {
    process.env.AIRLOCK_EGRESS_ALLOW_HOSTS = "127.0.0.1";
    let result;
    let containerEnv: string[] | null = null;
    try {
      result = await runScript(
        [
          plan,
          call("request_secret", { name: "API_TOKEN", reason: "call the API" }),
          command(`test "$(printf %s "$API_TOKEN" | sha256sum | cut -d' ' -f1)" = ${VALUE_SHA256} && echo ok`),
          command("echo $API_TOKEN"),
          command("printenv"),
          command("echo $API_TOKEN | base64"),
          command("echo $API_TOKEN > token.txt && cat token.txt"),
          call("read_file", { path: "token.txt" }),
          call("http_fetch", { url: `${targetBase}/whoami`, headers: { Authorization: "Bearer ${secret:API_TOKEN}" } }),
          call("http_fetch", { url: `${targetBase}/hello` }),
          call("http_fetch", { url: `${targetBase}/big` }),
          call("http_fetch", { url: `${targetBase}/to-metadata` }),
          finish,
        ],
        async (a, containerId): Promise<"approve"> => {
          // While the run lives: the container's own environment (set at creation) has no secret.
          if (a.tool === "http_fetch" && containerId) containerEnv = (await docker().getContainer(containerId).inspect()).Config.Env ?? [];
          return "approve";
        },
      );
    } finally {
      delete process.env.AIRLOCK_EGRESS_ALLOW_HOSTS;
    }
    const { run, results, modelSaw } = result;
    expect(run.state, run.endedReason ?? "").toBe("succeeded");

    // request_secret: granted, the name only.
    expect(results[1]).toMatchObject({ ok: true, granted: true, env: "API_TOKEN" });
    expect(t.db.select().from(secretGrants).where(eq(secretGrants.runId, run.id)).all()).toHaveLength(1);

    // The command saw the real value in its environment…
    expect(results[2]).toMatchObject({ ok: true, exit_code: 0 });
    expect(String(results[2]!.output).trim()).toBe("ok");
    // …and every way of printing it came back redacted.
    expect(String(results[3]!.output).trim()).toBe("[secret:API_TOKEN]");
    expect(String(results[4]!.output)).toContain("API_TOKEN=[secret:API_TOKEN]");
    expect(String(results[5]!.output).trim()).toBe("[secret:API_TOKEN]");
    expect(String(results[6]!.output).trim()).toBe("[secret:API_TOKEN]");
    expect(String(results[7]!.content)).toContain("[secret:API_TOKEN]");
    // Not in the container's own environment (only in each exec's).
    expect(containerEnv).not.toBeNull();
    expect(containerEnv!.some((e) => e.startsWith("API_TOKEN=") || e.includes(VALUE))).toBe(false);

    // The file the agent wrote it into holds the value, but the run's diff (which viewers read) shows the marker.
    const { appRouter } = await import("@/server/api/root");
    const { createCallerFactory } = await import("@/server/api/trpc");
    const { identityOfToken, issueToken } = await import("@/test/helpers/users");
    const viewer = await addUser(t.db, "viewer");
    const asViewer = createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, viewer.id).token), sourceIp: null });
    const { diff } = await asViewer.runs.diff({ id: run.id });
    expect(diff).toContain("+[secret:API_TOKEN]");
    expect(diff).not.toContain(VALUE);

    // http_fetch: the server got the real token; the echo back to the model is redacted.
    expect(received.find((r) => r.path === "/whoami")?.authorization).toBe(`Bearer ${VALUE}`);
    expect(results[8]).toMatchObject({ ok: true, status: 200, encoding: "text" });
    expect(JSON.parse(String(results[8]!.body))).toEqual({ youSent: "Bearer [secret:API_TOKEN]" });
    expect(results[9]).toMatchObject({ ok: true, status: 200, body: "hello from loopback" });
    expect(results[10]).toMatchObject({ ok: true, body_truncated: true, total_bytes: BIG });
    expect(String(results[10]!.note)).toContain(`${BIG} bytes in total`);
    // The model gets the first 64 KiB of it (its context is not a download folder).
    expect(String(results[10]!.body).length).toBe(64 * 1024);
    expect(String(results[10]!.note)).toContain("the first 65536 bytes are shown");
    // A redirect to a host the policy denies is not followed.
    expect(results[11]).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
    expect(String(results[11]!.message)).toMatch(/metadata-endpoint/);
    expect(received.filter((r) => r.path === "/to-metadata")).toHaveLength(1);

    // What the model was sent, what the database holds and what streamed: never the value.
    expectNoValue(modelSaw, "the model's requests");
    expectNoValue(everythingStored(run.id), "the database");
    const outputEvents = t.db
      .select()
      .from(runEvents)
      .where(eq(runEvents.runId, run.id))
      .all()
      .filter((e) => e.type === "output");
    expect(JSON.stringify(outputEvents)).toContain("[secret:API_TOKEN]");

    // Every request Airlock made is in the audit trail, with status and size.
    const fetches = t.db
      .select()
      .from(auditEvents)
      .all()
      .filter((e) => e.action === "egress.fetch" || e.action === "egress.refused");
    expect(fetches.map((e) => JSON.parse(e.details) as Record<string, unknown>)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ runId: run.id, status: 200, bytes: BIG }),
        expect.objectContaining({ runId: run.id, code: "EGRESS_DENIED" }),
      ]),
    );
  });
});

describe("refusals", () => {
  it("a denied request is DENIED_BY_REVIEWER, an unknown name names nothing secret, and loopback without the allowance is EGRESS_DENIED", async () => {
    const before = received.length;
    const { run, results, modelSaw } = await runScript(
      [
        plan,
        call("request_secret", { name: "DENIED_ONE", reason: "want it" }),
        call("request_secret", { name: "NO_SUCH_SECRET", reason: "want it" }),
        command('echo "[${DENIED_ONE:-unset}]"'),
        call("http_fetch", { url: `${targetBase}/hello`, headers: { Authorization: "Bearer ${secret:DENIED_ONE}" } }),
        call("http_fetch", { url: `${targetBase}/hello` }),
        finish,
      ],
      (a) => (a.tool === "request_secret" && (a.args as { name: string }).name === "DENIED_ONE" ? "deny" : "approve"),
    );
    expect(run.state, run.endedReason ?? "").toBe("succeeded");
    expect(results[1]).toMatchObject({ ok: false, code: "DENIED_BY_REVIEWER" });
    expect(results[2]).toMatchObject({ ok: false, code: "NOT_AVAILABLE" });
    expect(String(results[2]!.message)).toMatch(/no secret named NO_SUCH_SECRET is configured/i);
    expect(String(results[2]!.message)).not.toMatch(/API_TOKEN|DENIED_ONE/);
    expect(String(results[3]!.output).trim()).toBe("[unset]");
    // A header may only use a secret granted to this run: refused before anyone is asked.
    expect(results[4]).toMatchObject({ ok: false, code: "INVALID_INPUT" });
    expect(results[5]).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
    expect(String(results[5]!.message)).toMatch(/loopback/);
    expect(received.length).toBe(before);
    expect(modelSaw).not.toContain("another-value-987654");
    expect(t.db.select().from(secretGrants).where(eq(secretGrants.runId, run.id)).all()).toHaveLength(0);
  });

  it("M6: an approved http_fetch to this host's own interface address is EGRESS_DENIED, even with private addresses and its range allowed", async () => {
    // A server on every interface, as the dashboard listens.
    const addresses = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []);
    const own = addresses.find((a) => !a.internal && a.family === "IPv4") ?? addresses.find((a) => !a.internal) ?? addresses[0]!;
    const hits: string[] = [];
    const dashboard = http.createServer((req, res) => (hits.push(req.url!), res.end("dashboard")));
    await new Promise<void>((r) => dashboard.listen(0, own.family === "IPv4" ? "0.0.0.0" : "::", () => r()));
    const host = own.family === "IPv6" ? `[${own.address}]` : own.address;
    const url = `http://${host}:${(dashboard.address() as AddressInfo).port}/api/health`;
    process.env.AIRLOCK_EGRESS_ALLOW_PRIVATE = "1";
    process.env.AIRLOCK_EGRESS_ALLOW_HOSTS = "0.0.0.0/0,::/0";
    let result;
    try {
      result = await runScript([plan, call("http_fetch", { url }), finish], () => "approve");
    } finally {
      delete process.env.AIRLOCK_EGRESS_ALLOW_PRIVATE;
      delete process.env.AIRLOCK_EGRESS_ALLOW_HOSTS;
      dashboard.close();
    }
    const { run, results } = result;
    expect(run.state, run.endedReason ?? "").toBe("succeeded");
    expect(results[1]).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
    expect(String(results[1]!.message)).toContain(`${own.address} is this host's own address`);
    expect(String(results[1]!.message)).toMatch(/exact address in AIRLOCK_EGRESS_ALLOW_HOSTS/);
    expect(hits).toEqual([]);
  });
});
