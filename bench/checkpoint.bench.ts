// Checkpoints and restores of an N-file workspace: Airlock's shadow
// repository (escaping nested .git, pathspec excludes, hardened git, owner
// fix-up) against raw baselines — `git add -A && git commit` in a plain
// repository, and a restore by `rm -rf && cp -a` from a saved copy. Also the
// cost of freezing a sandbox (docker pause/unpause) around a checkpoint.
// Records figures and ratios; asserts nothing.
//
//   npx tsx bench/checkpoint.bench.ts [files] [iterations]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_LIMITS, dockerRuntime } from "@/server/sandbox/runtime";
import { AGENT_GID, AGENT_UID } from "@/server/sandbox/layout";
import { sandboxImageName } from "@/server/sandbox/image";
import { imageExists, pingDocker } from "@/server/sandbox/docker";
import { commitTree, headCommit, initShadowRepo, openShadowRepo, restoreWorkTree, snapshotWorkTree } from "@/server/workspace/shadow-repo";
import { DEFAULT_IGNORED_DIRS } from "@/server/config/env";
import { median, note, numericArgs, params, record, time } from "./support";

// 5,000 files by default: 10,000 took 6 of a full run's 12 minutes on the
// loaded 2-core machine. Pass 10000 to compare with older figures.
const [files, iterations] = numericArgs(5_000, 3);
const limits = { maxFileBytes: 10 * 1024 * 1024, ignoredDirs: DEFAULT_IGNORED_DIRS };

function populate(dir: string) {
  for (let i = 0; i < files; i++) {
    const d = path.join(dir, `d${String(i % 100).padStart(3, "0")}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `f${String(i).padStart(6, "0")}.txt`), `line ${i}\n`.repeat(20));
  }
}

/** 10 % of the files edited, 5 % deleted, 5 % added. */
function mutate(dir: string, round: number) {
  for (let i = 0; i < files; i += 10)
    fs.appendFileSync(path.join(dir, `d${String(i % 100).padStart(3, "0")}`, `f${String(i).padStart(6, "0")}.txt`), `edit ${round}\n`);
  for (let i = 5; i < files; i += 20) fs.rmSync(path.join(dir, `d${String(i % 100).padStart(3, "0")}`, `f${String(i).padStart(6, "0")}.txt`), { force: true });
  fs.mkdirSync(path.join(dir, `new${round}`), { recursive: true });
  for (let i = 0; i < files / 20; i++) fs.writeFileSync(path.join(dir, `new${round}`, `n${i}.txt`), `new ${i}\n`);
}

const rawEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "b",
  GIT_AUTHOR_EMAIL: "b@b",
  GIT_COMMITTER_NAME: "b",
  GIT_COMMITTER_EMAIL: "b@b",
};
const rawGit = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "gc.auto=0", ...args], { cwd, env: rawEnv, stdio: ["ignore", "pipe", "pipe"] });

async function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-cpbench-"));
  try {
    console.log(`checkpoint benchmark: ${files} files, ${iterations} iterations, ${os.cpus().length} CPUs`);
    params({ files, iterations });
    const samples: Record<string, number[]> = {};
    const add = (k: string, v: number) => (samples[k] ??= []).push(v);
    for (let it = 0; it < iterations; it++) {
      // Airlock
      const ws = path.join(root, `a${it}`, "workspaces", "bench");
      fs.mkdirSync(ws, { recursive: true });
      populate(ws);
      const repo = openShadowRepo(ws, "bench");
      await initShadowRepo(repo);
      let first = "";
      add(
        "airlock: first checkpoint",
        await time(async () => {
          const snap = await snapshotWorkTree(repo, limits);
          first = await commitTree(repo, snap.tree, await headCommit(repo), "first");
        }),
      );
      mutate(ws, it);
      add(
        "airlock: checkpoint after 20 % changes",
        await time(async () => {
          const snap = await snapshotWorkTree(repo, limits);
          await commitTree(repo, snap.tree, await headCommit(repo), "second");
        }),
      );
      const firstTree = execFileSync("git", [`--git-dir=${repo.gitDir}`, "rev-parse", `${first}^{tree}`])
        .toString()
        .trim();
      add("airlock: restore to the first checkpoint", await time(() => restoreWorkTree(repo, limits, firstTree)));

      // Raw git and cp -a
      const raw = path.join(root, `r${it}`);
      fs.mkdirSync(raw);
      populate(raw);
      rawGit(raw, "init", "-q");
      add(
        "raw: git add -A && git commit (first)",
        await time(() => {
          rawGit(raw, "add", "-A");
          rawGit(raw, "commit", "-q", "-m", "first");
        }),
      );
      const saved = path.join(root, `saved${it}`);
      execFileSync("cp", ["-a", raw, saved]);
      mutate(raw, it);
      add(
        "raw: git add -A && git commit (20 % changes)",
        await time(() => {
          rawGit(raw, "add", "-A");
          rawGit(raw, "commit", "-q", "-m", "second");
        }),
      );
      add(
        "raw: git checkout -f HEAD~1 -- . && git clean -fdq",
        await time(() => {
          rawGit(raw, "checkout", "-f", "HEAD~1", "--", ".");
          rawGit(raw, "clean", "-fdq");
        }),
      );
      add(
        "raw: rm -rf && cp -a from a saved copy",
        await time(() => {
          execFileSync("rm", ["-rf", raw]);
          execFileSync("cp", ["-a", saved, raw]);
        }),
      );
    }
    const pair = (id: string, label: string, airlock: string, raw: string) =>
      record({ id, label, samples: samples[airlock]!, baseline: { label: raw.replace(/^raw: /, ""), samples: samples[raw]!, paired: true } });
    pair("first", `first checkpoint of ${files} files`, "airlock: first checkpoint", "raw: git add -A && git commit (first)");
    pair("changed", "checkpoint after 20 % changes", "airlock: checkpoint after 20 % changes", "raw: git add -A && git commit (20 % changes)");
    pair("restore", "restore to the first checkpoint", "airlock: restore to the first checkpoint", "raw: rm -rf && cp -a from a saved copy");
    note(
      `a raw git checkout -f HEAD~1 -- . && git clean -fdq takes ${median(samples["raw: git checkout -f HEAD~1 -- . && git clean -fdq"]!).toFixed(0)} ms (median) for the same restore`,
    );

    // Freezing the sandbox around a checkpoint (what every checkpoint of a live run adds).
    try {
      await pingDocker(3000);
      if (!(await imageExists(sandboxImageName()))) throw new Error("no sandbox image");
      const runtime = dockerRuntime();
      const ws = path.join(root, "freeze", "workspaces", "f");
      fs.mkdirSync(ws, { recursive: true });
      fs.chownSync(ws, AGENT_UID, AGENT_GID);
      const { containerId } = await runtime.createSandbox({ runId: "bench-freeze", image: sandboxImageName(), workspaceDir: ws, limits: DEFAULT_LIMITS });
      try {
        const freeze: number[] = [];
        for (let i = 0; i < 10; i++)
          freeze.push(
            await time(async () => {
              await runtime.pauseSandbox(containerId);
              await runtime.unpauseSandbox(containerId);
            }),
          );
        record({ id: "freeze", label: "docker pause + unpause of the sandbox (runtime)", runtime: "runc", samples: freeze });
      } finally {
        await runtime.removeSandbox(containerId);
      }
    } catch (err) {
      note(`sandbox freeze not measured: ${(err as Error).message}`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
