// The next-auth route over real loopback HTTP: a sign-in body over 64 KB is
// refused with 413 before next-auth parses it, whether or not the client
// declares its length. (That ordinary sign-ins still pass is shown by every
// end-to-end test, which signs in through this route on the real server.)
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";

let server: RouteServer;

beforeAll(async () => {
  const { POST } = await import("@/app/api/auth/[...nextauth]/route");
  server = await serveRoute("/api/auth/callback/credentials", {
    POST: (req) => POST(req as never, { params: Promise.resolve({ nextauth: ["callback", "credentials"] }) }),
  });
});
afterAll(() => server?.close());

function post(body: Buffer, chunked: boolean): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(server.url),
      { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...(chunked ? {} : { "content-length": String(body.length) }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    if (chunked) for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
    else req.write(body);
    req.end();
  });
}

describe("next-auth route body limit", () => {
  it("hardening: a 20 MB sign-in body is refused with 413, declared or chunked", async () => {
    const body = Buffer.from(`email=a%40b.c&password=${"x".repeat(20 * 1024 * 1024)}`);
    for (const chunked of [false, true]) {
      const r = await post(body, chunked);
      expect(r.status, `chunked=${chunked}`).toBe(413);
      expect(r.text).toContain("the limit is 65536 bytes");
    }
  });
});
