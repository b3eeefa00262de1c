import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { prepareWorkspace, removeWorkspace, workspacePath } from "./workspace";

// Workspaces are chowned to the agent's uid 1000, which needs root (Airlock and
// its tests run as root, see README); without it these tests fail, saying so.
const isRoot = process.getuid?.() === 0;

describe("run workspaces on the host", () => {
  let dataDir: string;
  beforeEach(() => {
    if (!isRoot) throw new Error("These tests need root: workspaces are chowned to uid 1000. Run them as root, as npm test does.");
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-ws-test-"));
  });
  afterEach(() => {
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("creates <dataDir>/workspaces/<runId> owned by uid/gid 1000 with mode 0755", async () => {
    const dir = await prepareWorkspace(dataDir, "run-1");
    expect(dir).toBe(path.join(dataDir, "workspaces", "run-1"));
    const st = fs.statSync(dir);
    expect(st.isDirectory()).toBe(true);
    expect(st.uid).toBe(1000);
    expect(st.gid).toBe(1000);
    expect(st.mode & 0o777).toBe(0o755);
  });

  it("prepares an existing workspace again without losing its files", async () => {
    const dir = await prepareWorkspace(dataDir, "run-2");
    fs.writeFileSync(path.join(dir, "kept.txt"), "x");
    expect(await prepareWorkspace(dataDir, "run-2")).toBe(dir);
    expect(fs.readFileSync(path.join(dir, "kept.txt"), "utf8")).toBe("x");
  });

  it("refuses run ids that could leave the workspaces directory", async () => {
    for (const bad of ["../etc", "a/b", "", ".hidden", "x".repeat(200)]) {
      expect(() => workspacePath(dataDir, bad)).toThrow(/invalid run id/);
    }
    await expect(prepareWorkspace(dataDir, "../../tmp")).rejects.toThrow(/invalid run id/);
  });

  it("refuses a workspace path that is a symlink (Docker would follow it)", async () => {
    fs.mkdirSync(path.join(dataDir, "workspaces"));
    fs.symlinkSync("/etc", path.join(dataDir, "workspaces", "run-3"));
    await expect(prepareWorkspace(dataDir, "run-3")).rejects.toThrow(/not a directory/);
  });

  it("removes a workspace without following the agent's symlinks, and twice without error", async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-outside-"));
    fs.writeFileSync(path.join(outside, "precious"), "keep me");
    const dir = await prepareWorkspace(dataDir, "run-4");
    fs.symlinkSync(outside, path.join(dir, "escape"));
    await removeWorkspace(dataDir, "run-4");
    await removeWorkspace(dataDir, "run-4");
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readFileSync(path.join(outside, "precious"), "utf8")).toBe("keep me");
    fs.rmSync(outside, { recursive: true, force: true });
  });
});
