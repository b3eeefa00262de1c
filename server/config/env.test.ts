import { describe, expect, it } from "vitest";
import { readConfig, readEgressAllowance, readTrustedProxies } from "@/server/config/env";

describe("egress settings", () => {
  it("allow only public addresses when nothing is set", () => {
    expect(readEgressAllowance({})).toEqual({ allowPrivate: false, allowHosts: [] });
  });

  it("read the allow-list and the private-address switch", () => {
    expect(readEgressAllowance({ AIRLOCK_EGRESS_ALLOW_HOSTS: " 127.0.0.1, 10.0.0.0/8 ,git.internal,", AIRLOCK_EGRESS_ALLOW_PRIVATE: "yes" })).toEqual({
      allowPrivate: true,
      allowHosts: ["127.0.0.1", "10.0.0.0/8", "git.internal"],
    });
  });

  it("refuse values that are not addresses, ranges or host names, saying which", () => {
    expect(() => readEgressAllowance({ AIRLOCK_EGRESS_ALLOW_HOSTS: "127.0.0.1,http://x" })).toThrow(/"http:\/\/x" is not/);
    expect(() => readEgressAllowance({ AIRLOCK_EGRESS_ALLOW_PRIVATE: "maybe" })).toThrow(/AIRLOCK_EGRESS_ALLOW_PRIVATE/);
  });
});

describe("M5: trusted proxies", () => {
  it("M5: trust no proxy when AIRLOCK_TRUSTED_PROXIES is unset", () => {
    expect(readTrustedProxies({})).toEqual([]);
    expect(readConfig({}).trustedProxies).toEqual([]);
  });

  it("read addresses and CIDR ranges, IPv4 and IPv6", () => {
    expect(readTrustedProxies({ AIRLOCK_TRUSTED_PROXIES: " 127.0.0.1, 10.0.0.0/8 ,fd00::/8,::1," })).toEqual(["127.0.0.1", "10.0.0.0/8", "fd00::/8", "::1"]);
  });

  it("M5: refuse host names and malformed ranges, naming the variable and the entry", () => {
    for (const bad of ["proxy.internal", "10.0.0.0/33", "10.0.0.1/8/1", "::1/129", "10.0.0.0/x", "*"]) {
      expect(() => readTrustedProxies({ AIRLOCK_TRUSTED_PROXIES: `127.0.0.1,${bad}` }), bad).toThrow(`AIRLOCK_TRUSTED_PROXIES: "${bad}" is not an IP address or CIDR range`);
    }
  });
});

describe("first admin password", () => {
  it("hardening: AIRLOCK_ADMIN_PASSWORD shorter than 12 characters fails with the variable's name", () => {
    expect(() => readConfig({ AIRLOCK_ADMIN_PASSWORD: "elevenchars" })).toThrow("AIRLOCK_ADMIN_PASSWORD must be at least 12 characters (it has 11)");
    expect(readConfig({ AIRLOCK_ADMIN_PASSWORD: "e2e-admin-password" }).adminPassword).toBe("e2e-admin-password");
  });
});
