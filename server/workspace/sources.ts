// Where a run's workspace starts from: empty, a local git repository under
// an admin-allowed root (its files at one commit are copied in — the
// repository itself is never worked in, and no other history reaches the
// agent), or an uploaded archive (checked again when extracted).
import fs from "node:fs/promises";
import path from "node:path";
import { and, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { uploads, workspaces, type WorkspaceSourceJson } from "@/db/schema";
import { DomainError } from "@/server/errors/domain-error";
import { AGENT_GID, AGENT_UID } from "@/server/sandbox/workspace";
import { extractArchive } from "./archive";
import { ensureWorkspaceRow } from "./checkpoints";
import { ensureGitHome, gitLine, runGit, runHostCommand, type GitTarget } from "./git";
import { openShadowRepo } from "./shadow-repo";
import { workspaceSettings } from "./settings";
import { uploadPath } from "./uploads";

export const workspaceSourceInput = z.discriminatedUnion("type", [
  z.object({ type: z.literal("empty") }),
  z.object({
    type: z.literal("git"),
    path: z.string().trim().min(1, "path is required").max(4096),
    ref: z
      .string()
      .trim()
      .max(200)
      .regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._\/@^~-]+$/, "ref must be a branch, tag or commit name")
      .optional(),
  }),
  z.object({ type: z.literal("archive"), uploadId: z.string().min(1).max(100) }),
]);
export type WorkspaceSourceInput = z.infer<typeof workspaceSourceInput>;

export interface SourceRepo {
  /** The repository as the admin named it (the work tree or a bare repository). */
  path: string;
  gitDir: string;
}

function hostGit(gitDir: string, homeDir: string): GitTarget {
  return { gitDir, homeDir, asAgent: false };
}

/** A repository path under one of AIRLOCK_REPO_ROOTS (symlinks resolved), with its git directory. */
export async function resolveSourceRepo(requested: string): Promise<SourceRepo> {
  const roots = workspaceSettings().repoRoots;
  if (roots.length === 0)
    throw new DomainError(
      "INVALID_INPUT",
      "No repository roots are allowed on this server. An admin sets AIRLOCK_REPO_ROOTS (colon-separated directories) to allow starting from local repositories.",
    );
  if (!path.isAbsolute(requested)) throw new DomainError("INVALID_INPUT", `The repository path must be absolute; got ${requested}.`);
  let real: string;
  try {
    real = await fs.realpath(requested);
  } catch {
    throw new DomainError("INVALID_INPUT", `No repository at ${requested}.`);
  }
  const allowed = await Promise.all(roots.map((r) => fs.realpath(r).catch(() => null)));
  if (!allowed.some((root) => root && (real === root || real.startsWith(`${root}/`)))) {
    throw new DomainError("FORBIDDEN", `${requested} is not under an allowed repository root (${roots.join(", ")}).`);
  }
  const dotGit = path.join(real, ".git");
  const st = await fs.lstat(dotGit).catch(() => null);
  if (st?.isDirectory()) return { path: real, gitDir: dotGit };
  if (st) throw new DomainError("INVALID_INPUT", `${requested} is a linked worktree or submodule (.git is a file); use the main repository.`);
  const bare = await Promise.all(
    ["HEAD", "objects", "refs"].map((f) =>
      fs.access(path.join(/*turbopackIgnore: true*/ real, f)).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (bare.every(Boolean)) return { path: real, gitDir: real };
  throw new DomainError("INVALID_INPUT", `${requested} is not a git repository.`);
}

async function resolveCommit(repo: SourceRepo, ref: string | undefined, homeDir: string): Promise<string> {
  try {
    return await gitLine(hostGit(repo.gitDir, homeDir), ["rev-parse", "--verify", "--end-of-options", `${ref ?? "HEAD"}^{commit}`]);
  } catch {
    throw new DomainError("INVALID_INPUT", `${ref ?? "HEAD"} is not a commit in ${repo.path}.`);
  }
}

async function branchOf(repo: SourceRepo, homeDir: string): Promise<string | undefined> {
  const r = await runGit(hostGit(repo.gitDir, homeDir), ["symbolic-ref", "-q", "--short", "HEAD"], { okCodes: [1, 128] });
  return r.code === 0 ? r.stdout.toString().trim() : undefined;
}

async function scratchHome(dataDir: string): Promise<string> {
  const dir = path.join(dataDir, "checkpoints", ".home");
  await ensureGitHome(dir);
  return dir;
}

/**
 * Checks a requested source for runs.create and pins it: a git source gets
 * its commit (so the run starts from what was asked, whatever happens to the
 * branch later); an archive must be the caller's own unused upload.
 */
export async function resolveWorkspaceSource(db: Db, userId: string, dataDir: string, input: WorkspaceSourceInput | undefined): Promise<WorkspaceSourceJson> {
  if (!input || input.type === "empty") return { type: "empty" };
  if (input.type === "git") {
    const repo = await resolveSourceRepo(input.path);
    const home = await scratchHome(dataDir);
    const commit = await resolveCommit(repo, input.ref, home);
    return { type: "git", path: repo.path, ...(input.ref ? { ref: input.ref } : {}), commit, branch: input.ref ?? (await branchOf(repo, home)) };
  }
  const upload = db.select().from(uploads).where(eq(uploads.id, input.uploadId)).get();
  if (!upload || upload.userId !== userId)
    throw new DomainError("NOT_FOUND", `No upload ${input.uploadId} of yours; upload the archive first (POST /api/uploads).`);
  if (upload.usedByRunId)
    throw new DomainError("CONFLICT", `Upload ${input.uploadId} was already used by run ${upload.usedByRunId}; upload it again for a new run.`);
  return { type: "archive", uploadId: upload.id, name: upload.filename };
}

/**
 * The source a re-run (runs.rerun) starts from: the original run's own,
 * pinned to the same commit, provided it still exists. Refuses with
 * PRECONDITION_FAILED, saying what is missing, when the repository, the commit or
 * the uploaded archive is no longer there.
 */
export async function resolveRerunSource(dataDir: string, runId: string, source: WorkspaceSourceJson): Promise<WorkspaceSourceJson> {
  const gone = (what: string) =>
    new DomainError("PRECONDITION_FAILED", `Run ${runId} cannot be re-run: ${what} Start a new run with another workspace source instead.`);
  if (source.type === "empty") return source;
  if (source.type === "git") {
    let repo: SourceRepo;
    try {
      repo = await resolveSourceRepo(source.path);
    } catch (err) {
      throw gone(`its source repository is no longer usable (${(err as Error).message})`);
    }
    const home = await scratchHome(dataDir);
    try {
      const commit = await resolveCommit(repo, source.commit ?? source.ref, home);
      return { ...source, path: repo.path, commit };
    } catch {
      throw gone(`commit ${source.commit ?? source.ref ?? "HEAD"} is no longer in ${source.path}.`);
    }
  }
  const there = await fs.access(uploadPath(dataDir, source.uploadId)).then(
    () => true,
    () => false,
  );
  if (!there) throw gone(`its uploaded archive${source.name ? ` ${source.name}` : ""} (${source.uploadId}) is no longer on the server.`);
  return source;
}

/** The source as requested, unpinned (a git commit is then resolved when the run starts). */
export function sourceFromInput(input: WorkspaceSourceInput | undefined): WorkspaceSourceJson {
  if (!input || input.type === "empty") return { type: "empty" };
  if (input.type === "git") return { type: "git", path: input.path, ...(input.ref ? { ref: input.ref } : {}) };
  return { type: "archive", uploadId: input.uploadId };
}

/** Records the run's source in the transaction that creates the run; an upload is claimed by exactly one run. */
export function recordWorkspaceSource(
  tx: Pick<Db, "select" | "insert" | "update">,
  runId: string,
  source: WorkspaceSourceJson,
  userId: string,
  opts: { reuse?: boolean } = {},
): void {
  // reuse: a re-run (runs.rerun) starts from the archive its original run already claimed; the caller checked it is still there.
  if (source.type === "archive" && !opts.reuse) {
    const upload = tx.select().from(uploads).where(eq(uploads.id, source.uploadId)).get();
    if (!upload || upload.userId !== userId)
      throw new DomainError("NOT_FOUND", `No upload ${source.uploadId} of yours; upload the archive first (POST /api/uploads).`);
    const claimed = tx
      .update(uploads)
      .set({ usedByRunId: runId })
      .where(and(eq(uploads.id, source.uploadId), isNull(uploads.usedByRunId)))
      .run();
    if (claimed.changes !== 1) throw new DomainError("CONFLICT", `Upload ${source.uploadId} was already used by another run; upload it again.`);
    source = { ...source, name: upload.filename };
  }
  ensureWorkspaceRow(tx, runId, source);
}

async function isEmptyDir(dir: string): Promise<boolean> {
  return (await fs.readdir(dir)).length === 0;
}

/** Fills a fresh workspace from the run's source; a workspace that already has files is left as it is. */
export async function populateWorkspace(db: Db, runId: string, workspaceDir: string): Promise<void> {
  const ws = ensureWorkspaceRow(db, runId);
  const source = ws.source;
  if (source.type === "empty" || !(await isEmptyDir(workspaceDir))) return;
  const dataDir = path.dirname(path.dirname(workspaceDir));
  if (source.type === "git") {
    const repo = await resolveSourceRepo(source.path);
    const shadow = openShadowRepo(workspaceDir, runId);
    const commit = source.commit ?? (await resolveCommit(repo, source.ref, shadow.homeDir));
    // The commit's objects go into the shadow repository; only its files reach the workspace.
    await runGit(
      { ...shadow, workTree: undefined },
      ["fetch", "-q", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", repo.gitDir, `+${commit}:refs/airlock/source`],
      { cwd: shadow.gitDir },
    );
    await runGit(shadow, ["read-tree", "refs/airlock/source"]);
    await runGit(shadow, ["checkout-index", "-a", "-f"]);
    // The start checkpoint stages the tree afresh (ignored directories left out, like every checkpoint).
    await runGit(shadow, ["read-tree", "--empty"]);
    if (!source.commit) {
      db.update(workspaces)
        .set({ source: { ...source, commit }, updatedAt: new Date() })
        .where(eq(workspaces.runId, runId))
        .run();
    }
  } else {
    await extractArchive(uploadPath(dataDir, source.uploadId), workspaceDir, workspaceSettings());
  }
  await runHostCommand("chown", ["-R", "-h", "--", `${AGENT_UID}:${AGENT_GID}`, "."], { cwd: workspaceDir, asAgent: false }).catch((err: unknown) => {
    if (process.getuid?.() === 0) throw err;
  });
}
