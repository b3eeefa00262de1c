// Helpers for workspace tests: a run with a real sandbox and shadow
// repository but no agent, commands inside it, and manifests of a workspace
// (what "byte for byte" is checked against).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs, type Run } from "@/db/schema";
import { createRun } from "@/server/runs/runs";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { sandboxImageName } from "@/server/sandbox/image";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { checkpointRunStart, prepareRunWorkspace } from "@/server/workspace/hooks";
import type { WorkspaceSourceJson } from "@/db/schema";
import type { PublicUser } from "@/server/users/users";
import { actorOf } from "@/test/helpers/users";

export interface SandboxedRun {
  run: Run;
  containerId: string;
  workspaceDir: string;
}

/** A run that is never launched: its workspace, shadow repository and container exist, with the start checkpoint taken. */
export async function sandboxedRun(
  db: Db,
  runtime: SandboxRuntime,
  dataDir: string,
  operator: PublicUser,
  modelId: string,
  source?: WorkspaceSourceJson,
): Promise<SandboxedRun> {
  const run = createRun(db, { ...actorOf(operator), userId: operator.id }, { title: "workspace test", task: "none", modelId }, { source });
  const workspaceDir = await prepareWorkspace(dataDir, run.id);
  await prepareRunWorkspace(db, run.id, workspaceDir);
  const { containerId } = await runtime.createSandbox({ runId: run.id, image: sandboxImageName(), workspaceDir, limits: run.limits });
  db.update(runs).set({ containerId, workspaceDir }).where(eq(runs.id, run.id)).run();
  await checkpointRunStart(db, runtime, run.id);
  return { run: db.select().from(runs).where(eq(runs.id, run.id)).get()!, containerId, workspaceDir };
}

/** Runs a bash script inside the sandbox as the agent; fails the test on a non-zero exit. */
export async function agentShell(runtime: SandboxRuntime, containerId: string, script: string, timeoutS = 60): Promise<string> {
  const r = await runtime.exec(containerId, { cmd: ["bash", "-c", script], timeoutS });
  if (r.exitCode !== 0) throw new Error(`agent script failed (${r.exitCode}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export interface ManifestEntry {
  type: "file" | "dir" | "symlink";
  executable?: boolean;
  sha256?: string;
  target?: string;
  uid: number;
}

/** Every entry of a directory (not following links), with content hashes and executable bits. */
export function manifest(dir: string, skip: string[] = []): Record<string, ManifestEntry> {
  const out: Record<string, ManifestEntry> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      if (skip.includes(p)) continue;
      const full = path.join(dir, p);
      const st = fs.lstatSync(full);
      if (st.isSymbolicLink()) out[p] = { type: "symlink", target: fs.readlinkSync(full), uid: st.uid };
      else if (st.isDirectory()) {
        out[p] = { type: "dir", uid: st.uid };
        walk(p);
      } else {
        out[p] = {
          type: "file",
          executable: (st.mode & 0o100) !== 0,
          sha256: crypto.createHash("sha256").update(fs.readFileSync(full)).digest("hex"),
          uid: st.uid,
        };
      }
    }
  };
  walk("");
  return out;
}

/** Git does not keep empty directories: compare without them. */
export function withoutEmptyDirs(m: Record<string, ManifestEntry>): Record<string, ManifestEntry> {
  const keep: Record<string, ManifestEntry> = {};
  for (const [p, e] of Object.entries(m)) {
    if (e.type === "dir" && !Object.keys(m).some((q) => q.startsWith(`${p}/`) && m[q]!.type !== "dir")) continue;
    keep[p] = e;
  }
  return keep;
}
