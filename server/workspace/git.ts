// Runs git on the host with a hardened environment: no system or global
// config, no hooks, no fsmonitor, no pager, no prompts, a private empty HOME,
// and (when Airlock runs as root) the agent's uid, so that git reading an
// agent-controlled work tree can never do more than the agent could.
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import type { Writable } from "node:stream";
import { AGENT_GID, AGENT_UID } from "@/server/sandbox/workspace";

export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

export interface GitTarget {
  gitDir: string;
  /** The work tree (a run's workspace); omitted for object-only commands. */
  workTree?: string;
  /** An empty directory used as HOME and XDG_CONFIG_HOME. */
  homeDir: string;
  /** Run as the agent's uid (the owner of workspaces and shadow repositories). */
  asAgent: boolean;
  /** Run as this user instead (the owner of a source repository), when Airlock runs as root. */
  owner?: { uid: number; gid: number };
}

export interface GitOptions {
  input?: Buffer | string;
  /** Exit codes that are not failures (diff --quiet answers 1). */
  okCodes?: number[];
  /** Stop collecting stdout past this many bytes (the command still runs to the end). */
  maxOutputBytes?: number;
  /** Stream stdout here instead of collecting it. */
  stdout?: Writable;
  timeoutMs?: number;
  /** Extra environment (GIT_INDEX_FILE for a temporary index). */
  env?: Record<string, string>;
  cwd?: string;
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  truncated: boolean;
}

export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(
      `git ${args
        .filter((a) => !a.startsWith("core.") && a !== "-c")
        .slice(0, 4)
        .join(" ")} failed (${code ?? "killed"}): ${stderr.trim().split("\n").slice(-3).join(" | ") || "no message"}`,
    );
    this.name = "GitError";
  }
}

/** Settings given on the command line: protected configuration that no repository can override. */
const HARDENING = [
  "core.hooksPath=/dev/null",
  "core.fsmonitor=false",
  "core.untrackedCache=false",
  "core.protectNTFS=false",
  "core.protectHFS=false",
  "core.symlinks=true",
  "core.fileMode=true",
  "core.autocrlf=false",
  "core.safecrlf=false",
  "core.quotePath=false",
  "core.attributesFile=/dev/null",
  "core.excludesFile=/dev/null",
  "core.pager=cat",
  "core.askPass=",
  "credential.helper=",
  "gc.auto=0",
  "maintenance.auto=false",
  "fetch.writeCommitGraph=false",
  "commit.gpgSign=false",
  "tag.gpgSign=false",
  "safe.directory=*",
  "user.name=Airlock",
  "user.email=airlock@localhost",
  "diff.external=",
  "diff.noprefix=false",
  "diff.mnemonicPrefix=false",
  "diff.relative=false",
  "color.ui=false",
  "advice.detachedHead=false",
  "protocol.allow=never",
  "protocol.file.allow=always",
];

function baseEnv(target: GitTarget, extra: Record<string, string> | undefined): Record<string, string> {
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: target.homeDir,
    XDG_CONFIG_HOME: target.homeDir,
    GIT_CONFIG_NOSYSTEM: "1",
    // Our own global file (protected configuration): safe.directory for repositories owned by others.
    GIT_CONFIG_GLOBAL: path.join(target.homeDir, "gitconfig"),
    GIT_ATTR_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    GIT_NO_REPLACE_OBJECTS: "1",
    GIT_AUTHOR_NAME: "Airlock",
    GIT_AUTHOR_EMAIL: "airlock@localhost",
    GIT_COMMITTER_NAME: "Airlock",
    GIT_COMMITTER_EMAIL: "airlock@localhost",
    LC_ALL: "C",
    TZ: "UTC",
    ...extra,
  };
}

/** The uid/gid to run as: only when Airlock runs as root and another user is asked for. */
function processIds(asAgent: boolean, owner: { uid: number; gid: number } | undefined): { uid?: number; gid?: number } {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return {};
  if (owner) return owner.uid === 0 ? {} : { uid: owner.uid, gid: owner.gid };
  return asAgent ? { uid: AGENT_UID, gid: AGENT_GID } : {};
}

export function gitArgs(target: GitTarget, args: string[]): string[] {
  const out: string[] = [];
  for (const setting of HARDENING) out.push("-c", setting);
  if (target.workTree) out.push("-c", "core.bare=false");
  out.push(`--git-dir=${target.gitDir}`);
  if (target.workTree) out.push(`--work-tree=${target.workTree}`);
  return [...out, ...args];
}

export function runGit(target: GitTarget, args: string[], opts: GitOptions = {}): Promise<GitResult> {
  return runHostCommand("git", gitArgs(target, args), {
    ...opts,
    cwd: opts.cwd ?? target.workTree ?? target.gitDir,
    env: baseEnv(target, opts.env),
    asAgent: target.asAgent,
    owner: target.owner,
  }).catch((err: unknown) => {
    if (err instanceof HostCommandError) throw new GitError(args, err.code, err.stderr);
    throw err;
  });
}

export class HostCommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (${code ?? "killed"}): ${stderr.trim().split("\n").slice(-3).join(" | ") || "no message"}`);
    this.name = "HostCommandError";
  }
}

/** Runs a host program (git, find, chmod) with a fixed environment, as the agent's uid when asked. */
export function runHostCommand(
  command: string,
  args: string[],
  opts: GitOptions & { cwd: string; asAgent: boolean; owner?: { uid: number; gid: number } },
): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: (opts.env ?? { PATH: "/usr/local/bin:/usr/bin:/bin", LC_ALL: "C" }) as unknown as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
      ...processIds(opts.asAgent, opts.owner),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let stderr = "";
    const max = opts.maxOutputBytes ?? 256 * 1024 * 1024;
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    if (opts.stdout) {
      child.stdout.pipe(opts.stdout, { end: false });
    } else {
      child.stdout.on("data", (chunk: Buffer) => {
        if (size >= max) {
          truncated = true;
          return;
        }
        const take = Math.min(chunk.length, max - size);
        if (take < chunk.length) truncated = true;
        chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
        size += take;
      });
    }
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString("utf8");
    });
    child.on("error", (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.stdin.on("error", () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      const result = { code: code ?? -1, stdout: Buffer.concat(chunks), stderr, truncated };
      if (code === 0 || (code !== null && opts.okCodes?.includes(code))) resolve(result);
      else reject(new HostCommandError(command, code, stderr));
    });
  });
}

/** Trimmed stdout of a command that prints one line (a sha, a ref). */
export async function gitLine(target: GitTarget, args: string[], opts: GitOptions = {}): Promise<string> {
  return (await runGit(target, args, opts)).stdout.toString("utf8").trim();
}

/** Creates the private HOME git runs with, holding only Airlock's global settings. */
export async function ensureGitHome(dir: string, mode = 0o700): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  await fs.writeFile(path.join(dir, "gitconfig"), "[safe]\n\tdirectory = *\n", { mode: 0o644 });
}
