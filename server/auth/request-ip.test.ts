import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientIpFromHeaders, installPeerAddressStamp, normalizeAddress, PEER_HEADER, peerAddressFromHeaders, trustedProxyMatcher } from "./request-ip";

// A real HTTP server in this process, stamped the way instrumentation.ts stamps `next start`:
// it answers with the headers it saw, so the tests can resolve them as a route handler would.
let server: http.Server;
let port: number;

beforeAll(async () => {
  installPeerAddressStamp();
  server = http.createServer((req, res) => res.end(JSON.stringify(req.headers)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function headersSeenByServer(sent: Record<string, string>): Promise<Record<string, string>> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: sent });
  return (await res.json()) as Record<string, string>;
}

describe("M5: client address", () => {
  it("M5: a spoofed X-Forwarded-For is ignored when no proxy is trusted (the socket address is the client)", async () => {
    const seen = await headersSeenByServer({ "x-forwarded-for": "203.0.113.9", "x-real-ip": "198.51.100.4" });
    expect(clientIpFromHeaders(seen, [])).toBe("127.0.0.1");
  });

  it("M5: a client cannot forge the peer stamp itself", async () => {
    const seen = await headersSeenByServer({ [PEER_HEADER]: "guess 203.0.113.9" });
    expect(peerAddressFromHeaders(seen)).toBe("127.0.0.1");
    // Without this process's stamp (a header the client wrote), nothing is believed.
    expect(peerAddressFromHeaders({ [PEER_HEADER]: "guess 203.0.113.9" })).toBeNull();
    expect(clientIpFromHeaders({ "x-forwarded-for": "203.0.113.9" }, ["0.0.0.0/0"])).toBeNull();
  });

  it("M5: behind a trusted proxy, X-Forwarded-For is walked from the right past trusted hops", async () => {
    const seen = await headersSeenByServer({ "x-forwarded-for": "198.51.100.7, 203.0.113.9, 10.1.2.3" });
    // The proxy on loopback and the inner one on 10/8 are ours; 203.0.113.9 is the first we don't run.
    expect(clientIpFromHeaders(seen, ["127.0.0.1", "10.0.0.0/8"])).toBe("203.0.113.9");
    // Only loopback trusted: the hop it vouches for is the client, whatever it says further left.
    expect(clientIpFromHeaders(seen, ["127.0.0.0/8"])).toBe("10.1.2.3");
  });

  it("M5: rotating spoofed addresses through an untrusted connection all count as one client", async () => {
    const seen = await Promise.all(["192.0.2.1", "192.0.2.2", "192.0.2.3"].map((ip) => headersSeenByServer({ "x-forwarded-for": ip })));
    expect(new Set(seen.map((h) => clientIpFromHeaders(h, ["10.0.0.0/8"])))).toEqual(new Set(["127.0.0.1"]));
  });

  it("behind a trusted proxy: X-Real-IP without X-Forwarded-For, garbage hops stop the walk", async () => {
    expect(clientIpFromHeaders(await headersSeenByServer({ "x-real-ip": "198.51.100.4" }), ["127.0.0.1"])).toBe("198.51.100.4");
    expect(clientIpFromHeaders(await headersSeenByServer({ "x-forwarded-for": "not-an-ip" }), ["127.0.0.1"])).toBe("127.0.0.1");
    expect(clientIpFromHeaders(await headersSeenByServer({ "x-forwarded-for": "::ffff:192.0.2.10" }), ["127.0.0.1"])).toBe("192.0.2.10");
    expect(clientIpFromHeaders(await headersSeenByServer({ "x-forwarded-for": "2001:db8::1" }), ["127.0.0.1"])).toBe("2001:db8::1");
  });
});

describe("address parsing", () => {
  it("shows an IPv4 client on a dual-stack socket as IPv4, and leaves real IPv6 alone", () => {
    expect(normalizeAddress("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(normalizeAddress("::FFFF:192.0.2.10")).toBe("192.0.2.10");
    expect(normalizeAddress("2001:db8::1")).toBe("2001:db8::1");
    expect(normalizeAddress("::ffff:c000:020a")).toBe("::ffff:c000:020a");
  });

  it("matches trusted proxies by address and by range, IPv4 and IPv6", () => {
    const trusted = trustedProxyMatcher(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
    expect(trusted("127.0.0.1")).toBe(true);
    expect(trusted("::ffff:127.0.0.1")).toBe(true);
    expect(trusted("127.0.0.2")).toBe(false);
    expect(trusted("10.200.1.1")).toBe(true);
    expect(trusted("11.0.0.1")).toBe(false);
    expect(trusted("fd12::1")).toBe(true);
    expect(trusted("fe80::1")).toBe(false);
    expect(trusted("nonsense")).toBe(false);
    expect(trustedProxyMatcher([])("127.0.0.1")).toBe(false);
  });
});
