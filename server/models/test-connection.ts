// "Test connection" for a model endpoint: GET <base>/models (the OpenAI
// model list every compatible server serves) with the endpoint's key, timed.
// The same URL rules as the chat client apply (normalizeBaseUrl: http(s)
// only, no credentials in the URL), redirects are not followed (a redirect
// could carry the key's request elsewhere), and the body read is capped: the
// server answering is not trusted any more than during a run.
import { baseUrlHint, errorCodes, errorText, ModelError, normalizeBaseUrl, redactSecrets, serverMessage } from "@/server/agents/model-client";

export const TEST_TIMEOUT_MS = 10_000;
/** A model list is small; a server sending more is not the API we expect. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Names shown; a server listing thousands (OpenRouter) still answers quickly. */
const MAX_MODELS_SHOWN = 100;

export type ConnectionProblem = "invalid_url" | "unreachable" | "timeout" | "unauthorized" | "http" | "not_openai";

export type ConnectionResult =
  | { ok: true; latencyMs: number; models: string[]; totalModels: number; modelListed: boolean; url: string }
  | { ok: false; latencyMs: number | null; problem: ConnectionProblem; status?: number; message: string; url: string | null };

/**
 * Tries the endpoint. Never throws for what the endpoint does: every failure
 * comes back as { ok: false, problem, message } with what to check.
 */
export async function testModelConnection(
  endpoint: { baseUrl: string; model: string; apiKey?: string | null },
  opts: { timeoutMs?: number } = {},
): Promise<ConnectionResult> {
  const apiKey = endpoint.apiKey || null;
  const redact = (text: string) => redactSecrets(text, apiKey);
  let base: string;
  try {
    base = normalizeBaseUrl(endpoint.baseUrl);
  } catch (err) {
    return { ok: false, latencyMs: null, problem: "invalid_url", message: err instanceof ModelError ? err.message : String(err), url: null };
  }
  const url = `${base}/models`;
  const shown = redact(url);
  const timeoutMs = opts.timeoutMs ?? TEST_TIMEOUT_MS;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const fail = (problem: ConnectionProblem, message: string, status?: number): ConnectionResult => ({
    ok: false,
    latencyMs: problem === "unreachable" || problem === "timeout" ? null : elapsed(),
    problem,
    ...(status !== undefined ? { status } : {}),
    message: redact(message),
    url: shown,
  });
  const timeoutFail = () =>
    fail(
      "timeout",
      `${shown} did not answer within ${timeoutMs / 1000} s. Check that the model server is running and reachable from the Airlock server, and that the base URL is right.`,
    );

  try {
    const headers: Record<string, string> = { accept: "application/json" };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    let res: Response;
    try {
      res = await fetch(url, { method: "GET", headers, redirect: "manual", signal: controller.signal });
    } catch (err) {
      if (timedOut) return timeoutFail();
      const codes = errorCodes(err);
      const has = (...c: string[]) => c.some((x) => codes.includes(x));
      if (has("ECONNREFUSED"))
        return fail(
          "unreachable",
          `Nothing is listening at ${shown} (connection refused). Check that the model server is running and the base URL's host and port.`,
        );
      if (has("ENOTFOUND", "EAI_AGAIN", "EAI_NONAME")) return fail("unreachable", `Cannot resolve the host of ${shown}. Check the base URL's host name.`);
      return fail("unreachable", `Cannot reach ${shown} (${errorText(err)}). Check the base URL and that the Airlock server can reach it.`);
    }
    const latencyMs = elapsed();
    if (res.status >= 300 && res.status < 400) {
      const to = res.headers.get("location");
      return fail(
        "http",
        `${shown} redirects${to ? ` to ${to}` : ""}; Airlock does not follow redirects with your key. Use the final address as the base URL.`,
        res.status,
      );
    }
    let text: string;
    try {
      text = await readCapped(res);
    } catch (err) {
      if (timedOut) return timeoutFail();
      return fail("not_openai", (err as Error).message);
    }
    if (res.status === 401 || res.status === 403) {
      const said = serverMessage(text);
      return fail(
        "unauthorized",
        `${shown} refused the API key (HTTP ${res.status}${said ? `: ${said}` : ""}). ${apiKey ? "Check the key: replace it in Edit." : "This endpoint needs an API key: add one in Edit."}`,
        res.status,
      );
    }
    if (res.status === 404) {
      const hint = baseUrlHint(endpoint.baseUrl);
      return fail("not_openai", `${shown} answered 404: it does not serve the OpenAI model list there. ${hint ?? "Check the base URL."}`, 404);
    }
    if (!res.ok) {
      const said = serverMessage(text);
      return fail("http", `${shown} answered HTTP ${res.status}${said ? `: ${said}` : ""}. Check the model server's logs.`, res.status);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return fail("not_openai", `${shown} did not answer with JSON, so it is not an OpenAI-compatible API. Check the base URL (most servers use …/v1).`);
    }
    const data = typeof parsed === "object" && parsed !== null ? (parsed as { data?: unknown }).data : undefined;
    if (!Array.isArray(data))
      return fail(
        "not_openai",
        `${shown} answered, but not with an OpenAI model list ({"data": [...]}). Check that the base URL points at the OpenAI-compatible API.`,
      );
    const ids = data
      .map((m) => (typeof m === "object" && m !== null && typeof (m as { id?: unknown }).id === "string" ? (m as { id: string }).id : null))
      .filter((id): id is string => id !== null);
    return {
      ok: true,
      latencyMs,
      models: ids.slice(0, MAX_MODELS_SHOWN),
      totalModels: ids.length,
      modelListed: ids.includes(endpoint.model),
      url: shown,
    };
  } finally {
    clearTimeout(timer);
  }
}

async function readCapped(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new Error(
        `The answer is larger than ${MAX_BODY_BYTES / 1024} KiB, which no model list is; check that the base URL points at the OpenAI-compatible API.`,
      );
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
