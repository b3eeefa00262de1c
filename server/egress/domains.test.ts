import { describe, expect, it } from "vitest";
import { domainCovers, judgeEgressTarget, parseEgressDomain, parseEgressDomains } from "@/server/egress/domains";

describe("egress domain entries", () => {
  it("normalises case, a trailing dot and an explicit port", () => {
    expect(parseEgressDomain(" PyPI.org. ")).toMatchObject({ entry: "pypi.org", host: "pypi.org", wildcard: false, port: null });
    expect(parseEgressDomain("registry.test:8080")).toMatchObject({ entry: "registry.test:8080", port: 8080 });
    expect(parseEgressDomain("*.GitHubUserContent.com")).toMatchObject({ entry: "*.githubusercontent.com", host: "githubusercontent.com", wildcard: true });
    expect(parseEgressDomain("[2001:DB8::1]:443")).toMatchObject({ entry: "[2001:db8::1]:443", host: "2001:db8::1", port: 443 });
  });

  it("refuses URLs, paths, inner wildcards, bare TLD wildcards and bad ports, naming each", () => {
    expect(() => parseEgressDomain("https://pypi.org/simple")).toThrow(/URL; grant the host name only \(e.g. pypi.org\)/);
    expect(() => parseEgressDomain("pypi.org/simple")).toThrow(/path/);
    expect(() => parseEgressDomain("a.*.com")).toThrow(/leading/);
    expect(() => parseEgressDomain("*.com")).toThrow(/two labels/);
    expect(() => parseEgressDomain("pypi.org:0")).toThrow(/port/);
    expect(() => parseEgressDomain("2001:db8::1")).toThrow(/brackets/);
    expect(() => parseEgressDomains(["ok.example", "bad name", "x/y"])).toThrow(/"bad name".*; .*"x\/y"/);
  });

  it("drops duplicates and refuses an empty list", () => {
    expect(parseEgressDomains(["a.example", "A.example."]).map((d) => d.entry)).toEqual(["a.example"]);
    expect(() => parseEgressDomains([])).toThrow(/no domain/);
  });
});

describe("which targets a grant covers", () => {
  it("an exact name covers only itself, on ports 80 and 443", () => {
    const d = parseEgressDomain("pypi.org");
    expect(domainCovers(d, "pypi.org", 443)).toBe(true);
    expect(domainCovers(d, "PYPI.ORG.", 80)).toBe(true);
    expect(domainCovers(d, "pypi.org", 22)).toBe(false);
    expect(domainCovers(d, "evil.pypi.org", 443)).toBe(false);
    expect(domainCovers(d, "pypi.org.evil.com", 443)).toBe(false);
    expect(domainCovers(d, "notpypi.org", 443)).toBe(false);
  });

  it("a wildcard covers names below the suffix, not the suffix itself or look-alikes", () => {
    const d = parseEgressDomain("*.example.com");
    expect(domainCovers(d, "a.example.com", 443)).toBe(true);
    expect(domainCovers(d, "a.b.example.com", 443)).toBe(true);
    expect(domainCovers(d, "example.com", 443)).toBe(false);
    expect(domainCovers(d, "badexample.com", 443)).toBe(false);
  });

  it("a grant with a port covers only that port", () => {
    const d = parseEgressDomain("registry.test:8080");
    expect(domainCovers(d, "registry.test", 8080)).toBe(true);
    expect(domainCovers(d, "registry.test", 443)).toBe(false);
  });

  it("a refusal says what is granted and that a reviewer can grant the domain", () => {
    const granted = parseEgressDomains(["pypi.org"]);
    const r = judgeEgressTarget(granted, "evil.example", 443);
    expect(r).toEqual({
      allowed: false,
      reason: expect.stringMatching(/evil\.example is not among the domains granted to this run \(granted: pypi\.org\)\. A reviewer can grant it/),
    });
    const p = judgeEgressTarget(granted, "pypi.org", 8443);
    expect(p).toEqual({ allowed: false, reason: expect.stringMatching(/port 8443 of pypi\.org is not granted.*pypi\.org:8443/) });
    expect(judgeEgressTarget([], "pypi.org", 443)).toMatchObject({ allowed: false, reason: expect.stringMatching(/granted: none/) });
  });
});
