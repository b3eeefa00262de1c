// Checkpoints of a run's workspace: each one a commit in the run's shadow
// repository and a `checkpoints` row, announced as a run event and recorded
// in the audit trail in the same transaction.
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { checkpoints, workspaces, type Checkpoint, type CheckpointKind, type Run, type Workspace, type WorkspaceSourceJson } from "@/db/schema";
import { appendAudit, SYSTEM_ACTOR, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent, publishRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { resetWorkspacePermissions, WORKSPACE_MODE } from "@/server/sandbox/workspace";
import { requireRun } from "@/server/runs/lookup";
import { isTerminal } from "@/server/runs/state-machine";
import { withWorkspaceLock } from "./coordination";
import {
  commitTree,
  diffStat,
  diffText,
  headCommit,
  initShadowRepo,
  openShadowRepo,
  packRepo,
  repoStorageBytes,
  restoreWorkTree,
  shadowRepoExists,
  snapshotWorkTree,
  treeOf,
  type DiffText,
  type ShadowRepo,
  type SnapshotLimits,
} from "./shadow-repo";
import { runGit } from "./git";
import { signWorkTree, unchangedSince, type TreeSignature } from "./tree-signature";
import { forgetPulledListing, onRemoteEngine, pullRunWorkspace, pushRunWorkspace, sandboxListing } from "./remote";
import { workspaceSettings } from "./settings";
import { formatBytes } from "@/lib/format";
import { failpoint } from "@/server/faults/failpoints";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export interface CheckpointOptions {
  label: string;
  kind: CheckpointKind;
  toolCallId?: string | null;
  planStep?: number | null;
  /** The change was approved by a reviewer: automatic rollback may return here. */
  approved?: boolean;
  actor?: Actor;
  /** Freezes the run's container while git reads the workspace. */
  runtime?: SandboxRuntime;
  /** Commit even when nothing changed (the start checkpoint). */
  force?: boolean;
}

export function snapshotLimits(): SnapshotLimits {
  const s = workspaceSettings();
  return { maxFileBytes: s.maxFileBytes, ignoredDirs: s.ignoredDirs };
}

export function getWorkspace(db: Db, runId: string): Workspace | undefined {
  return db.select().from(workspaces).where(eq(workspaces.runId, runId)).get();
}

/** The workspace row of a run, created as an empty workspace when the run predates it. */
export function ensureWorkspaceRow(db: Pick<Db, "select" | "insert">, runId: string, source: WorkspaceSourceJson = { type: "empty" }): Workspace {
  const existing = db.select().from(workspaces).where(eq(workspaces.runId, runId)).get();
  if (existing) return existing;
  return (
    db
      .insert(workspaces)
      .values({ runId, source, storageCapBytes: workspaceSettings().checkpointCapBytes, updatedAt: new Date() })
      .onConflictDoNothing()
      .returning()
      .get() ?? db.select().from(workspaces).where(eq(workspaces.runId, runId)).get()!
  );
}

function repoOf(run: Run): ShadowRepo {
  if (!run.workspaceDir) throw new DomainError("PRECONDITION_FAILED", `Run ${run.id} has no workspace yet.`);
  return openShadowRepo(run.workspaceDir, run.id);
}

/** Creates the run's shadow repository (idempotent). */
export async function initWorkspaceRepo(db: Db, runId: string, workspaceDir: string): Promise<ShadowRepo> {
  ensureWorkspaceRow(db, runId);
  const repo = openShadowRepo(workspaceDir, runId);
  await initShadowRepo(repo);
  return repo;
}

/** Attempts at freezing a sandbox before a checkpoint gives up. */
export const PAUSE_ATTEMPTS = 4;

/**
 * Pauses the sandbox, trying again when the engine's cgroup freezer gives up
 * ("unable to freeze"): on a loaded host a task can take longer to stop than
 * runc waits, and a moment later it freezes. Without this, the checkpoint
 * after that tool call was lost (bench/load.bench.ts, 20 runs on 2 cores).
 */
async function pauseForCheckpoint(runtime: SandboxRuntime, containerId: string): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runtime.pauseSandbox(containerId);
    } catch (err) {
      const text = `${(err as Error).message} ${String(((err as Error).cause as Error | undefined)?.message ?? "")}`;
      if (attempt >= PAUSE_ATTEMPTS || !/unable to freeze/i.test(text)) throw err;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}

/** Freezes the container (when there is one and it runs) around `fn`. */
export async function withFrozenSandbox<T>(runtime: SandboxRuntime | undefined, containerId: string | null, fn: () => Promise<T>): Promise<T> {
  const paused = runtime && containerId ? await pauseForCheckpoint(runtime, containerId) : false;
  try {
    return await fn();
  } finally {
    if (paused) await runtime!.unpauseSandbox(containerId!).catch((err: unknown) => console.error("airlock: could not unpause sandbox:", err));
  }
}

function nextSeq(tx: Tx, runId: string): number {
  return (
    (tx
      .select({ n: sql<number>`coalesce(max(${checkpoints.seq}), 0)` })
      .from(checkpoints)
      .where(eq(checkpoints.runId, runId))
      .get()?.n ?? 0) + 1
  );
}

interface NewCheckpoint {
  label: string;
  kind: CheckpointKind;
  commitSha: string;
  parentSha: string | null;
  toolCallId?: string | null;
  planStep?: number | null;
  restoredFromId?: string | null;
  approved: boolean;
  sizeBytes: number;
  stat: { filesChanged: number; additions: number; deletions: number; paths?: string[] };
  storageBytes: number;
  skipped: string[];
  details?: Record<string, unknown>;
}

/** Inserts the row, updates the workspace's storage figures, and records the event and audit entry together. */
function recordCheckpoint(db: Db, runId: string, actor: Actor, c: NewCheckpoint): Checkpoint {
  // The paths go in the run event only (searchable as "file" hits); the audit entry keeps the counts.
  const { paths, ...stat } = c.stat;
  const { row, event } = db.transaction(
    (tx) => {
      const seq = nextSeq(tx, runId);
      const row = tx
        .insert(checkpoints)
        .values({
          id: crypto.randomUUID(),
          runId,
          seq,
          label: c.label.slice(0, 300),
          kind: c.kind,
          toolCallId: c.toolCallId ?? null,
          planStep: c.planStep ?? null,
          commitSha: c.commitSha,
          parentSha: c.parentSha,
          restoredFromId: c.restoredFromId ?? null,
          filesChanged: c.stat.filesChanged,
          additions: c.stat.additions,
          deletions: c.stat.deletions,
          sizeBytes: c.sizeBytes,
          approved: c.approved,
          createdBy: actor.label,
        })
        .returning()
        .get();
      tx.update(workspaces)
        .set({
          storageBytes: c.storageBytes,
          skippedPaths: c.skipped.slice(0, 200),
          updatedAt: new Date(),
          ...(c.kind === "start" ? { baseCommit: c.commitSha } : {}),
        })
        .where(eq(workspaces.runId, runId))
        .run();
      appendAudit(tx, actor, {
        action: c.kind === "rollback" ? "workspace.rollback" : "workspace.checkpoint",
        targetType: "run",
        targetId: runId,
        details: {
          checkpointId: row.id,
          seq,
          label: row.label,
          kind: c.kind,
          commit: c.commitSha,
          toolCallId: c.toolCallId ?? null,
          restoredFromId: c.restoredFromId ?? null,
          ...stat,
          ...c.details,
        },
      });
      const event = insertRunEvent(tx, runId, "checkpoint", {
        checkpointId: row.id,
        seq,
        label: row.label,
        kind: c.kind,
        toolCallId: c.toolCallId ?? null,
        planStep: c.planStep ?? null,
        restoredFromId: c.restoredFromId ?? null,
        approved: c.approved,
        ...stat,
        ...(paths?.length ? { files: paths } : {}),
        sizeBytes: c.sizeBytes,
        storageBytes: c.storageBytes,
        ...(c.skipped.length ? { skipped: c.skipped.slice(0, 20) } : {}),
      });
      return { row, event };
    },
    { behavior: "immediate" },
  );
  announce(event);
  return row;
}

/** Keeps the repository under its cap; false when a new checkpoint would go over it. */
async function withinCap(db: Db, runId: string, repo: ShadowRepo, ws: Workspace): Promise<{ ok: boolean; bytes: number }> {
  let bytes = await repoStorageBytes(repo);
  if (bytes <= ws.storageCapBytes) return { ok: true, bytes };
  await packRepo(repo);
  bytes = await repoStorageBytes(repo);
  if (bytes <= ws.storageCapBytes) return { ok: true, bytes };
  // Over the cap: forget what was just staged, so the objects can go.
  await runGit(repo, ["read-tree", "HEAD"], { okCodes: [128] });
  await packRepo(repo); // repacks only what commits reach now
  await runGit({ ...repo, workTree: undefined }, ["prune", "--expire=now"]);
  bytes = await repoStorageBytes(repo);
  db.update(workspaces).set({ storageBytes: bytes, updatedAt: new Date() }).where(eq(workspaces.runId, runId)).run();
  return { ok: false, bytes };
}

function announceSkipped(db: Db, runId: string, ws: Workspace, bytes: number, label: string) {
  const event = db.transaction(
    (tx) => {
      appendAudit(tx, SYSTEM_ACTOR, {
        action: "workspace.checkpoint_skipped",
        targetType: "run",
        targetId: runId,
        details: { label, storageBytes: bytes, capBytes: ws.storageCapBytes },
      });
      return insertRunEvent(tx, runId, "note", {
        text: `No checkpoint after "${label}": the run's checkpoint storage (${formatBytes(bytes)}) reached its cap of ${formatBytes(ws.storageCapBytes)}.`,
        level: "warning",
        source: "workspace",
      });
    },
    { behavior: "immediate" },
  );
  announce(event);
}

/** Part of every checkpoint (after every command): no setuid/setgid file and no open workspace root stays on the host. */
async function resetPermissions(db: Db, runId: string, workTree: string): Promise<void> {
  let reset;
  try {
    reset = await resetWorkspacePermissions(workTree);
  } catch (err) {
    // Reported, and tried again after the next command; the checkpoint itself goes on.
    console.error(`airlock: resetting workspace permissions failed for run ${runId}:`, err);
    publishRunEvent(db, runId, "error", { source: "workspace", message: `Airlock could not check the workspace for setuid files: ${(err as Error).message}` });
    return;
  }
  if (reset.stripped.length === 0 && reset.rootModeBefore === WORKSPACE_MODE) return;
  const shown = reset.stripped.slice(0, 20).join(", ") + (reset.stripped.length > 20 ? ` and ${reset.stripped.length - 20} more` : "");
  const parts = [
    ...(reset.stripped.length ? [`removed the setuid/setgid bits of ${shown}`] : []),
    ...(reset.rootModeBefore !== WORKSPACE_MODE
      ? [`reset the workspace root's mode from ${reset.rootModeBefore.toString(8).padStart(4, "0")} to ${WORKSPACE_MODE.toString(8).padStart(4, "0")}`]
      : []),
  ];
  const event = db.transaction(
    (tx) => {
      appendAudit(tx, SYSTEM_ACTOR, {
        action: "workspace.permissions_reset",
        targetType: "run",
        targetId: runId,
        details: { stripped: reset.stripped.slice(0, 200), rootModeBefore: reset.rootModeBefore },
      });
      return insertRunEvent(tx, runId, "note", { text: `Airlock ${parts.join(" and ")} (not allowed on the host).`, level: "warning", source: "workspace" });
    },
    { behavior: "immediate" },
  );
  announce(event);
}

/**
 * Per run: the work tree's signature as it was when the last checkpoint
 * found it committed (HEAD's tree), with that HEAD and the limits it was
 * taken under. A checkpoint whose signature matches it commits nothing and
 * costs one lstat per entry: no freeze, no `find`, no git. Anything else
 * (a change, a rollback that moved HEAD, a restart that forgot it, a racy
 * signature) takes the full path, which makes a new one.
 */
interface CommittedTree {
  head: string;
  limitsKey: string;
  signature: TreeSignature;
}
const gs = globalThis as unknown as { __airlockCommittedTrees?: Map<string, CommittedTree> };
const committedTrees = () => (gs.__airlockCommittedTrees ??= new Map());

/** Written before each look so its ctime tells the filesystem's clock (see tree-signature.ts). */
export function signatureStampFile(repo: ShadowRepo): string {
  return path.join(repo.gitDir, "airlock-stamp");
}

/** HEAD's commit from the ref files themselves (no git process; two tiny reads, synchronous: no thread-pool hops); null when it is not a plain loose ref. */
function headFromRefFiles(repo: ShadowRepo): string | null {
  try {
    const head = readFileSync(path.join(repo.gitDir, "HEAD"), "utf8").trim();
    const ref = /^ref: (refs\/heads\/[A-Za-z0-9._/-]+)$/.exec(head)?.[1];
    const sha = ref && !ref.includes("..") ? readFileSync(path.join(repo.gitDir, ref), "utf8").trim() : head;
    return /^[0-9a-f]{40}$/.test(sha) ? sha : null;
  } catch {
    return null;
  }
}

/** The cheap look: true when the work tree is exactly what HEAD holds, as the last checkpoint left it. */
async function unchangedSinceCommitted(runId: string, repo: ShadowRepo, limits: SnapshotLimits): Promise<boolean> {
  const known = committedTrees().get(runId);
  if (!known || known.limitsKey !== JSON.stringify(limits)) return false;
  if (headFromRefFiles(repo) !== known.head) return false;
  const now = await signWorkTree(repo.workTree, { stampFile: signatureStampFile(repo) });
  return unchangedSince(known.signature, now);
}

/** Forgets a run's committed-tree signature (its workspace is going away). */
export function forgetCommittedTree(runId: string): void {
  committedTrees().delete(runId);
  forgetPulledListing(runId);
}

/** Caller holds the workspace lock. */
async function checkpointLocked(db: Db, runId: string, opts: CheckpointOptions): Promise<Checkpoint | null> {
  const run = requireRun(db, runId);
  const ws = ensureWorkspaceRow(db, runId);
  if (ws.cleanedAt) return null;
  const repo = repoOf(run);
  const limits = snapshotLimits();
  // (A missing repository has no HEAD to match: the look fails and it is created below.)
  // On a remote engine the mirror is only as new as the last pull: the cheap look would miss the sandbox's changes.
  const remote = onRemoteEngine(run);
  if (!opts.force && !remote && (await unchangedSinceCommitted(runId, repo, limits))) return null;
  // Remote engine: the sandbox's digest, taken before the freeze (no helper runs in a frozen sandbox); unchanged since the last copy → no copy.
  const listing = remote ? await sandboxListing(opts.runtime, run) : null;
  if (!(await shadowRepoExists(repo))) await initShadowRepo(repo);
  committedTrees().delete(runId);
  const { snap, signature } = await withFrozenSandbox(opts.runtime, run.containerId, async () => {
    // Remote engine: the sandbox's /workspace comes over into the mirror first, frozen as it is.
    if (remote) await pullRunWorkspace(opts.runtime, run, repo.workTree, listing);
    await resetPermissions(db, runId, repo.workTree);
    // Looked at before git reads the files: a change after this look shows in the next one.
    const signature = await signWorkTree(repo.workTree, { stampFile: signatureStampFile(repo) }).catch(() => null);
    return { snap: await snapshotWorkTree(repo, limits), signature };
  });
  const remember = (head: string) => {
    if (signature?.trusted) committedTrees().set(runId, { head, limitsKey: JSON.stringify(limits), signature });
  };
  const parent = await headCommit(repo);
  const parentTree = parent ? await treeOf(repo, parent) : null;
  if (parentTree === snap.tree && !opts.force) {
    remember(parent!);
    return null;
  }
  const cap = await withinCap(db, runId, repo, ws);
  if (!cap.ok && parent) {
    announceSkipped(db, runId, ws, cap.bytes, opts.label);
    return null;
  }
  const commit = await commitTree(repo, snap.tree, parent, `${opts.label}\n\nAirlock-Run: ${runId}\nAirlock-Kind: ${opts.kind}\n`);
  failpoint("mid-checkpoint");
  remember(commit);
  const stat = await diffStat(repo, parent, commit);
  return recordCheckpoint(db, runId, opts.actor ?? SYSTEM_ACTOR, {
    label: opts.label,
    kind: opts.kind,
    commitSha: commit,
    parentSha: parent,
    toolCallId: opts.toolCallId,
    planStep: opts.planStep,
    approved: opts.approved ?? false,
    sizeBytes: snap.sizeBytes,
    stat,
    storageBytes: await repoStorageBytes(repo),
    skipped: snap.skipped,
  });
}

/**
 * Commits the workspace as a checkpoint when something changed since the
 * last one (or always, with `force`); null when nothing changed.
 */
export function checkpointWorkspace(db: Db, runId: string, opts: CheckpointOptions): Promise<Checkpoint | null> {
  return withWorkspaceLock(runId, () => checkpointLocked(db, runId, opts));
}

export function listCheckpoints(db: Db, runId: string): Checkpoint[] {
  return db.select().from(checkpoints).where(eq(checkpoints.runId, runId)).orderBy(asc(checkpoints.seq)).all();
}

export function requireCheckpoint(db: Db, runId: string, checkpointId: string): Checkpoint {
  const row = db
    .select()
    .from(checkpoints)
    .where(and(eq(checkpoints.runId, runId), eq(checkpoints.id, checkpointId)))
    .get();
  if (!row) throw new DomainError("NOT_FOUND", `Run ${runId} has no checkpoint ${checkpointId}.`);
  return row;
}

export function latestCheckpoint(db: Db, runId: string): Checkpoint | undefined {
  return db.select().from(checkpoints).where(eq(checkpoints.runId, runId)).orderBy(desc(checkpoints.seq)).limit(1).get();
}

export function startCheckpoint(db: Db, runId: string): Checkpoint | undefined {
  return db.select().from(checkpoints).where(eq(checkpoints.runId, runId)).orderBy(asc(checkpoints.seq)).limit(1).get();
}

const DIFF_LIMIT = 4 * 1024 * 1024;

/** The unified diff of one checkpoint against the one before it. */
export async function diffCheckpoint(db: Db, runId: string, checkpointId: string): Promise<DiffText & { checkpointId: string }> {
  const run = requireRun(db, runId);
  const cp = requireCheckpoint(db, runId, checkpointId);
  const ws = getWorkspace(db, runId);
  if (ws?.cleanedAt) return { diff: cp.archivedDiff ?? "", truncated: cp.archivedDiff === null, checkpointId };
  const d = await diffText(repoOf(run), cp.parentSha, cp.commitSha, { maxBytes: DIFF_LIMIT });
  return { ...d, checkpointId };
}

/** The cumulative diff of the run: its start checkpoint against its latest one. */
export async function diffRun(db: Db, runId: string): Promise<DiffText & { fromCheckpointId: string | null; toCheckpointId: string | null }> {
  const run = requireRun(db, runId);
  const ws = getWorkspace(db, runId);
  const first = startCheckpoint(db, runId);
  const last = latestCheckpoint(db, runId);
  if (!first || !last) return { diff: "", truncated: false, fromCheckpointId: null, toCheckpointId: null };
  if (ws?.cleanedAt) return { diff: ws.archivedDiff ?? "", truncated: ws.archivedDiff === null, fromCheckpointId: first.id, toCheckpointId: last.id };
  const d = await diffText(repoOf(run), first.commitSha, last.commitSha, { maxBytes: DIFF_LIMIT });
  return { ...d, fromCheckpointId: first.id, toCheckpointId: last.id };
}

export interface RestoreResult {
  checkpoint: Checkpoint;
  /** A checkpoint of changes made since the last one, taken before restoring (so they can be restored too). */
  saved: Checkpoint | null;
  /** The workspace matched the target exactly afterwards. */
  exact: boolean;
  durationMs: number;
}

export interface RestoreOptions {
  actor: Actor;
  runtime?: SandboxRuntime;
  label?: string;
  reason?: string;
}

/**
 * Restores the workspace to a checkpoint (caller holds the workspace lock and
 * has made sure nothing runs in the container). The restore is itself a new
 * checkpoint, so it can be undone.
 */
export async function restoreCheckpointLocked(db: Db, runId: string, checkpointId: string, opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const run = requireRun(db, runId);
  const ws = ensureWorkspaceRow(db, runId);
  if (ws.cleanedAt)
    throw new DomainError(
      "PRECONDITION_FAILED",
      `Run ${runId}'s workspace was cleaned up after its retention period; its diffs remain but it cannot be restored.`,
    );
  const target = requireCheckpoint(db, runId, checkpointId);
  const repo = repoOf(run);
  const targetTree = await treeOf(repo, target.commitSha);
  // An ended run has no sandbox to freeze or copy (gone, or on an engine that was lost: issue 17); its workspace is the host mirror.
  const live = isTerminal(run.state) ? { ...run, containerId: null } : run;
  const listing = await sandboxListing(opts.runtime, live).catch(() => null);
  const { before, after } = await withFrozenSandbox(opts.runtime, live.containerId, async () => {
    // Remote engine: what the sandbox holds now is what "before" must save.
    await pullRunWorkspace(opts.runtime, live, repo.workTree, listing);
    return restoreWorkTree(repo, snapshotLimits(), targetTree);
  });
  // Remote engine: the restored mirror goes back into the sandbox (unfrozen: a helper empties /workspace first).
  await pushRunWorkspace(opts.runtime, live, repo.workTree);
  failpoint("mid-rollback");
  let parent = await headCommit(repo);
  let saved: Checkpoint | null = null;
  if (parent && (await treeOf(repo, parent)) !== before.tree) {
    const commit = await commitTree(repo, before.tree, parent, `changes before rollback to #${target.seq}\n\nAirlock-Run: ${runId}\nAirlock-Kind: manual\n`);
    saved = recordCheckpoint(db, runId, opts.actor, {
      label: `unsaved changes before rollback to #${target.seq}`,
      kind: "manual",
      commitSha: commit,
      parentSha: parent,
      planStep: run.currentStep || null,
      approved: false,
      sizeBytes: before.sizeBytes,
      stat: await diffStat(repo, parent, commit),
      storageBytes: await repoStorageBytes(repo),
      skipped: before.skipped,
    });
    parent = commit;
  }
  const label = opts.label ?? `rollback to #${target.seq}`;
  const commit = await commitTree(
    repo,
    after.tree,
    parent,
    `${label}\n\nAirlock-Run: ${runId}\nAirlock-Kind: rollback\nAirlock-Restored: ${target.commitSha}\n`,
  );
  const exact = after.tree === targetTree;
  const durationMs = Date.now() - started;
  const checkpoint = recordCheckpoint(db, runId, opts.actor, {
    label,
    kind: "rollback",
    commitSha: commit,
    parentSha: parent,
    restoredFromId: target.id,
    planStep: run.currentStep || null,
    approved: target.approved && exact,
    sizeBytes: after.sizeBytes,
    stat: await diffStat(repo, parent, commit),
    storageBytes: await repoStorageBytes(repo),
    skipped: after.skipped,
    details: { toSeq: target.seq, exact, durationMs, reason: opts.reason ?? null },
  });
  return { checkpoint, saved, exact, durationMs };
}

/** Restores a checkpoint of a run in which nothing runs (a finished run, or tests). */
export function restoreCheckpoint(db: Db, runId: string, checkpointId: string, opts: RestoreOptions): Promise<RestoreResult> {
  return withWorkspaceLock(runId, () => restoreCheckpointLocked(db, runId, checkpointId, opts));
}
