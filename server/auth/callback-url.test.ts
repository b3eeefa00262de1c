import { describe, expect, it } from "vitest";
import { safeAuthRedirect, safeCallbackPath, sameOriginPath } from "./callback-url";

// Each of these, given to a browser as a Location or to location.assign, would leave the dashboard.
const ESCAPES = [
  "/\t/localhost:8899/phish",
  "/\n/localhost:8899/phish",
  "/\r\n/localhost:8899/phish",
  "\t//localhost:8899/phish",
  "//localhost:8899/phish",
  "/\\localhost:8899/phish",
  "\\\\localhost:8899/phish",
  "/.//localhost:8899/phish",
  "/x/..//localhost:8899/phish",
  "http://localhost:8899/phish",
  "https:localhost:8899/phish",
  "javascript:alert(1)",
  "data:text/html,<script>alert(1)</script>",
  "/\u3000/localhost:8899/phish",
  "/\u2028/localhost:8899/phish",
  " /runs",
  "/runs\u0000",
];

describe("M4: callbackUrl", () => {
  it("M4: a callbackUrl with a tab, newline, backslash or // cannot send the user to another origin", () => {
    for (const value of ESCAPES) expect(safeCallbackPath(value), JSON.stringify(value)).toBe("/runs");
  });

  it("M4: a decoded %2F%2F or an encoded tab stays a path on the dashboard", () => {
    // Decoded once by the query string, these are still inert: the browser does not decode them again.
    expect(safeCallbackPath("/%09/localhost:8899/phish")).toBe("/%09/localhost:8899/phish");
    expect(safeCallbackPath("/%2F%2Flocalhost:8899")).toBe("/%2F%2Flocalhost:8899");
  });

  it("keeps ordinary dashboard paths with their query and fragment", () => {
    expect(safeCallbackPath("/audit?action=user.create")).toBe("/audit?action=user.create");
    expect(safeCallbackPath("/runs/abc#log")).toBe("/runs/abc#log");
    expect(safeCallbackPath(undefined)).toBe("/runs");
    expect(safeCallbackPath("")).toBe("/runs");
  });

  it("never goes back to the login page or to a raw API answer", () => {
    expect(safeCallbackPath("/login?callbackUrl=/runs")).toBe("/runs");
    expect(safeCallbackPath("/api/trpc/users.me")).toBe("/runs");
    expect(safeCallbackPath("/loginx")).toBe("/loginx");
  });

  it("M4: next-auth's redirect callback keeps only URLs on the dashboard's origin", () => {
    const base = "http://127.0.0.1:3000";
    expect(safeAuthRedirect("/runs", base)).toBe("http://127.0.0.1:3000/runs");
    expect(safeAuthRedirect("http://127.0.0.1:3000/audit?x=1", base)).toBe("http://127.0.0.1:3000/audit?x=1");
    for (const value of [...ESCAPES, "http://127.0.0.1:3001/runs", "http://user@127.0.0.1:3000/runs"]) {
      expect(safeAuthRedirect(value, base), JSON.stringify(value)).toBe("http://127.0.0.1:3000/");
    }
  });

  it("resolves relative paths the way a browser does", () => {
    expect(sameOriginPath("runs", "http://a.test")).toBe("/runs");
    expect(sameOriginPath("/a/../b", "http://a.test")).toBe("/b");
    expect(sameOriginPath("http://b.test/x", "http://a.test")).toBeNull();
    expect(sameOriginPath(42, "http://a.test")).toBeNull();
  });
});
