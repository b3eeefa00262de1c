// The host side of a run's workspace: <dataDir>/workspaces/<runId>, the one
// host directory a sandbox sees (bind-mounted at /workspace). The agent runs
// as uid 1000, so the directory must belong to uid/gid 1000.
import fs from "node:fs/promises";
import path from "node:path";

export const AGENT_UID = 1000;
export const AGENT_GID = 1000;

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function workspacePath(dataDir: string, runId: string): string {
  // runId becomes a path component: nothing that could climb out of workspaces/.
  if (!RUN_ID.test(runId)) throw new Error(`invalid run id for a workspace directory: ${JSON.stringify(runId)}`);
  return path.join(path.resolve(dataDir), "workspaces", runId);
}

/** Creates (or re-owns, when a restarted supervisor reuses it) the run's
 * workspace directory and returns its absolute path. */
export async function prepareWorkspace(dataDir: string, runId: string): Promise<string> {
  const dir = workspacePath(dataDir, runId);
  await fs.mkdir(path.dirname(dir), { recursive: true, mode: 0o755 });
  try {
    await fs.mkdir(dir, { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // Docker would follow a symlink here when bind-mounting it.
    const st = await fs.lstat(dir);
    if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
  }
  await fs.chmod(dir, 0o755);
  try {
    await fs.chown(dir, AGENT_UID, AGENT_GID);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const st = await fs.stat(dir);
    if ((code === "EPERM" || code === "EINVAL") && st.uid === AGENT_UID) return dir;
    throw new Error(
      `cannot give ${dir} to uid ${AGENT_UID} (${code}); the agent could not write its workspace. Run Airlock as root, or as uid ${AGENT_UID}.`,
      { cause: err },
    );
  }
  return dir;
}

/** Deletes the workspace. Idempotent. Never follows symlinks the agent left
 * inside (fs.rm removes the links themselves). */
export async function removeWorkspace(dataDir: string, runId: string): Promise<void> {
  await fs.rm(workspacePath(dataDir, runId), { recursive: true, force: true });
}
