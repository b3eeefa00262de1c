// A run's shadow repository: a git directory at <dataDir>/checkpoints/<runId>.git
// whose work tree is the run's workspace. It is never mounted into the
// container, so the agent can neither read nor rewrite its history. Only
// git plumbing is used, through the hardened runner in ./git.
//
// A `.git` the agent creates inside the workspace is just content: before
// git looks at the work tree, every entry named `.git` (any case) is renamed
// to `.git~airlock` (and an existing `.git~airlock` to `.git~airlock~airlock`,
// so the mapping is reversible), and renamed back afterwards. git therefore
// never sees a nested repository (no gitlinks, no foreign config or hooks).
// A journal file marks the workspace as "escaped" so that a crash between the
// two renames is repaired before the next operation.
import fs from "node:fs/promises";
import path from "node:path";
import { AGENT_GID, AGENT_UID } from "@/server/sandbox/workspace";
import { EMPTY_TREE, ensureGitHome, gitLine, runGit, runHostCommand, type GitTarget } from "./git";

export interface ShadowRepo extends GitTarget {
  runId: string;
  workTree: string;
}

export interface SnapshotLimits {
  maxFileBytes: number;
  ignoredDirs: string[];
}

export interface Snapshot {
  tree: string;
  /** Bytes of the files captured. */
  sizeBytes: number;
  fileCount: number;
  /** Paths left out: too large, unreadable. */
  skipped: string[];
}

const ESCAPE_SUFFIX = "~airlock";
const DOTGIT = /^\.git((?:~airlock)*)$/i;
const JOURNAL = "airlock-escaped";

export function checkpointsDir(dataDir: string): string {
  return path.join(path.resolve(dataDir), "checkpoints");
}

/** The shadow repository of the run whose workspace is `<dataDir>/workspaces/<runId>`. */
export function openShadowRepo(workspaceDir: string, runId: string): ShadowRepo {
  const dataDir = path.dirname(path.dirname(path.resolve(workspaceDir)));
  const dir = checkpointsDir(dataDir);
  // Git runs as Airlock's own user: the container is frozen (or gone) while
  // git reads or writes the work tree, so nothing can race it with symlinks.
  return { runId, gitDir: path.join(dir, `${runId}.git`), workTree: path.resolve(workspaceDir), homeDir: path.join(dir, ".home"), asAgent: false };
}

export async function shadowRepoExists(repo: ShadowRepo): Promise<boolean> {
  try {
    await fs.access(path.join(repo.gitDir, "HEAD"));
    return true;
  } catch {
    return false;
  }
}

/** Creates the repository (idempotent). Returns false when it already existed. */
export async function initShadowRepo(repo: ShadowRepo): Promise<boolean> {
  const dir = path.dirname(repo.gitDir);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  await ensureGitHome(repo.homeDir);
  if (await shadowRepoExists(repo)) return false;
  await fs.mkdir(repo.gitDir, { recursive: true, mode: 0o700 });
  await runGit({ ...repo, workTree: undefined }, ["init", "-q", "--bare", "--template=", repo.gitDir], { cwd: dir });
  await fs.mkdir(path.join(repo.gitDir, "info"), { recursive: true });
  // info/attributes has the highest precedence: whatever .gitattributes the
  // agent writes, no filter, end-of-line or encoding conversion touches the
  // bytes, and diffs are never hidden by a `-diff` attribute.
  await fs.writeFile(path.join(repo.gitDir, "info", "attributes"), "* -text -ident -filter -working-tree-encoding !eol !diff !merge !crlf\n");
  await fs.writeFile(path.join(repo.gitDir, "info", "exclude"), "");
  return true;
}

export async function removeShadowRepo(repo: ShadowRepo): Promise<void> {
  await fs.rm(repo.gitDir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- the work tree

interface TreeEntry {
  type: string; // find's %y: f d l p s c b
  size: number;
  path: string;
}

/** Every entry under the work tree except inside ignored directories (one `find`, no per-file work). */
async function listWorkTree(repo: ShadowRepo, ignoredDirs: string[]): Promise<TreeEntry[]> {
  const prune: string[] = [];
  for (const name of ignoredDirs) prune.push(...(prune.length ? ["-o"] : []), "-name", name);
  const args = ["-P", ".", "-mindepth", "1"];
  if (prune.length) args.push("(", "-type", "d", "(", ...prune, ")", ")", "-prune", "-o");
  args.push("-printf", "%y %s %P\\0");
  const out = await runHostCommand("find", args, { cwd: repo.workTree, asAgent: false, okCodes: [1] });
  const entries: TreeEntry[] = [];
  for (const record of out.stdout.toString("utf8").split("\0")) {
    if (!record) continue;
    const a = record.indexOf(" ");
    const b = record.indexOf(" ", a + 1);
    entries.push({ type: record.slice(0, a), size: Number(record.slice(a + 1, b)), path: record.slice(b + 1) });
  }
  return entries;
}

function depth(p: string): number {
  return p.split("/").length;
}

/** Refuses to rename through a symlinked parent (the tree is frozen; this is belt and braces). */
async function safeRename(repo: ShadowRepo, from: string, to: string): Promise<void> {
  const parent = path.join(repo.workTree, path.dirname(from));
  const real = await fs.realpath(parent);
  if (real !== parent) throw new Error(`refusing to rename inside ${parent}: it resolves to ${real}`);
  await fs.rename(path.join(repo.workTree, from), path.join(repo.workTree, to));
}

async function escapeNestedGitDirs(repo: ShadowRepo, entries: TreeEntry[], ignoredDirs: string[]): Promise<TreeEntry[]> {
  // From here on the tree counts as escaped (a restore may bring escaped names in even when none are here now).
  await fs.writeFile(path.join(repo.gitDir, JOURNAL), "escaped\n");
  const targets = entries.filter((e) => DOTGIT.test(path.posix.basename(e.path)));
  if (targets.length === 0) return entries;
  // Deepest first (children before their parents), longer suffixes first within a directory.
  targets.sort((x, y) => depth(y.path) - depth(x.path) || y.path.length - x.path.length);
  for (const t of targets) await safeRename(repo, t.path, `${t.path}${ESCAPE_SUFFIX}`);
  // Paths below renamed directories changed too: list again.
  return listWorkTree(repo, ignoredDirs);
}

async function unescapeNestedGitDirs(repo: ShadowRepo, ignoredDirs: string[]): Promise<void> {
  const journal = path.join(repo.gitDir, JOURNAL);
  try {
    await fs.access(journal);
  } catch {
    return;
  }
  const entries = await listWorkTree(repo, ignoredDirs);
  const targets = entries.filter((e) => {
    const m = DOTGIT.exec(path.posix.basename(e.path));
    return m !== null && m[1]!.length > 0;
  });
  // Deepest first, shorter suffixes first within a directory (".git~airlock" frees ".git~airlock" for its escaped twin).
  targets.sort((x, y) => depth(y.path) - depth(x.path) || x.path.length - y.path.length);
  for (const t of targets) await safeRename(repo, t.path, t.path.slice(0, -ESCAPE_SUFFIX.length));
  await fs.rm(journal, { force: true });
}

/** Runs `fn` with nested `.git` entries renamed out of git's way; always renames them back. */
async function withEscapedTree<T>(repo: ShadowRepo, limits: SnapshotLimits, fn: (entries: TreeEntry[]) => Promise<T>): Promise<T> {
  await unescapeNestedGitDirs(repo, limits.ignoredDirs); // a crash left it escaped
  let entries = await listWorkTree(repo, limits.ignoredDirs);
  try {
    entries = await escapeNestedGitDirs(repo, entries, limits.ignoredDirs);
    return await fn(entries);
  } finally {
    await unescapeNestedGitDirs(repo, limits.ignoredDirs);
  }
}

function excludePathspecs(ignoredDirs: string[]): string[] {
  return ignoredDirs.flatMap((name) => [`:(exclude,glob)**/${name}`, `:(exclude,glob)**/${name}/**`]);
}

/** Stages the work tree into the shadow index (must be called with the tree escaped). */
async function stageWorkTree(repo: ShadowRepo, limits: SnapshotLimits, entries: TreeEntry[]): Promise<Snapshot> {
  const tooLarge = entries.filter((e) => e.type === "f" && e.size > limits.maxFileBytes).map((e) => e.path);
  const specFile = path.join(repo.gitDir, "airlock-pathspec");
  if (tooLarge.length) {
    // Drop earlier versions of now-too-large files from the index, then keep them out.
    await fs.writeFile(specFile, tooLarge.map((p) => `:(literal)${p}`).join("\0") + "\0");
    await runGit(repo, ["rm", "--cached", "-q", "-r", "--ignore-unmatch", `--pathspec-from-file=${specFile}`, "--pathspec-file-nul"]);
  }
  const specs = [".", ...excludePathspecs(limits.ignoredDirs), ...tooLarge.map((p) => `:(exclude,literal)${p}`)];
  await fs.writeFile(specFile, specs.join("\0") + "\0");
  // Git skips files whose stat data (size, mtime, inode) match its index. An
  // agent can rewrite a file within the same second with the same size into a
  // recycled inode, so that check is not trusted: dating the index to the
  // epoch makes git compare every file's content (it treats them as "racy").
  // Not 0 itself: git reads a zero index time as "unknown" and trusts the stat data.
  await fs.utimes(path.join(repo.gitDir, "index"), 1, 1).catch(() => undefined);
  // -f: the agent's .gitignore files must not hide changes from reviewers.
  const add = await runGit(repo, ["add", "-A", "-f", "--ignore-errors", `--pathspec-from-file=${specFile}`, "--pathspec-file-nul"], { okCodes: [1, 128] });
  const skipped = [...tooLarge];
  if (add.code !== 0) {
    for (const m of add.stderr.matchAll(/^error: (?:open|unable to index file|unable to add) ?\(?'?"?([^'"):]+)/gm)) skipped.push(m[1]!);
    if (add.code === 128) throw new Error(`git add failed: ${add.stderr.trim().split("\n").slice(-2).join(" ")}`);
  }
  const tree = await gitLine(repo, ["write-tree"]);
  const files = entries.filter((e) => (e.type === "f" && e.size <= limits.maxFileBytes) || e.type === "l");
  return { tree, sizeBytes: files.reduce((n, e) => n + (e.type === "f" ? e.size : 0), 0), fileCount: files.length, skipped };
}

/** Captures the work tree as a tree object (nothing committed). */
export async function snapshotWorkTree(repo: ShadowRepo, limits: SnapshotLimits): Promise<Snapshot> {
  return withEscapedTree(repo, limits, (entries) => stageWorkTree(repo, limits, entries));
}

/**
 * Makes the work tree equal to `tree`: contents, deletions and executable
 * bits, touching only what differs. Ignored directories and files too large
 * to checkpoint are left alone. Returns the snapshot taken just before.
 */
export async function restoreWorkTree(repo: ShadowRepo, limits: SnapshotLimits, tree: string): Promise<{ before: Snapshot; after: Snapshot }> {
  const before = await withEscapedTree(repo, limits, async (entries) => {
    const snap = await stageWorkTree(repo, limits, entries);
    // The index now matches the tree on disk; a two-way reset updates only the differences.
    await runGit(repo, ["read-tree", "--reset", "-u", tree]);
    return snap;
  });
  // Restored files belong to the agent, like everything else in its workspace.
  await runHostCommand("chown", ["-R", "-h", "--", `${AGENT_UID}:${AGENT_GID}`, "."], { cwd: repo.workTree, asAgent: false }).catch((err: unknown) => {
    if (process.getuid?.() === 0) throw err;
  });
  const after = await snapshotWorkTree(repo, limits);
  return { before, after };
}

// ---------------------------------------------------------------- history

export async function headCommit(repo: ShadowRepo): Promise<string | null> {
  const r = await runGit(repo, ["rev-parse", "-q", "--verify", "HEAD^{commit}"], { okCodes: [1] });
  return r.code === 0 ? r.stdout.toString().trim() : null;
}

export async function treeOf(repo: ShadowRepo, commit: string): Promise<string> {
  return gitLine(repo, ["rev-parse", "--verify", `${commit}^{tree}`]);
}

/** Commits `tree` on top of HEAD (or as a root commit) and moves HEAD. */
export async function commitTree(repo: ShadowRepo, tree: string, parent: string | null, message: string): Promise<string> {
  const sha = await gitLine(repo, ["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-F", "-"], { input: message });
  await runGit(repo, ["update-ref", "HEAD", sha, ...(parent ? [parent] : [])]);
  return sha;
}

export interface DiffStat {
  filesChanged: number;
  additions: number;
  deletions: number;
  /** The changed files' paths (the first MAX_STAT_PATHS), for search over file paths in diffs. */
  paths: string[];
}

export const MAX_STAT_PATHS = 200;

export async function diffStat(repo: ShadowRepo, from: string | null, to: string): Promise<DiffStat> {
  const out = await runGit(repo, ["diff-tree", "-r", "--numstat", "--no-renames", "-z", from ?? EMPTY_TREE, to]);
  const stat: DiffStat = { filesChanged: 0, additions: 0, deletions: 0, paths: [] };
  for (const record of out.stdout.toString("utf8").split("\0")) {
    const m = /^(\d+|-)\t(\d+|-)\t(.*)$/s.exec(record);
    if (!m) continue;
    stat.filesChanged++;
    if (stat.paths.length < MAX_STAT_PATHS) stat.paths.push(m[3]!);
    if (m[1] !== "-") stat.additions += Number(m[1]);
    if (m[2] !== "-") stat.deletions += Number(m[2]);
  }
  return stat;
}

export interface DiffText {
  diff: string;
  truncated: boolean;
}

/** Unified diff between two commits or trees (`from` null: the empty tree). */
export async function diffText(repo: ShadowRepo, from: string | null, to: string, opts: { maxBytes?: number; binary?: boolean } = {}): Promise<DiffText> {
  const args = [
    "diff-tree",
    "-r",
    "-p",
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--no-renames",
    ...(opts.binary ? ["--binary", "--full-index"] : []),
    from ?? EMPTY_TREE,
    to,
  ];
  const r = await runGit(repo, args, { maxOutputBytes: opts.maxBytes ?? 4 * 1024 * 1024 });
  return { diff: r.stdout.toString("utf8"), truncated: r.truncated };
}

/** Bytes the repository takes on disk (loose objects and packs). */
export async function repoStorageBytes(repo: ShadowRepo): Promise<number> {
  const out = (await runGit({ ...repo, workTree: undefined }, ["count-objects", "-v"])).stdout.toString();
  const kib = (key: string) => Number(new RegExp(`^${key}: (\\d+)`, "m").exec(out)?.[1] ?? 0);
  return (kib("size") + kib("size-pack") + kib("size-garbage")) * 1024;
}

/** Packs loose objects (checkpoints of similar trees compress well together). */
export async function packRepo(repo: ShadowRepo): Promise<void> {
  await runGit({ ...repo, workTree: undefined }, ["repack", "-a", "-d", "-q"]);
  await runGit({ ...repo, workTree: undefined }, ["prune-packed"]);
}
