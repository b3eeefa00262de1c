// The host side of a run's workspace: <dataDir>/workspaces/<runId>, the one
// host directory a sandbox sees (bind-mounted at /workspace). The agent runs
// as AGENT_UID (./layout), so the directory must belong to it.
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { AGENT_GID, AGENT_UID } from "./layout";

export { AGENT_GID, AGENT_UID };

const execFileAsync = promisify(execFile);

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function workspacePath(dataDir: string, runId: string): string {
  // runId becomes a path component: nothing that could climb out of workspaces/.
  if (!RUN_ID.test(runId)) throw new Error(`invalid run id for a workspace directory: ${JSON.stringify(runId)}`);
  return path.join(path.resolve(dataDir), "workspaces", runId);
}

/** The mode of every workspace root and of the directory holding them:
 * nobody but root and the agent's uid (which no host account uses) can read
 * a workspace, whatever modes the agent gives the files inside. */
export const WORKSPACE_MODE = 0o700;

/** Creates (or re-owns, when a restarted supervisor reuses it) the run's
 * workspace directory and returns its absolute path. */
export async function prepareWorkspace(dataDir: string, runId: string): Promise<string> {
  const dir = workspacePath(dataDir, runId);
  // Docker mounts the workspace as root, so the agent needs no way through its parents.
  await fs.mkdir(path.dirname(dir), { recursive: true, mode: WORKSPACE_MODE });
  await fs.chmod(path.dirname(dir), WORKSPACE_MODE);
  let existed = false;
  try {
    await fs.mkdir(dir, { mode: WORKSPACE_MODE });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // Docker would follow a symlink here when bind-mounting it.
    const st = await fs.lstat(dir);
    if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
    existed = true;
  }
  await fs.chmod(dir, WORKSPACE_MODE);
  try {
    const before = existed ? await fs.stat(dir) : null;
    await fs.chown(dir, AGENT_UID, AGENT_GID);
    // A workspace made for another agent uid (an upgrade changed it): its files become the agent's too.
    if (before && before.uid !== AGENT_UID) await execFileAsync("chown", ["-R", "-h", "--", `${AGENT_UID}:${AGENT_GID}`, dir]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const st = await fs.stat(dir);
    if ((code === "EPERM" || code === "EINVAL") && st.uid === AGENT_UID) return dir;
    throw new Error(`cannot give ${dir} to uid ${AGENT_UID} (${code}); the agent could not write its workspace. Run Airlock as root, or as uid ${AGENT_UID}.`, {
      cause: err,
    });
  }
  return dir;
}

/** Deletes the workspace. Idempotent. Never follows symlinks the agent left
 * inside (fs.rm removes the links themselves). */
export async function removeWorkspace(dataDir: string, runId: string): Promise<void> {
  await fs.rm(workspacePath(dataDir, runId), { recursive: true, force: true });
}

export interface PermissionReset {
  /** Workspace-relative paths whose setuid/setgid bits were removed. */
  stripped: string[];
  /** The root's mode before it was reset (the agent may chmod /workspace). */
  rootModeBefore: number;
  durationMs: number;
}

/**
 * After a command, with the sandbox frozen (or gone) so nothing can swap a
 * path under us: removes every setuid/setgid bit in the workspace (a file
 * the agent made setuid is owned by the agent's uid on the host) and resets
 * the root to WORKSPACE_MODE (the agent may have made it world-writable).
 * One `find` walk; -execdir chmods each match from inside its own directory,
 * never through a path the agent could have redirected.
 */
export async function resetWorkspacePermissions(dir: string): Promise<PermissionReset> {
  const started = Date.now();
  const st = await fs.lstat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  const { stdout } = await execFileAsync(
    "find",
    ["-P", ".", "-xdev", "-perm", "/6000", "!", "-type", "l", "-printf", "%P\\0", "-execdir", "chmod", "ug-s", "--", "{}", "+"],
    { cwd: dir, env: { PATH: "/usr/bin:/bin", LC_ALL: "C" } as unknown as NodeJS.ProcessEnv, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
  );
  await fs.chmod(dir, WORKSPACE_MODE);
  return { stripped: stdout.split("\0").filter(Boolean), rootModeBefore: st.mode & 0o7777, durationMs: Date.now() - started };
}
