import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { AGENT_GID, AGENT_UID } from "./layout";
import { prepareWorkspace, removeWorkspace, resetWorkspacePermissions, workspacePath } from "./workspace";

// Workspaces are chowned to the agent's uid, which needs root (Airlock and
// its tests run as root, see README); without it these tests fail, saying so.
const isRoot = process.getuid?.() === 0;

describe("run workspaces on the host", () => {
  let dataDir: string;
  beforeEach(() => {
    if (!isRoot) throw new Error("These tests need root: workspaces are chowned to the agent's uid. Run them as root, as npm test does.");
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-ws-test-"));
  });
  afterEach(() => {
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("creates <dataDir>/workspaces/<runId> owned by the agent's uid/gid with mode 0700", async () => {
    const dir = await prepareWorkspace(dataDir, "run-1");
    expect(dir).toBe(path.join(dataDir, "workspaces", "run-1"));
    const st = fs.statSync(dir);
    expect(st.isDirectory()).toBe(true);
    expect(st.uid).toBe(AGENT_UID);
    expect(st.gid).toBe(AGENT_GID);
    expect(st.mode & 0o777).toBe(0o700);
  });

  it("M2: a workspace root and the directory holding workspaces are 0700, so a local user cannot read the agent's files", async () => {
    fs.chmodSync(dataDir, 0o755);
    const dir = await prepareWorkspace(dataDir, "run-m2");
    // Written as the agent would: its own file, world-readable by mode.
    const file = path.join(dir, "notes.txt");
    fs.writeFileSync(file, "private\n", { mode: 0o644 });
    fs.chownSync(file, AGENT_UID, AGENT_GID);
    expect(fs.statSync(path.dirname(dir)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    // A local account (nobody, 65534) tries to read it and to list the workspaces.
    const asNobody = (...cmd: string[]) => spawnSync(cmd[0]!, cmd.slice(1), { uid: 65534, gid: 65534, encoding: "utf8" });
    const read = asNobody("cat", file);
    expect(read.status).not.toBe(0);
    expect(read.stderr).toMatch(/Permission denied/);
    expect(asNobody("ls", path.dirname(dir)).stderr).toMatch(/Permission denied/);
    // A restart re-prepares it: an agent's chmod 777 of the root does not survive.
    fs.chmodSync(dir, 0o777);
    await prepareWorkspace(dataDir, "run-m2");
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  });

  it("strips setuid and setgid bits anywhere in a workspace and resets its root's mode, in one walk", async () => {
    const dir = await prepareWorkspace(dataDir, "run-suid");
    fs.mkdirSync(path.join(dir, "node_modules/.bin"), { recursive: true });
    fs.copyFileSync("/bin/true", path.join(dir, "x"));
    fs.chmodSync(path.join(dir, "x"), 0o4755);
    fs.copyFileSync("/bin/true", path.join(dir, "node_modules/.bin/y"));
    fs.chmodSync(path.join(dir, "node_modules/.bin/y"), 0o2755);
    fs.symlinkSync("/usr/bin/passwd", path.join(dir, "link-to-host-suid"));
    fs.chmodSync(dir, 0o777);
    const reset = await resetWorkspacePermissions(dir);
    expect(reset.stripped.sort()).toEqual(["node_modules/.bin/y", "x"]);
    expect(reset.rootModeBefore).toBe(0o777);
    expect(fs.statSync(path.join(dir, "x")).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(dir, "node_modules/.bin/y")).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(dir).mode & 0o7777).toBe(0o700);
    // The symlink was not followed: the host's own setuid program is untouched.
    expect(fs.statSync("/usr/bin/passwd").mode & 0o4000).toBe(0o4000);
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
