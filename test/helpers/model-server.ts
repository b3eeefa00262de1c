// The one stand-in Airlock's tests allow: a scripted OpenAI-compatible model
// server on loopback that speaks real HTTP and SSE, answers each chat
// completion with the next scripted step, and records what the agent sent.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ChatMessage, ToolDefinition } from "@/server/agents/model-client";

/** Fields every step accepts. */
interface StepCommon {
  /** Wait this long before answering (the "delay" step: `{ type: "text", text, delayMs }`). */
  delayMs?: number;
  /** Usage to report; `false` sends none (the client must estimate). Defaults to ~4 characters a token. */
  usage?: { promptTokens: number; completionTokens: number } | false;
  /** Answer with one JSON body even when the client asked for a stream (servers that ignore `stream`). */
  ignoreStream?: boolean;
  /** Write the SSE bytes in slices of this many bytes, 1 ms apart, so events and UTF-8 characters split across reads. */
  byteSlice?: number;
}

export interface ScriptedToolCall {
  id?: string;
  name: string;
  /** An object is sent as JSON; a string is sent verbatim (invalid JSON on purpose, for instance). */
  arguments: Record<string, unknown> | string;
}

export type ScriptStep =
  | (StepCommon & {
      type: "text";
      text: string;
      /** Stream the text in this many content deltas (default 1). */
      chunks?: number;
      chunkDelayMs?: number;
      finishReason?: string;
    })
  | (StepCommon & {
      type: "tool_calls";
      calls: ScriptedToolCall[];
      /** Content the model says before calling the tools. */
      text?: string;
      /** Split each call's arguments into this many fragments (default 1). */
      argumentChunks?: number;
      chunkDelayMs?: number;
    })
  | (StepCommon & { type: "http_error"; status: number; body?: string | Record<string, unknown>; headers?: Record<string, string> })
  /** Bytes sent verbatim: malformed bodies, hand-written SSE from odd servers. */
  | (StepCommon & { type: "raw"; body: string | string[]; status?: number; contentType?: string; chunkDelayMs?: number })
  /** Never answers; with `afterText`, streams those deltas first and then goes silent mid-stream. */
  | (StepCommon & { type: "hang"; afterText?: string[] })
  /** Destroys the socket: before any byte, or after streaming `afterText`. */
  | (StepCommon & { type: "disconnect"; afterText?: string[] });

export interface ChatCompletionRequestBody {
  model: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  temperature?: number;
  max_tokens?: number;
  [field: string]: unknown;
}

export interface ReceivedRequest {
  /** 0-based position among chat completion calls. */
  callIndex: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: ChatCompletionRequestBody;
  rawBody: string;
  /** True once the client closed the connection before the answer ended (aborts, timeouts). */
  disconnected: boolean;
}

export type Script = ScriptStep[] | ((req: ReceivedRequest, callIndex: number) => ScriptStep | undefined | Promise<ScriptStep | undefined>);

export interface ScriptedModelServer {
  /** Includes /v1, e.g. http://127.0.0.1:41234/v1. */
  baseUrl: string;
  /** Every chat completion request, in arrival order. */
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

/** The tool results the model received in its latest request, in order (parsed JSON). */
export function toolResultsSent(server: ScriptedModelServer): Record<string, unknown>[] {
  const messages = server.requests.at(-1)?.body.messages ?? [];
  return messages.filter((m) => m.role === "tool").map((m) => JSON.parse((m as { content: string }).content) as Record<string, unknown>);
}

export interface ScriptedModelServerOptions {
  /** Listed by GET /v1/models and echoed in replies. */
  model?: string;
  /** When set, requests without `Authorization: Bearer <apiKey>` get a 401 like OpenAI's (no script step used). */
  apiKey?: string;
}

export async function startScriptedModelServer(script: Script, options: ScriptedModelServerOptions = {}): Promise<ScriptedModelServer> {
  const model = options.model ?? "scripted-model";
  const requests: ReceivedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let calls = 0;

  const wait = (ms: number, res: http.ServerResponse) =>
    new Promise<boolean>((resolve) => {
      if (res.destroyed) return resolve(false);
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.off("close", onClose);
        resolve(!res.destroyed);
      }, ms);
      const onClose = () => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      };
      timers.add(timer);
      res.once("close", onClose);
    });

  const server = http.createServer((req, res) => {
    void route(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `scripted model server failed: ${String(err)}`, type: "server_error" } });
      else res.destroy();
    });
  });

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method === "GET" && path === "/v1/models") {
      // Like OpenAI, the model list needs the key too (what "Test connection" checks).
      if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        return sendJson(res, 401, { error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" } });
      }
      return sendJson(res, 200, { object: "list", data: [{ id: model, object: "model", created: 0, owned_by: "airlock-tests" }] });
    }
    if (path !== "/v1/chat/completions") {
      return sendJson(res, 404, {
        error: { message: `no route ${req.method} ${path} (the scripted server serves /v1/chat/completions and /v1/models)`, type: "not_found" },
      });
    }
    if (req.method !== "POST") return sendJson(res, 405, { error: { message: `${req.method} not allowed`, type: "invalid_request_error" } });

    const rawBody = await readBody(req);
    let body: ChatCompletionRequestBody;
    try {
      body = JSON.parse(rawBody) as ChatCompletionRequestBody;
    } catch {
      return sendJson(res, 400, { error: { message: "request body is not JSON", type: "invalid_request_error" } });
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendJson(res, 401, { error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" } });
    }

    const callIndex = calls++;
    const received: ReceivedRequest = { callIndex, path, headers: req.headers, body, rawBody, disconnected: false };
    requests.push(received);
    res.on("close", () => {
      if (!res.writableFinished) received.disconnected = true;
    });

    const step = Array.isArray(script) ? script[callIndex] : await script(received, callIndex);
    if (!step) {
      const length = Array.isArray(script) ? ` (the script has ${script.length} steps)` : "";
      return sendJson(res, 500, { error: { message: `script exhausted at call ${callIndex + 1}${length}`, type: "script_exhausted" } });
    }
    if (step.delayMs && !(await wait(step.delayMs, res))) return;
    await play(step, received, res);
  }

  async function play(step: ScriptStep, received: ReceivedRequest, res: http.ServerResponse): Promise<void> {
    const streaming = received.body.stream === true && !step.ignoreStream;
    const id = `chatcmpl-scripted-${received.callIndex}`;
    const chunkBase = { id, object: "chat.completion.chunk", created: 0, model };
    const usageFor = (completionChars: number) =>
      step.usage === false
        ? undefined
        : {
            prompt_tokens: step.usage?.promptTokens ?? Math.ceil(received.rawBody.length / 4),
            completion_tokens: step.usage?.completionTokens ?? Math.ceil(completionChars / 4),
            total_tokens: 0,
          };
    const wantsUsage = received.body.stream_options?.include_usage === true;

    const write = async (text: string): Promise<boolean> => {
      if (res.destroyed) return false;
      if (!step.byteSlice) {
        res.write(text);
        return true;
      }
      const bytes = Buffer.from(text);
      for (let i = 0; i < bytes.length; i += step.byteSlice) {
        if (i > 0 && !(await wait(1, res))) return false;
        res.write(bytes.subarray(i, i + step.byteSlice));
      }
      return true;
    };
    const sendEvent = (data: unknown) => write(`data: ${JSON.stringify(data)}\n\n`);
    const startStream = () => res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const deltaChunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
      ...chunkBase,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    });
    /** Role chunk then one chunk per piece, with a pause between pieces. */
    const streamText = async (pieces: string[], delayMs = 0): Promise<boolean> => {
      if (!(await sendEvent(deltaChunk({ role: "assistant", content: "" })))) return false;
      for (const [i, piece] of pieces.entries()) {
        if (i > 0 && delayMs > 0 && !(await wait(delayMs, res))) return false;
        if (!(await sendEvent(deltaChunk({ content: piece })))) return false;
      }
      return true;
    };
    const finishStream = async (finishReason: string, completionChars: number) => {
      if (!(await sendEvent(deltaChunk({}, finishReason)))) return;
      const usage = usageFor(completionChars);
      if (wantsUsage && usage && !(await sendEvent({ ...chunkBase, choices: [], usage }))) return;
      if (await write("data: [DONE]\n\n")) res.end();
    };

    switch (step.type) {
      case "text": {
        const finishReason = step.finishReason ?? "stop";
        if (!streaming) {
          return sendJson(res, 200, {
            id,
            object: "chat.completion",
            created: 0,
            model,
            choices: [{ index: 0, message: { role: "assistant", content: step.text }, finish_reason: finishReason }],
            ...(usageFor(step.text.length) ? { usage: usageFor(step.text.length) } : {}),
          });
        }
        startStream();
        if (!(await streamText(splitInto(step.text, step.chunks ?? 1), step.chunkDelayMs))) return;
        return finishStream(finishReason, step.text.length);
      }

      case "tool_calls": {
        const calls = step.calls.map((call, i) => ({
          id: call.id ?? `call_${received.callIndex}_${i}`,
          name: call.name,
          argumentsText: typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments),
        }));
        const completionChars = (step.text ?? "").length + calls.reduce((n, c) => n + c.name.length + c.argumentsText.length, 0);
        if (!streaming) {
          return sendJson(res, 200, {
            id,
            object: "chat.completion",
            created: 0,
            model,
            choices: [
              {
                index: 0,
                message: {
                  role: "assistant",
                  content: step.text ?? null,
                  tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.argumentsText } })),
                },
                finish_reason: "tool_calls",
              },
            ],
            ...(usageFor(completionChars) ? { usage: usageFor(completionChars) } : {}),
          });
        }
        startStream();
        if (!(await streamText(step.text ? [step.text] : [], step.chunkDelayMs))) return;
        for (const [index, call] of calls.entries()) {
          // Like OpenAI: id and name in the first fragment, then argument pieces under the same index.
          const first = { index, id: call.id, type: "function", function: { name: call.name, arguments: "" } };
          if (!(await sendEvent(deltaChunk({ tool_calls: [first] })))) return;
          for (const piece of splitInto(call.argumentsText, step.argumentChunks ?? 1)) {
            if (step.chunkDelayMs && !(await wait(step.chunkDelayMs, res))) return;
            if (!(await sendEvent(deltaChunk({ tool_calls: [{ index, function: { arguments: piece } }] })))) return;
          }
        }
        return finishStream("tool_calls", completionChars);
      }

      case "http_error": {
        const isText = typeof step.body === "string";
        const payload = isText
          ? (step.body as string)
          : JSON.stringify(step.body ?? { error: { message: `scripted HTTP ${step.status}`, type: "scripted_error" } });
        res.writeHead(step.status, { "content-type": isText ? "text/plain; charset=utf-8" : "application/json", ...step.headers });
        res.end(payload);
        return;
      }

      case "raw": {
        res.writeHead(step.status ?? 200, { "content-type": step.contentType ?? "text/event-stream" });
        const pieces = typeof step.body === "string" ? [step.body] : step.body;
        for (const [i, piece] of pieces.entries()) {
          if (i > 0 && step.chunkDelayMs && !(await wait(step.chunkDelayMs, res))) return;
          if (!(await write(piece))) return;
        }
        res.end();
        return;
      }

      case "hang": {
        if (step.afterText) {
          startStream();
          await streamText(step.afterText);
        }
        // Stay silent until the client gives up or close() tears the socket down.
        return;
      }

      case "disconnect": {
        if (step.afterText) {
          startStream();
          if (!(await streamText(step.afterText))) return;
          await wait(20, res);
        }
        res.socket?.destroy();
        return;
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        // Hanging steps keep their sockets open; a test's teardown must not wait for them.
        server.closeAllConnections();
      }),
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

/** Splits text into `n` pieces of near-equal length without cutting a character in two. */
export function splitInto(text: string, n: number): string[] {
  const chars = Array.from(text);
  const count = Math.max(1, Math.min(n, chars.length));
  const size = Math.ceil(chars.length / count);
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += size) pieces.push(chars.slice(i, i + size).join(""));
  return pieces.length > 0 ? pieces : [""];
}
