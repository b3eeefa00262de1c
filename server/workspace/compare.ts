// Issue 16, comparing two runs: the diff from one run's final workspace to
// the other's, read from the two shadow repositories without copying
// objects (git reads the second repository's objects as an alternate).
import path from "node:path";
import type { Db } from "@/db/client";
import { requireRun } from "@/server/runs/lookup";
import { getWorkspace, latestCheckpoint } from "@/server/workspace/checkpoints";
import { runGit } from "@/server/workspace/git";
import { openShadowRepo } from "@/server/workspace/shadow-repo";

const DIFF_LIMIT = 4 * 1024 * 1024;

export type RunsDiff = { diff: string; truncated: boolean; unavailable?: undefined } | { diff: null; truncated: false; unavailable: string };

/** `from`'s latest checkpoint against `to`'s: what `to` ended with that `from` did not, as a unified diff. */
export async function diffBetweenRuns(db: Db, fromId: string, toId: string): Promise<RunsDiff> {
  const from = requireRun(db, fromId);
  const to = requireRun(db, toId);
  for (const run of [from, to]) {
    if (getWorkspace(db, run.id)?.cleanedAt)
      return { diff: null, truncated: false, unavailable: `The workspace of run ${run.id} was cleaned up; only its own diff was kept.` };
    if (!run.workspaceDir) return { diff: null, truncated: false, unavailable: `Run ${run.id} has no workspace yet.` };
  }
  const a = latestCheckpoint(db, from.id);
  const b = latestCheckpoint(db, to.id);
  if (!a || !b) return { diff: null, truncated: false, unavailable: `Run ${(a ? to : from).id} has no checkpoint yet.` };
  const repo = openShadowRepo(from.workspaceDir!, from.id);
  const other = openShadowRepo(to.workspaceDir!, to.id);
  const r = await runGit(
    { ...repo, workTree: undefined },
    ["diff-tree", "-r", "-p", "--no-ext-diff", "--no-textconv", "--no-color", "--no-renames", a.commitSha, b.commitSha],
    { maxOutputBytes: DIFF_LIMIT, env: { GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(other.gitDir, "objects") } },
  );
  return { diff: r.stdout.toString("utf8"), truncated: r.truncated };
}
