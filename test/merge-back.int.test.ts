// Workspaces from a local repository and merge-back: the run works on a copy
// of one commit; its result comes back as a patch, a bundle, or — approved —
// one commit on a new branch, leaving the repository's current branch, index
// and working tree exactly as they were.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { addUser, actorOf } from "@/test/helpers/users";
import { registerModel, requireDocker, tempDataDir } from "@/test/helpers/runs";
import { agentShell, sandboxedRun, type SandboxedRun } from "@/test/helpers/workspaces";
import { dockerRuntime } from "@/server/sandbox/runtime";
import { checkpointWorkspace, listCheckpoints } from "@/server/workspace/checkpoints";
import { decideMergeBack, requestMergeBack, resultBundle, resultPatch } from "@/server/workspace/merge-back";
import { overrideWorkspaceSettings } from "@/server/workspace/settings";
import { resolveWorkspaceSource } from "@/server/workspace/sources";
import { transitionRun } from "@/server/runs/state-machine";
import type { PublicUser } from "@/server/users/users";

let t: TestDb;
let dataDir: string;
let reposRoot: string;
let source: string;
let operator: PublicUser;
let reviewer: PublicUser;
let admin: PublicUser;
let modelId: string;
const runtime = dockerRuntime();
const containers: string[] = [];

let testGitConfig = "/dev/null";

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "safe.directory=*", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: testGitConfig, GIT_OPTIONAL_LOCKS: "0" },
  });
}

/** Everything about the repository a merge-back must not touch. */
function repoState(repo: string) {
  return {
    head: git(repo, "symbolic-ref", "HEAD").trim(),
    headCommit: git(repo, "rev-parse", "HEAD").trim(),
    status: git(repo, "status", "--porcelain=v1", "--untracked-files=all"),
    staged: git(repo, "diff", "--cached"),
    unstaged: git(repo, "diff"),
    readme: fs.readFileSync(path.join(repo, "README.md"), "utf8"),
    index: fs.readFileSync(path.join(repo, ".git", "index")).toString("base64"),
  };
}

async function runFromSource(ref?: string): Promise<SandboxedRun> {
  const resolved = await resolveWorkspaceSource(t.db, operator.id, dataDir, { type: "git", path: source, ...(ref ? { ref } : {}) });
  const r = await sandboxedRun(t.db, runtime, dataDir, operator, modelId, resolved);
  containers.push(r.containerId);
  return r;
}

beforeAll(async () => {
  await requireDocker();
  t = createTestDb();
  dataDir = tempDataDir();
  admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  modelId = registerModel(t.db, admin, "http://127.0.0.1:9");
  reposRoot = fs.mkdtempSync(path.join(dataDir, "repos-"));
  // The test's own git commands work on a repository owned by another user, like an admin would.
  testGitConfig = path.join(dataDir, "test-gitconfig");
  fs.writeFileSync(testGitConfig, "[safe]\n\tdirectory = *\n");
  source = path.join(reposRoot, "project");
  fs.mkdirSync(source);
  git(source, "init", "-q", "-b", "main");
  fs.writeFileSync(path.join(source, "README.md"), "# project\n");
  fs.writeFileSync(path.join(source, "app.py"), "print('v1')\n");
  fs.mkdirSync(path.join(source, "node_modules/dep"), { recursive: true });
  fs.writeFileSync(path.join(source, "node_modules/dep/index.js"), "tracked but ignored by checkpoints\n");
  git(source, "add", "-A");
  git(source, "commit", "-q", "-m", "initial");
  git(source, "branch", "feature");
  // Work in progress in the repository: must survive untouched.
  fs.writeFileSync(path.join(source, "README.md"), "# project\n\nuncommitted edit\n");
  fs.writeFileSync(path.join(source, "staged.txt"), "staged\n");
  git(source, "add", "staged.txt");
  fs.writeFileSync(path.join(source, "untracked.txt"), "untracked\n");
  // The repository belongs to someone else than Airlock's user: merge-back must keep it theirs.
  execFileSync("chown", ["-R", "1000:1000", source]);
  fs.chmodSync(reposRoot, 0o755);
  fs.chmodSync(dataDir, 0o755);
  overrideWorkspaceSettings({ repoRoots: [reposRoot] });
});

afterAll(async () => {
  overrideWorkspaceSettings(null);
  await Promise.all(containers.map((c) => runtime.removeSandbox(c).catch(() => undefined)));
  t?.close();
});

describe("a workspace from a local repository", () => {
  it("refuses repositories outside the allowed roots and unknown refs", async () => {
    await expect(resolveWorkspaceSource(t.db, operator.id, dataDir, { type: "git", path: dataDir })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(resolveWorkspaceSource(t.db, operator.id, dataDir, { type: "git", path: path.join(source, "..", "..") })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(resolveWorkspaceSource(t.db, operator.id, dataDir, { type: "git", path: source, ref: "no-such-branch" })).rejects.toThrow(/not a commit/);
  });

  it("gets the files of the commit only: no history, no uncommitted work, no .git", async () => {
    const { containerId } = await runFromSource();
    const listing = await agentShell(runtime, containerId, "cd /workspace && ls -A && cat app.py && git log 2>&1 | head -1");
    expect(listing).toContain("README.md");
    expect(listing).toContain("print('v1')");
    expect(listing).not.toContain("staged.txt");
    expect(listing).not.toContain("untracked.txt");
    expect(listing).not.toMatch(/^\.git$/m);
    expect(listing).toMatch(/not a git repository/);
  });
});

describe("merge-back", () => {
  it("commits the approved result to a new branch and leaves the current branch, index and working tree untouched", async () => {
    const before = repoState(source);
    const base = git(source, "rev-parse", "main").trim();
    const { run, containerId } = await runFromSource("main");
    await agentShell(
      runtime,
      containerId,
      "cd /workspace && printf \"print('v2')\\n\" > app.py && echo new > added.txt && rm README.md && mkdir -p node_modules/junk && echo 1 > node_modules/junk/x.js",
    );
    await checkpointWorkspace(t.db, run.id, { label: "agent work", kind: "tool", runtime });
    transitionRun(t.db, run.id, "killed", actorOf(reviewer), { reason: "done for the test" });

    // Downloads: the patch applies to the source commit, the bundle verifies against the repository.
    const patch = await resultPatch(t.db, run.id);
    expect(patch.body.toString()).toContain(`Airlock-Run: ${run.id}`);
    const check = fs.mkdtempSync(path.join(dataDir, "apply-"));
    git(check, "clone", "-q", source, ".");
    git(check, "checkout", "-q", base);
    fs.writeFileSync(path.join(check, "result.patch"), patch.body);
    git(check, "apply", "--index", "result.patch");
    expect(fs.readFileSync(path.join(check, "app.py"), "utf8")).toBe("print('v2')\n");
    expect(fs.existsSync(path.join(check, "README.md"))).toBe(false);
    expect(fs.existsSync(path.join(check, "node_modules/dep/index.js"))).toBe(true);
    const bundle = await resultBundle(t.db, run.id);
    fs.writeFileSync(path.join(check, "result.bundle"), bundle.body);
    expect(git(source, "bundle", "verify", path.join(check, "result.bundle"))).toContain(`refs/heads/${bundle.branch}`);

    const asOperator = { ...actorOf(operator), userId: operator.id };
    await expect(requestMergeBack(t.db, asOperator, { id: run.id, branch: "feature" })).rejects.toThrow(/already exists/);
    await expect(requestMergeBack(t.db, asOperator, { id: run.id, branch: "../../evil" })).rejects.toThrow(/not a valid branch/);
    const request = await requestMergeBack(t.db, asOperator, { id: run.id, branch: "airlock/result" });
    expect(request.state).toBe("pending");
    // The requester cannot approve their own request, nor can a non-reviewer.
    await expect(decideMergeBack(t.db, asOperator, { mergeRequestId: request.id, decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const decided = await decideMergeBack(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { mergeRequestId: request.id, decision: "approve" });
    expect(decided.state, decided.error ?? "").toBe("merged");

    expect(repoState(source)).toEqual(before);
    const commit = git(source, "rev-parse", "airlock/result").trim();
    expect(commit).toBe(decided.resultCommit);
    expect(git(source, "rev-parse", "airlock/result^").trim()).toBe(base);
    const message = git(source, "log", "-1", "--format=%B", "airlock/result");
    expect(message).toContain(`Airlock-Run: ${run.id}`);
    expect(message).toContain(`Merge-approved-by: ${reviewer.email}`);
    const files = git(source, "ls-tree", "-r", "--name-only", "airlock/result").trim().split("\n");
    expect(files.sort()).toEqual(["added.txt", "app.py", "node_modules/dep/index.js"]);
    expect(git(source, "show", "airlock/result:app.py")).toBe("print('v2')\n");
    expect(git(source, "fsck", "--no-progress")).toBe("");
    // What merge-back wrote (objects, the new branch) belongs to the repository's owner.
    const notOwned = execFileSync("find", [path.join(source, ".git", "objects"), path.join(source, ".git", "refs"), "!", "-uid", "1000"], {
      encoding: "utf8",
    }).trim();
    expect(notOwned).toBe("");
    expect(listCheckpoints(t.db, run.id).length).toBe(2);
  });

  it("refuses to merge a run that did not start from a repository", async () => {
    const r = await sandboxedRun(t.db, runtime, dataDir, operator, modelId);
    containers.push(r.containerId);
    transitionRun(t.db, r.run.id, "killed", actorOf(reviewer), { reason: "test" });
    await expect(requestMergeBack(t.db, { ...actorOf(operator), userId: operator.id }, { id: r.run.id })).rejects.toThrow(/did not start from a repository/);
    // Its result still downloads, against its start state.
    expect((await resultBundle(t.db, r.run.id)).body.length).toBeGreaterThan(0);
  });
});
