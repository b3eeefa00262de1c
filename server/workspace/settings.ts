// Workspace and checkpoint settings from the environment (read once, checked,
// with one clear message per bad value).
import path from "node:path";
import { ConfigError } from "@/server/config/env";

export interface WorkspaceSettings {
  /** Cap on a run's shadow repository (bytes on disk). */
  checkpointCapBytes: number;
  /** Files larger than this are left out of checkpoints. */
  maxFileBytes: number;
  /** Directory names left out of checkpoints wherever they appear. */
  ignoredDirs: string[];
  /** Finished runs' workspaces and shadow repositories are removed after this long (0: never). */
  retentionMs: number;
  /** Local git repositories a workspace may start from (AIRLOCK_REPO_ROOTS, colon-separated). */
  repoRoots: string[];
  /** Uploaded archives: compressed size, expanded size, entries. */
  archiveMaxBytes: number;
  archiveMaxExpandedBytes: number;
  archiveMaxFiles: number;
  /** Bytes a run's workspace may hold on the host disk (AIRLOCK_WORKSPACE_QUOTA_MB). */
  workspaceQuotaBytes: number;
}

export const DEFAULT_IGNORED_DIRS = ["node_modules", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".tox", ".gradle", ".next"];

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name} must be a non-negative number, got "${raw}".`);
  return value;
}

function workspaceQuota(env: NodeJS.ProcessEnv): number {
  const mb = positiveNumber(env, "AIRLOCK_WORKSPACE_QUOTA_MB", 1024);
  // Below a few MB no real project fits (a git checkout alone is larger).
  if (mb < 16) throw new ConfigError(`AIRLOCK_WORKSPACE_QUOTA_MB must be at least 16 (MB), got "${env.AIRLOCK_WORKSPACE_QUOTA_MB}".`);
  return Math.round(mb * 1024 * 1024);
}

export function readWorkspaceSettings(env: NodeJS.ProcessEnv = process.env): WorkspaceSettings {
  const MB = 1024 * 1024;
  const ignored = env.AIRLOCK_CHECKPOINT_IGNORE?.trim();
  const ignoredDirs = ignored ? ignored.split(",").map((s) => s.trim()).filter(Boolean) : DEFAULT_IGNORED_DIRS;
  for (const name of ignoredDirs) {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..") {
      throw new ConfigError(`AIRLOCK_CHECKPOINT_IGNORE lists directory names separated by commas; "${name}" is not a plain directory name.`);
    }
  }
  const repoRoots = (env.AIRLOCK_REPO_ROOTS ?? "")
    .split(":")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((root) => {
      if (!path.isAbsolute(root)) throw new ConfigError(`AIRLOCK_REPO_ROOTS must list absolute directories separated by ":"; "${root}" is relative.`);
      return path.resolve(root);
    });
  return {
    checkpointCapBytes: Math.round(positiveNumber(env, "AIRLOCK_CHECKPOINT_CAP_MB", 200) * MB),
    maxFileBytes: Math.round(positiveNumber(env, "AIRLOCK_CHECKPOINT_MAX_FILE_MB", 10) * MB),
    ignoredDirs,
    retentionMs: Math.round(positiveNumber(env, "AIRLOCK_WORKSPACE_RETENTION_DAYS", 14) * 24 * 3600 * 1000),
    repoRoots,
    archiveMaxBytes: Math.round(positiveNumber(env, "AIRLOCK_ARCHIVE_MAX_MB", 100) * MB),
    archiveMaxExpandedBytes: Math.round(positiveNumber(env, "AIRLOCK_ARCHIVE_MAX_EXPANDED_MB", 500) * MB),
    archiveMaxFiles: Math.round(positiveNumber(env, "AIRLOCK_ARCHIVE_MAX_FILES", 20_000)),
    workspaceQuotaBytes: workspaceQuota(env),
  };
}

let cached: WorkspaceSettings | undefined;

export function workspaceSettings(): WorkspaceSettings {
  cached ??= readWorkspaceSettings();
  return cached;
}

/** Tests change settings (a small cap, repo roots) for one suite. */
export function overrideWorkspaceSettings(patch: Partial<WorkspaceSettings> | null): void {
  cached = patch ? { ...readWorkspaceSettings(), ...patch } : undefined;
}
