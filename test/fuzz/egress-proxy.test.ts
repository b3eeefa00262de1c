// The egress proxy on loopback, fed hostile bytes over raw sockets:
// malformed request lines, hostile CONNECT targets and absolute URLs, header
// injection, oversized headers, random noise. Properties: the proxy never
// crashes or answers 500, every answer it writes itself is a refusal with a
// text saying what was wrong, nothing reaches an upstream that was not granted,
// and a good request still works afterwards.
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEgressDomains } from "@/server/egress/domains";
import { EgressProxy, parseAuthority } from "@/server/egress/proxy";
import { CaseTally, CrashWatch, fuzzRuns, hostileString } from "@/test/helpers/hostile";

const RUNS = fuzzRuns(200);
const tally = new CaseTally("egress proxy");
const crashes = new CrashWatch();

let upstream: http.Server;
let upstreamPort: number;
/** A second loopback server no grant names: nothing may reach it. */
let forbidden: net.Server;
let forbiddenPort: number;
let forbiddenHits = 0;
let proxy: EgressProxy;
let proxyPort: number;

beforeAll(async () => {
  upstream = http.createServer((req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(`granted upstream saw ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  upstreamPort = (upstream.address() as AddressInfo).port;
  forbidden = net.createServer((s) => {
    forbiddenHits++;
    s.destroy();
  });
  await new Promise<void>((r) => forbidden.listen(0, "127.0.0.1", () => r()));
  forbiddenPort = (forbidden.address() as AddressInfo).port;
  const grants = parseEgressDomains([`registry.test:${upstreamPort}`]);
  proxy = new EgressProxy({
    host: "127.0.0.1",
    identify: (address) => (address === "127.0.0.1" ? "run-1" : null),
    grantsFor: () => grants,
    allowance: () => ({ allowPrivate: false, allowHosts: ["127.0.0.1"] }),
    resolve: async (host) => (host === "registry.test" || host === "forbidden.test" ? [{ address: "127.0.0.1", family: 4 }] : []),
    record: () => undefined,
    connectTimeoutMs: 2_000,
  });
  proxyPort = (await proxy.listen()).port;
  crashes.start();
});

afterAll(async () => {
  crashes.stop();
  tally.print();
  await proxy?.close();
  upstream?.close();
  forbidden?.close();
});

/**
 * Sends `bytes` and returns what the proxy answers before it closes. A request
 * left incomplete is half-closed after a moment (the proxy would otherwise wait
 * for the rest of it), so the proxy sees the end of the stream too.
 */
function exchange(bytes: Buffer, limitMs = 3_000): Promise<{ text: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(proxyPort, "127.0.0.1");
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), timedOut });
    };
    const timer = setTimeout(() => finish(true), limitMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => finish(false));
    socket.on("close", () => finish(false));
    socket.write(bytes);
    const ender = setTimeout(() => socket.end(), 300);
    socket.on("close", () => clearTimeout(ender));
  });
}

interface Parsed {
  status: number;
  refusedByProxy: boolean;
  body: string;
}

function parseAnswer(text: string): Parsed | null {
  // Header lines, each ended by CRLF, then the blank line: none at all is an answer too ("HTTP/1.1 200 Connection Established\r\n\r\n").
  const m = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n([\s\S]*)$/.exec(text);
  if (!m) return null;
  return { status: Number(m[1]), refusedByProxy: /x-airlock-egress: refused/i.test(m[2]!), body: m[3]! };
}

/** Every answer: a real HTTP status, never a 500; the proxy's own refusals explain themselves. */
function expectProperAnswer(text: string, context: () => string) {
  if (text === "") return; // nothing written: only for bytes that never formed a request (checked by callers)
  const answer = parseAnswer(text);
  if (!answer) expect.fail(`${context()}: not an HTTP answer: ${JSON.stringify(text.slice(0, 300))}`);
  expect(answer.status, context()).not.toBe(500);
  if (answer.refusedByProxy) {
    expect(answer.status, context()).toBeGreaterThanOrEqual(400);
    expect(answer.body, context()).toMatch(/^Airlock egress proxy/);
    expect(answer.body.trim().length, context()).toBeGreaterThan(30);
  }
}

const token = fc.oneof(
  fc.constantFrom("GET", "POST", "CONNECT", "PUT", "DELETE", "OPTIONS", "TRACE", "PRI", "get", "G\u0000T", ""),
  fc.string({ maxLength: 8 }),
);
/** Built when the test runs: the upstream ports exist only after beforeAll. */
const target = () =>
  fc.oneof(
    hostileString({ maxBig: 3_000 }),
    fc.constantFrom(
      `registry.test:${upstreamPort}`,
      `forbidden.test:${forbiddenPort}`,
      `127.0.0.1:${forbiddenPort}`,
      `[::1]:${forbiddenPort}`,
      "registry.test:0",
      "registry.test:99999",
      "registry.test:-1",
      "registry.test:",
      ":443",
      "user@registry.test:443",
      "registry.test:443/path",
      "http://registry.test/",
      `http://registry.test:${upstreamPort}/x`,
      `http://forbidden.test:${forbiddenPort}/x`,
      `http://127.0.0.1:${forbiddenPort}/`,
      `http://[::ffff:127.0.0.1]:${forbiddenPort}/`,
      "http://0x7f.0.0.1/",
      "http://2130706433/",
      "file:///etc/passwd",
      "ftp://registry.test/",
      "*",
      "/relative",
    ),
  );
const version = fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/9", "", "http/1.1", "HTTP/1.1 extra");
const header = fc.tuple(
  fc.oneof(fc.constantFrom("Host", "Content-Length", "Transfer-Encoding", "Proxy-Authorization", "Connection", "X-\u00ff"), fc.string({ maxLength: 12 })),
  fc.oneof(hostileString({ maxBig: 2_000 }), fc.constantFrom("-1", "99999999999999999999", "chunked, chunked", "close\r\nX-Injected: 1")),
);

const request = () =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .tuple(token, target(), version, fc.array(header, { maxLength: 6 }))
        .map(([m, t, v, hs]) => `${m} ${t} ${v}\r\n${hs.map(([k, val]) => `${k}: ${val}`).join("\r\n")}\r\n\r\n`),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2_000 }).map((a) => Buffer.from(a).toString("latin1")) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 17_000, max: 80_000 })
        .map((n) => `GET http://registry.test:${upstreamPort}/ HTTP/1.1\r\nHost: registry.test\r\nX-Big: ${"a".repeat(n)}\r\n\r\n`),
    },
  );

describe("the egress proxy with hostile requests", () => {
  it("answers every hostile request without a 500 or a crash; refusals say why; nothing reaches an ungranted host", async () => {
    await fc.assert(
      fc.asyncProperty(request(), async (raw) => {
        tally.add("raw requests");
        const hitsBefore = forbiddenHits;
        const { text, timedOut } = await exchange(Buffer.from(raw, "latin1"));
        const context = () => `${JSON.stringify(raw.slice(0, 300))} → ${JSON.stringify(text.slice(0, 300))}`;
        // Only a request the proxy let through may still be open (the granted upstream waits for a body it was promised).
        if (timedOut) expect(raw, `${context()}: no answer within 3 s`).toContain(`registry.test:${upstreamPort}`);
        expectProperAnswer(text, context);
        // A request whose head was complete always gets an answer (the proxy's, or the granted upstream's).
        if (/\r\n\r\n/.test(raw) && /^[A-Za-z]+ \S+ HTTP\/1\.[01]\r\n/.test(raw)) expect(text, context()).not.toBe("");
        expect(forbiddenHits, `${context()}: reached an ungranted host`).toBe(hitsBefore);
        expect(crashes.seen).toEqual([]);
      }),
      { numRuns: RUNS },
    );
    // Still serving: a granted request goes through after all that.
    const { text } = await exchange(Buffer.from(`GET http://registry.test:${upstreamPort}/after HTTP/1.1\r\nHost: registry.test\r\n\r\n`));
    expect(text).toContain("granted upstream saw /after");
  });

  it("parseAuthority never throws and accepts only host:port with a port in range", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          hostileString({ maxBig: 10_000 }),
          fc.tuple(fc.string(), fc.integer()).map(([h, p]) => `${h}:${p}`),
        ),
        (authority) => {
          tally.add("CONNECT targets (parseAuthority)");
          const parsed = parseAuthority(authority);
          if (parsed) {
            expect(parsed.port).toBeGreaterThanOrEqual(1);
            expect(parsed.port).toBeLessThanOrEqual(65535);
            expect(parsed.host.length).toBeGreaterThan(0);
            expect(parsed.host).not.toMatch(/[\s/@]/);
          }
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it("E1: a malformed request line is answered 400 saying what to send, not cut without a word", async () => {
    tally.add("regressions");
    const { text } = await exchange(Buffer.from("THIS IS NOT HTTP\r\n\r\n"));
    const answer = parseAnswer(text);
    expect(answer?.status, text).toBe(400);
    expect(answer?.body).toContain('send "CONNECT host:port HTTP/1.1" or an absolute-URL request');
  });

  it("E1: headers over the limit are answered 431 naming the limit and its value", async () => {
    tally.add("regressions");
    const { text } = await exchange(Buffer.from(`GET http://registry.test:${upstreamPort}/ HTTP/1.1\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`));
    const answer = parseAnswer(text);
    expect(answer?.status, text).toBe(431);
    expect(answer?.body).toContain(`larger than ${http.maxHeaderSize} bytes (the limit)`);
  });
});
