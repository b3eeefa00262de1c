// The host-side HTTP proxy that sandboxes with granted egress talk to:
// CONNECT for https (a byte tunnel, TLS stays end to end) and absolute-form
// requests for plain http. A connection is attributed to a run by its source
// address (the container's address on the egress network); the target must be
// one of the run's granted domains on an allowed port (or one the project
// policy's domain rules allow, or a reviewer allows while the connection is
// held, see ask.ts), and the address Airlock
// resolves for it must pass the same checks as http_fetch (no special-purpose
// range, none of this host's own addresses, no metadata service unless an
// admin allows it, see addresses.ts). The proxy
// connects to exactly the address it checked. Everything else gets a 403
// whose body says why and that a reviewer can grant the domain.
import dns from "node:dns/promises";
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { refuseAddress, type PrivateAddressAllowance } from "@/server/egress/addresses";
import { judgeEgressTarget, normaliseTargetHost, type EgressDomain } from "@/server/egress/domains";

/** Open connections one run may hold through the proxy at once (README, Limits). */
export const DEFAULT_MAX_CONNECTIONS_PER_RUN = 64;

export interface EgressConnectionRecord {
  verdict: "allowed" | "refused";
  /** CONNECT for a tunnel, else the HTTP method of a plain request. */
  method: string;
  host: string;
  port: number;
  /** The address connected to (allowed) or refused. */
  address?: string;
  /** The grant that allowed it. */
  grant?: string;
  reason?: string;
  /** The status the proxy answered (refusals) or the upstream answered (plain http). */
  status?: number;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  /** Closed by Airlock because its grant was revoked. */
  cut?: boolean;
}

export interface EgressTargetRuling {
  verdict: "allow" | "ask" | "deny";
  rule: string;
  reason: string;
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface EgressProxyOptions {
  /** Address to listen on (the egress network's gateway). */
  host: string;
  port?: number;
  /** The run a connection comes from, by its source address; null: not a sandbox with egress. */
  identify(sourceAddress: string): string | null;
  /** The run's granted domains now (read per request, so a revocation applies to the next one). */
  grantsFor(runId: string): EgressDomain[];
  allowance(): PrivateAddressAllowance;
  /** Name resolution (default: the host's resolver). Tests map made-up names to loopback. */
  resolve?(host: string): Promise<ResolvedAddress[]>;
  record(runId: string | null, sourceAddress: string, record: EgressConnectionRecord): void;
  /**
   * The project policy's domain rules for a target (server/egress/ask.ts):
   * deny refuses even a granted target, allow admits one no grant covers,
   * ask holds the connection for `askReviewer`. null: no rule names it.
   */
  judgeTarget?(runId: string, host: string, port: number, scheme: "http" | "https"): EgressTargetRuling | null;
  /** Holds a connection while a reviewer decides (concurrent ones to the same target share the decision). */
  askReviewer?(
    runId: string,
    host: string,
    port: number,
    ruling: EgressTargetRuling,
  ): Promise<{ allowed: true; entry: string } | { allowed: false; reason: string }>;
  connectTimeoutMs?: number;
  /** A tunnel or request with no traffic this long is closed. */
  idleTimeoutMs?: number;
  maxConnectionsPerRun?: number;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

interface ActiveConnection {
  runId: string;
  host: string;
  port: number;
  cut(): void;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sourceOf(socket: net.Socket): string {
  const a = socket.remoteAddress ?? "";
  return a.startsWith("::ffff:") && net.isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

/** host:port of a CONNECT request ([v6]:port too); null when malformed. */
export function parseAuthority(authority: string): { host: string; port: number } | null {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(authority) ?? /^([^:[\]\s/@]+):(\d{1,5})$/.exec(authority);
  if (!m) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  return { host: normaliseTargetHost(m[1]!), port };
}

function refusalBody(method: string, host: string, port: number, reason: string): string {
  const shown = net.isIP(host) === 6 ? `[${host}]` : host;
  return `Airlock egress proxy refused ${method} ${shown}:${port}: ${reason}\n`;
}

export class EgressProxy {
  private readonly server: http.Server;
  private readonly active = new Set<ActiveConnection>();
  private readonly sockets = new Set<net.Socket | Duplex>();
  private listening: { address: string; port: number } | null = null;

  constructor(private readonly opts: EgressProxyOptions) {
    this.server = http.createServer();
    this.server.on("connect", (req: http.IncomingMessage, client: Duplex, head: Buffer) => void this.tunnel(req, client as net.Socket, head));
    this.server.on("request", (req, res) => void this.forward(req, res));
    // A request Node cannot parse (a malformed request line, headers over the limit) gets an
    // answer saying what was wrong before the connection closes (E1: it was cut without a word).
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
      const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
      const status = tooLarge ? 431 : 400;
      const body = tooLarge
        ? `Airlock egress proxy: the request line and headers are larger than ${http.maxHeaderSize} bytes (the limit); send fewer or shorter headers.\n`
        : `Airlock egress proxy: malformed HTTP request (${err.code ?? "parse error"}); send "CONNECT host:port HTTP/1.1" or an absolute-URL request (GET http://host/path HTTP/1.1).\n`;
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Airlock-Egress: refused\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    this.server.on("connection", (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<{ address: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.port ?? 0, this.opts.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const a = this.server.address() as net.AddressInfo;
    this.listening = { address: a.address, port: a.port };
    return this.listening;
  }

  get address(): { address: string; port: number } | null {
    return this.listening;
  }

  async close(): Promise<void> {
    for (const c of this.active) c.cut();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.listening = null;
  }

  /** Closes a run's open connections whose target `keep` no longer allows (a revoked grant); returns how many. */
  cutConnections(runId: string, keep: (host: string, port: number) => boolean): number {
    let n = 0;
    for (const c of [...this.active]) {
      if (c.runId === runId && !keep(c.host, c.port)) {
        c.cut();
        n++;
      }
    }
    return n;
  }

  private countFor(runId: string): number {
    let n = 0;
    for (const c of this.active) if (c.runId === runId) n++;
    return n;
  }

  /** Identifies the run, judges the target and resolves it to one checked address. Throws Refusal. */
  private async admit(
    source: string,
    method: string,
    host: string,
    port: number,
    scheme: "http" | "https",
  ): Promise<{ runId: string; grant: string; pinned: ResolvedAddress }> {
    const runId = this.opts.identify(source);
    if (!runId) throw new Refusal(403, `${source} is not an Airlock sandbox with granted network access.`);
    const ruling = this.opts.judgeTarget?.(runId, host, port, scheme) ?? null;
    if (ruling?.verdict === "deny") throw Object.assign(new Refusal(403, `the project's policy denies it (rule ${ruling.rule}): ${ruling.reason}`), { runId });
    let verdict = judgeEgressTarget(this.opts.grantsFor(runId), host, port);
    if (!verdict.allowed && ruling?.verdict === "allow") verdict = { allowed: true, entry: `policy rule ${ruling.rule}` };
    if (!verdict.allowed && ruling?.verdict === "ask" && this.opts.askReviewer) {
      // DNS waits too: nothing about the target is looked up before a reviewer lets it through.
      const outcome = await this.opts.askReviewer(runId, host, port, ruling);
      verdict = outcome.allowed ? { allowed: true, entry: outcome.entry } : { allowed: false, reason: outcome.reason };
    }
    if (!verdict.allowed) throw Object.assign(new Refusal(403, verdict.reason), { runId });
    if (this.countFor(runId) >= (this.opts.maxConnectionsPerRun ?? DEFAULT_MAX_CONNECTIONS_PER_RUN)) {
      throw Object.assign(
        new Refusal(
          503,
          `the run already has ${this.opts.maxConnectionsPerRun ?? DEFAULT_MAX_CONNECTIONS_PER_RUN} open connections through the proxy; close some and retry.`,
        ),
        { runId },
      );
    }
    let candidates: ResolvedAddress[];
    if (net.isIP(host)) candidates = [{ address: host, family: net.isIP(host) }];
    else {
      try {
        candidates = this.opts.resolve ? await this.opts.resolve(host) : await dns.lookup(host, { all: true, verbatim: true });
      } catch (err) {
        throw Object.assign(new Refusal(502, `${host} could not be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`), { runId });
      }
    }
    if (candidates.length === 0) throw Object.assign(new Refusal(502, `${host} has no addresses.`), { runId });
    const allowance = this.opts.allowance();
    // Any refused address refuses the host (a name mixing public and private answers is a rebinding trick).
    for (const c of candidates) {
      const refusal = refuseAddress(host, c.address, allowance);
      if (refusal) throw Object.assign(new Refusal(403, refusal), { runId });
    }
    return { runId, grant: verdict.entry, pinned: candidates[0]! };
  }

  private refuse(
    runId: string | null,
    source: string,
    method: string,
    host: string,
    port: number,
    err: unknown,
    started: number,
  ): { status: number; body: string } {
    const status = err instanceof Refusal ? err.status : 502;
    const reason = err instanceof Error ? err.message : String(err);
    this.safeRecord(runId, source, { verdict: "refused", method, host, port, reason, status, bytesUp: 0, bytesDown: 0, durationMs: Date.now() - started });
    return { status, body: refusalBody(method, host, port, reason) };
  }

  private safeRecord(runId: string | null, source: string, record: EgressConnectionRecord) {
    try {
      this.opts.record(runId, source, record);
    } catch (err) {
      console.error("airlock: could not record an egress connection:", err);
    }
  }

  private async tunnel(req: http.IncomingMessage, client: net.Socket, head: Buffer): Promise<void> {
    const started = Date.now();
    const source = sourceOf(client);
    client.on("error", () => undefined);
    const target = parseAuthority(req.url ?? "");
    const answer = (status: number, body: string) => {
      const text = Buffer.from(body, "utf8");
      client.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${text.length}\r\nX-Airlock-Egress: refused\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    if (!target) {
      const runId = this.opts.identify(source);
      this.safeRecord(runId, source, {
        verdict: "refused",
        method: "CONNECT",
        host: String(req.url ?? "").slice(0, 200),
        port: 0,
        reason: "malformed CONNECT target",
        status: 400,
        bytesUp: 0,
        bytesDown: 0,
        durationMs: 0,
      });
      return answer(400, "Airlock egress proxy: CONNECT needs host:port.\n");
    }
    let admitted: Awaited<ReturnType<EgressProxy["admit"]>>;
    try {
      admitted = await this.admit(source, "CONNECT", target.host, target.port, "https");
    } catch (err) {
      const r = this.refuse((err as { runId?: string }).runId ?? null, source, "CONNECT", target.host, target.port, err, started);
      return answer(r.status, r.body);
    }
    if (client.destroyed) return;
    const upstream = net.connect({ host: admitted.pinned.address, port: target.port, family: admitted.pinned.family === 6 ? 6 : 4 });
    upstream.on("error", () => undefined);
    let established = false;
    let cut = false;
    let recorded = false;
    const connectTimer = setTimeout(() => upstream.destroy(new Error("connect timeout")), this.opts.connectTimeoutMs ?? 10_000);
    const entry: ActiveConnection = {
      runId: admitted.runId,
      host: target.host,
      port: target.port,
      cut: () => {
        cut = true;
        upstream.destroy();
        client.destroy();
      },
    };
    this.active.add(entry);
    const finish = (failure?: string) => {
      if (recorded) return;
      recorded = true;
      clearTimeout(connectTimer);
      this.active.delete(entry);
      if (!established) {
        const reason = `connecting to ${target.host}:${target.port} (${admitted.pinned.address}) failed: ${failure ?? "closed"}`;
        this.safeRecord(admitted.runId, source, {
          verdict: "refused",
          method: "CONNECT",
          host: target.host,
          port: target.port,
          address: admitted.pinned.address,
          grant: admitted.grant,
          reason,
          status: 502,
          bytesUp: 0,
          bytesDown: 0,
          durationMs: Date.now() - started,
        });
        if (!client.destroyed) answer(502, refusalBody("CONNECT", target.host, target.port, reason));
        return;
      }
      this.safeRecord(admitted.runId, source, {
        verdict: "allowed",
        method: "CONNECT",
        host: target.host,
        port: target.port,
        address: admitted.pinned.address,
        grant: admitted.grant,
        bytesUp: upstream.bytesWritten,
        bytesDown: upstream.bytesRead,
        durationMs: Date.now() - started,
        ...(cut ? { cut: true, reason: "the grant was revoked" } : {}),
      });
    };
    upstream.once("connect", () => {
      clearTimeout(connectTimer);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      established = true;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      const idle = this.opts.idleTimeoutMs ?? 300_000;
      client.setTimeout(idle, () => client.destroy());
      upstream.setTimeout(idle, () => upstream.destroy());
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once("close", () => {
      if (!established) finish((upstream as net.Socket & { errored?: Error }).errored?.message ?? "connection refused");
      else {
        client.destroy();
        finish();
      }
    });
    client.once("close", () => {
      if (established) {
        upstream.destroy();
        finish();
      } else upstream.destroy();
    });
  }

  private async forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    const source = sourceOf(req.socket);
    const method = req.method ?? "GET";
    const answer = (status: number, body: string): void => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "x-airlock-egress": "refused", connection: "close" }).end(body);
    };
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      return answer(400, "Airlock egress proxy: this is an HTTP proxy; send absolute URLs (http://host/path) or CONNECT host:443.\n");
    }
    const host = normaliseTargetHost(url.hostname);
    const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    if (url.protocol !== "http:") {
      const r = this.refuse(
        this.opts.identify(source),
        source,
        method,
        host,
        port,
        new Refusal(400, `${url.protocol} URLs go through CONNECT (https) or are not supported.`),
        started,
      );
      return answer(r.status, r.body);
    }
    let admitted: Awaited<ReturnType<EgressProxy["admit"]>>;
    try {
      admitted = await this.admit(source, method, host, port, "http");
    } catch (err) {
      const r = this.refuse((err as { runId?: string }).runId ?? null, source, method, host, port, err, started);
      req.resume();
      return answer(r.status, r.body);
    }
    // The client may have given up while a reviewer decided.
    if (res.destroyed || req.socket.destroyed) return;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    headers.host = url.host;
    let socket: net.Socket | null = null;
    let cut = false;
    let recorded = false;
    let status: number | undefined;
    const upstreamReq = http.request({
      host: admitted.pinned.address,
      family: admitted.pinned.family === 6 ? 6 : 4,
      port,
      method,
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      agent: false,
      timeout: this.opts.idleTimeoutMs ?? 300_000,
    });
    const entry: ActiveConnection = {
      runId: admitted.runId,
      host,
      port,
      cut: () => {
        cut = true;
        upstreamReq.destroy();
        res.destroy();
      },
    };
    this.active.add(entry);
    const connectTimer = setTimeout(() => {
      if (!socket || socket.connecting) upstreamReq.destroy(new Error("connect timeout"));
    }, this.opts.connectTimeoutMs ?? 10_000);
    const finish = (failure?: string) => {
      if (recorded) return;
      recorded = true;
      clearTimeout(connectTimer);
      this.active.delete(entry);
      const base = {
        method,
        host,
        port,
        address: admitted.pinned.address,
        grant: admitted.grant,
        durationMs: Date.now() - started,
        bytesUp: socket?.bytesWritten ?? 0,
        bytesDown: socket?.bytesRead ?? 0,
      };
      if (status === undefined) {
        const reason = `the request to ${host}:${port} (${admitted.pinned.address}) failed: ${failure ?? "closed"}`;
        this.safeRecord(admitted.runId, source, { verdict: "refused", ...base, reason, status: 502 });
        if (!res.headersSent && !res.destroyed) answer(502, refusalBody(method, host, port, reason));
        return;
      }
      this.safeRecord(admitted.runId, source, { verdict: "allowed", ...base, status, ...(cut ? { cut: true, reason: "the grant was revoked" } : {}) });
    };
    upstreamReq.on("socket", (s: net.Socket) => (socket = s));
    upstreamReq.on("timeout", () => upstreamReq.destroy(new Error("idle timeout")));
    upstreamReq.on("error", (err) => finish(err.message));
    upstreamReq.on("response", (upstreamRes) => {
      clearTimeout(connectTimer);
      status = upstreamRes.statusCode ?? 502;
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(upstreamRes.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      res.writeHead(status, upstreamRes.statusMessage, out);
      upstreamRes.pipe(res);
      upstreamRes.on("error", () => res.destroy());
      res.once("close", () => {
        upstreamReq.destroy();
        finish();
      });
    });
    req.on("error", () => upstreamReq.destroy());
    res.once("close", () => {
      if (status === undefined) upstreamReq.destroy();
    });
    req.pipe(upstreamReq);
  }
}
