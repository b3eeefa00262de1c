// The MCP endpoint (Streamable HTTP, stateless: one SDK server and transport
// per HTTP request). The run token picks the run; tools/list is the palette;
// tools/call goes through the run's gateway session held by the supervisor.
import { readCappedBody } from "@/server/api/body-limit";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs, type Run } from "@/db/schema";
import { publishRunEvent } from "@/server/events/bus";
import { appendAudit } from "@/server/audit/chain";
import { agentActor } from "@/server/tools/gateway";
import { checkRunToken, touchRunToken, type RunTokenCheck } from "@/server/runs/run-tokens";
import { systemPrompt } from "@/server/agents/system-prompt";
import { mcpToolDefinitions } from "@/server/agents/mcp-tools";
import { callToolForExternalAgent, noteExternalAgentActivity, resultForEndedRun } from "@/server/agents/mcp-agent";
import { toolError, type ToolResult } from "@/server/tools/palette";
import { findRun } from "@/server/runs/lookup";

/** A little above the gateway's argument limit (1.5 MB) so that limit answers with its own message. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Progress notifications while a call waits (a reviewer, a long command), for clients that reset their timeout on progress. */
const PROGRESS_EVERY_MS = 20_000;

function jsonRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

const HOW_TO_GET_A_TOKEN =
  'Create a run with agent "external" (New run → External agent via MCP, or runs.create) and send the run token it shows once: Authorization: Bearer <run token>.';

export function unauthorizedMessage(check: Exclude<RunTokenCheck, { ok: true }>): string {
  switch (check.reason) {
    case "missing":
      return `Missing run token. ${HOW_TO_GET_A_TOKEN}`;
    case "malformed":
      return `The Authorization header must be "Bearer <run token>". ${HOW_TO_GET_A_TOKEN}`;
    case "api_token":
      return `This is a personal API token (alk_…); /api/mcp takes a run token (alr_…). ${HOW_TO_GET_A_TOKEN}`;
    case "unknown":
      return `This run token is not valid (tokens are shown once and stored only as a hash). ${HOW_TO_GET_A_TOKEN}`;
    case "ended":
      return `The run this token belongs to has ended (${check.run.state.replace(/_/g, " ")}), so its token was revoked. Start a new external run for a new token.`;
  }
}

function unauthorized(check: Exclude<RunTokenCheck, { ok: true }>): Response {
  const message = unauthorizedMessage(check);
  // Header values must be plain ASCII; the JSON body carries the full explanation.
  const description = check.reason === "ended" ? "the run has ended" : "send the run token of a live external run";
  return jsonRpcError(401, -32001, message, { "www-authenticate": `Bearer realm="airlock-mcp", error="invalid_token", error_description="${description}"` });
}

function kindOf(value: unknown): string {
  return Array.isArray(value) ? "an array" : value === null ? "null" : `${/^[aeiou]/.test(typeof value) ? "an" : "a"} ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * tools/call messages whose params the SDK's schema refuses: it answered those
 * with -32603 "internal error" and a dump of zod issues (M2). Refused here
 * with -32602 and a sentence saying what to send.
 */
function badToolCallParams(body: unknown): { id: unknown; message: string } | null {
  for (const m of Array.isArray(body) ? body : [body]) {
    if (!isPlainObject(m) || m.method !== "tools/call") continue;
    const { id, params } = m;
    if (!isPlainObject(params)) return { id, message: `Invalid params: tools/call needs params {"name": <tool>, "arguments": {…}}; got ${kindOf(params)}.` };
    if (typeof params.name !== "string" || params.name.length === 0) {
      return { id, message: `Invalid params: tools/call params.name must be a tool's name (a string; tools/list names them); got ${kindOf(params.name)}.` };
    }
    if (params.arguments !== undefined && !isPlainObject(params.arguments)) {
      return {
        id,
        message: `Invalid params: tools/call params.arguments must be a JSON object of the tool's arguments (for example {"path": "notes.txt"}); got ${kindOf(params.arguments)}.`,
      };
    }
    // The SDK copies arguments key by key, so a "__proto__" key would become the copy's prototype and
    // vanish from its keys: the call then ran as if the key had not been sent (M3). No tool takes one.
    if (isPlainObject(params.arguments) && Object.prototype.hasOwnProperty.call(params.arguments, "__proto__")) {
      return { id, message: 'Invalid params: tools/call params.arguments has a "__proto__" key, which no tool takes; send only the tool\'s own arguments.' };
    }
  }
  return null;
}

/** Every message of the body is a tools/call (or a notification): a client still connected to a run that ended. */
function onlyToolCalls(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return (
    messages.length > 0 &&
    messages.some((m) => (m as { method?: unknown })?.method === "tools/call") &&
    messages.every((m) => {
      const method = (m as { method?: unknown })?.method;
      return method === "tools/call" || (typeof method === "string" && method.startsWith("notifications/"));
    })
  );
}

export function mcpInstructions(run: Run): string {
  return [
    `Airlock run "${run.title}" (${run.id}).`,
    "",
    "Task:",
    run.task,
    "",
    systemPrompt({ stepMode: run.stepMode, limits: run.limits }),
    "",
    "You are connected over MCP: the workspace lives in Airlock's sandbox container, not on your machine. Use only this server's tools for the task; your own local tools do not reach the workspace.",
  ].join("\n");
}

function toCallToolResult(result: ToolResult, notes: string[]): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(result) }, ...notes.map((text) => ({ type: "text" as const, text }))],
    isError: !result.ok,
  };
}

function progressText(db: Db, runId: string): string {
  const state = db.select({ state: runs.state }).from(runs).where(eq(runs.id, runId)).get()?.state;
  if (state === "awaiting_approval" || state === "awaiting_plan_approval") return "waiting for a reviewer to decide";
  return "still working";
}

function buildServer(db: Db, run: Run, ended: boolean, clientGone: () => boolean): Server {
  const server = new Server({ name: "airlock", version: "0.1.0" }, { capabilities: { tools: { listChanged: false } }, instructions: mcpInstructions(run) });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: mcpToolDefinitions() }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    if (ended) return toCallToolResult(resultForEndedRun(findRun(db, run.id) ?? run), []);
    const progressToken = request.params._meta?.progressToken;
    let progress = 0;
    const ticker =
      progressToken === undefined
        ? null
        : setInterval(() => {
            progress++;
            // The client may be gone; the call continues regardless.
            extra
              .sendNotification({ method: "notifications/progress", params: { progressToken, progress, message: progressText(db, run.id) } })
              .catch(() => undefined);
          }, PROGRESS_EVERY_MS);
    try {
      // Deliberately not extra.signal: a client that disconnects or cancels does not cut a call
      // in half; it completes, is recorded, and its result reaches the agent with its next call.
      const answer = await callToolForExternalAgent(db, run, { tool: request.params.name, args: request.params.arguments ?? {} }, { clientGone });
      return toCallToolResult(answer.result, answer.notes);
    } catch (err) {
      console.error(`airlock: MCP call ${request.params.name} on run ${run.id} failed:`, err);
      return toCallToolResult(toolError("EXECUTION_FAILED", `Airlock failed to handle the call: ${(err as Error).message}`), []);
    } finally {
      if (ticker) clearInterval(ticker);
    }
  });
  return server;
}

/** Handles one HTTP request to /api/mcp. */
export async function handleMcpRequest(db: Db, req: Request): Promise<Response> {
  const check = checkRunToken(db, req.headers.get("authorization"));
  if (req.method !== "POST") {
    if (!check.ok) return unauthorized(check);
    return jsonRpcError(
      405,
      -32000,
      "Method not allowed: this MCP endpoint is stateless; send JSON-RPC messages with POST (there is no GET event stream and no session to DELETE).",
      { allow: "POST" },
    );
  }
  // Strangers are refused before their body is read.
  if (!check.ok && check.reason !== "ended") return unauthorized(check);
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) return jsonRpcError(413, -32600, `The request body is ${declared} bytes; the limit is ${MAX_BODY_BYTES} bytes.`);
  // A chunked body declares no length: read it up to the limit, never all of it into memory first.
  const bytes = await readCappedBody(req, MAX_BODY_BYTES);
  if (!bytes) return jsonRpcError(413, -32600, `The request body is larger than ${MAX_BODY_BYTES} bytes; the limit is ${MAX_BODY_BYTES} bytes.`);
  const text = new TextDecoder().decode(bytes);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return jsonRpcError(400, -32700, "Parse error: the body is not JSON.");
  }
  const badParams = badToolCallParams(body);
  if (badParams) {
    const id = typeof badParams.id === "string" || typeof badParams.id === "number" ? badParams.id : null;
    return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code: -32602, message: badParams.message }, id }), {
      status: 400,
      headers: { "content-type": "application/json" },
    });
  }
  // A run that ended while its agent was still connected: tool calls answer RUN_STOPPED, everything else is refused.
  const ended = !check.ok && check.reason === "ended";
  if (!check.ok && !(ended && onlyToolCalls(body))) return unauthorized(check);
  const run = check.ok ? check.run : (check as Extract<RunTokenCheck, { reason: "ended" }>).run;
  if (check.ok) noteExternalAgentActivity(run.id);
  if (check.ok && touchRunToken(db, run.id)) {
    db.transaction(
      (tx) =>
        appendAudit(tx, agentActor(run.id), {
          action: "run.agent_connected",
          targetType: "run",
          targetId: run.id,
          details: { via: "mcp", tokenPrefix: check.token.prefix },
        }),
      { behavior: "immediate" },
    );
    publishRunEvent(db, run.id, "note", { source: "mcp", connected: true, text: "The external agent connected over MCP." });
  }
  const server = buildServer(db, run, ended, () => req.signal.aborted);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  await server.connect(transport);
  return transport.handleRequest(req, { parsedBody: body });
}
