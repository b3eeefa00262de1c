// The tRPC route handler over real loopback HTTP: bodies over 1 MiB are
// refused with 413 whether or not the client declares their length (a
// chunked upload has no Content-Length), before anything parses them.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";

let server: RouteServer;
let POST: (req: Request) => Promise<Response>;

beforeAll(async () => {
  ({ POST } = await import("@/app/api/trpc/[trpc]/route"));
  server = await serveRoute("/api/trpc/users.create", { POST });
});
afterAll(() => server?.close());

function post(body: Buffer, chunked: boolean, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url);
    const req = http.request(
      url,
      { method: "POST", headers: { "content-type": "application/json", ...(chunked ? {} : { "content-length": String(body.length) }), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    if (chunked) {
      // Several writes without a length: Node sends Transfer-Encoding: chunked.
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
    } else {
      req.write(body);
    }
    req.end();
  });
}

const big = Buffer.from(JSON.stringify({ json: { email: "x@example.com", role: "viewer", name: "x".repeat(2 * 1024 * 1024) } }));
const small = Buffer.from(JSON.stringify({ json: { email: "x@example.com", role: "viewer" } }));

describe("tRPC route body limit", () => {
  it("refuses an oversized body with 413, declared or chunked", async () => {
    for (const chunked of [false, true]) {
      const r = await post(big, chunked);
      expect(r.status, `chunked=${chunked}`).toBe(413);
      expect(r.text).toContain("the limit is 1048576 bytes");
    }
  });

  it("passes a small body, declared or chunked, on to tRPC (which asks for sign-in)", async () => {
    for (const chunked of [false, true]) {
      const r = await post(small, chunked);
      expect(r.status, `chunked=${chunked}: ${r.text}`).toBe(401);
    }
  });
});

describe("M3: tRPC mutations from forms and other origins", () => {
  const cookie = "next-auth.session-token=not-a-valid-session";

  it("M3: a multipart, urlencoded or text/plain body (what an HTML form sends) is refused with 415", async () => {
    for (const type of ["multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "text/plain", "text/plain;charset=UTF-8"]) {
      const r = await post(small, false, { "content-type": type, cookie });
      expect(r.status, type).toBe(415);
      expect(r.text).toContain("Content-Type: application/json");
    }
  });

  it("M3: a cookie request whose Origin is another port of this host is refused with 403 before tRPC runs", async () => {
    const host = new URL(server.url).host;
    const r = await post(small, false, { cookie, host, origin: "http://127.0.0.1:1", "sec-fetch-site": "same-site" });
    expect(r.status).toBe(403);
    expect(r.text).toContain("came from another site");
    // The same request from the dashboard's own origin reaches tRPC (which then wants a valid session).
    expect((await post(small, false, { cookie, host, origin: `http://${host}`, "sec-fetch-site": "same-origin" })).status).toBe(401);
  });

  it("a bearer-token call from any origin is not a forgery and reaches tRPC", async () => {
    const r = await post(small, false, { authorization: "Bearer alk_unknown", origin: "http://elsewhere.test", "sec-fetch-site": "cross-site" });
    expect(r.status).toBe(401);
  });
});
