// The one client the built-in agent uses to talk to a model: OpenAI-compatible
// chat completions (Ollama, vLLM, llama.cpp server, LM Studio, OpenAI) with
// tool calls, streamed over SSE, with typed errors an operator can act on.

// ---------------------------------------------------------------------------
// Wire shapes (OpenAI chat completions)
// ---------------------------------------------------------------------------

export type JSONSchema = { [key: string]: unknown };

export interface ToolDefinition {
  type: "function";
  function: { name: string; description: string; parameters: JSONSchema };
}

export interface AssistantToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string | null; tool_calls?: AssistantToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };

export interface ModelEndpoint {
  baseUrl: string;
  model: string;
  apiKey?: string | null;
}

export interface ChatRequest {
  messages: ChatMessage[];
  tools: ToolDefinition[];
  temperature?: number;
  maxTokens?: number;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Called with each content fragment as it arrives (once with the whole text for non-streaming servers). */
  onDelta?: (text: string) => void;
  /** The whole request, from sending to the last byte. */
  timeoutMs?: number;
  /** Silence allowed between bytes, including before the first one (prompt processing on a slow local model counts). */
  idleTimeoutMs?: number;
}

export interface ModelToolCall {
  id: string;
  name: string;
  /** Exactly what the model produced; may be invalid JSON — the caller validates. */
  argumentsText: string;
}

export interface ModelUsage {
  promptTokens: number;
  completionTokens: number;
  /** True when the server sent no usage and the numbers are guessed from characters (about 4 per token). */
  estimated: boolean;
}

export interface ModelTurn {
  content: string;
  /** At most MODEL_LIMITS.maxToolCallsPerTurn calls, in the model's order. */
  toolCalls: ModelToolCall[];
  /** Calls past the per-turn limit: not run; the agent answers each with LIMIT_EXCEEDED (their arguments are not kept). */
  refusedToolCalls: { id: string; name: string }[];
  finishReason: string | null;
  usage: ModelUsage;
}

/**
 * What one response from a model endpoint may hold. A model server is not
 * trusted to be well-behaved (a compromised or buggy endpoint, or a prompt
 * injection steering the model): without caps one response could fill the
 * host's memory, or flood the run with tool calls in a single turn.
 */
export const MODEL_LIMITS = {
  /**
   * Bytes of one response body as received (SSE framing included). Past it
   * Airlock stops reading. Generous: servers stream tool-call arguments a few
   * characters per event with ~200 bytes of framing each, so a legitimate
   * 1.5 MiB write_file can take 30 MiB on the wire. Only the decoded text is
   * kept, and it has its own caps below.
   */
  maxResponseBytes: 64 * 1024 * 1024,
  /** Characters of the assistant message's text. */
  maxContentChars: 2 * 1024 * 1024,
  /** Characters of one tool call's arguments (the gateway refuses calls over 1.5 MiB with a clear message first). */
  maxToolArgumentsChars: 4 * 1024 * 1024,
  /** Characters of one SSE event (one JSON.parse): room for a whole call's arguments, escaped, sent in one event. */
  maxEventChars: 9 * 1024 * 1024,
  /** Tool calls run per turn; the rest are answered with LIMIT_EXCEEDED, not dropped silently. */
  maxToolCallsPerTurn: 16,
} as const;

export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** Bytes of the response parsed between two pauses for the event loop. */
const READ_SLICE = 64 * 1024;
export const DEFAULT_IDLE_TIMEOUT_MS = 3 * 60_000;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

export type ModelErrorKind = "unreachable" | "timeout" | "http" | "malformed" | "aborted" | "limit";

export class ModelError extends Error {
  readonly kind: ModelErrorKind;
  readonly retryable: boolean;
  /** HTTP status, for kind "http". */
  readonly status?: number;
  /** First 500 characters of the server's error body (API key redacted), for kind "http". */
  readonly body?: string;
  /** From a Retry-After header; withRetries waits at least this long. */
  readonly retryAfterMs?: number;

  constructor(kind: ModelErrorKind, message: string, details: { retryable?: boolean; status?: number; body?: string; retryAfterMs?: number } = {}) {
    super(message);
    this.name = "ModelError";
    this.kind = kind;
    this.retryable = details.retryable ?? false;
    if (details.status !== undefined) this.status = details.status;
    if (details.body !== undefined) this.body = details.body;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}

const REDACTED = "[redacted]";

/** Removes the API key (and any bearer token) from text that may reach logs, the UI or the audit trail. */
export function redactSecrets(text: string, apiKey?: string | null): string {
  let out = text;
  if (apiKey) out = out.split(apiKey).join(REDACTED);
  return out.replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, `Bearer ${REDACTED}`);
}

// ---------------------------------------------------------------------------
// Base URL
// ---------------------------------------------------------------------------

/**
 * `http://host:port/v1/` and `http://host:port/v1` are the same endpoint; a pasted
 * `.../chat/completions` is trimmed back to the base.
 */
export function normalizeBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new ModelError("unreachable", `The model base URL "${baseUrl}" is not a valid URL (expected e.g. http://localhost:11434/v1).`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ModelError("unreachable", `The model base URL must start with http:// or https:// (got ${url.protocol}).`);
  }
  if (url.username || url.password) {
    throw new ModelError("unreachable", "The model base URL must not contain credentials; put the key in the model's API key field.");
  }
  let path = url.pathname.replace(/\/+$/, "");
  path = path.replace(/\/chat\/completions$/, "");
  return `${url.origin}${path}${url.search}`;
}

/** Why a 404 may be the base URL's fault: most servers serve the OpenAI API under /v1. */
export function baseUrlHint(baseUrl: string): string | null {
  let url: URL;
  try {
    url = new URL(normalizeBaseUrl(baseUrl));
  } catch {
    return null;
  }
  if (/\/v1$/.test(url.pathname)) return null;
  const suggestion = `${url.origin}${url.pathname.replace(/\/+$/, "")}/v1`;
  if (url.port === "11434" && (url.pathname === "/" || url.pathname === "")) {
    return `Ollama serves its OpenAI-compatible API under /v1: use ${suggestion} as the base URL.`;
  }
  return `Most OpenAI-compatible servers expect the base URL to end in /v1 (e.g. ${suggestion}).`;
}

function displayUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

// ---------------------------------------------------------------------------
// SSE
// ---------------------------------------------------------------------------

export interface SseEvent {
  event: string | null;
  data: string;
}

/**
 * Incremental Server-Sent Events parser (the subset chat completions use):
 * any of CRLF / LF / CR end a line, a blank line dispatches, `:` lines are
 * comments, several `data:` lines join with "\n". Feed it decoded text.
 */
export class SseParser {
  /** Pieces of the line not yet ended (joined once, when it ends: no quadratic re-scanning of a long line). */
  private pending: string[] = [];
  private pendingChars = 0;
  /** The line being read is a comment: its text is never kept (a server may pad with megabytes of them). */
  private inComment = false;
  /** The last piece ended in CR: an LF starting the next one belongs to it (a CRLF split across reads). */
  private skipLf = false;
  private dataLines: string[] = [];
  private dataChars = 0;
  private eventName: string | null = null;

  /** `maxEventChars`: the longest line or event kept; past it push() throws a ModelError of kind "limit". */
  constructor(private readonly maxEventChars = Number.POSITIVE_INFINITY) {}

  push(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    if (text === "") return events;
    let start = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (text.startsWith("\n")) start = 1;
    }
    // Line ends found with indexOf over the new text only: a per-character scan
    // of a multi-megabyte line held the event loop for hundreds of milliseconds.
    let nl = text.indexOf("\n", start);
    let cr = text.indexOf("\r", start);
    while (nl !== -1 || cr !== -1) {
      const i = nl === -1 ? cr : cr === -1 ? nl : Math.min(nl, cr);
      if (this.inComment) this.inComment = false;
      else {
        const piece = text.slice(start, i);
        this.checkSize(piece.length);
        const line = this.pending.length > 0 ? this.pending.join("") + piece : piece;
        this.takeLine(line, events);
      }
      this.pending = [];
      this.pendingChars = 0;
      if (i === cr && i === text.length - 1) this.skipLf = true;
      start = i === cr && text[i + 1] === "\n" ? i + 2 : i + 1;
      if (nl !== -1 && nl < start) nl = text.indexOf("\n", start);
      if (cr !== -1 && cr < start) cr = text.indexOf("\r", start);
    }
    if (start < text.length && !this.inComment) {
      const rest = text.slice(start);
      if (this.pending.length === 0 && rest.startsWith(":")) this.inComment = true;
      else {
        this.checkSize(rest.length);
        this.pending.push(rest);
        this.pendingChars += rest.length;
      }
    }
    return events;
  }

  private checkSize(more: number): void {
    if (this.pendingChars + this.dataChars + more > this.maxEventChars) {
      throw new ModelError("limit", `The model server sent one SSE event longer than ${this.maxEventChars} characters; Airlock stopped reading the response.`);
    }
  }

  /** End of stream: a last event without its blank line still counts (some servers omit it). */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.pending.length > 0 && !this.inComment) this.takeLine(this.pending.join(""), events);
    this.pending = [];
    this.pendingChars = 0;
    this.inComment = false;
    this.skipLf = false;
    this.takeLine("", events);
    return events;
  }

  private takeLine(line: string, events: SseEvent[]): void {
    if (line === "") {
      if (this.dataLines.length > 0) events.push({ event: this.eventName, data: this.dataLines.join("\n") });
      this.dataLines = [];
      this.dataChars = 0;
      this.eventName = null;
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      this.dataLines.push(value);
      this.dataChars += value.length;
    } else if (field === "event") this.eventName = value;
  }
}

// ---------------------------------------------------------------------------
// Assembling a turn from chunks
// ---------------------------------------------------------------------------

type Json = { [key: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function snippet(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

interface PartialToolCall {
  id: string;
  name: string;
  argumentsText: string;
  /** Past MODEL_LIMITS.maxToolCallsPerTurn. */
  refused: boolean;
}

/** Past this many calls in one turn the response is abandoned: even refusing each would flood the conversation. */
const MAX_TOOL_CALLS_TRACKED = MODEL_LIMITS.maxToolCallsPerTurn * 4;

class TurnAssembler {
  content = "";
  finishReason: string | null = null;
  private usage: { promptTokens?: number; completionTokens?: number; reasoningTokens?: number } | null = null;
  private calls = new Map<number, PartialToolCall>();
  private lastIndex = -1;
  private readonly callIdPrefix = `call_${Math.random().toString(36).slice(2, 10)}`;

  constructor(private readonly onDelta?: (text: string) => void) {}

  addContent(text: string): void {
    if (text === "") return;
    if (this.content.length + text.length > MODEL_LIMITS.maxContentChars) {
      throw new ModelError(
        "limit",
        `The model's message grew past ${MODEL_LIMITS.maxContentChars} characters in one turn; Airlock stopped reading it. A model that writes this much in one message is looping or misconfigured (check its max_tokens / context settings).`,
      );
    }
    this.content += text;
    this.onDelta?.(text);
  }

  addUsage(raw: unknown): void {
    if (!isObject(raw)) return;
    // Kept as sent (any type): finish() judges whether the figures are believable.
    const prompt = raw.prompt_tokens as number | undefined;
    const completion = raw.completion_tokens as number | undefined;
    const details = isObject(raw.completion_tokens_details) ? raw.completion_tokens_details : {};
    const reasoning = typeof details.reasoning_tokens === "number" ? details.reasoning_tokens : undefined;
    if (prompt !== undefined || completion !== undefined) this.usage = { promptTokens: prompt, completionTokens: completion, reasoningTokens: reasoning };
  }

  /** One tool_call delta. Fragments of one call share an index; servers that omit the index are matched by id. */
  addToolCallDelta(raw: unknown): void {
    if (!isObject(raw)) return;
    const fn = isObject(raw.function) ? raw.function : {};
    const id = typeof raw.id === "string" && raw.id !== "" ? raw.id : null;
    let index: number;
    if (typeof raw.index === "number") index = raw.index;
    else if (id !== null) index = [...this.calls].find(([, c]) => c.id === id)?.[0] ?? this.calls.size;
    else index = this.lastIndex >= 0 ? this.lastIndex : 0;
    this.lastIndex = index;

    let call = this.calls.get(index);
    if (!call) {
      if (this.calls.size >= MAX_TOOL_CALLS_TRACKED) {
        throw new ModelError(
          "limit",
          `The model made more than ${MAX_TOOL_CALLS_TRACKED} tool calls in one turn (Airlock runs at most ${MODEL_LIMITS.maxToolCallsPerTurn}); Airlock stopped reading the response.`,
        );
      }
      call = { id: "", name: "", argumentsText: "", refused: this.calls.size >= MODEL_LIMITS.maxToolCallsPerTurn };
      this.calls.set(index, call);
    }
    // A call past the per-turn limit (in arrival order) is refused, not run: its arguments are not kept.
    const refused = call.refused;
    if (id !== null && call.id === "") call.id = id.slice(0, 256);
    // Some servers repeat the whole name in every fragment; OpenAI sends it once.
    if (typeof fn.name === "string" && fn.name !== "" && fn.name !== call.name && call.name.length < 256) call.name += fn.name.slice(0, 256);
    if (refused) return;
    const more = typeof fn.arguments === "string" ? fn.arguments : fn.arguments !== undefined && fn.arguments !== null ? JSON.stringify(fn.arguments) : "";
    if (call.argumentsText.length + more.length > MODEL_LIMITS.maxToolArgumentsChars) {
      throw new ModelError(
        "limit",
        `The model's arguments for the tool call ${call.name || `#${index + 1}`} grew past ${MODEL_LIMITS.maxToolArgumentsChars} characters; Airlock stopped reading the response. Tool calls over ${Math.round((1.5 * 1024 * 1024) / 1024)} KiB are refused anyway: the model should split large writes.`,
      );
    }
    call.argumentsText += more;
  }

  /** A streamed `chat.completion.chunk`; only choice 0 is read. */
  addChunk(chunk: unknown): void {
    if (!isObject(chunk))
      throw new ModelError("malformed", `The model server sent a stream chunk that is not a JSON object: ${snippet(JSON.stringify(chunk))}`);
    this.addUsage(chunk.usage);
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    for (const choice of choices) {
      if (!isObject(choice) || (typeof choice.index === "number" && choice.index !== 0)) continue;
      const delta = isObject(choice.delta) ? choice.delta : isObject(choice.message) ? choice.message : {};
      if (typeof delta.content === "string") this.addContent(delta.content);
      if (Array.isArray(delta.tool_calls)) for (const tc of delta.tool_calls) this.addToolCallDelta(tc);
      if (typeof choice.finish_reason === "string" && choice.finish_reason !== "") this.finishReason = choice.finish_reason;
    }
  }

  /** A whole non-streaming `chat.completion` body. */
  addCompletion(body: Json): void {
    this.addUsage(body.usage);
    const choice = Array.isArray(body.choices) ? body.choices[0] : undefined;
    if (!isObject(choice) || !isObject(choice.message)) {
      throw new ModelError("malformed", `The model server's reply has no choices[0].message: ${snippet(JSON.stringify(body))}`);
    }
    const message = choice.message;
    if (typeof message.content === "string") this.addContent(message.content);
    if (Array.isArray(message.tool_calls)) {
      message.tool_calls.forEach((tc, i) => this.addToolCallDelta(isObject(tc) ? { ...tc, index: i } : tc));
    }
    if (typeof choice.finish_reason === "string") this.finishReason = choice.finish_reason;
  }

  /** `responseBytes`: what the body weighed on the wire, the upper bound for any believable completion figure. */
  finish(request: ChatRequest, responseBytes: number): ModelTurn {
    const all = [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({ id: c.id || `${this.callIdPrefix}_${index}`, name: c.name, argumentsText: c.argumentsText, refused: c.refused }));
    const toolCalls = all.filter((c) => !c.refused).map(({ id, name, argumentsText }) => ({ id, name, argumentsText }));
    const refusedToolCalls = all.filter((c) => c.refused).map(({ id, name }) => ({ id, name }));
    const promptChars = JSON.stringify(request.messages).length + JSON.stringify(request.tools).length;
    const completionChars = this.content.length + all.reduce((n, c) => n + c.name.length + c.argumentsText.length, 0);
    const prompt = believableTokens(this.usage?.promptTokens, promptChars, 0);
    // Hidden reasoning (o-series) is billed but never sent: a reported reasoning figure widens the bound, within the same sanity limits.
    const reasoning = believableTokens(this.usage?.reasoningTokens, 0, 1_000_000) ?? 0;
    const completion = believableTokens(this.usage?.completionTokens, Math.max(completionChars, responseBytes), reasoning);
    return {
      content: this.content,
      toolCalls,
      refusedToolCalls,
      finishReason: this.finishReason,
      usage: {
        promptTokens: prompt ?? estimateTokens(promptChars),
        completionTokens: completion ?? estimateTokens(completionChars),
        estimated: prompt === undefined || completion === undefined,
      },
    };
  }
}

/** About 4 characters per token: a local estimate, so a run's token budget holds when the server's figure cannot be used. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/**
 * The server's token figure when it is believable; undefined when it is
 * missing, not a whole non-negative number, or far beyond what `chars`
 * characters could hold (a token is at least one character; chat templates
 * and hidden reasoning add `slack`). Such a figure would break the run's token
 * budget either way: stop it at once, or never.
 */
function believableTokens(value: unknown, chars: number, slack: number): number | undefined {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) return undefined;
  if (value > chars + slack + 4096) return undefined;
  return value;
}

// ---------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------

type StopCause = "aborted" | "total" | "idle";

export function errorCodes(err: unknown, depth = 0): string[] {
  if (!isObject(err) && !(err instanceof Error)) return [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof e.code === "string" ? [e.code] : [];
  if (depth > 3) return codes;
  codes.push(...errorCodes(e.cause, depth + 1));
  if (Array.isArray(e.errors)) for (const inner of e.errors) codes.push(...errorCodes(inner, depth + 1));
  return codes;
}

export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : "";
  return cause && cause !== err.message ? `${err.message} (${cause})` : err.message;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The most useful sentence in an error body: OpenAI, vLLM, Ollama and llama.cpp all nest it differently. */
export function serverMessage(body: string): string | null {
  try {
    const parsed: unknown = JSON.parse(body);
    if (!isObject(parsed)) return null;
    const err = parsed.error;
    if (typeof err === "string") return err;
    if (isObject(err) && typeof err.message === "string") return err.message;
    if (typeof parsed.message === "string") return parsed.message;
    if (typeof parsed.detail === "string") return parsed.detail;
  } catch {
    // not JSON: the raw snippet speaks for itself
  }
  return null;
}

/**
 * One chat completion, streamed. Resolves with the assembled turn; rejects
 * only with ModelError (or whatever `onDelta` throws).
 */
export async function streamChatCompletion(endpoint: ModelEndpoint, request: ChatRequest, opts: StreamOptions = {}): Promise<ModelTurn> {
  const apiKey = endpoint.apiKey || null;
  const redact = (text: string) => redactSecrets(text, apiKey);
  const fail = (kind: ModelErrorKind, message: string, details?: ConstructorParameters<typeof ModelError>[2]) =>
    new ModelError(kind, redact(message), details && details.body !== undefined ? { ...details, body: redact(details.body) } : details);

  let base: string;
  try {
    base = normalizeBaseUrl(endpoint.baseUrl);
  } catch (err) {
    throw err instanceof ModelError ? fail(err.kind, err.message) : err;
  }
  const url = `${base}/chat/completions`;
  const shownUrl = redact(displayUrl(url));
  if (opts.signal?.aborted) throw fail("aborted", "The model request was aborted before it started.");

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const controller = new AbortController();
  let stopCause: StopCause | null = null;
  const stop = (cause: StopCause) => {
    if (stopCause) return;
    stopCause = cause;
    controller.abort();
  };
  const onCallerAbort = () => stop("aborted");
  opts.signal?.addEventListener("abort", onCallerAbort, { once: true });
  const totalTimer = setTimeout(() => stop("total"), timeoutMs);
  const idleTimer = setTimeout(() => stop("idle"), idleTimeoutMs);

  const stoppedError = (cause: StopCause, partial: string) => {
    if (cause === "aborted") return fail("aborted", `The model request was aborted${partial}.`);
    if (cause === "total") return fail("timeout", `The model did not finish within ${timeoutMs} ms (whole-request timeout)${partial}.`);
    return fail("timeout", `The model sent nothing for ${idleTimeoutMs} ms (idle timeout)${partial}.`);
  };

  /** Maps a failure of fetch or of a body read to the kind an operator can act on. */
  const transportError = (err: unknown, phase: "connect" | "read"): ModelError => {
    if (stopCause) return stoppedError(stopCause, phase === "read" ? " while the response was streaming" : "");
    const codes = errorCodes(err);
    const has = (...c: string[]) => c.some((x) => codes.includes(x));
    const detail = errorText(err);
    if (has("UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT")) return fail("timeout", `The model server stopped answering ${shownUrl} (${detail}).`);
    if (phase === "read") {
      return fail("unreachable", `The connection to ${shownUrl} closed while the response was streaming (${detail}).`, { retryable: true });
    }
    if (has("ECONNREFUSED")) {
      return fail("unreachable", `Nothing is listening at ${shownUrl} (connection refused): is the model server running, and is the base URL right?`, {
        retryable: true,
      });
    }
    if (has("ENOTFOUND", "EAI_AGAIN", "EAI_NONAME")) {
      return fail("unreachable", `Cannot resolve the host of ${shownUrl} (${detail}): check the base URL.`);
    }
    if (has("ECONNRESET", "EPIPE", "UND_ERR_SOCKET")) {
      return fail("unreachable", `The model server at ${shownUrl} closed the connection before answering (${detail}).`, { retryable: true });
    }
    return fail("unreachable", `Cannot reach the model server at ${shownUrl}: ${detail}.`);
  };

  const headers: Record<string, string> = { "content-type": "application/json", accept: "text/event-stream, application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const body: Json = {
    model: endpoint.model,
    messages: request.messages,
    stream: true,
    stream_options: { include_usage: true },
  };
  // OpenAI rejects an empty tools array.
  if (request.tools.length > 0) body.tools = request.tools;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;

  try {
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal: controller.signal });
    } catch (err) {
      throw transportError(err, "connect");
    }
    idleTimer.refresh();

    const reader = res.body?.getReader();
    const decoder = new TextDecoder();
    let receivedBytes = 0;
    let sinceYield = 0;
    /** Next decoded piece of the body, or null at the end; every byte resets the idle timer. */
    /** What is left of a read larger than one slice. */
    let carry: Uint8Array | null = null;
    const readText = async (): Promise<string | null> => {
      if (!reader) return null;
      let bytes: Uint8Array;
      if (carry) {
        bytes = carry;
        carry = null;
      } else {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw transportError(err, "read");
        }
        if (chunk.done) {
          const tail = decoder.decode();
          return tail === "" ? null : tail;
        }
        idleTimer.refresh();
        receivedBytes += chunk.value.length;
        if (receivedBytes > MODEL_LIMITS.maxResponseBytes) {
          throw fail(
            "limit",
            `The model server at ${shownUrl} sent more than ${MODEL_LIMITS.maxResponseBytes} bytes in one response; Airlock stopped reading it. Check the model's max_tokens setting, or the server.`,
          );
        }
        bytes = chunk.value;
      }
      // Reads of data already buffered resolve as microtasks, and one read can
      // hold megabytes: parsed in one go that held the event loop for ~100 ms.
      // So at most READ_SLICE bytes are handed on at a time, with a pause for
      // the event loop between slices.
      if (bytes.length > READ_SLICE) {
        carry = bytes.subarray(READ_SLICE);
        bytes = bytes.subarray(0, READ_SLICE);
      }
      sinceYield += bytes.length;
      if (sinceYield >= READ_SLICE) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return decoder.decode(bytes, { stream: true });
    };
    const readUpTo = async (limit: number): Promise<string> => {
      let text = "";
      for (let piece = await readText(); piece !== null && text.length < limit; piece = await readText()) text += piece;
      return text;
    };

    if (!res.ok) {
      const raw = await readUpTo(64 * 1024);
      throw httpError(res, raw);
    }

    const contentType = res.headers.get("content-type") ?? "";
    const assembler = new TurnAssembler(opts.onDelta);

    if (/\bjson\b/i.test(contentType)) {
      // The server ignored `stream: true` and answered with one body.
      parseCompletionBody(await readUpTo(Number.POSITIVE_INFINITY), assembler);
      return assembler.finish(request, receivedBytes);
    }
    if (/text\/html/i.test(contentType)) {
      const raw = await readUpTo(4096);
      throw fail("malformed", `${shownUrl} answered with an HTML page, not a chat completion: check the base URL. It began: ${snippet(raw)}`);
    }

    // SSE (or an unlabelled body that we sniff once it ends).
    const parser = new SseParser(MODEL_LIMITS.maxEventChars);
    let sawEvent = false;
    let head = "";
    let done = false;
    const handle = (events: SseEvent[]) => {
      for (const event of events) {
        sawEvent = true;
        const data = event.data.trim();
        if (data === "") continue;
        if (data === "[DONE]") {
          done = true;
          return;
        }
        let chunk: unknown;
        try {
          chunk = JSON.parse(data);
        } catch {
          throw fail("malformed", `The model server sent an SSE event that is not valid JSON: ${snippet(data)}`);
        }
        if (isObject(chunk) && chunk.error !== undefined && chunk.error !== null) throw streamedError(chunk.error);
        assembler.addChunk(chunk);
      }
    };
    for (let piece = await readText(); piece !== null; piece = await readText()) {
      if (!sawEvent && head.length < 1024 * 1024) head += piece;
      handle(parser.push(piece));
      if (done) return assembler.finish(request, receivedBytes);
    }
    handle(parser.end());
    if (done || sawEvent) return assembler.finish(request, receivedBytes);
    if (head.trim().startsWith("{")) {
      parseCompletionBody(head, assembler);
      return assembler.finish(request, receivedBytes);
    }
    throw fail(
      "malformed",
      head.trim() === ""
        ? `The model server at ${shownUrl} answered with an empty body.`
        : `The model server at ${shownUrl} answered with neither SSE nor JSON (content-type "${contentType}"): ${snippet(head)}`,
    );
  } finally {
    clearTimeout(totalTimer);
    clearTimeout(idleTimer);
    opts.signal?.removeEventListener("abort", onCallerAbort);
    // Frees the socket when we stop reading early ([DONE], an error, onDelta throwing).
    controller.abort();
  }

  function parseCompletionBody(text: string, assembler: TurnAssembler): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw fail("malformed", `The model server's JSON reply does not parse: ${snippet(text)}`);
    }
    if (!isObject(parsed)) throw fail("malformed", `The model server's reply is not a JSON object: ${snippet(text)}`);
    if (parsed.error !== undefined && parsed.error !== null) throw streamedError(parsed.error);
    try {
      assembler.addCompletion(parsed);
    } catch (err) {
      throw err instanceof ModelError ? fail(err.kind, err.message) : err;
    }
  }

  /** An error object sent with status 200 (mid-stream, as vLLM and OpenAI do). */
  function streamedError(raw: unknown): ModelError {
    const message = isObject(raw) && typeof raw.message === "string" ? raw.message : typeof raw === "string" ? raw : JSON.stringify(raw);
    const code = isObject(raw) && typeof raw.code === "number" ? raw.code : undefined;
    const status = code !== undefined && code >= 400 && code < 600 ? code : 500;
    return fail("http", `The model server reported an error mid-response: ${snippet(message, 500)}`, {
      status,
      body: snippet(JSON.stringify(raw), 500),
      retryable: status === 429 || status >= 500,
    });
  }

  function httpError(res: Response, raw: string): ModelError {
    const status = res.status;
    const body = raw.slice(0, 500);
    const said = serverMessage(raw) ?? snippet(raw, 300);
    const saidPart = said ? ` Server said: ${said}` : "";
    const statusText = `HTTP ${status}${res.statusText ? ` ${res.statusText}` : ""}`;
    const retryable = status === 408 || status === 429 || status >= 500;
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    let advice: string;
    if (status === 401 || status === 403) {
      advice = apiKey
        ? "The model server rejected the API key: check the API key configured for this model."
        : "The model server wants an API key and none is configured for this model: check the API key.";
    } else if (status === 404) {
      const hint = baseUrlHint(endpoint.baseUrl);
      advice = `Check the base URL and the model name "${endpoint.model}".${hint ? ` ${hint}` : ""}`;
    } else if (status === 429) {
      advice = "The model server is rate limiting; retrying later may succeed.";
    } else if (status >= 500) {
      advice = "The model server failed; retrying may succeed.";
    } else {
      advice = "The model server refused the request.";
    }
    return fail("http", `${statusText} from POST ${shownUrl}. ${advice}${saidPart}`, { status, body, retryable, retryAfterMs });
  }
}

// ---------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------

export interface RetryOptions {
  /** Total attempts, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  onRetry?: (error: ModelError, attempt: number, delayMs: number) => void;
}

/**
 * Calls `fn` until it succeeds, retrying only ModelErrors marked retryable,
 * waiting baseDelayMs·2^(n−1) (or the server's Retry-After, capped) between tries.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const maxDelayMs = opts.maxDelayMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw new ModelError("aborted", "The model request was aborted.");
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(err instanceof ModelError) || !err.retryable || attempt >= opts.attempts) throw err;
      const backoff = opts.baseDelayMs * 2 ** (attempt - 1);
      const delayMs = Math.min(maxDelayMs, Math.max(backoff, err.retryAfterMs ?? 0));
      opts.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, opts.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ModelError("aborted", "The model request was aborted while waiting to retry."));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
