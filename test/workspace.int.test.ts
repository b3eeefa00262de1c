// Workspaces and checkpoints against a real sandbox, real git and a real
// SQLite file: byte-exact restores (contents, deletions, executable bits),
// a 10 000-file workspace, the shadow repository out of the agent's reach,
// storage limits, uploaded archives and retention.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { addUser, actorOf } from "@/test/helpers/users";
import { registerModel, requireDocker, tempDataDir } from "@/test/helpers/runs";
import { agentShell, manifest, sandboxedRun, withoutEmptyDirs, type SandboxedRun } from "@/test/helpers/workspaces";
import { buildTarGz } from "@/test/helpers/archives";
import { AGENT_UID } from "@/server/sandbox/layout";
import { dockerRuntime } from "@/server/sandbox/runtime";
import { checkpoints, runEvents, workspaces } from "@/db/schema";
import { checkpointWorkspace, diffCheckpoint, diffRun, getWorkspace, listCheckpoints, restoreCheckpoint } from "@/server/workspace/checkpoints";
import { rollbackRun } from "@/server/workspace/rollback";
import { openShadowRepo } from "@/server/workspace/shadow-repo";
import { runGit } from "@/server/workspace/git";
import { overrideWorkspaceSettings } from "@/server/workspace/settings";
import { storeUpload } from "@/server/workspace/uploads";
import { cleanupRunWorkspace } from "@/server/workspace/retention";
import { transitionRun } from "@/server/runs/state-machine";
import { verifyAuditChain } from "@/server/audit/chain";
import type { PublicUser } from "@/server/users/users";

let t: TestDb;
let dataDir: string;
let operator: PublicUser;
let reviewer: PublicUser;
let modelId: string;
const runtime = dockerRuntime();
const containers: string[] = [];

async function newRun(source?: Parameters<typeof sandboxedRun>[5]): Promise<SandboxedRun> {
  const r = await sandboxedRun(t.db, runtime, dataDir, operator, modelId, source);
  containers.push(r.containerId);
  return r;
}

const checkpoint = (runId: string, label: string) => checkpointWorkspace(t.db, runId, { label, kind: "manual", runtime });
const reviewerActor = () => ({ ...actorOf(reviewer), userId: reviewer.id });
const host = { runtime };

beforeAll(async () => {
  await requireDocker();
  t = createTestDb();
  dataDir = tempDataDir();
  const admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  modelId = registerModel(t.db, admin, "http://127.0.0.1:9");
});

afterAll(async () => {
  overrideWorkspaceSettings(null);
  await Promise.all(containers.map((c) => runtime.removeSandbox(c).catch(() => undefined)));
  t?.close();
});

describe("checkpoints and restore", () => {
  it("restores a workspace byte for byte: contents, deletions, executable bits, links, and the agent's own .git", async () => {
    const { run, containerId, workspaceDir } = await newRun();
    await agentShell(
      runtime,
      containerId,
      String.raw`
      set -e; cd /workspace
      mkdir -p src/deep/er "dir with spaces" ünïcödé node_modules/pkg
      printf 'hello\n' > src/a.txt
      python3 -c "import sys; sys.stdout.buffer.write(bytes(range(256))*40)" > bin.dat
      printf '#!/bin/sh\necho run\n' > run.sh && chmod 755 run.sh
      printf 'line1\r\nline2\r\n' > crlf.txt
      printf '* text eol=crlf\n*.dat -diff\n' > .gitattributes
      printf '*\n' > .gitignore
      : > empty.txt
      printf 'x' > "dir with spaces/f i l e"
      printf 'u' > ünïcödé/ß.txt
      ln -s src/a.txt link-to-a
      ln -s /etc/passwd link-out
      mkdir -p .git && printf '[core]\n\tbare = true\n' > .git/config
      mkdir -p vendor/lib && cd vendor/lib && git init -q . && printf 'lib\n' > lib.c && cd /workspace
      echo 1 > node_modules/pkg/index.js
    `,
    );
    const a = await checkpoint(run.id, "state A");
    expect(a).not.toBeNull();
    const manifestA = withoutEmptyDirs(manifest(workspaceDir, ["node_modules"]));

    await agentShell(
      runtime,
      containerId,
      String.raw`
      set -e; cd /workspace
      printf 'changed\n' > src/a.txt
      rm -rf src/deep "dir with spaces" vendor/lib/.git
      chmod 644 run.sh; chmod 755 src/a.txt
      rm link-out; ln -s nowhere link-out
      printf 'new\n' > new.txt
      rm bin.dat; mkdir bin.dat; echo inside > bin.dat/x
      rm -rf .git; printf 'gitdir: /somewhere/else\n' > .git
      echo 2 > node_modules/pkg/index.js
    `,
    );
    const b = await checkpoint(run.id, "state B");
    expect(b).toMatchObject({ kind: "manual" });
    expect(b!.filesChanged).toBeGreaterThan(5);
    const manifestB = withoutEmptyDirs(manifest(workspaceDir, ["node_modules"]));

    const back = await rollbackRun(t.db, host, run.id, a!.id, reviewerActor());
    expect(back.exact).toBe(true);
    expect(withoutEmptyDirs(manifest(workspaceDir, ["node_modules"]))).toEqual(manifestA);
    for (const e of Object.values(manifest(workspaceDir))) expect(e.uid).toBe(AGENT_UID);
    // Ignored directories are left alone.
    expect(fs.readFileSync(path.join(workspaceDir, "node_modules/pkg/index.js"), "utf8")).toBe("2\n");

    // Rollback of the rollback: B comes back, and then A again.
    await rollbackRun(t.db, host, run.id, b!.id, reviewerActor());
    expect(withoutEmptyDirs(manifest(workspaceDir, ["node_modules"]))).toEqual(manifestB);
    await rollbackRun(t.db, host, run.id, back.checkpointId, reviewerActor());
    expect(withoutEmptyDirs(manifest(workspaceDir, ["node_modules"]))).toEqual(manifestA);

    // The agent sees the restored files too.
    expect(await agentShell(runtime, containerId, "cat /workspace/src/a.txt; test -x /workspace/run.sh && echo exec")).toBe("hello\nexec\n");
    const items = listCheckpoints(t.db, run.id);
    expect(items.map((c) => c.kind)).toEqual(["start", "manual", "manual", "rollback", "rollback", "rollback"]);
    expect(items.at(-1)!.restoredFromId).toBe(back.checkpointId);
    expect(verifyAuditChain(t.db).ok).toBe(true);
    const audit = t.db.$client.prepare("select count(*) as n from audit_events where action = 'workspace.rollback'").get() as { n: number };
    expect(audit.n).toBe(3);
  });

  it("keeps uncheckpointed changes as a checkpoint before restoring, and commits nothing when nothing changed", async () => {
    const { run, containerId, workspaceDir } = await newRun();
    expect(await checkpoint(run.id, "no change")).toBeNull();
    await agentShell(runtime, containerId, "echo draft > /workspace/draft.txt");
    const start = listCheckpoints(t.db, run.id)[0]!;
    const result = await rollbackRun(t.db, host, run.id, start.id, reviewerActor());
    expect(result.savedCheckpointId).not.toBeNull();
    expect(fs.existsSync(path.join(workspaceDir, "draft.txt"))).toBe(false);
    await rollbackRun(t.db, host, run.id, result.savedCheckpointId!, reviewerActor());
    expect(fs.readFileSync(path.join(workspaceDir, "draft.txt"), "utf8")).toBe("draft\n");
  });

  it("restores a 10 000-file workspace", async () => {
    const { run, containerId, workspaceDir } = await newRun();
    await agentShell(
      runtime,
      containerId,
      String.raw`python3 - <<'EOF'
import os
for i in range(10000):
    d = "/workspace/d%03d" % (i % 100)
    os.makedirs(d, exist_ok=True)
    with open("%s/f%05d.txt" % (d, i), "w") as f:
        f.write(("line %d of file %d\n" % (i, i)) * 20)
EOF`,
    );
    let t0 = Date.now();
    const first = await checkpoint(run.id, "10k files");
    const firstMs = Date.now() - t0;
    const before = manifest(workspaceDir);
    await agentShell(
      runtime,
      containerId,
      String.raw`python3 - <<'EOF'
import os, shutil
for i in range(0, 10000, 10):
    with open("/workspace/d%03d/f%05d.txt" % (i % 100, i), "a") as f: f.write("edited\n")
for i in range(5, 10000, 10):
    os.remove("/workspace/d%03d/f%05d.txt" % (i % 100, i))
os.makedirs("/workspace/new", exist_ok=True)
for i in range(1000):
    open("/workspace/new/n%04d.txt" % i, "w").write("n")
EOF`,
    );
    t0 = Date.now();
    await checkpoint(run.id, "3000 changes");
    const secondMs = Date.now() - t0;
    t0 = Date.now();
    const restored = await rollbackRun(t.db, host, run.id, first!.id, reviewerActor());
    const restoreMs = Date.now() - t0;
    expect(restored.exact).toBe(true);
    expect(withoutEmptyDirs(manifest(workspaceDir))).toEqual(withoutEmptyDirs(before));
    console.log(
      `[figures] 10 000 files: first checkpoint ${firstMs} ms, checkpoint of 3000 changes ${secondMs} ms, rollback (restore + checkpoint) ${restoreMs} ms (restore alone ${restored.durationMs} ms)`,
    );
  });
});

describe("the shadow repository is out of the agent's reach", () => {
  it("cannot be found, read or written from inside the container", async () => {
    const { run, containerId } = await newRun();
    const repo = openShadowRepo(run.workspaceDir!, run.id);
    const marker = `airlock-marker-${crypto.randomBytes(6).toString("hex")}`;
    fs.writeFileSync(path.join(repo.gitDir, marker), "secret");
    const headBefore = fs.readFileSync(path.join(repo.gitDir, "HEAD"), "utf8");
    const found = await runtime.exec(containerId, {
      cmd: [
        "bash",
        "-c",
        `find / \\( -path /proc -o -path /sys \\) -prune -o -name '${marker}' -print 2>/dev/null; grep -c checkpoints /proc/self/mountinfo || true`,
      ],
      timeoutS: 60,
    });
    expect(found.stdout.trim()).toBe("0");
    // The host path of the repository is not the repository inside the container (at most a path in its own /tmp).
    const write = await runtime.exec(containerId, {
      cmd: ["bash", "-c", `mkdir -p '${repo.gitDir}' && echo evil > '${repo.gitDir}/HEAD'; ls -a '${repo.gitDir}'`],
      timeoutS: 10,
    });
    expect(write.stdout).not.toContain(marker);
    expect(fs.readFileSync(path.join(repo.gitDir, "HEAD"), "utf8")).toBe(headBefore);
    // A symlink towards it is stored as a link, and restoring never writes through it.
    await agentShell(runtime, containerId, `ln -s '${repo.gitDir}' /workspace/escape; ln -s '${repo.gitDir}/HEAD' /workspace/head-link; echo x > /workspace/f`);
    const cp = await checkpoint(run.id, "links");
    const tree = (await runGit(repo, ["ls-tree", "-r", cp!.commitSha])).stdout.toString();
    expect(tree).toMatch(/^120000 blob \w+\tescape$/m);
    await agentShell(runtime, containerId, "rm /workspace/escape /workspace/head-link; mkdir /workspace/escape; echo evil > /workspace/escape/HEAD");
    await rollbackRun(t.db, host, run.id, cp!.id, reviewerActor());
    expect(fs.readFileSync(path.join(repo.gitDir, "HEAD"), "utf8")).toBe(headBefore);
    expect(fs.lstatSync(path.join(run.workspaceDir!, "escape")).isSymbolicLink()).toBe(true);
    await runGit(repo, ["fsck", "--no-progress", "--strict"]);
  });

  it("treats a .git the agent creates (config, hooks, nested repositories) as plain files and never runs it", async () => {
    const { run, containerId, workspaceDir } = await newRun();
    const pwned = path.join(dataDir, `pwned-${crypto.randomBytes(4).toString("hex")}`);
    const evilConfig = `[core]\n\tfsmonitor = touch ${pwned}-fsmonitor\n\thooksPath = /workspace/.git/hooks\n\tworktree = /\n[filter "evil"]\n\tclean = touch ${pwned}-filter\n\tsmudge = touch ${pwned}-filter\n`;
    await agentShell(
      runtime,
      containerId,
      String.raw`
      set -e; cd /workspace
      mkdir -p .git/hooks .git/objects .git/refs
      printf 'ref: refs/heads/main\n' > .git/HEAD
      printf '${evilConfig.replace(/\n/g, "\\n").replace(/\t/g, "\\t")}' > .git/config
      for h in pre-commit post-commit post-checkout reference-transaction post-index-change; do printf '#!/bin/sh\ntouch ${pwned}-hook\n' > .git/hooks/$h; chmod +x .git/hooks/$h; done
      printf '* filter=evil\n' > .gitattributes
      mkdir -p sub && cp -r .git sub/.git && echo nested > sub/file.txt
      mkdir -p .GIT && echo upper > .GIT/x && echo literal > '.git~airlock'
      echo content > a.txt
    `,
    );
    const configBefore = fs.readFileSync(path.join(workspaceDir, ".git/config"));
    const cp = await checkpoint(run.id, "hostile .git");
    const repo = openShadowRepo(workspaceDir, run.id);
    const files = (await runGit(repo, ["ls-tree", "-r", "--name-only", cp!.commitSha])).stdout.toString().split("\n");
    expect(files).toEqual(
      expect.arrayContaining([
        ".git~airlock/config",
        ".git~airlock/hooks/pre-commit",
        "sub/.git~airlock/config",
        "sub/file.txt",
        ".GIT~airlock/x",
        ".git~airlock~airlock",
        "a.txt",
      ]),
    );
    expect(files.some((f) => f === "sub")).toBe(false); // no gitlink
    await agentShell(runtime, containerId, "rm -rf /workspace/.git /workspace/sub /workspace/.GIT; echo changed > /workspace/a.txt");
    await checkpoint(run.id, "removed");
    await diffRun(t.db, run.id);
    await rollbackRun(t.db, host, run.id, cp!.id, reviewerActor());
    expect(fs.readFileSync(path.join(workspaceDir, ".git/config")).equals(configBefore)).toBe(true);
    expect(fs.statSync(path.join(workspaceDir, ".git/hooks/pre-commit")).mode & 0o100).not.toBe(0);
    expect(fs.readFileSync(path.join(workspaceDir, "sub/file.txt"), "utf8")).toBe("nested\n");
    expect(fs.readFileSync(path.join(workspaceDir, ".git~airlock"), "utf8")).toBe("literal\n");
    expect(fs.readFileSync(path.join(workspaceDir, ".GIT/x"), "utf8")).toBe("upper\n");
    for (const suffix of ["-fsmonitor", "-filter", "-hook"]) expect(fs.existsSync(pwned + suffix)).toBe(false);
    // No escaped names are left behind on disk.
    expect(fs.existsSync(path.join(workspaceDir, ".git~airlock~airlock"))).toBe(false);
  });
});

describe("limits", () => {
  it("leaves out ignored directories and large files, shows them, and stops at the storage cap", async () => {
    overrideWorkspaceSettings({ maxFileBytes: 100 * 1024, checkpointCapBytes: 400 * 1024 });
    try {
      const { run, containerId } = await newRun();
      await agentShell(
        runtime,
        containerId,
        "cd /workspace && mkdir -p node_modules/x .venv && echo 1 > node_modules/x/i.js && echo 2 > .venv/p && head -c 150000 /dev/urandom > big.bin && echo small > small.txt",
      );
      const cp = await checkpoint(run.id, "with ignored");
      const repo = openShadowRepo(run.workspaceDir!, run.id);
      const files = (await runGit(repo, ["ls-tree", "-r", "--name-only", cp!.commitSha])).stdout.toString().trim().split("\n");
      expect(files).toEqual(["small.txt"]);
      expect(getWorkspace(t.db, run.id)!.skippedPaths).toEqual(["big.bin"]);
      // Incompressible files under the size threshold fill the cap.
      await agentShell(runtime, containerId, "cd /workspace && for i in 1 2 3 4 5 6; do head -c 90000 /dev/urandom > r$i.bin; done");
      expect(await checkpoint(run.id, "over the cap")).toBeNull();
      const note = t.db
        .select()
        .from(runEvents)
        .where(eq(runEvents.runId, run.id))
        .all()
        .find((e) => e.type === "note" && String(e.payload.text).includes("reached its cap"));
      expect(note).toBeDefined();
      expect(getWorkspace(t.db, run.id)!.storageBytes).toBeLessThanOrEqual(400 * 1024);
    } finally {
      overrideWorkspaceSettings(null);
    }
  });
});

describe("checkpoints after commands that changed nothing", () => {
  const settle = () => new Promise((r) => setTimeout(r, 20));
  /** When git last staged the work tree: the pathspec file is rewritten right before every `git add`. */
  const lastGitAdd = (workspaceDir: string, runId: string) =>
    fs.statSync(path.join(openShadowRepo(workspaceDir, runId).gitDir, "airlock-pathspec"), { bigint: true }).mtimeNs;
  const head = async (workspaceDir: string, runId: string) =>
    (await runGit(openShadowRepo(workspaceDir, runId), ["rev-parse", "HEAD"])).stdout.toString().trim();

  it("C1: a checkpoint after a command that changed nothing creates no commit and runs no git add", async () => {
    const { run, containerId, workspaceDir } = await newRun();
    await agentShell(runtime, containerId, "echo hello > /workspace/a.txt && mkdir -p /workspace/node_modules/p && echo x > /workspace/node_modules/p/i.js");
    await settle();
    expect(await checkpoint(run.id, "wrote a.txt")).not.toBeNull();
    const commit = await head(workspaceDir, run.id);
    const staged = lastGitAdd(workspaceDir, run.id);
    for (let i = 0; i < 3; i++) {
      await agentShell(runtime, containerId, "true; ls -la /workspace > /dev/null; cat /workspace/a.txt > /dev/null");
      expect(await checkpoint(run.id, `nothing ${i}`)).toBeNull();
    }
    expect(await head(workspaceDir, run.id)).toBe(commit);
    expect(lastGitAdd(workspaceDir, run.id)).toBe(staged);
    expect(listCheckpoints(t.db, run.id).map((c) => c.label)).toEqual(["start", "wrote a.txt"]);
  });

  it("C2: a command that rewrites a file with the same size, inode and mtime after a no-change checkpoint is still checkpointed", async () => {
    const { run, containerId, workspaceDir } = await newRun();
    await agentShell(runtime, containerId, "printf 'v1\\n' > /workspace/f.txt && touch -d @1700000000 /workspace/f.txt");
    await settle();
    expect(await checkpoint(run.id, "v1")).not.toBeNull();
    await agentShell(runtime, containerId, "true");
    expect(await checkpoint(run.id, "nothing")).toBeNull();
    const inode = fs.statSync(path.join(workspaceDir, "f.txt")).ino;
    // In place (same inode), same size, the old mtime put back: only the ctime tells.
    await agentShell(runtime, containerId, "printf 'v2\\n' 1<> /workspace/f.txt && touch -d @1700000000 /workspace/f.txt");
    const st = fs.statSync(path.join(workspaceDir, "f.txt"));
    expect([st.ino, st.size, st.mtimeMs]).toEqual([inode, 3, 1_700_000_000_000]);
    const cp = await checkpoint(run.id, "v2");
    expect(cp).not.toBeNull();
    const shown = await runGit(openShadowRepo(workspaceDir, run.id), ["show", `${cp!.commitSha}:f.txt`]);
    expect(shown.stdout.toString()).toBe("v2\n");
  });

  it("C2: a setuid bit set by a command that changed nothing else is still stripped on the host, in an ignored directory too", async () => {
    const { run, containerId, workspaceDir } = await newRun();
    await agentShell(runtime, containerId, "mkdir -p /workspace/node_modules/d && cp /bin/true /workspace/node_modules/d/y && cp /bin/true /workspace/x");
    await settle();
    await checkpoint(run.id, "copies");
    await agentShell(runtime, containerId, "true");
    expect(await checkpoint(run.id, "nothing")).toBeNull();
    await agentShell(runtime, containerId, "chmod 4755 /workspace/x && chmod 2755 /workspace/node_modules/d/y");
    await checkpoint(run.id, "modes only");
    expect(fs.statSync(path.join(workspaceDir, "x")).mode & 0o7000).toBe(0);
    expect(fs.statSync(path.join(workspaceDir, "node_modules", "d", "y")).mode & 0o7000).toBe(0);
  });

  it("C2: a file a rollback removed and the agent then writes again byte for byte is checkpointed as a change", async () => {
    const { run, containerId, workspaceDir } = await newRun();
    await agentShell(runtime, containerId, "echo one > /workspace/one.txt");
    await settle();
    const first = await checkpoint(run.id, "one");
    await agentShell(runtime, containerId, "echo two > /workspace/two.txt");
    await settle();
    await checkpoint(run.id, "two");
    await rollbackRun(t.db, host, run.id, first!.id, reviewerActor());
    expect(fs.existsSync(path.join(workspaceDir, "two.txt"))).toBe(false);
    // The agent writes two.txt again, byte for byte: a change against HEAD (the rolled-back tree).
    await agentShell(runtime, containerId, "echo two > /workspace/two.txt");
    const cp = await checkpoint(run.id, "two again");
    expect(cp).not.toBeNull();
    expect(cp!.filesChanged).toBe(1);
  });
});

describe("workspace sources", () => {
  it("starts from an uploaded archive, owned by the agent, with executable bits", async () => {
    const archive = buildTarGz([
      { name: "app/main.sh", content: "#!/bin/sh\necho from-archive\n", mode: 0o755 },
      { name: "README", content: "hi\n" },
    ]);
    const upload = await storeUpload(t.db, { ...actorOf(operator), userId: operator.id }, dataDir, Readable.from([archive]), "app.tar.gz");
    expect(upload).toMatchObject({ format: "tar.gz", fileCount: 2 });
    const { run, containerId } = await newRun({ type: "archive", uploadId: upload.id });
    expect(await agentShell(runtime, containerId, "/workspace/app/main.sh && stat -c %u /workspace/README")).toBe(`from-archive\n${AGENT_UID}\n`);
    expect(listCheckpoints(t.db, run.id)[0]!.filesChanged).toBe(2);
    // An upload starts one run only.
    await expect(newRun({ type: "archive", uploadId: upload.id })).rejects.toThrow(/already used/);
  });

  it("refuses a malicious upload and keeps nothing of it", async () => {
    const evil = buildTarGz([{ name: "../../evil", content: "x" }]);
    await expect(storeUpload(t.db, { ...actorOf(operator), userId: operator.id }, dataDir, Readable.from([evil]), "evil.tar.gz")).rejects.toThrow(
      /refused: .*climbs out/,
    );
    expect(fs.readdirSync(path.join(dataDir, "uploads")).length).toBe(1);
  });
});

describe("retention", () => {
  it("removes a finished run's workspace and shadow repository but keeps its checkpoints and diffs", async () => {
    const { run, containerId, workspaceDir } = await newRun();
    await agentShell(runtime, containerId, "echo kept-in-the-diff > /workspace/notes.txt");
    const cp = await checkpoint(run.id, "notes");
    transitionRun(t.db, run.id, "killed", actorOf(reviewer), { reason: "test" });
    const live = await diffCheckpoint(t.db, run.id, cp!.id);
    expect(await cleanupRunWorkspace(t.db, run.id)).toBe(true);
    expect(fs.existsSync(workspaceDir)).toBe(false);
    expect(fs.existsSync(openShadowRepo(workspaceDir, run.id).gitDir)).toBe(false);
    expect((await diffCheckpoint(t.db, run.id, cp!.id)).diff).toBe(live.diff);
    expect((await diffRun(t.db, run.id)).diff).toContain("+kept-in-the-diff");
    expect(t.db.select().from(checkpoints).where(eq(checkpoints.runId, run.id)).all()).toHaveLength(2);
    expect(t.db.select().from(workspaces).where(eq(workspaces.runId, run.id)).get()!.cleanedAt).not.toBeNull();
    await expect(restoreCheckpoint(t.db, run.id, cp!.id, { actor: actorOf(reviewer) })).rejects.toThrow(/cleaned up/);
  });
});
