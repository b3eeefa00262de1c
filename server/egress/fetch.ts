// http_fetch, executed by Airlock on the host (the container has no network):
// Airlock resolves the name, refuses non-public addresses unless an admin
// allowed them, connects to exactly the address it checked (no second DNS
// lookup to rebind), follows redirects itself (each hop judged again) and caps
// time and size. Called only after the policy allowed or a reviewer approved.
import dns from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { refuseAddress, type PrivateAddressAllowance } from "@/server/egress/addresses";

export const MAX_REDIRECTS = 5;
/** Bytes of a response body given back (the rest is counted, not kept). */
export const RESPONSE_BODY_CAP = 1024 * 1024;
/** Past this the download stops; the total is then "at least". */
const MAX_DOWNLOAD_BYTES = 16 * 1024 * 1024;
export const CONNECT_TIMEOUT_MS = 10_000;
export const TOTAL_TIMEOUT_MS = 30_000;

/** Headers Airlock sets itself (or that would let a request lie about its framing). */
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "proxy-connection",
  "accept-encoding",
  "expect",
]);
/** Dropped when a redirect leaves the origin that was approved. */
const CREDENTIAL_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

export interface EgressRequest {
  url: string;
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  headers: Record<string, string>;
  /** Header names whose values carried a secret: never sent to another origin. */
  secretHeaders: Set<string>;
  body?: string;
}

export type HopVerdict = { follow: true } | { follow: false; reason: string };

export interface EgressOptions {
  allowance: PrivateAddressAllowance;
  /** Judges a redirect target (the policy); the first URL was judged before the call. */
  judgeRedirect(url: string, method: string, sameOrigin: boolean): HopVerdict;
  signal?: AbortSignal;
  totalTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface EgressHop {
  url: string;
  status: number;
  address: string;
}

export type EgressOutcome =
  | {
      ok: true;
      status: number;
      statusText: string;
      url: string;
      hops: EgressHop[];
      headers: Record<string, string>;
      body: Buffer;
      truncated: boolean;
      totalBytes: number;
      /** true when the download was cut at MAX_DOWNLOAD_BYTES: totalBytes is a lower bound. */
      totalIsLowerBound: boolean;
      contentType: string | null;
    }
  | { ok: false; code: "EGRESS_DENIED" | "TIMEOUT" | "EXECUTION_FAILED" | "INVALID_INPUT" | "RUN_STOPPED"; message: string; hops: EgressHop[] };

export class EgressRefusal extends Error {
  constructor(
    readonly code: "EGRESS_DENIED" | "TIMEOUT" | "EXECUTION_FAILED" | "INVALID_INPUT" | "RUN_STOPPED",
    message: string,
  ) {
    super(message);
  }
}

function origin(u: URL): string {
  return `${u.protocol}//${u.host}`;
}

function parseTarget(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new EgressRefusal("INVALID_INPUT", `${raw} is not a valid URL.`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new EgressRefusal("EGRESS_DENIED", `${u.protocol.replace(/:$/, "")} URLs cannot be fetched; only http and https.`);
  if (u.username || u.password)
    throw new EgressRefusal(
      "INVALID_INPUT",
      "Credentials in the URL are not accepted; use an Authorization header (with ${secret:NAME} for a granted secret).",
    );
  return u;
}

/** Resolves the URL's host once and returns the one address the connection will use, refused if not allowed. */
async function resolveChecked(u: URL, allowance: PrivateAddressAllowance): Promise<{ address: string; family: 4 | 6 }> {
  const host = u.hostname.replace(/^\[|\]$/g, "");
  let candidates: { address: string; family: number }[];
  if (net.isIP(host)) candidates = [{ address: host, family: net.isIP(host) }];
  else {
    try {
      candidates = await dns.lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new EgressRefusal("EXECUTION_FAILED", `${host} could not be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
    }
  }
  if (candidates.length === 0) throw new EgressRefusal("EXECUTION_FAILED", `${host} has no addresses.`);
  // Any refused address refuses the host: a name that mixes public and private answers is a rebinding trick or a misconfiguration.
  for (const c of candidates) {
    const refusal = refuseAddress(host, c.address, allowance);
    if (refusal) throw new EgressRefusal("EGRESS_DENIED", refusal);
  }
  return { address: candidates[0]!.address, family: candidates[0]!.family === 6 ? 6 : 4 };
}

interface HopResponse {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  totalBytes: number;
  truncated: boolean;
  totalIsLowerBound: boolean;
}

function requestOnce(
  u: URL,
  pinned: { address: string; family: 4 | 6 },
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
  connectTimeoutMs: number,
): Promise<HopResponse> {
  return new Promise((resolve, reject) => {
    const mod = u.protocol === "https:" ? https : http;
    const host = u.hostname.replace(/^\[|\]$/g, "");
    const payload = body !== undefined && method !== "GET" && method !== "HEAD" ? Buffer.from(body, "utf8") : null;
    const req = mod.request({
      protocol: u.protocol,
      host,
      port: u.port || undefined,
      path: `${u.pathname}${u.search}`,
      method,
      headers: {
        ...headers,
        host: u.host,
        "accept-encoding": "identity",
        connection: "close",
        ...(payload ? { "content-length": String(payload.length) } : {}),
      },
      // Connect to the address that was checked; never a second lookup (DNS rebinding).
      lookup: ((_h: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        opts?.all ? cb(null, [{ address: pinned.address, family: pinned.family }]) : cb(null, pinned.address, pinned.family)) as unknown as net.LookupFunction,
      servername: net.isIP(host) ? undefined : host,
      agent: false,
      signal,
    });
    const connectTimer = setTimeout(
      () => req.destroy(new EgressRefusal("TIMEOUT", `Connecting to ${u.host} took longer than ${connectTimeoutMs / 1000} s.`)),
      connectTimeoutMs,
    );
    req.on("socket", (socket) => {
      socket.once(u.protocol === "https:" ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
    });
    req.on("error", (err) => {
      clearTimeout(connectTimer);
      reject(err);
    });
    req.on("response", (res) => {
      clearTimeout(connectTimer);
      const kept: Buffer[] = [];
      let keptBytes = 0;
      let total = 0;
      let lowerBound = false;
      res.on("data", (chunk: Buffer) => {
        total += chunk.length;
        if (keptBytes < RESPONSE_BODY_CAP) {
          const part = chunk.subarray(0, RESPONSE_BODY_CAP - keptBytes);
          kept.push(part);
          keptBytes += part.length;
        }
        if (total > MAX_DOWNLOAD_BYTES) {
          lowerBound = true;
          res.destroy();
          finish();
        }
      });
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? "",
          headers: res.headers,
          body: Buffer.concat(kept),
          totalBytes: total,
          truncated: total > keptBytes,
          totalIsLowerBound: lowerBound,
        });
      };
      res.on("end", finish);
      res.on("error", (err) => (done ? undefined : reject(err)));
    });
    if (payload) req.write(payload);
    req.end();
  });
}

function flattenHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** Performs the request, hop by hop. Never throws for the request's own failures: they become an outcome. */
export async function fetchForAgent(request: EgressRequest, opts: EgressOptions): Promise<EgressOutcome> {
  const hops: EgressHop[] = [];
  const total = AbortSignal.timeout(opts.totalTimeoutMs ?? TOTAL_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([opts.signal, total]) : total;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) {
    if (!RESERVED_HEADERS.has(k.toLowerCase())) headers[k.toLowerCase()] = v;
  }
  try {
    let url = parseTarget(request.url);
    const firstOrigin = origin(url);
    let method: string = request.method;
    let body = request.body;
    for (let hop = 0; ; hop++) {
      const pinned = await resolveChecked(url, opts.allowance);
      let res: HopResponse;
      try {
        res = await requestOnce(url, pinned, method, headers, body, signal, opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
      } catch (err) {
        if (err instanceof EgressRefusal) throw err;
        if (opts.signal?.aborted) throw new EgressRefusal("RUN_STOPPED", "The run was stopped during the request.");
        if (total.aborted)
          throw new EgressRefusal("TIMEOUT", `The request took longer than ${(opts.totalTimeoutMs ?? TOTAL_TIMEOUT_MS) / 1000} s and was abandoned.`);
        const e = err as NodeJS.ErrnoException;
        throw new EgressRefusal("EXECUTION_FAILED", `The request to ${url.host} failed: ${e.code ?? e.message}.`);
      }
      hops.push({ url: url.toString(), status: res.status, address: pinned.address });
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(res.status) && location) {
        if (hop >= MAX_REDIRECTS) throw new EgressRefusal("EGRESS_DENIED", `More than ${MAX_REDIRECTS} redirects; stopped at ${url.toString()}.`);
        let next: URL;
        try {
          next = parseTarget(new URL(location, url).toString());
        } catch (err) {
          if (err instanceof EgressRefusal)
            throw new EgressRefusal(err.code === "INVALID_INPUT" ? "EGRESS_DENIED" : err.code, `Redirect to ${location} refused: ${err.message}`);
          throw err;
        }
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
          method = method === "HEAD" ? "HEAD" : "GET";
          body = undefined;
        }
        const sameOrigin = origin(next) === firstOrigin;
        const verdict = opts.judgeRedirect(next.toString(), method, sameOrigin);
        if (!verdict.follow)
          throw new EgressRefusal("EGRESS_DENIED", `${url.toString()} redirected to ${next.toString()}, which was not followed: ${verdict.reason}`);
        if (!sameOrigin) {
          for (const name of Object.keys(headers)) if (CREDENTIAL_HEADERS.has(name) || request.secretHeaders.has(name)) delete headers[name];
        }
        url = next;
        continue;
      }
      const contentType = typeof res.headers["content-type"] === "string" ? res.headers["content-type"] : null;
      return {
        ok: true,
        status: res.status,
        statusText: res.statusText,
        url: url.toString(),
        hops,
        headers: flattenHeaders(res.headers),
        body: res.body,
        truncated: res.truncated,
        totalBytes: res.totalBytes,
        totalIsLowerBound: res.totalIsLowerBound,
        contentType,
      };
    }
  } catch (err) {
    if (err instanceof EgressRefusal) return { ok: false, code: err.code, message: err.message, hops };
    throw err;
  }
}

const TEXT_TYPES =
  /^(text\/|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded|yaml|x-yaml|toml|graphql|x-ndjson|problem\+json|ld\+json)|[^;]*\+(json|xml)\b|image\/svg\+xml)/i;

/** The body as UTF-8 text, or null when it is binary (returned as base64 instead). */
export function bodyAsText(body: Buffer, contentType: string | null, truncated: boolean): string | null {
  if (contentType && !TEXT_TYPES.test(contentType.trim()) && !/charset=/i.test(contentType)) return null;
  if (body.includes(0)) return null;
  try {
    // A truncated body may end inside a character: streaming mode keeps that tail instead of failing.
    return new TextDecoder("utf-8", { fatal: true }).decode(body, { stream: truncated });
  } catch {
    return null;
  }
}
