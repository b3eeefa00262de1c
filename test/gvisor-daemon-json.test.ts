// scripts/gvisor-daemon-json.mjs edits the engine's daemon.json on `npm start`:
// it must keep every other setting, change nothing on a second run, and
// never overwrite a file it cannot read.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const script = path.resolve(__dirname, "../scripts/gvisor-daemon-json.mjs");
let dir: string;
let file: string;
const run = () => execFileSync(process.execPath, [script, file, "/usr/bin/runsc"], { encoding: "utf8" }).trim();

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-daemon-json-"));
  file = path.join(dir, "docker", "daemon.json");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("registering gVisor with the Docker engine", () => {
  it("creates daemon.json with the runsc runtime when there is none", () => {
    expect(run()).toBe("written");
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({
      runtimes: { runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=host", "--oci-seccomp"] } },
    });
  });

  it("keeps the admin's other settings and runtimes, and changes nothing on a second run", () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ "log-level": "warn", runtimes: { kata: { path: "/usr/bin/kata" } } }));
    expect(run()).toBe("written");
    const after = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(after["log-level"]).toBe("warn");
    expect(after.runtimes.kata).toEqual({ path: "/usr/bin/kata" });
    expect(after.runtimes.runsc.path).toBe("/usr/bin/runsc");
    const text = fs.readFileSync(file, "utf8");
    expect(run()).toBe("unchanged");
    expect(fs.readFileSync(file, "utf8")).toBe(text);
  });

  it("refuses to touch a daemon.json that is not valid JSON, and says so", () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{ "log-level": "warn", ');
    const r = spawnSync(process.execPath, [script, file, "/usr/bin/runsc"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not valid JSON.*fix it by hand/);
    expect(fs.readFileSync(file, "utf8")).toBe('{ "log-level": "warn", ');
  });
});
