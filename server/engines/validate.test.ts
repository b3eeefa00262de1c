import { describe, expect, it } from "vitest";
import { checkCapacity, checkCredentials, checkEndpoint, checkEngineName, checkLabels } from "./validate";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQk\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END RSA PRIVATE KEY-----\n";

describe("engine endpoints", () => {
  it.each([
    ["tcp://10.0.0.5:2376", "tcp"],
    ["tcp://docker.internal:2376", "tcp"],
    ["tcp://[::1]:2376", "tcp"],
    ["ssh://docker@10.0.0.6", "ssh"],
    ["ssh://docker@10.0.0.6:2222", "ssh"],
    ["unix:///var/run/docker.sock", "unix"],
  ])("accepts %s", (endpoint, scheme) => {
    expect(checkEndpoint(endpoint)).toEqual({ ok: true, scheme });
  });

  it.each([
    ["tcp://10.0.0.5", /needs host:port, like tcp:\/\/10\.0\.0\.5:2376/],
    ["tcp://user:pw@h:2376", /must not carry a user or password/],
    ["tcp://h:2376/v1.41", /must not have a path/],
    ["tcp://h:2376?x=1", /must not carry a query/],
    ["ssh://10.0.0.6", /needs a user, like ssh:\/\/docker@10\.0\.0\.6/],
    ["ssh://u:secret@h", /must not carry a password/],
    ["unix://var/run/docker.sock", /absolute socket path/],
    ["http://h:2375", /not a Docker endpoint/],
    ["10.0.0.5:2376", /not a Docker endpoint/],
    ["tcp://h:99999", /not a valid URL/],
  ])("refuses %s with what to write", (endpoint, message) => {
    const r = checkEndpoint(endpoint);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(message);
  });
});

describe("engine credentials", () => {
  it("takes TLS all three or none on tcp", () => {
    expect(checkCredentials("tcp", null)).toBeNull();
    expect(checkCredentials("tcp", { ca: CERT, cert: CERT, key: KEY })).toBeNull();
    expect(checkCredentials("tcp", { ca: CERT, cert: CERT })).toEqual({
      field: "tls.key",
      error: expect.stringMatching(/together \(or none\); key is missing/),
    });
    expect(checkCredentials("tcp", { key: KEY })).toEqual({ field: "tls.ca", error: expect.stringMatching(/ca and cert are missing/) });
  });

  it("wants PEM of the right kind", () => {
    expect(checkCredentials("tcp", { ca: "not pem", cert: CERT, key: KEY })).toEqual({ field: "tls.ca", error: expect.stringMatching(/is not PEM/) });
    expect(checkCredentials("tcp", { ca: CERT, cert: KEY, key: KEY })).toEqual({
      field: "tls.cert",
      error: expect.stringMatching(/holds a RSA PRIVATE KEY, not a CERTIFICATE/),
    });
    expect(checkCredentials("tcp", { ca: CERT, cert: CERT, key: CERT })).toEqual({ field: "tls.key", error: expect.stringMatching(/not a PRIVATE KEY/) });
  });

  it("keeps each kind to its scheme", () => {
    expect(checkCredentials("ssh", { ca: CERT, cert: CERT, key: KEY })?.field).toBe("tls.ca");
    expect(checkCredentials("tcp", { privateKey: KEY })?.field).toBe("ssh.privateKey");
    expect(checkCredentials("unix", { privateKey: KEY })?.field).toBe("ssh.privateKey");
    expect(checkCredentials("ssh", { privateKey: KEY })).toBeNull();
    expect(checkCredentials("ssh", { privateKey: "hunter2" })).toEqual({ field: "ssh.privateKey", error: expect.stringMatching(/not a private key/) });
  });
});

describe("engine names, labels and capacity", () => {
  it("names follow ENGINE_NAME and local is taken", () => {
    expect(checkEngineName("gpu-1")).toBeNull();
    expect(checkEngineName("local")).toMatch(/always exists/);
    expect(checkEngineName("-x")).toMatch(/not an engine name/);
    expect(checkEngineName("a".repeat(41))).toMatch(/not an engine name/);
  });

  it("labels are short lower-case words", () => {
    expect(checkLabels(["gpu", "big-memory", "runsc.v1"])).toBeNull();
    expect(checkLabels(["GPU"])).toMatch(/"GPU" is not a label/);
    expect(checkLabels(Array.from({ length: 21 }, (_, i) => `l${i}`))).toMatch(/at most 20 labels/);
  });

  it("capacity limits are null or in range", () => {
    expect(checkCapacity({ runs: null, cpus: null, memoryMb: null })).toBeNull();
    expect(checkCapacity({ runs: 4, cpus: 1.5, memoryMb: 4096 })).toBeNull();
    expect(checkCapacity({ runs: 1.5, cpus: null, memoryMb: null })?.field).toBe("runs");
    expect(checkCapacity({ runs: null, cpus: 0, memoryMb: null })?.field).toBe("cpus");
    expect(checkCapacity({ runs: null, cpus: null, memoryMb: 10 })?.field).toBe("memoryMb");
  });
});
