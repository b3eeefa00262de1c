// http_fetch's host side against real HTTP servers on 127.0.0.1 (the only
// network tests may use): address checks, redirects, caps, timeouts.
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bodyAsText, fetchForAgent, RESPONSE_BODY_CAP, type EgressOptions, type EgressRequest } from "@/server/egress/fetch";

let server: http.Server;
let other: http.Server;
let base: string;
let otherBase: string;
const seen: { url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

function listen(handler: http.RequestListener): Promise<[http.Server, string]> {
  const s = http.createServer(handler);
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve([s, `http://127.0.0.1:${(s.address() as AddressInfo).port}`])));
}

beforeAll(async () => {
  [other, otherBase] = await listen((req, res) => {
    seen.push({ url: `other${req.url}`, headers: req.headers, body: "" });
    res.end("other origin");
  });
  [server, base] = await listen((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ url: req.url!, headers: req.headers, body });
      const u = new URL(req.url!, "http://x");
      if (u.pathname === "/hello") return res.writeHead(200, { "content-type": "text/plain" }).end("hello there");
      if (u.pathname === "/echo")
        return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method, headers: req.headers, body }));
      if (u.pathname === "/big") return res.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(RESPONSE_BODY_CAP + 5000));
      if (u.pathname === "/binary") return res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from([0, 1, 2, 3, 255]));
      if (u.pathname === "/redirect") return res.writeHead(302, { location: u.searchParams.get("to")! }).end();
      if (u.pathname === "/loop") return res.writeHead(302, { location: "/loop" }).end();
      if (u.pathname === "/post-303") return res.writeHead(303, { location: "/echo" }).end();
      if (u.pathname === "/hang") return; // never answers
      res.writeHead(404).end("no");
    });
  });
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
  other.close();
});

const LOOPBACK = { allowPrivate: false, allowHosts: ["127.0.0.1"] };
const follow: EgressOptions["judgeRedirect"] = () => ({ follow: true });
const req = (url: string, extra: Partial<EgressRequest> = {}): EgressRequest => ({ url, method: "GET", headers: {}, secretHeaders: new Set(), ...extra });

describe("http_fetch on the host", () => {
  it("fetches from a loopback server an admin allowed", async () => {
    const out = await fetchForAgent(req(`${base}/hello`), { allowance: LOOPBACK, judgeRedirect: follow });
    expect(out).toMatchObject({ ok: true, status: 200, totalBytes: 11, truncated: false });
    expect(out.ok && out.body.toString()).toBe("hello there");
    expect(out.hops).toEqual([{ url: `${base}/hello`, status: 200, address: "127.0.0.1" }]);
  });

  it("refuses loopback with EGRESS_DENIED when nothing allows private addresses, without connecting", async () => {
    const before = seen.length;
    const out = await fetchForAgent(req(`${base}/hello`), { allowance: { allowPrivate: false, allowHosts: [] }, judgeRedirect: follow });
    expect(out).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
    expect(!out.ok && out.message).toMatch(/loopback/);
    expect(seen.length).toBe(before);
  });

  it("judges a name by the address it resolves to (localhost is loopback)", async () => {
    const url = `${base.replace("127.0.0.1", "localhost")}/hello`;
    expect(await fetchForAgent(req(url), { allowance: { allowPrivate: false, allowHosts: [] }, judgeRedirect: follow })).toMatchObject({
      ok: false,
      code: "EGRESS_DENIED",
    });
  });

  it("refuses other schemes and credentials in URLs", async () => {
    expect(await fetchForAgent(req("file:///etc/passwd"), { allowance: LOOPBACK, judgeRedirect: follow })).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
    expect(await fetchForAgent(req(`http://u:p@127.0.0.1:1/`), { allowance: LOOPBACK, judgeRedirect: follow })).toMatchObject({
      ok: false,
      code: "INVALID_INPUT",
    });
  });

  it("follows a redirect only when the judge says so, and never to a metadata address", async () => {
    const judged: string[] = [];
    const ok = await fetchForAgent(req(`${base}/redirect?to=/hello`), { allowance: LOOPBACK, judgeRedirect: (u) => (judged.push(u), { follow: true }) });
    expect(ok).toMatchObject({ ok: true, status: 200, url: `${base}/hello` });
    expect(judged).toEqual([`${base}/hello`]);

    const denied = await fetchForAgent(req(`${base}/redirect?to=${encodeURIComponent(`${otherBase}/x`)}`), {
      allowance: LOOPBACK,
      judgeRedirect: () => ({ follow: false, reason: "policy rule x denies it" }),
    });
    expect(denied).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
    expect(!denied.ok && denied.message).toMatch(/policy rule x denies it/);

    const metadata = await fetchForAgent(req(`${base}/redirect?to=http://169.254.169.254/latest/meta-data/`), {
      allowance: { allowPrivate: true, allowHosts: ["127.0.0.1"] },
      judgeRedirect: follow,
    });
    expect(metadata).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
    expect(!metadata.ok && metadata.message).toMatch(/metadata/);
  });

  it("stops after 5 redirects", async () => {
    const out = await fetchForAgent(req(`${base}/loop`), { allowance: LOOPBACK, judgeRedirect: follow });
    expect(out).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
    expect(out.hops).toHaveLength(6);
  });

  it("drops credentials and secret-bearing headers when a redirect leaves the origin", async () => {
    seen.length = 0;
    await fetchForAgent(
      req(`${base}/redirect?to=${encodeURIComponent(`${otherBase}/landing`)}`, {
        headers: { Authorization: "Bearer abc", "X-Api-Key": "k", "X-Plain": "p" },
        secretHeaders: new Set(["x-api-key"]),
      }),
      { allowance: LOOPBACK, judgeRedirect: follow },
    );
    const landing = seen.find((s) => s.url === "other/landing")!;
    expect(landing.headers.authorization).toBeUndefined();
    expect(landing.headers["x-api-key"]).toBeUndefined();
    expect(landing.headers["x-plain"]).toBe("p");
    expect(seen[0]!.headers.authorization).toBe("Bearer abc");
  });

  it("sends method, headers and body, turning a POST into a GET on 303", async () => {
    const out = await fetchForAgent(req(`${base}/echo`, { method: "POST", headers: { "Content-Type": "text/plain", Host: "evil.example" }, body: "payload" }), {
      allowance: LOOPBACK,
      judgeRedirect: follow,
    });
    const echoed = JSON.parse(out.ok ? out.body.toString() : "{}") as { method: string; body: string; headers: Record<string, string> };
    expect(echoed).toMatchObject({ method: "POST", body: "payload" });
    expect(echoed.headers.host).toBe(new URL(base).host);
    const after303 = await fetchForAgent(req(`${base}/post-303`, { method: "POST", body: "payload" }), { allowance: LOOPBACK, judgeRedirect: follow });
    expect(JSON.parse(after303.ok ? after303.body.toString() : "{}")).toMatchObject({ method: "GET", body: "" });
  });

  it("keeps the first MiB of a large body and reports the total size", async () => {
    const out = await fetchForAgent(req(`${base}/big`), { allowance: LOOPBACK, judgeRedirect: follow });
    expect(out).toMatchObject({ ok: true, truncated: true, totalBytes: RESPONSE_BODY_CAP + 5000 });
    expect(out.ok && out.body.length).toBe(RESPONSE_BODY_CAP);
  });

  it("tells binary bodies from text", async () => {
    const out = await fetchForAgent(req(`${base}/binary`), { allowance: LOOPBACK, judgeRedirect: follow });
    expect(out.ok && bodyAsText(out.body, out.contentType, false)).toBeNull();
    expect(bodyAsText(Buffer.from("héllo"), "text/plain; charset=utf-8", false)).toBe("héllo");
    expect(bodyAsText(Buffer.from("héllo").subarray(0, 2), null, true)).not.toBeNull();
  });

  it("gives up on a server that never answers", async () => {
    const out = await fetchForAgent(req(`${base}/hang`), { allowance: LOOPBACK, judgeRedirect: follow, totalTimeoutMs: 500 });
    expect(out).toMatchObject({ ok: false, code: "TIMEOUT" });
  });

  it("reports a refused connection plainly", async () => {
    const out = await fetchForAgent(req("http://127.0.0.1:1/"), { allowance: LOOPBACK, judgeRedirect: follow });
    expect(out).toMatchObject({ ok: false, code: "EXECUTION_FAILED" });
    expect(!out.ok && out.message).toMatch(/ECONNREFUSED/);
  });

  it("M6: the host's own interface address is refused with EGRESS_DENIED, even with private addresses and its range allowed", async () => {
    // A server listening on every interface, as the dashboard does.
    const addresses = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []);
    const own = addresses.find((a) => !a.internal && a.family === "IPv4") ?? addresses.find((a) => !a.internal) ?? addresses[0]!;
    const requests: string[] = [];
    const dashboard = http.createServer((r, res) => (requests.push(r.url!), res.end("dashboard")));
    await new Promise<void>((r) => dashboard.listen(0, own.family === "IPv4" ? "0.0.0.0" : "::", () => r()));
    const url = `http://${own.family === "IPv6" ? `[${own.address}]` : own.address}:${(dashboard.address() as AddressInfo).port}/api/health`;
    try {
      const wide = { allowPrivate: true, allowHosts: ["0.0.0.0/0", "::/0"] };
      const direct = await fetchForAgent(req(url), { allowance: wide, judgeRedirect: follow });
      expect(direct).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
      expect(!direct.ok && direct.message).toContain(`${own.address} is this host's own address`);
      expect(!direct.ok && direct.message).toMatch(/dashboard listens.*exact address in AIRLOCK_EGRESS_ALLOW_HOSTS/);
      // Through a redirect from an allowed server, too.
      const redirected = await fetchForAgent(req(`${base}/redirect?to=${encodeURIComponent(url)}`), {
        allowance: { ...wide, allowHosts: [...wide.allowHosts, "127.0.0.1"] },
        judgeRedirect: follow,
      });
      expect(redirected).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
      expect(requests).toEqual([]);
      // Listed by its exact address it is reachable (the admin's explicit choice): the refusal above was the filter, not the network.
      const listed = await fetchForAgent(req(url), { allowance: { allowPrivate: false, allowHosts: [own.address] }, judgeRedirect: follow });
      expect(listed).toMatchObject({ ok: true, status: 200 });
      expect(requests).toEqual(["/api/health"]);
    } finally {
      dashboard.close();
    }
  });

  it("M6: a special-purpose address (TEST-NET-2, 6to4, Teredo) is refused before any connection", async () => {
    for (const url of [
      "http://198.51.100.7/",
      "http://203.0.113.9/",
      "http://192.88.99.1/",
      "http://[2002:7f00:1::1]/",
      "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
      "http://[64:ff9b:1::7f00:1]/",
      "http://[::ffff:0:127.0.0.1]/",
    ]) {
      const out = await fetchForAgent(req(url), { allowance: { allowPrivate: true, allowHosts: [] }, judgeRedirect: follow, connectTimeoutMs: 200 });
      expect(out, url).toMatchObject({ ok: false, code: "EGRESS_DENIED" });
    }
  });
});
