// The per-run workspace quota (AIRLOCK_WORKSPACE_QUOTA_MB): how much a run's
// workspace may hold on the host's disk. There are no filesystem quotas
// here, so it is measured: `du` on the host after every command (and every
// few seconds while one runs, killing it once the workspace grows past the
// quota), and each command's processes get RLIMIT_FSIZE = the quota, so no
// single file can outgrow it between two measurements.
import { formatBytes } from "@/lib/format";
import path from "node:path";
import { runHostCommand } from "./git";
import { workspaceSettings } from "./settings";
import { openShadowRepo } from "./shadow-repo";
import { signWorkTree, unchangedSince, type TreeSignature } from "./tree-signature";

export interface WorkspaceSize {
  bytes: number;
  quotaBytes: number;
  measuredAt: Date;
}

/** How often a running command's workspace is measured. */
export const QUOTA_SAMPLE_MS = 2000;
const DU_TIMEOUT_MS = 30_000;

const g = globalThis as unknown as { __airlockWorkspaceSizes?: Map<string, WorkspaceSize>; __airlockMeasuredTrees?: Map<string, TreeSignature> };
const sizes = () => (g.__airlockWorkspaceSizes ??= new Map());
/** Per run: the workspace's signature taken just before its last `du` (see measureWorkspace). */
const measuredTrees = () => (g.__airlockMeasuredTrees ??= new Map());
/** Past this many entries the signature costs more than it saves: du alone then. */
const MAX_SIGNED_ENTRIES = 20_000;

export function workspaceQuotaBytes(): number {
  return workspaceSettings().workspaceQuotaBytes;
}

/**
 * Bytes the workspace takes on disk (blocks, hard links once, symlinks not
 * followed, one filesystem), as root so that modes the agent set cannot hide
 * anything. Remembered for the run page's resources panel. When an lstat of
 * every entry (tree-signature.ts: sizes and blocks included) shows nothing
 * changed since the last `du`, that figure still holds and no `du` runs: after
 * a command that wrote nothing this is most of a command's overhead saved.
 */
export async function measureWorkspace(runId: string, workspaceDir: string): Promise<WorkspaceSize> {
  const stampFile = path.join(openShadowRepo(workspaceDir, runId).gitDir, "airlock-stamp");
  // Taken before du: a change that du sees and this look missed shows in the next look.
  const signature = await signWorkTree(workspaceDir, { stampFile, maxEntries: MAX_SIGNED_ENTRIES }).catch(() => null);
  const last = sizes().get(runId);
  if (last && last.quotaBytes === workspaceQuotaBytes() && unchangedSince(measuredTrees().get(runId), signature)) {
    const size = { ...last, measuredAt: new Date() };
    sizes().set(runId, size);
    return size;
  }
  measuredTrees().delete(runId);
  const out = await runHostCommand("du", ["-s", "-x", "-B1", "--", workspaceDir], { cwd: "/", asAgent: false, timeoutMs: DU_TIMEOUT_MS, okCodes: [1] });
  // Exit 1: a file vanished while du ran (a command deleting); the total is still right for what is there.
  const bytes = Number(/^(\d+)/.exec(out.stdout.toString("utf8"))?.[1]);
  if (!Number.isFinite(bytes)) throw new Error(`du printed no size for ${workspaceDir}: ${out.stderr.trim().slice(0, 200)}`);
  const size = { bytes, quotaBytes: workspaceQuotaBytes(), measuredAt: new Date() };
  sizes().set(runId, size);
  if (signature?.trusted) measuredTrees().set(runId, signature);
  return size;
}

/** The last measurement of a run's workspace (after its last command), if any. */
export function lastWorkspaceSize(runId: string): WorkspaceSize | undefined {
  return sizes().get(runId);
}

export function forgetWorkspaceSize(runId: string): void {
  sizes().delete(runId);
  measuredTrees().delete(runId);
}

/** What the agent is told when its workspace is over the quota. */
export function quotaExceededMessage(size: { bytes: number; quotaBytes: number }, killed: boolean): string {
  const figures = `the workspace holds ${formatBytes(size.bytes)} (${size.bytes} bytes); this run's workspace quota is ${formatBytes(size.quotaBytes)} (${size.quotaBytes} bytes)`;
  return killed
    ? `Workspace quota exceeded: the command was killed with all its processes because ${figures}. Delete files you do not need (build output, downloads, caches) before continuing.`
    : `Workspace quota exceeded: ${figures}. Delete files you do not need (build output, downloads, caches); every command reports this until the workspace is back under the quota.`;
}

/**
 * Measures the workspace every QUOTA_SAMPLE_MS while a command runs and calls
 * `onExceeded` once when it is over the quota AND larger than it was before
 * the command (so `rm` in a workspace that is already over can still run).
 * Returns the function that stops watching.
 */
export function watchWorkspaceQuota(runId: string, workspaceDir: string, onExceeded: (size: WorkspaceSize) => void): () => void {
  const baseline = lastWorkspaceSize(runId)?.bytes ?? 0;
  let busy = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (busy || stopped) return;
    busy = true;
    measureWorkspace(runId, workspaceDir)
      .then((size) => {
        if (stopped || size.bytes <= size.quotaBytes || size.bytes <= baseline) return;
        stopped = true;
        clearInterval(timer);
        onExceeded(size);
      })
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, QUOTA_SAMPLE_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
