// /api/mcp over real loopback HTTP through the real route handler, for a live
// external run in a real sandbox container: hostile JSON-RPC bodies (broken
// JSON, batches, wrong types, ids of every kind, nesting past any parser's
// stack, oversized bodies) and tools/call with hostile arguments for every
// tool of the palette. Properties: never a 500 or a crash, every refusal says
// what was wrong, a refused tool call is recorded whole as refused (one call
// row, no approval, nothing executed), Object.prototype stays clean.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, toolCalls } from "@/db/schema";
import { MAX_INPUT_DEPTH } from "@/lib/nesting";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { setSupervisor, Supervisor } from "@/server/supervisor/supervisor";
import { validateToolCall } from "@/server/tools/gateway";
import { TOOL_NAMES, TOOL_SCHEMAS } from "@/server/tools/palette";
import { dockerRuntime, instanceIdForDataDir } from "@/server/sandbox/runtime";
import { sandboxImageName } from "@/server/sandbox/image";
import { requireDocker, roomyQueue, waitForState } from "@/test/helpers/runs";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";
import { addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import {
  CaseTally,
  CrashWatch,
  deeplyNestedJson,
  expectClearMessage,
  expectPrototypesClean,
  fuzzRuns,
  hostileValue,
  pollutingObject,
  preview,
  schemaKeys,
  shapedInput,
} from "@/test/helpers/hostile";

const RUNS_PER_TOOL = fuzzRuns(12);
const RUNS_BODIES = fuzzRuns(60);
/** Tools whose valid calls only read: a valid call of any other tool could wait for a reviewer or end the run, so it is not sent. */
const READ_ONLY = new Set(["read_file", "list_files", "search_files", "search_docs", "list_services"]);

const tally = new CaseTally("/api/mcp");
const crashes = new CrashWatch();
let dataDir: string;
let database: Db;
let supervisor: Supervisor;
let mcp: RouteServer;
let runId: string;
let token: string;

beforeAll(async () => {
  await requireDocker();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-fuzz-mcp-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
  database = (await import("@/db/client")).db();
  roomyQueue(database);
  supervisor = new Supervisor({
    db: database,
    runtime: dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) }),
    dataDir,
    image: sandboxImageName(),
    sweepMs: 200,
    mcpIdleTimeoutMs: 600_000,
  });
  setSupervisor(supervisor);
  await supervisor.start();
  const operator = await addUser(database, "operator");
  const caller = createCallerFactory(appRouter)({
    db: database,
    identity: await identityOfToken(database, issueToken(database, operator.id).token),
    sourceIp: null,
  });
  const created = (await caller.runs.create({ title: "fuzz", task: "be fuzzed", agent: "external" })) as { id: string; mcpToken?: string };
  runId = created.id;
  token = created.mcpToken!;
  const route = await import("@/app/api/mcp/route");
  mcp = await serveRoute("/api/mcp", { GET: route.GET, POST: route.POST, DELETE: route.DELETE });
  await waitForState(database, runId, "planning", 120_000);
  crashes.start();
}, 300_000);

afterAll(async () => {
  crashes.stop();
  tally.print();
  await supervisor?.stopAll({ userId: null, label: "test-cleanup" }, "test cleanup").catch(() => undefined);
  await supervisor?.shutdown();
  setSupervisor(undefined);
  await mcp?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function post(body: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(mcp.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}`, ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

/** The JSON-RPC message(s) of an answer, whether sent as JSON or as one SSE event. */
function messagesOf(text: string): { result?: { content?: { text: string }[]; isError?: boolean }; error?: { code: number; message: string } }[] {
  const json = text.startsWith("event:") || text.startsWith("data:") ? (/data: (.*)/.exec(text)?.[1] ?? "null") : text;
  if (!json.trim()) return [];
  const parsed = JSON.parse(json) as unknown;
  return (Array.isArray(parsed) ? parsed : [parsed]) as ReturnType<typeof messagesOf>;
}

const toolCall = (name: unknown, args: unknown, id: unknown = 1) =>
  `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":${JSON.stringify(name)},"arguments":${args === undefined ? "{}" : JSON.stringify(args)}}}`;

const plausible = fc.oneof(
  fc.constantFrom("notes.txt", ".", "src", "ls", "web", "API_KEY", "npm", "http://127.0.0.1:9/", "success", "low"),
  fc.integer({ min: 1, max: 10 }),
  fc.boolean(),
);

function callCount(): number {
  return database.select().from(toolCalls).where(eq(toolCalls.runId, runId)).all().length;
}

describe("/api/mcp with hostile input", () => {
  it.each(TOOL_NAMES)("tools/call %s with hostile arguments: refused with INVALID_INPUT and a clear message, recorded once as refused", async (tool) => {
    const keys = schemaKeys(TOOL_SCHEMAS[tool]);
    await fc.assert(
      fc.asyncProperty(fc.oneof(shapedInput(keys, plausible, { maxBig: 1_000_000 }), hostileValue({ maxBig: 1_000_000 })), async (args) => {
        let body: string;
        try {
          body = toolCall(tool, args);
        } catch {
          return; // JSON cannot carry it (JSON.stringify recursion); the raw-body cases send deep JSON directly
        }
        const valid = validateToolCall(tool, args).ok;
        if (valid && !READ_ONLY.has(tool)) return;
        tally.add(`tools/call ${tool}`);
        const callsBefore = callCount();
        const approvalsBefore = database.select().from(approvals).all().length;
        const answer = await post(body);
        const context = () => `${tool}(${preview(args)}) → ${answer.status} ${answer.text.slice(0, 600)}`;
        expect(answer.status, context()).toBeLessThan(500);
        if (answer.status === 200) {
          const [message] = messagesOf(answer.text);
          const result = JSON.parse(message?.result?.content?.[0]?.text ?? "null") as { ok: boolean; code?: string; message?: string } | null;
          expect(result, context()).not.toBeNull();
          if (!valid) {
            expect(result!.code, context()).toBe("INVALID_INPUT");
            expectClearMessage(result!.message, context);
            const rows = database.select().from(toolCalls).where(eq(toolCalls.runId, runId)).all();
            expect(rows.length, context()).toBe(callsBefore + 1);
            expect(rows.at(-1)!.state, context()).toBe("refused");
          } else {
            expect(result!.code, context()).not.toBe("EXECUTION_FAILED");
          }
        } else {
          // Arguments that are not an object never reach the gateway: a JSON-RPC "invalid params" saying what to send.
          const error = messagesOf(answer.text)[0]?.error;
          expect(error?.code, context()).toBe(-32602);
          expectClearMessage(error?.message, context);
          expect(callCount(), context()).toBe(callsBefore);
        }
        expect(database.select().from(approvals).all().length, context()).toBe(approvalsBefore);
        expectPrototypesClean(context);
        expect(crashes.seen).toEqual([]);
      }),
      { numRuns: RUNS_PER_TOOL },
    );
  });

  /** Bodies of every shape but the right one. */
  const hostileBody = fc.oneof(
    fc.constantFrom(
      "{not json",
      "",
      "null",
      "[]",
      "[1,2]",
      '"x"',
      "{}",
      '{"jsonrpc":"1.0","id":1,"method":"tools/list"}',
      '{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}',
      '{"jsonrpc":"2.0","id":1e400,"method":"tools/list"}',
      '{"jsonrpc":"2.0","id":1,"method":"no/such/method"}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call"}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":42}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":"path=x"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":[1,2]}}',
      `[${toolCall("read_file", {}, 1)},${toolCall("nope", {}, 2)}]`,
      toolCall("read_file", { path: "\ud800\u0000\u202e" }),
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":${deeplyNestedJson(10_000, "object")}}}`,
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"a","content":${deeplyNestedJson(200_000, "array")}}}}`,
      deeplyNestedJson(10_000, "array"),
    ),
    fc
      .tuple(fc.oneof(fc.string(), fc.constantFrom(...TOOL_NAMES)), hostileValue({ maxBig: 100_000 }), hostileValue({ maxBig: 100 }))
      .map(([name, args, id]) => {
        try {
          return toolCall(name, args, id);
        } catch {
          return "{}";
        }
      }),
    fc.constant(null).map(() => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_file", arguments: pollutingObject() } })),
    fc.constant(null).map(() => `{"__proto__":{"polluted":1},"jsonrpc":"2.0","id":1,"method":"tools/list"}`),
  );

  it("hostile JSON-RPC bodies answer without a 500, each error with a message", async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody, async (body) => {
        tally.add("JSON-RPC bodies");
        const answer = await post(body);
        const context = () => `${body.slice(0, 300)} → ${answer.status} ${answer.text.slice(0, 600)}`;
        expect(answer.status, context()).toBeLessThan(500);
        for (const message of answer.text ? messagesOf(answer.text) : []) {
          if (message.error) {
            expectClearMessage(message.error.message, context);
            expect(message.error.code, `${context()}: an "internal error" for bad input`).not.toBe(-32603);
          }
          const text = message.result?.content?.[0]?.text;
          if (text) expect((JSON.parse(text) as { code?: string }).code, context()).not.toBe("EXECUTION_FAILED");
        }
        expectPrototypesClean(context);
        expect(crashes.seen).toEqual([]);
      }),
      { numRuns: RUNS_BODIES },
    );
  });

  it("M1: tools/call with arguments nested 10 000 levels deep answers INVALID_INPUT naming the limit, not EXECUTION_FAILED", async () => {
    tally.add("regressions");
    const answer = await post(
      `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"a","content":${deeplyNestedJson(10_000, "array")}}}}`,
    );
    expect(answer.status).toBe(200);
    const result = JSON.parse(messagesOf(answer.text)[0]!.result!.content![0]!.text) as { code: string; message: string };
    expect(result.code).toBe("INVALID_INPUT");
    expect(result.message).toContain(`nested more than ${MAX_INPUT_DEPTH} levels deep; the limit is ${MAX_INPUT_DEPTH}`);
    const row = database.select().from(toolCalls).where(eq(toolCalls.runId, runId)).all().at(-1)!;
    expect(row.state).toBe("refused");
    expect(JSON.stringify(row.args)).toContain("not recorded");
  });

  it("M1: refused arguments near the body limit are recorded cut short with their size, not whole", async () => {
    tally.add("regressions");
    const answer = await post(toolCall("write_file", { path: "a", content: "x".repeat(2 * 1024 * 1024) }));
    const result = JSON.parse(messagesOf(answer.text)[0]!.result!.content![0]!.text) as { code: string; message: string };
    expect(result.code).toBe("INVALID_INPUT");
    expect(result.message).toMatch(/the limit is 1572864 bytes/);
    const row = database.select().from(toolCalls).where(eq(toolCalls.runId, runId)).all().at(-1)!;
    expect(JSON.stringify(row.args).length).toBeLessThan(10_000);
    expect(JSON.stringify(row.args)).toMatch(/… \(\d+ characters\)/);
  });

  it("M2: tools/call whose arguments are not an object answers -32602 saying what to send, not -32603 with a zod dump", async () => {
    for (const args of ['"path=x"', "[1,2]", "0", "null"]) {
      tally.add("regressions");
      const answer = await post(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"read_file","arguments":${args}}}`);
      expect(answer.status, answer.text).toBe(400);
      const [message] = messagesOf(answer.text);
      expect(message!.error!.code).toBe(-32602);
      expect(message!.error!.message).toMatch(/params\.arguments must be a JSON object of the tool's arguments .*; got (a string|an array|a number|null)\.$/);
    }
    const noName = messagesOf((await post('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":42}}')).text)[0]!.error!;
    expect(noName.message).toContain("params.name must be a tool's name");
  });

  it("M3: tools/call arguments with a __proto__ key are refused, not run as if the key had not been sent", async () => {
    tally.add("regressions");
    const callsBefore = callCount();
    const answer = await post('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_files","arguments":{"__proto__":{"path":"/etc"}}}}');
    expect(answer.status, answer.text).toBe(400);
    const [message] = messagesOf(answer.text);
    expect(message!.error!.code).toBe(-32602);
    expect(message!.error!.message).toContain('has a "__proto__" key, which no tool takes');
    expect(callCount()).toBe(callsBefore);
    expectPrototypesClean("M3");
  });

  it("a body over the MCP limit is refused with 413 naming the limit", async () => {
    tally.add("limits");
    const answer = await post(toolCall("write_file", { path: "a", content: "x".repeat(5 * 1024 * 1024) }));
    expect(answer.status).toBe(413);
    expect(answer.text).toContain("the limit is 4194304 bytes");
  });
});
