import { describe, expect, it } from "vitest";
import { clientIpFromHeaders } from "./request-ip";

describe("clientIpFromHeaders", () => {
  it("takes the first X-Forwarded-For hop, else X-Real-IP, else nothing", () => {
    expect(clientIpFromHeaders(new Headers({ "x-forwarded-for": "203.0.113.9, 10.0.0.1" }))).toBe("203.0.113.9");
    expect(clientIpFromHeaders({ "x-real-ip": " 198.51.100.4 " })).toBe("198.51.100.4");
    expect(clientIpFromHeaders(new Headers())).toBeNull();
    expect(clientIpFromHeaders(undefined)).toBeNull();
  });

  it("shows an IPv4 client on a dual-stack socket as IPv4, and leaves real IPv6 alone", () => {
    expect(clientIpFromHeaders(new Headers({ "x-forwarded-for": "::ffff:127.0.0.1" }))).toBe("127.0.0.1");
    expect(clientIpFromHeaders(new Headers({ "x-forwarded-for": "::FFFF:192.0.2.10" }))).toBe("192.0.2.10");
    expect(clientIpFromHeaders(new Headers({ "x-forwarded-for": "2001:db8::1" }))).toBe("2001:db8::1");
    expect(clientIpFromHeaders(new Headers({ "x-forwarded-for": "::ffff:c000:020a" }))).toBe("::ffff:c000:020a");
  });
});
