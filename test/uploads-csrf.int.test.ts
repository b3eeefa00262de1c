// POST /api/uploads over real loopback HTTP: an archive posted by a page on
// another origin with the visitor's cookie is refused before it is read (M3);
// API clients with a bearer token are not affected.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";

let server: RouteServer;

beforeAll(async () => {
  const { POST } = await import("@/app/api/uploads/route");
  server = await serveRoute("/api/uploads", { POST });
}, 120_000);
afterAll(() => server?.close());

describe("M3: uploads from other origins", () => {
  it("M3: a cookie upload from another port of this host is refused with 403", async () => {
    const host = new URL(server.url).host;
    const res = await fetch(`${server.url}?name=a.tar`, {
      method: "POST",
      headers: {
        cookie: "next-auth.session-token=x",
        origin: "http://127.0.0.1:1",
        "sec-fetch-site": "same-site",
        "content-type": "multipart/form-data; boundary=x",
        host,
      },
      body: "--x--",
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("came from another site");
  });

  it("a bearer-token upload is judged by its token, whatever its origin", async () => {
    const res = await fetch(`${server.url}?name=a.tar`, {
      method: "POST",
      headers: { authorization: "Bearer alk_unknown", origin: "http://elsewhere.test" },
      body: "x",
    });
    expect(res.status).toBe(401);
  });
});
