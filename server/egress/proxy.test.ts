// The egress proxy on loopback against a loopback "registry": CONNECT
// tunnels and plain requests, each judged by the run's grants and the
// address checks, refused with a reason, counted and recorded.
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseEgressDomains, type EgressDomain } from "@/server/egress/domains";
import { EgressProxy, parseAuthority, type EgressConnectionRecord } from "@/server/egress/proxy";

let upstream: http.Server;
let upstreamPort: number;
let proxy: EgressProxy;
let proxyPort: number;
let grants: EgressDomain[] = [];
let allowHosts: string[] = ["127.0.0.1"];
let allowPrivate = false;
let records: { runId: string | null; record: EgressConnectionRecord }[] = [];
const hostsSeen: string[] = [];

/** Writes `request` to the proxy and returns everything it answers until it closes the connection. */
function raw(request: string, opts: { closeAfterMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.write(request);
    if (opts.closeAfterMs) setTimeout(() => socket.end(), opts.closeAfterMs);
  });
}

const lastRecord = async () => {
  for (let i = 0; i < 50 && records.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  return records.at(-1)!;
};

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    hostsSeen.push(req.headers.host ?? "");
    res.writeHead(200, { "content-type": "text/plain" }).end(`registry says hi to ${req.url}`);
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  upstreamPort = (upstream.address() as AddressInfo).port;
  proxy = new EgressProxy({
    host: "127.0.0.1",
    identify: (address) => (address === "127.0.0.1" ? "run-1" : null),
    grantsFor: () => grants,
    allowance: () => ({ allowPrivate, allowHosts }),
    resolve: async (host) =>
      host === "registry.test" || host === "other.test"
        ? [{ address: "127.0.0.1", family: 4 }]
        : host === "meta.test"
          ? [{ address: "169.254.169.254", family: 4 }]
          : [],
    record: (runId, _source, record) => records.push({ runId, record }),
  });
  proxyPort = (await proxy.listen()).port;
});

afterAll(async () => {
  await proxy?.close();
  upstream?.close();
});

beforeEach(() => {
  grants = parseEgressDomains([`registry.test:${upstreamPort}`]);
  allowHosts = ["127.0.0.1"];
  allowPrivate = false;
  records = [];
});

describe("the egress proxy", () => {
  it("tunnels a CONNECT to a granted host and counts the bytes both ways", async () => {
    const text = await raw(
      `CONNECT registry.test:${upstreamPort} HTTP/1.1\r\nHost: registry.test:${upstreamPort}\r\n\r\nGET /simple/ HTTP/1.1\r\nHost: registry.test\r\nConnection: close\r\n\r\n`,
    );

    expect(text).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK/);
    expect(text).toContain("registry says hi to /simple/");
    const { runId, record } = await lastRecord();
    expect(runId).toBe("run-1");
    expect(record).toMatchObject({
      verdict: "allowed",
      method: "CONNECT",
      host: "registry.test",
      port: upstreamPort,
      address: "127.0.0.1",
      grant: `registry.test:${upstreamPort}`,
    });
    expect(record.bytesUp).toBeGreaterThan(40);
    expect(record.bytesDown).toBeGreaterThan(100);
  });

  it("refuses a CONNECT to a host that is not granted with 403 and the reason", async () => {
    const text = await raw(`CONNECT other.test:${upstreamPort} HTTP/1.1\r\n\r\n`);

    expect(text).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(text).toContain(`Airlock egress proxy refused CONNECT other.test:${upstreamPort}: other.test is not among the domains granted to this run`);
    expect(text).toContain("A reviewer can grant it");
    expect((await lastRecord()).record).toMatchObject({ verdict: "refused", host: "other.test", status: 403 });
  });

  it("refuses a granted name on a port the grant does not cover", async () => {
    grants = parseEgressDomains(["registry.test"]);
    const text = await raw(`CONNECT registry.test:${upstreamPort} HTTP/1.1\r\n\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 403/);
    expect(text).toContain(`port ${upstreamPort} of registry.test is not granted`);
  });

  it("forwards a plain http request to a granted host with the right Host header", async () => {
    const text = await raw(
      `GET http://registry.test:${upstreamPort}/pkg/ HTTP/1.1\r\nHost: registry.test:${upstreamPort}\r\nProxy-Connection: keep-alive\r\nConnection: close\r\n\r\n`,
    );

    expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(text).toContain("registry says hi to /pkg/");
    expect(hostsSeen.at(-1)).toBe(`registry.test:${upstreamPort}`);
    expect((await lastRecord()).record).toMatchObject({ verdict: "allowed", method: "GET", status: 200 });
  });

  it("refuses a plain request to a host that is not granted", async () => {
    const text = await raw(`GET http://other.test:${upstreamPort}/ HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(text).toContain("other.test is not among the domains granted to this run");
  });

  it("refuses a granted name that resolves to loopback unless an admin allows that address", async () => {
    allowHosts = [];
    const text = await raw(`CONNECT registry.test:${upstreamPort} HTTP/1.1\r\n\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 403/);
    expect(text).toMatch(/registry\.test \(127\.0\.0\.1\) is this host's own address \(loopback/);
  });

  it("never connects to a cloud metadata address, even when private addresses are allowed", async () => {
    grants = parseEgressDomains(["meta.test"]);
    allowHosts = ["169.254.169.254"];
    const text = await raw("CONNECT meta.test:443 HTTP/1.1\r\n\r\n");
    expect(text).toMatch(/^HTTP\/1\.1 403/);
    expect(text).toContain("cloud metadata service");
  });

  it("answers a request that is not a proxy request with 400", async () => {
    const text = await raw("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(text).toMatch(/^HTTP\/1\.1 400/);
  });

  it("closes an open tunnel when its grant is revoked", async () => {
    const closed = raw(`CONNECT registry.test:${upstreamPort} HTTP/1.1\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 200));

    const cut = proxy.cutConnections("run-1", () => false);

    expect(cut).toBe(1);
    expect(await closed).toMatch(/^HTTP\/1\.1 200 Connection Established/);
    expect((await lastRecord()).record).toMatchObject({ verdict: "allowed", cut: true });
  });

  it("parses CONNECT authorities, IPv6 in brackets too", () => {
    expect(parseAuthority("pypi.org:443")).toEqual({ host: "pypi.org", port: 443 });
    expect(parseAuthority("[::1]:8080")).toEqual({ host: "::1", port: 8080 });
    expect(parseAuthority("pypi.org")).toBeNull();
    expect(parseAuthority("a:b@c:443")).toBeNull();
  });

  it("M6: a grant to the host's own interface address is refused with EGRESS_DENIED's 403 and a clear message, even with private addresses allowed", async () => {
    const addresses = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []);
    const own = addresses.find((a) => !a.internal && a.family === "IPv4") ?? addresses.find((a) => !a.internal) ?? addresses[0]!;
    const requests: string[] = [];
    const dashboard = http.createServer((r, res) => (requests.push(r.url!), res.end("dashboard")));
    await new Promise<void>((r) => dashboard.listen(0, own.family === "IPv4" ? "0.0.0.0" : "::", () => r()));
    const port = (dashboard.address() as AddressInfo).port;
    const shown = own.family === "IPv6" ? `[${own.address}]` : own.address;
    try {
      grants = parseEgressDomains([`${shown}:${port}`]);
      allowPrivate = true;
      allowHosts = ["0.0.0.0/0", "::/0"];
      const tunnel = await raw(`CONNECT ${shown}:${port} HTTP/1.1\r\n\r\n`);
      expect(tunnel).toMatch(/^HTTP\/1\.1 403/);
      expect(tunnel).toContain(`${own.address} is this host's own address`);
      expect((await lastRecord()).record).toMatchObject({ verdict: "refused", method: "CONNECT", status: 403 });
      const plain = await raw(`GET http://${shown}:${port}/api/health HTTP/1.1\r\nHost: ${shown}:${port}\r\nConnection: close\r\n\r\n`);
      expect(plain).toMatch(/^HTTP\/1\.1 403/);
      expect(plain).toContain("dashboard listens");
      expect(requests).toEqual([]);
    } finally {
      dashboard.close();
    }
  });

  it("M6: a granted name resolving into a special-purpose range (TEST-NET-3) is refused after resolution", async () => {
    grants = parseEgressDomains(["doc.test"]);
    allowPrivate = true;
    const resolved = new EgressProxy({
      host: "127.0.0.1",
      identify: () => "run-1",
      grantsFor: () => grants,
      allowance: () => ({ allowPrivate: true, allowHosts: [] }),
      resolve: async () => [{ address: "203.0.113.10", family: 4 }],
      record: () => undefined,
    });
    const { port } = await resolved.listen();
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1");
        const chunks: Buffer[] = [];
        socket.on("data", (c) => chunks.push(c));
        socket.on("error", reject);
        socket.on("close", () => resolve(Buffer.concat(chunks).toString()));
        socket.write("CONNECT DOC.TEST.:443 HTTP/1.1\r\n\r\n");
      });
      expect(text).toMatch(/^HTTP\/1\.1 403/);
      expect(text).toContain("doc.test (203.0.113.10) is a documentation address (203.0.113.0/24");
    } finally {
      await resolved.close();
    }
  });

  it("M6: the proxy resolves a name once and connects to the address it checked, so a rebinding answer is never used", async () => {
    // First answer: the allowed loopback registry; every later answer: a metadata address.
    const lookups: string[] = [];
    const rebinding = new EgressProxy({
      host: "127.0.0.1",
      identify: () => "run-1",
      grantsFor: () => parseEgressDomains([`rebind.test:${upstreamPort}`]),
      allowance: () => ({ allowPrivate: false, allowHosts: ["127.0.0.1"] }),
      resolve: async (host) => (lookups.push(host), lookups.length === 1 ? [{ address: "127.0.0.1", family: 4 }] : [{ address: "169.254.169.254", family: 4 }]),
      record: () => undefined,
    });
    const { port } = await rebinding.listen();
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1");
        const chunks: Buffer[] = [];
        socket.on("data", (c) => chunks.push(c));
        socket.on("error", reject);
        socket.on("close", () => resolve(Buffer.concat(chunks).toString()));
        socket.write(`GET http://rebind.test:${upstreamPort}/twice HTTP/1.1\r\nHost: rebind.test:${upstreamPort}\r\nConnection: close\r\n\r\n`);
      });
      expect(text).toMatch(/^HTTP\/1\.1 200/);
      expect(text).toContain("registry says hi to /twice");
      expect(lookups).toEqual(["rebind.test"]);
    } finally {
      await rebinding.close();
    }
  });
});
