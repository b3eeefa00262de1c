import { describe, expect, it } from "vitest";
import { crossSiteRefusal } from "./csrf";

const cookie = "next-auth.session-token=abc";
const judge = (method: string, headers: Record<string, string>) => crossSiteRefusal(method, new Headers({ host: "127.0.0.1:3000", ...headers }));

describe("M3: cross-site request check", () => {
  it("M3: a cookie POST from another origin of the same host (another port) is refused", () => {
    expect(judge("POST", { cookie, origin: "http://127.0.0.1:8899", "sec-fetch-site": "same-site" })).toMatch(/another site/);
    expect(judge("POST", { cookie, origin: "http://127.0.0.1:8899" })).toMatch(/another site/);
    expect(judge("POST", { cookie, "sec-fetch-site": "cross-site" })).toMatch(/another site/);
    expect(judge("POST", { cookie, origin: "null" })).toMatch(/another site/);
  });

  it("lets the dashboard's own pages through, directly or behind a proxy that names the host", () => {
    expect(judge("POST", { cookie, origin: "http://127.0.0.1:3000", "sec-fetch-site": "same-origin" })).toBeNull();
    expect(judge("POST", { cookie, origin: "https://airlock.example.com", "x-forwarded-host": "airlock.example.com" })).toBeNull();
  });

  it("does not judge reads, bearer-token calls without a cookie, or clients that are not browsers", () => {
    expect(judge("GET", { cookie, origin: "http://evil.test", "sec-fetch-site": "cross-site" })).toBeNull();
    expect(judge("POST", { authorization: "Bearer alk_x", origin: "http://evil.test", "sec-fetch-site": "cross-site" })).toBeNull();
    expect(judge("POST", { cookie })).toBeNull(); // curl with a cookie: no browser sent it
  });

  it("M3: a bearer header does not excuse a request that also carries the session cookie", () => {
    expect(judge("POST", { cookie, authorization: "Bearer alk_x", "sec-fetch-site": "same-site" })).toMatch(/another site/);
  });
});
