// GET /api/health and `airlock doctor` against the real engine.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDocker } from "@/test/helpers/runs";
import { sandboxImageName } from "@/server/sandbox/image";
import { probeGvisor } from "@/server/sandbox/runtimes";

const run = promisify(execFile);
let dataDir: string;

beforeAll(async () => {
  await requireDocker();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-health-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe("health", () => {
  it("answers 200 with ok when the database and Docker answer", async () => {
    const { GET } = await import("@/app/api/health/route");
    const res = await GET();
    const body = (await res.json()) as { ok: boolean; docker: { ok: boolean }; database: { ok: boolean }; sandboxImage: { ok: boolean } };
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ ok: true, database: { ok: true }, docker: { ok: true }, sandboxImage: { ok: true } });
  });
});

describe("health and isolation", () => {
  it("names AIRLOCK_RUNTIME and what this process learned about gVisor, without starting a probe itself", async () => {
    const { GET } = await import("@/app/api/health/route");
    const { probeGvisor } = await import("@/server/sandbox/runtimes");
    const { sandboxImageName } = await import("@/server/sandbox/image");
    const setting = (await import("@/server/config/env")).readRuntimeSetting();
    const before = (await (await GET()).json()) as { runtime?: { setting: string; gvisor: string } };
    expect(before.runtime).toEqual({ setting, gvisor: "unchecked" });
    await probeGvisor(sandboxImageName()); // what a run's start does
    const after = (await (await GET()).json()) as { ok: boolean; runtime?: { setting: string; gvisor: string } };
    expect(after).toMatchObject({ ok: true, runtime: { setting, gvisor: "works" } });
  });
});

describe("airlock doctor", () => {
  it("exits 0 when everything is in place", async () => {
    const { stdout } = await run("bin/airlock", ["doctor", "--json"], { env: { ...process.env, AIRLOCK_DATA_DIR: dataDir } });
    const checks = JSON.parse(stdout) as { name: string; ok: boolean }[];
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(["Node.js", "Disk", "Database", "Docker engine", "Sandbox image", "Agent uid"]));
    expect(checks.every((c) => c.ok)).toBe(true);
  });

  it("reports which runtimes the engine offers, that gVisor works, and what AIRLOCK_RUNTIME resolves to", async () => {
    const { stdout } = await run("bin/airlock", ["doctor", "--json"], { env: { ...process.env, AIRLOCK_DATA_DIR: dataDir, AIRLOCK_RUNTIME: "auto" } });
    const isolation = (JSON.parse(stdout) as { name: string; ok: boolean; detail: string }[]).find((c) => c.name === "Isolation");
    expect(isolation?.ok).toBe(true);
    // The engine's list varies with how dockerd was started (after a SIGHUP reload it also names containerd's shims), so
    // assert the two runtimes Airlock uses are named, not the whole list.
    const offered = /^engine offers ([^;]+);/.exec(isolation?.detail ?? "")?.[1]?.split(", ");
    expect(offered).toEqual(expect.arrayContaining(["runc", "runsc"]));
    expect(isolation?.detail).toMatch(/; gVisor works \(Linux version 4\.4\.0/);
    // auto takes gVisor only where coreutils' stat works inside; the doctor says which, and why.
    const gvisor = await probeGvisor(sandboxImageName());
    if (gvisor.toolsProblem) {
      expect(isolation?.detail).toContain(`, but ${gvisor.toolsProblem}`);
      expect(isolation?.detail).toMatch(
        /AIRLOCK_RUNTIME=auto → runs use runc \(AIRLOCK_RUNTIME=auto and gVisor starts but .*set AIRLOCK_RUNTIME=runsc to use it anyway\)/,
      );
    } else {
      expect(isolation?.detail).toMatch(/AIRLOCK_RUNTIME=auto → runs use runsc/);
    }
  });

  it("exits 1 and says how to fix it when Docker does not answer", async () => {
    const err = await run("bin/airlock", ["doctor"], { env: { ...process.env, AIRLOCK_DATA_DIR: dataDir, DOCKER_HOST: "tcp://127.0.0.1:9" } }).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stdout: string }).stdout).toMatch(/FAIL Docker engine/);
    expect((err as { stdout: string }).stdout).toMatch(/fix: .*npm start/);
  });
});
