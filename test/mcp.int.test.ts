// External agents over MCP, end to end: runs created through the real tRPC
// router, the real MCP SDK client talking Streamable HTTP to the real
// /api/mcp route handler on loopback, a real sandbox container, real SQLite.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Db } from "@/db/client";
import { auditEvents, runEvents, runTokens, toolCalls } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { verifyAuditChain } from "@/server/audit/chain";
import { setSupervisor, Supervisor } from "@/server/supervisor/supervisor";
import { TOOL_NAMES } from "@/server/tools/palette";
import type { PublicUser } from "@/server/users/users";
import { addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import { getRun, requireDocker, roomyQueue, waitFor, waitForPendingApproval, waitForState } from "@/test/helpers/runs";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";
import { dockerRuntime, instanceIdForDataDir } from "@/server/sandbox/runtime";
import { sandboxImageName } from "@/server/sandbox/image";
import { AGENT_UID } from "@/server/sandbox/layout";

const IDLE_TIMEOUT_MS = 20_000;

let dataDir: string;
let database: Db;
let supervisor: Supervisor;
let operator: PublicUser;
let reviewer: PublicUser;
let mcp: RouteServer;
const clients: Client[] = [];

function makeSupervisor(): Supervisor {
  return new Supervisor({
    db: database,
    runtime: dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) }),
    dataDir,
    image: sandboxImageName(),
    sweepMs: 200,
    mcpIdleTimeoutMs: IDLE_TIMEOUT_MS,
  });
}

async function caller(user: PublicUser) {
  return createCallerFactory(appRouter)({ db: database, identity: await identityOfToken(database, issueToken(database, user.id).token), sourceIp: null });
}

async function createExternalRun(title = "external run", task = "write hello.txt") {
  const created = await (await caller(operator)).runs.create({ title, task, agent: "external" });
  return created as { id: string; mcpUrl?: string; mcpToken?: string };
}

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: "airlock-test-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return client;
}

interface ToolJson {
  ok: boolean;
  code?: string;
  message?: string;
  [k: string]: unknown;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ json: ToolJson; isError: boolean; texts: string[] }> {
  const res = await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 });
  const texts = (res.content as { type: string; text: string }[]).map((c) => c.text);
  return { json: JSON.parse(texts[0]!) as ToolJson, isError: Boolean(res.isError), texts };
}

async function rawPost(token: string | null, body: unknown) {
  const res = await fetch(mcp.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: number; message: string } } };
}

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

const approveAs = async (user: PublicUser, id: string) => (await caller(user)).approvals.decide({ id, decision: "approve" });

beforeAll(async () => {
  await requireDocker();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-mcp-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
  process.env.NEXTAUTH_URL = "http://airlock.test:3000";
  database = (await import("@/db/client")).db();
  roomyQueue(database);
  supervisor = makeSupervisor();
  setSupervisor(supervisor);
  await supervisor.start();
  operator = await addUser(database, "operator");
  reviewer = await addUser(database, "reviewer");
  const route = await import("@/app/api/mcp/route");
  mcp = await serveRoute("/api/mcp", { GET: route.GET, POST: route.POST, DELETE: route.DELETE });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await supervisor?.stopAll({ userId: null, label: "test-cleanup" }, "test cleanup").catch(() => undefined);
  await supervisor?.shutdown();
  setSupervisor(undefined);
  await mcp?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("an external agent over MCP", () => {
  it("plans, gets approvals, writes and runs in the container, is denied by policy and finishes", async () => {
    const created = await createExternalRun("mcp flow", "Write hello.txt and show it.");
    expect(created.mcpUrl).toBe("http://airlock.test:3000/api/mcp");
    expect(created.mcpToken).toMatch(/^alr_[A-Za-z0-9_-]{40,}$/);
    // Only the hash is stored.
    const stored = database.select().from(runTokens).where(eq(runTokens.runId, created.id)).get()!;
    expect(stored.tokenHash).not.toContain(created.mcpToken!.slice(4));
    await waitForState(database, created.id, "planning");
    expect((await (await caller(operator)).runs.get({ id: created.id })).mcp).toMatchObject({ connectedAt: null, revoked: false });

    const client = await connect(created.mcpToken!);
    expect(client.getInstructions()).toContain("Write hello.txt and show it.");
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    const write = tools.find((t) => t.name === "write_file")!;
    expect(write.inputSchema).toMatchObject({ type: "object", required: ["path", "content"], additionalProperties: false });
    expect((await (await caller(operator)).runs.get({ id: created.id })).mcp?.connectedAt).toBeInstanceOf(Date);

    // Changing anything before a plan is approved is refused.
    const early = await call(client, "write_file", { path: "hello.txt", content: "too early\n" });
    expect(early.isError).toBe(true);
    expect(early.json.code).toBe("PLAN_REQUIRED");

    // The plan call blocks until a reviewer decides through the router.
    const planCall = call(client, "submit_plan", { steps: [{ title: "write hello.txt", risk: "low", risk_note: "only touches the workspace" }] });
    const planApproval = await waitForPendingApproval(database, created.id, "plan");
    expect(getRun(database, created.id).state).toBe("awaiting_plan_approval");
    await approveAs(reviewer, planApproval.id);
    expect((await planCall).json).toMatchObject({ ok: true, approved: true });

    // The write waits for a reviewer (policy: ask), then lands in the container.
    const writeCall = call(client, "write_file", { path: "hello.txt", content: "hello from mcp\n" });
    const writeApproval = await waitForPendingApproval(database, created.id, "tool");
    expect(writeApproval.tool).toBe("write_file");
    await approveAs(reviewer, writeApproval.id);
    expect((await writeCall).json.ok).toBe(true);

    const cat = await call(client, "run_command", { command: "cat hello.txt && id -u" });
    expect(cat.isError).toBe(false);
    expect(JSON.stringify(cat.json)).toContain("hello from mcp");
    expect(JSON.stringify(cat.json)).toContain(String(AGENT_UID));

    const denied = await call(client, "run_command", { command: "rm -rf /" });
    expect(denied.isError).toBe(true);
    expect(denied.json).toMatchObject({ ok: false, code: "DENIED_BY_POLICY", rule: "destructive-delete" });

    const finished = await call(client, "finish", { summary: "wrote hello.txt", status: "success" });
    expect(finished.json).toMatchObject({ ok: true, finished: true });
    const run = await waitForState(database, created.id, "succeeded");
    expect(run.summary).toBe("wrote hello.txt");

    // Audit and events recorded every call, like the built-in agent's.
    const calls = database.select().from(toolCalls).where(eq(toolCalls.runId, created.id)).orderBy(toolCalls.seq).all();
    expect(calls.map((c) => `${c.tool}:${c.state}:${c.errorCode ?? ""}`)).toEqual([
      "write_file:refused:PLAN_REQUIRED",
      "submit_plan:succeeded:",
      "write_file:succeeded:",
      "run_command:succeeded:",
      "run_command:refused:DENIED_BY_POLICY",
      "finish:succeeded:",
    ]);
    const audited = database
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "tool.result"))
      .all()
      .filter((a) => calls.some((c) => c.id === a.targetId));
    expect(audited.length).toBeGreaterThanOrEqual(4);
    const createdAudit = database
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, "run.create"), eq(auditEvents.targetId, created.id)))
      .get()!;
    expect(JSON.parse(String(createdAudit.details))).toMatchObject({ agent: "external", mcpTokenPrefix: created.mcpToken!.slice(0, 10) });
    expect(
      database
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.action, "run.agent_connected"), eq(auditEvents.targetId, created.id)))
        .all(),
    ).toHaveLength(1);
    expect(verifyAuditChain(database).ok).toBe(true);
    const events = database.select().from(runEvents).where(eq(runEvents.runId, created.id)).all();
    expect(events.some((e) => e.type === "note" && (e.payload as { connected?: boolean }).connected)).toBe(true);
    expect(events.filter((e) => e.type === "tool_result")).toHaveLength(6);
    expect(events.some((e) => e.type === "state" && e.payload.to === "succeeded")).toBe(true);

    // The token died with the run: a new connection is refused and says why.
    expect(database.select().from(runTokens).where(eq(runTokens.runId, created.id)).get()!.revokedAt).toBeInstanceOf(Date);
    const after = await rawPost(created.mcpToken!, initialize);
    expect(after.status).toBe(401);
    expect(after.body.error?.message).toMatch(/has ended \(succeeded\).*new external run/);
    await expect(connect(created.mcpToken!)).rejects.toMatchObject({ code: 401, message: expect.stringMatching(/token was revoked/) });
  });

  it("refuses a missing, unknown or personal token with 401 and says what to do", async () => {
    const missing = await rawPost(null, initialize);
    expect(missing.status).toBe(401);
    expect(missing.body.error?.message).toMatch(/Missing run token.*agent "external"/);
    const unknown = await rawPost("alr_not-a-real-token", initialize);
    expect(unknown.status).toBe(401);
    expect(unknown.body.error?.message).toMatch(/not valid/);
    const personal = await rawPost(issueToken(database, operator.id).token, initialize);
    expect(personal.status).toBe(401);
    expect(personal.body.error?.message).toMatch(/personal API token/);
    await expect(connect("alr_wrong")).rejects.toMatchObject({ code: 401, message: expect.stringMatching(/not valid/) });
  });

  it("binds a token to its own run: calls with run A's token never touch run B", async () => {
    const a = await createExternalRun("run a");
    const b = await createExternalRun("run b");
    await waitForState(database, a.id, "planning");
    await waitForState(database, b.id, "planning");
    const clientA = await connect(a.mcpToken!);
    expect((await call(clientA, "list_files")).json.ok).toBe(true);
    expect(database.select().from(toolCalls).where(eq(toolCalls.runId, a.id)).all()).toHaveLength(1);
    expect(database.select().from(toolCalls).where(eq(toolCalls.runId, b.id)).all()).toHaveLength(0);
    // Ending run B revokes B's token only.
    await (await caller(operator)).runs.kill({ id: b.id });
    expect((await rawPost(b.mcpToken!, initialize)).status).toBe(401);
    expect((await call(clientA, "list_files")).json.ok).toBe(true);
    await (await caller(operator)).runs.kill({ id: a.id });
  });

  it("the stop button ends an external run: a waiting call and later calls answer RUN_STOPPED", async () => {
    const created = await createExternalRun("to be stopped");
    await waitForState(database, created.id, "planning");
    const client = await connect(created.mcpToken!);
    const waiting = call(client, "submit_plan", { steps: [{ title: "x", risk: "low", risk_note: "none" }] });
    await waitForPendingApproval(database, created.id, "plan");
    const stopped = await (await caller(operator)).runs.kill({ id: created.id, reason: "not needed" });
    expect(stopped.state).toBe("killed");
    expect((await waiting).json.code).toBe("RUN_STOPPED");
    const later = await call(client, "list_files");
    expect(later.isError).toBe(true);
    expect(later.json).toMatchObject({ ok: false, code: "RUN_STOPPED" });
    expect(later.json.message).toContain("not needed");
    expect(getRun(database, created.id).containerId && (await supervisor.runtime.listSandboxes()).some((s) => s.runId === created.id)).toBeFalsy();
  });

  it("a client that disconnects mid-approval does not cut the call in half: it completes and its result comes with the next call", async () => {
    const created = await createExternalRun("disconnect");
    await waitForState(database, created.id, "planning");
    const client = await connect(created.mcpToken!);
    const plan = call(client, "submit_plan", { steps: [{ title: "write", risk: "low", risk_note: "workspace only" }] });
    await approveAs(reviewer, (await waitForPendingApproval(database, created.id, "plan")).id);
    await plan;

    const leaving = await connect(created.mcpToken!);
    const abort = new AbortController();
    const write = leaving
      .callTool({ name: "write_file", arguments: { path: "late.txt", content: "still written\n" } }, undefined, { timeout: 120_000, signal: abort.signal })
      .catch((err: Error) => err);
    const approval = await waitForPendingApproval(database, created.id, "tool");
    abort.abort();
    expect(await write).toBeInstanceOf(Error);
    await leaving.close();
    await approveAs(reviewer, approval.id);
    await waitFor("the abandoned write to finish", () =>
      database
        .select()
        .from(toolCalls)
        .where(and(eq(toolCalls.runId, created.id), eq(toolCalls.tool, "write_file"), eq(toolCalls.state, "succeeded")))
        .get(),
    );

    const read = await call(client, "read_file", { path: "late.txt" });
    expect(read.json).toMatchObject({ ok: true, content: "still written\n" });
    expect(read.texts.slice(1).join("\n")).toMatch(/Airlock note: your connection closed.*write_file call finished with \{"ok":true/);
    await call(client, "finish", { summary: "done", status: "success" });
    await waitForState(database, created.id, "succeeded");
  });

  it("ends a run whose agent goes quiet (idle timeout)", async () => {
    const created = await createExternalRun("idle");
    await waitForState(database, created.id, "planning");
    const run = await waitForState(database, created.id, "failed", IDLE_TIMEOUT_MS + 30_000);
    expect(run.endedReason).toMatch(/no MCP request .*idle timeout/);
    expect((await rawPost(created.mcpToken!, initialize)).status).toBe(401);
  });

  it("keeps an external run resumable across a restart: the client reconnects with the same token", async () => {
    const created = await createExternalRun("restart");
    await waitForState(database, created.id, "planning");
    const before = await connect(created.mcpToken!);
    expect((await call(before, "list_files")).json.ok).toBe(true);
    await supervisor.shutdown();
    supervisor = makeSupervisor();
    setSupervisor(supervisor);
    await supervisor.start();
    expect(getRun(database, created.id).state).toBe("planning");
    const again = await connect(created.mcpToken!);
    await waitFor("the resumed run to accept calls", () => supervisor.isLive(created.id));
    const listed = await call(again, "list_files");
    expect(listed.json.ok).toBe(true);
    expect((await call(again, "finish", { summary: "after restart", status: "success" })).json.ok).toBe(true);
    await waitForState(database, created.id, "succeeded");
  });

  it("after a restart, a call that was waiting for a reviewer keeps waiting and its result reaches the reconnected agent", async () => {
    const created = await createExternalRun("restart while waiting");
    await waitForState(database, created.id, "planning");
    const before = await connect(created.mcpToken!);
    const interrupted = call(before, "submit_plan", { steps: [{ title: "x", risk: "low", risk_note: "none" }] });
    const approval = await waitForPendingApproval(database, created.id, "plan");
    await supervisor.shutdown();
    expect((await interrupted).json.code).toBe("NOT_AVAILABLE");
    supervisor = makeSupervisor();
    setSupervisor(supervisor);
    await supervisor.start();
    expect(getRun(database, created.id).state).toBe("awaiting_plan_approval");
    await approveAs(reviewer, approval.id);
    await waitForState(database, created.id, "running");
    const again = await connect(created.mcpToken!);
    const listed = await call(again, "list_files");
    expect(listed.json.ok).toBe(true);
    expect(listed.texts.slice(1).join("\n")).toMatch(
      /Airlock restarted while one of your calls was in progress; call #1 \(submit_plan\) finished with \{"ok":true,"approved":true/,
    );
    expect((await call(again, "write_file", { path: "a.txt", content: "a", dry_run: true })).json).toMatchObject({ ok: true, dry_run: true });
    await (await caller(operator)).runs.kill({ id: created.id });
  });
});
