// Fault: a second Airlock started on the data directory of a running one. Two
// real `next start` processes on one directory: the second refuses to start and
// says why, the first keeps serving, the CLI's short admin commands still work,
// and after a SIGKILL of the first a new one starts at once (the kernel dropped
// its lock; nothing stale is left to clean).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { airlockCli, startDashboard, type Dashboard } from "@/test/faults/dashboard";

const FULL = process.env.AIRLOCK_FAULTS === "full";
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-fault-lock-"));
const started: Dashboard[] = [];

afterAll(async () => {
  for (const d of started) await d.stop("SIGKILL");
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function start(): Promise<Dashboard> {
  const d = await startDashboard(dataDir);
  started.push(d);
  return d;
}

describe("fault: a second Airlock on the same data directory", () => {
  it("F-LOCK-1: the second process exits non-zero naming the holder and the directory; the first keeps serving", async () => {
    const first = await start();
    await first.waitAnswering();
    expect((await first.health()).status).toBe(200);

    const second = await start();
    const code = await Promise.race([second.exited, new Promise<string>((r) => setTimeout(() => r("still running after 90 s"), 90_000))]);
    expect(code, second.output()).not.toBe(0);
    expect(code, second.output()).not.toBe("still running after 90 s");
    const said = second.output();
    expect(said).toContain("Another Airlock is already running on the data directory");
    expect(said).toContain(dataDir);
    expect(said).toContain(`process ${first.proc.pid}`);
    expect(said).toMatch(/Stop the other one first/);

    // The first was not disturbed.
    expect((await first.health()).status).toBe(200);
    expect(first.proc.exitCode).toBeNull();
  });

  it("F-LOCK-2: short CLI commands (audit verify, user create; doctor in the full form) work while the dashboard holds the lock", async () => {
    const created = await airlockCli(dataDir, ["user", "create", "--email", "op@faults.test", "--role", "operator", "--password", "operator-password-1"]);
    expect(created.code, created.stderr).toBe(0);
    const verified = await airlockCli(dataDir, ["audit", "verify"]);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
    if (FULL) {
      // Slower (it probes the engine and the image): the full form only.
      const doctor = await airlockCli(dataDir, ["doctor"]);
      expect(doctor.stdout + doctor.stderr).not.toContain("Another Airlock is already running");
    }
  });

  it("F-LOCK-3: after a SIGKILL of the holder a new Airlock starts at once, with no stale lock to remove", async () => {
    const holder = started.find((d) => d.proc.exitCode === null && d.proc.signalCode === null)!;
    await holder.stop("SIGKILL");
    const next = await start();
    await next.waitAnswering();
    expect((await next.health()).status).toBe(200);
    expect(next.output()).not.toContain("Another Airlock is already running");
    const owner = JSON.parse(fs.readFileSync(path.join(dataDir, "airlock.lock.owner"), "utf8")) as { pid: number };
    expect(owner.pid).toBe(next.proc.pid);
  });
});
