import { describe, expect, it } from "vitest";
import { DEFAULT_APPROVAL_TTL_MS, readApprovalTtlMs, readConfig, readEgressAllowance, readEgressAskTimeoutMs, readTrustedProxies } from "@/server/config/env";

describe("egress settings", () => {
  it("I5: a held connection waits 120 s by default; AIRLOCK_EGRESS_ASK_TIMEOUT_S changes it and a bad value names the variable", () => {
    expect(readEgressAskTimeoutMs({})).toBe(120_000);
    expect(readEgressAskTimeoutMs({ AIRLOCK_EGRESS_ASK_TIMEOUT_S: "30" })).toBe(30_000);
    expect(() => readConfig({ AIRLOCK_EGRESS_ASK_TIMEOUT_S: "0" })).toThrow(
      /AIRLOCK_EGRESS_ASK_TIMEOUT_S must be a number of seconds between 1 and 3600, got "0"/,
    );
    expect(() => readConfig({ AIRLOCK_EGRESS_ASK_TIMEOUT_S: "forever" })).toThrow(/AIRLOCK_EGRESS_ASK_TIMEOUT_S/);
  });

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

// readConfig takes the process environment (which Next's types say always has NODE_ENV).
const read = (env: Record<string, string | undefined>) => readConfig(env as NodeJS.ProcessEnv);

describe("single sign-on settings", () => {
  const oidc = { AIRLOCK_OIDC_ISSUER: "https://login.example.com/realms/main/", AIRLOCK_OIDC_CLIENT_ID: "airlock", AIRLOCK_OIDC_CLIENT_SECRET: "s3cret" };

  it("are off when no AIRLOCK_OIDC_* variable is set, and password sign-in stays on", () => {
    const cfg = read({});
    expect(cfg.oidc).toBeUndefined();
    expect(cfg.localLogin).toBe(true);
  });

  it("read issuer, client, defaults and the role map (highest role per group after the last '=')", () => {
    const cfg = read({ ...oidc, AIRLOCK_OIDC_ROLE_MAP: "airlock-admins=admin, /team/a=b=reviewer ,", AIRLOCK_OIDC_DEFAULT_ROLE: "Operator" });
    expect(cfg.oidc).toEqual({
      issuer: "https://login.example.com/realms/main",
      clientId: "airlock",
      clientSecret: "s3cret",
      name: "SSO",
      scopes: "openid email profile",
      defaultRole: "operator",
      roleClaim: "groups",
      roleMap: [
        { group: "airlock-admins", role: "admin" },
        { group: "/team/a=b", role: "reviewer" },
      ],
    });
  });

  it("need all three of issuer, client id and secret, naming the missing one", () => {
    expect(() => read({ AIRLOCK_OIDC_ISSUER: oidc.AIRLOCK_OIDC_ISSUER, AIRLOCK_OIDC_CLIENT_ID: "airlock" })).toThrow(/AIRLOCK_OIDC_CLIENT_SECRET is missing/);
    expect(() => read({ AIRLOCK_OIDC_CLIENT_SECRET: "x" })).toThrow(/AIRLOCK_OIDC_ISSUER and AIRLOCK_OIDC_CLIENT_ID are missing/);
    expect(() => read({ AIRLOCK_OIDC_ROLE_MAP: "a=admin" })).toThrow(/AIRLOCK_OIDC_ROLE_MAP is set but single sign-on is not/);
  });

  it("refuse an issuer over plain http unless it is on loopback, and one with a query", () => {
    expect(() => read({ ...oidc, AIRLOCK_OIDC_ISSUER: "http://login.example.com" })).toThrow(/AIRLOCK_OIDC_ISSUER must be an https:\/\/ URL/);
    expect(read({ ...oidc, AIRLOCK_OIDC_ISSUER: "http://127.0.0.1:9000" }).oidc?.issuer).toBe("http://127.0.0.1:9000");
    expect(() => read({ ...oidc, AIRLOCK_OIDC_ISSUER: "https://login.example.com/?x=1" })).toThrow(/must not carry a query/);
    expect(() => read({ ...oidc, AIRLOCK_OIDC_ISSUER: "login.example.com" })).toThrow(/AIRLOCK_OIDC_ISSUER is not a URL/);
  });

  it("refuse an unknown role in the map or as the default, and scopes without openid", () => {
    expect(() => read({ ...oidc, AIRLOCK_OIDC_ROLE_MAP: "ops=superuser" })).toThrow(/AIRLOCK_OIDC_ROLE_MAP: unknown role "superuser"/);
    expect(() => read({ ...oidc, AIRLOCK_OIDC_ROLE_MAP: "admin" })).toThrow(/"admin" is not group=role/);
    expect(() => read({ ...oidc, AIRLOCK_OIDC_DEFAULT_ROLE: "root" })).toThrow(/AIRLOCK_OIDC_DEFAULT_ROLE: unknown role "root"/);
    expect(() => read({ ...oidc, AIRLOCK_OIDC_SCOPES: "email profile" })).toThrow(/AIRLOCK_OIDC_SCOPES must include "openid"/);
  });

  it("turn password sign-in off only with single sign-on and a break-glass account", () => {
    expect(() => read({ AIRLOCK_LOCAL_LOGIN: "off", AIRLOCK_ADMIN_EMAIL: "root@example.com" })).toThrow(/AIRLOCK_LOCAL_LOGIN=off leaves no way to sign in/);
    expect(() => read({ ...oidc, AIRLOCK_LOCAL_LOGIN: "off" })).toThrow(/needs a break-glass admin/);
    expect(() => read({ ...oidc, AIRLOCK_LOCAL_LOGIN: "maybe" })).toThrow(/AIRLOCK_LOCAL_LOGIN must be on or off/);
    expect(read({ ...oidc, AIRLOCK_LOCAL_LOGIN: "off", AIRLOCK_ADMIN_EMAIL: "Root@Example.com" })).toMatchObject({
      localLogin: false,
      breakGlassEmails: ["root@example.com"],
    });
    expect(
      read({ ...oidc, AIRLOCK_LOCAL_LOGIN: "off", AIRLOCK_ADMIN_EMAIL: "root@example.com", AIRLOCK_BREAK_GLASS_EMAILS: "a@example.com, B@example.com" }),
    ).toMatchObject({
      breakGlassEmails: ["a@example.com", "b@example.com"],
    });
    expect(() => read({ ...oidc, AIRLOCK_BREAK_GLASS_EMAILS: "not-an-email" })).toThrow(/AIRLOCK_BREAK_GLASS_EMAILS: "not-an-email"/);
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
      expect(() => readTrustedProxies({ AIRLOCK_TRUSTED_PROXIES: `127.0.0.1,${bad}` }), bad).toThrow(
        `AIRLOCK_TRUSTED_PROXIES: "${bad}" is not an IP address or CIDR range`,
      );
    }
  });
});

describe("first admin password", () => {
  it("hardening: AIRLOCK_ADMIN_PASSWORD shorter than 12 characters fails with the variable's name", () => {
    expect(() => readConfig({ AIRLOCK_ADMIN_PASSWORD: "elevenchars" })).toThrow("AIRLOCK_ADMIN_PASSWORD must be at least 12 characters (it has 11)");
    expect(readConfig({ AIRLOCK_ADMIN_PASSWORD: "e2e-admin-password" }).adminPassword).toBe("e2e-admin-password");
  });
});

describe("settings read once at start", () => {
  it("issue 10: every setting is in the one config, with the defaults the modules used before", () => {
    const cfg = readConfig({});
    expect(cfg.mcpIdleTimeoutMs).toBe(30 * 60 * 1000);
    expect(cfg.approvalTtlMs).toBe(30 * 60 * 1000);
    expect(cfg.publicUrl).toBe("http://localhost:3000");
    expect(cfg.authSecret).toBeUndefined();
    expect(cfg.workspace).toMatchObject({ workspaceQuotaBytes: 1024 ** 3, checkpointCapBytes: 200 * 1024 ** 2, repoRoots: [] });
    const set = readConfig({
      NEXTAUTH_URL: "https://airlock.example.com/",
      NEXTAUTH_SECRET: "k",
      AIRLOCK_MCP_IDLE_TIMEOUT_S: "60",
      AIRLOCK_APPROVAL_TTL_S: "90",
    });
    expect(set).toMatchObject({ publicUrl: "https://airlock.example.com", authSecret: "k", mcpIdleTimeoutMs: 60_000, approvalTtlMs: 90_000 });
  });

  it("issue 10: a bad value anywhere fails the whole config with the variable's name", () => {
    expect(() => readConfig({ AIRLOCK_WORKSPACE_QUOTA_MB: "lots" })).toThrow(/AIRLOCK_WORKSPACE_QUOTA_MB must be a non-negative number/);
    expect(() => readConfig({ AIRLOCK_MCP_IDLE_TIMEOUT_S: "soon" })).toThrow(/AIRLOCK_MCP_IDLE_TIMEOUT_S must be a whole number of seconds/);
    expect(() => readConfig({ AIRLOCK_APPROVAL_TTL_S: "ten minutes" })).toThrow(
      /AIRLOCK_APPROVAL_TTL_S must be a positive number of seconds, got "ten minutes"/,
    );
    expect(() => readConfig({ AIRLOCK_REPO_ROOTS: "repos" })).toThrow(/AIRLOCK_REPO_ROOTS must list absolute directories/);
  });

  it("issue 17: AIRLOCK_ENGINE_LOST_AFTER_S is the grace before a silent engine's runs fail: 30 s by default, 0 to 3600, anything else refused by name", () => {
    expect(readConfig({}).engineLostAfterMs).toBe(30_000);
    expect(readConfig({ AIRLOCK_ENGINE_LOST_AFTER_S: "0" }).engineLostAfterMs).toBe(0);
    expect(readConfig({ AIRLOCK_ENGINE_LOST_AFTER_S: "120" }).engineLostAfterMs).toBe(120_000);
    for (const bad of ["-1", "3601", "1.5", "soon"]) {
      expect(() => readConfig({ AIRLOCK_ENGINE_LOST_AFTER_S: bad })).toThrow(
        /AIRLOCK_ENGINE_LOST_AFTER_S must be a whole number of seconds between 0 and 3600/,
      );
    }
  });

  it("issue 10: the approval lifetime is read again per request, so it can be changed without a restart", () => {
    expect(readApprovalTtlMs({})).toBe(DEFAULT_APPROVAL_TTL_MS);
    expect(readApprovalTtlMs({ AIRLOCK_APPROVAL_TTL_S: "1" })).toBe(1000);
  });
});
