import { describe, expect, it } from "vitest";
import { DomainError } from "@/server/errors/domain-error";
import {
  DEFAULT_LIMITS,
  MAX_LIMITS,
  OutputCapture,
  parseEngineProcesses,
  resolveCwd,
  resolveLimits,
  SandboxError,
  selectExecProcesses,
  sentinelChildren,
} from "./runtime";

describe("resolveLimits", () => {
  it("fills every limit from the defaults when a run asks for nothing", () => {
    expect(resolveLimits({})).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits(undefined)).toEqual(DEFAULT_LIMITS);
  });

  it("lets a run lower its limits", () => {
    expect(resolveLimits({ memoryMb: 256, cpus: 0.5, pids: 64, commandTimeoutS: 10, runTimeoutS: 600 })).toEqual({
      memoryMb: 256,
      cpus: 0.5,
      pids: 64,
      commandTimeoutS: 10,
      runTimeoutS: 600,
    });
  });

  it("refuses a limit above the maximum and says which one and why", () => {
    const attempt = () => resolveLimits({ memoryMb: MAX_LIMITS.memoryMb + 1 });
    expect(attempt).toThrow(DomainError);
    expect(attempt).toThrow(/memoryMb=1025 MB is above the maximum of 1024 MB; a run may only lower its limits/);
  });

  it("refuses limits too small to run anything, non-numbers and fractions of whole units", () => {
    expect(() => resolveLimits({ pids: 2 })).toThrow(/below the minimum/);
    expect(() => resolveLimits({ memoryMb: Number.NaN })).toThrow(/must be a number/);
    expect(() => resolveLimits({ pids: 10.5 })).toThrow(/whole number/);
    expect(() => resolveLimits({ cpus: "2" as unknown as number })).toThrow(/must be a number/);
  });

  it("reports refusals as INVALID_INPUT", () => {
    try {
      resolveLimits({ runTimeoutS: 999_999 });
      expect.unreachable();
    } catch (err) {
      expect((err as DomainError).code).toBe("INVALID_INPUT");
    }
  });
});

describe("resolveCwd", () => {
  it("takes relative directories from /workspace", () => {
    expect(resolveCwd(undefined)).toBe("/workspace");
    expect(resolveCwd("src/lib")).toBe("/workspace/src/lib");
    expect(resolveCwd("/workspace/a/../b")).toBe("/workspace/b");
  });

  it("refuses a directory outside /workspace", () => {
    expect(() => resolveCwd("/etc")).toThrow(SandboxError);
    expect(() => resolveCwd("../")).toThrow(/outside \/workspace/);
    expect(() => resolveCwd("/workspacefoo")).toThrow(/outside/);
  });
});

describe("OutputCapture", () => {
  it("keeps small output whole and separates the streams", () => {
    const capture = new OutputCapture(1024);
    capture.push("stdout", Buffer.from("hello "));
    capture.push("stderr", Buffer.from("oops\n"));
    capture.push("stdout", Buffer.from("world\n"));
    expect(capture.result()).toEqual({ stdout: "hello world\n", stderr: "oops\n", totalBytes: 17, truncated: false });
  });

  it("keeps the head and the tail of a flood, says how much it left out and counts every byte", () => {
    const capture = new OutputCapture(100);
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join("");
    for (let i = 0; i < lines.length; i += 7) capture.push("stdout", Buffer.from(lines.slice(i, i + 7)));
    const out = capture.result();
    expect(out.totalBytes).toBe(Buffer.byteLength(lines));
    expect(out.truncated).toBe(true);
    expect(out.stdout.startsWith("line 0\nline 1\n")).toBe(true);
    expect(out.stdout.endsWith("line 998\nline 999\n")).toBe(true);
    expect(out.stdout).toContain(`bytes of stdout omitted, ${Buffer.byteLength(lines)} bytes in total`);
    const kept = Buffer.byteLength(out.stdout.replace(/\n…\[airlock:[^\]]*\]…\n/, ""));
    expect(kept).toBeLessThanOrEqual(100);
  });

  it("shares the tail budget so a quiet stream's last words survive a loud one", () => {
    const capture = new OutputCapture(64);
    capture.push("stdout", Buffer.alloc(10_000, "y"));
    capture.push("stderr", Buffer.from("error: the end\n"));
    const out = capture.result();
    expect(out.stderr).toBe("error: the end\n");
    expect(out.stdout).toContain("omitted");
  });

  it("never cuts a multi-byte character in half", () => {
    const capture = new OutputCapture(11);
    capture.push("stdout", Buffer.from("€".repeat(100)));
    const out = capture.result();
    expect(out.stdout).not.toContain("\uFFFD");
    expect(out.stdout.replace(/\n…\[airlock:[^\]]*\]…\n/, "")).toMatch(/^€+$/);
  });

  it("streams decoded text to onOutput even when a character spans two chunks", () => {
    const seen: string[] = [];
    const capture = new OutputCapture(1024, (chunk) => seen.push(chunk));
    const euro = Buffer.from("a€b");
    capture.push("stdout", euro.subarray(0, 2));
    capture.push("stdout", euro.subarray(2));
    capture.flush();
    expect(seen.join("")).toBe("a€b");
  });

  it("survives a listener that throws", () => {
    const capture = new OutputCapture(1024, () => {
      throw new Error("client went away");
    });
    capture.push("stdout", Buffer.from("still here"));
    expect(capture.result().stdout).toBe("still here");
  });

  it("stores nothing but still counts when the budget is zero", () => {
    const capture = new OutputCapture(0);
    capture.push("stdout", Buffer.from("abc"));
    expect(capture.result()).toMatchObject({ totalBytes: 3, truncated: true });
  });
});

describe("selectExecProcesses (verifying a kill with the engine's listing)", () => {
  // Host pids as `docker top` reports them: 100 is the container's init, 101 the sentinel.
  const TOKEN = "0123456789abcdef01234567";
  const listing = parseEngineProcesses({
    Titles: ["PID", "PPID", "SID", "STAT", "COMMAND"],
    Processes: [
      ["100", "90", "100", "Ss", "/sbin/docker-init -- /usr/bin/env -i PATH=/usr/bin"],
      ["101", "100", "100", "S", "/bin/bash --norc -c trap PATH=/usr/bin"],
      ["102", "101", "100", "S", "sleep 3600 PATH=/usr/bin"],
      // the exec: its leader, a setsid child that kept the token, a child that cleared its environment
      ["200", "80", "200", "Ss", `bash -c x HOME=/home/agent AIRLOCK_EXEC=${TOKEN}`],
      ["201", "100", "201", "Ss", `sleep 300 AIRLOCK_EXEC=${TOKEN}`],
      ["202", "200", "200", "S", "sleep 301"],
      // an orphan with no marker at all (double fork after env -i)
      ["203", "100", "203", "Ss", "sleep 302"],
      // another command's background server, and a zombie of ours
      ["300", "100", "300", "Ss", "node server.js AIRLOCK_EXEC=ffffffffffffffffffffffff"],
      ["204", "200", "200", "Z", `[sleep] <defunct>`],
    ],
  });

  it("M1: selects the exec's tree, its session and marker-less orphans, never init's session or another command's process", () => {
    expect(
      selectExecProcesses(listing, 100, TOKEN)
        .map((p) => p.pid)
        .sort(),
    ).toEqual([200, 201, 202, 203]);
  });

  it("M1: with no token, selects every live process outside init's session", () => {
    expect(
      selectExecProcesses(listing, 100, null)
        .map((p) => p.pid)
        .sort(),
    ).toEqual([200, 201, 202, 203, 300]);
  });

  it("the reap's acknowledgement watches the sentinel's sleep: init's session minus init and the sentinel, zombies aside", () => {
    expect(sentinelChildren(listing, 100).map((p) => p.pid)).toEqual([102]);
  });

  it("refuses a listing without the columns it needs instead of calling it empty", () => {
    expect(() => parseEngineProcesses({ Titles: ["UID", "PID", "CMD"], Processes: [["0", "1", "init"]] })).toThrow(/unexpected process listing/);
  });
});
