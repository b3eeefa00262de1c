// Merge-back: a run's result leaves the sandbox only as a reviewed artefact —
// a patch or a git bundle to download, or (with a reviewer's approval) one
// commit on a NEW branch of the run's source repository, never its current
// branch, with the run id and its approvers in the message. The result is
// "the source commit plus the run's changes" (start checkpoint → latest),
// so files left out of checkpoints are never shown as deleted.
import crypto from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { and, desc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { approvals, approvalVotes, checkpoints, mergeRequests, users, type Checkpoint, type MergeRequest, type Run } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { isTerminal } from "@/server/runs/state-machine";
import { mergeBackRequestDenial, mergeRequestPermissions } from "@/lib/permissions";
import { redactorForRun } from "@/server/secrets/secrets";
import type { SecretRedactor } from "@/server/secrets/redaction";
import { getWorkspace, latestCheckpoint, requireCheckpoint, startCheckpoint } from "./checkpoints";
import { requireRun } from "@/server/runs/lookup";
import { withWorkspaceLock } from "./coordination";
import { ensureGitHome, gitLine, runGit, type GitTarget } from "./git";
import { openShadowRepo, shadowRepoExists, type ShadowRepo } from "./shadow-repo";
import { resolveSourceRepo } from "./sources";

const ZERO = "0".repeat(40);
const ESCAPED = /^\.git((?:~airlock)+)$/i;

/** A path in the shadow tree as it is on disk (`.git~airlock` → `.git`); null when it cannot go into a real repository. */
export function realPath(shadowPath: string): string | null {
  const parts = shadowPath.split("/").map((part) => {
    const m = ESCAPED.exec(part);
    return m ? part.slice(0, -"~airlock".length) : part;
  });
  return parts.some((p) => p.toLowerCase() === ".git") ? null : parts.join("/");
}

interface ResultPlan {
  repo: ShadowRepo;
  run: Run;
  base: string;
  start: Checkpoint;
  final: Checkpoint;
}

function planResult(db: Db, runId: string, checkpointId?: string): ResultPlan {
  const run = requireRun(db, runId);
  const ws = getWorkspace(db, runId);
  if (!run.workspaceDir || !ws) throw new DomainError("PRECONDITION_FAILED", "This run has no workspace.");
  if (ws.cleanedAt)
    throw new DomainError("PRECONDITION_FAILED", "This run's workspace was cleaned up after its retention period; only its diffs remain (runs.diff).");
  const start = startCheckpoint(db, runId);
  const final = checkpointId ? requireCheckpoint(db, runId, checkpointId) : latestCheckpoint(db, runId);
  if (!start || !final) throw new DomainError("PRECONDITION_FAILED", "This run has no checkpoints yet.");
  const base = ws.source.type === "git" && ws.source.commit ? ws.source.commit : start.commitSha;
  return { repo: openShadowRepo(run.workspaceDir, runId), run, base, start, final };
}

/** The run's changed blobs with every granted secret's value replaced by [secret:NAME] (new blobs; the originals stay). */
async function redactBlobs(objects: GitTarget, blobs: string[], redactor: SecretRedactor): Promise<Map<string, string>> {
  const replaced = new Map<string, string>();
  const unique = [...new Set(blobs)];
  if (unique.length === 0 || redactor.empty) return replaced;
  // One cat-file for all of them: "<sha> blob <size>\n<content>\n" each.
  const out = (await runGit(objects, ["cat-file", "--batch"], { input: unique.join("\n") + "\n" })).stdout;
  let pos = 0;
  for (const sha of unique) {
    const eol = out.indexOf(0x0a, pos);
    const header = out.subarray(pos, eol).toString("utf8").split(" ");
    if (header[0] !== sha || header[1] !== "blob") throw new Error(`git cat-file answered "${header.join(" ")}" for blob ${sha}`);
    const size = Number(header[2]);
    const content = out.subarray(eol + 1, eol + 1 + size);
    pos = eol + 1 + size + 1;
    const redacted = redactor.redactBytes(content);
    if (redacted !== content) replaced.set(sha, await gitLine(objects, ["hash-object", "-w", "--stdin"], { input: redacted }));
  }
  return replaced;
}

/** Builds "base + the run's changes" as one commit in the shadow repository; returns its sha, the paths left out, and those redacted. */
async function buildResultCommit(
  plan: ResultPlan,
  message: string,
  redactor?: SecretRedactor,
): Promise<{ commit: string; omitted: string[]; redacted: string[] }> {
  const { repo } = plan;
  if (!(await shadowRepoExists(repo))) throw new DomainError("PRECONDITION_FAILED", "The run's shadow repository is missing.");
  const objects: GitTarget = { ...repo, workTree: undefined };
  const index = path.join(repo.gitDir, `airlock-result-${crypto.randomUUID()}.index`);
  try {
    const env = { GIT_INDEX_FILE: index };
    await runGit(objects, ["read-tree", plan.base], { env });
    const raw = (await runGit(objects, ["diff-tree", "-r", "-z", "--no-renames", plan.start.commitSha, plan.final.commitSha])).stdout.toString("utf8");
    const fields = raw.split("\0");
    const changes: { mode: string; blob: string; target: string }[] = [];
    const omitted: string[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const m = /^:(\d+) (\d+) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])/.exec(fields[i]!);
      if (!m) break;
      const shadowPath = fields[i + 1]!;
      const target = realPath(shadowPath);
      if (target === null) {
        omitted.push(shadowPath);
        continue;
      }
      changes.push(m[5] === "D" ? { mode: "0", blob: ZERO, target } : { mode: m[2]!, blob: m[4]!, target });
    }
    const replaced = redactor
      ? await redactBlobs(
          objects,
          changes.filter((c) => c.mode !== "0" && c.mode !== "160000").map((c) => c.blob),
          redactor,
        )
      : new Map<string, string>();
    const redacted = changes.filter((c) => replaced.has(c.blob)).map((c) => c.target);
    const lines = changes.map((c) => `${c.mode} ${replaced.get(c.blob) ?? c.blob}\t${c.target}`);
    if (lines.length) await runGit(objects, ["update-index", "-z", "--index-info"], { env, input: lines.join("\0") + "\0" });
    const tree = await gitLine(objects, ["write-tree"], { env });
    const commit = await gitLine(objects, ["commit-tree", tree, "-p", plan.base, "-F", "-"], { input: redactor ? redactor.redact(message) : message });
    return { commit, omitted, redacted };
  } finally {
    await fs.rm(index, { force: true });
  }
}

/** Emails of everyone who approved something in the run (plan, tool calls, steps). */
function approversOf(db: Db, runId: string): string[] {
  const rows = db
    .select({ email: users.email })
    .from(approvalVotes)
    .innerJoin(approvals, eq(approvals.id, approvalVotes.approvalId))
    .innerJoin(users, eq(users.id, approvalVotes.userId))
    .where(and(eq(approvals.runId, runId), eq(approvalVotes.decision, "approve")))
    .all();
  return [...new Set(rows.map((r) => r.email))];
}

/** Trailer keys Airlock writes, and the usual sign-offs: never taken from agent text. */
const OWN_TRAILER = /^[ \t]*(airlock-[a-z0-9-]*|merge-approved-by|approved-by|signed-off-by|co-authored-by|reviewed-by|acked-by|tested-by)[ \t]*[:=]/i;
/** A line git's trailer parser reads as "Token: value". */
const TRAILER_LIKE = /^[ \t]*[A-Za-z0-9][A-Za-z0-9-]*[ \t]*:/;
/** git (interpret-trailers, am) ends a message at a line starting with "---": trailers above it would count, Airlock's below would not. */
const DIVIDER = /^---(?:[ \t]|$)/;

/**
 * The agent's summary (or the task) as a commit body that cannot pass for
 * trailers: lines naming Airlock's own trailers, trailer-like lines in its
 * last paragraph and "---" dividers are quoted with "> ", so only the lines
 * Airlock appends are parsed as trailers.
 */
export function quoteTrailerLookalikes(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let lastParagraph = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]!.trim() === "") {
      lastParagraph = i + 1;
      break;
    }
  }
  return lines
    .map((line, i) => (DIVIDER.test(line) || OWN_TRAILER.test(line) || (i >= lastParagraph && TRAILER_LIKE.test(line)) ? `> ${line}` : line))
    .join("\n");
}

function commitMessage(db: Db, plan: ResultPlan, mergeApprover?: string): string {
  const { run, final } = plan;
  const lines = [run.title.replace(/\s+/g, " ").trim().slice(0, 72), ""];
  const body = quoteTrailerLookalikes((run.summary ?? run.task).trim().slice(0, 4000));
  if (body) lines.push(body, "");
  lines.push(`Airlock-Run: ${run.id}`, `Airlock-Checkpoint: #${final.seq} (${final.label})`);
  if (mergeApprover) lines.push(`Merge-approved-by: ${mergeApprover}`);
  for (const email of approversOf(db, run.id)) lines.push(`Approved-by: ${email}`);
  return lines.join("\n") + "\n";
}

function downloadName(run: Run, ext: string): string {
  return `airlock-run-${run.id.slice(0, 8)}.${ext}`;
}

export interface ResultFile {
  filename: string;
  body: Buffer;
  omitted: string[];
  /** Paths whose content had a granted secret's value replaced by [secret:NAME] (only in a redacted download). */
  redacted: string[];
}

export interface ResultOptions {
  checkpointId?: string;
  /** Replace every value the run was given with [secret:NAME] (downloads by those below reviewer). */
  redactSecrets?: boolean;
}

/** The run's result as a mailbox-style patch (git am / git apply). */
export async function resultPatch(db: Db, runId: string, opts: ResultOptions = {}): Promise<ResultFile> {
  const plan = planResult(db, runId, opts.checkpointId);
  const redactor = opts.redactSecrets ? redactorForRun(db, runId) : undefined;
  return withWorkspaceLock(runId, async () => {
    const { commit, omitted, redacted } = await buildResultCommit(plan, commitMessage(db, plan), redactor);
    const out = await runGit({ ...plan.repo, workTree: undefined }, [
      "format-patch",
      "--stdout",
      "--binary",
      "--full-index",
      "--no-signature",
      "--no-stat",
      "-1",
      commit,
    ]);
    return { filename: downloadName(plan.run, "patch"), body: out.stdout, omitted, redacted };
  });
}

/**
 * The run's result as a git bundle with one branch, airlock/run-<id>. For a
 * run from a repository it needs the source commit (fetch it into a clone);
 * otherwise it holds the start state and the result.
 */
export async function resultBundle(db: Db, runId: string, opts: ResultOptions = {}): Promise<ResultFile & { branch: string }> {
  const plan = planResult(db, runId, opts.checkpointId);
  const ws = getWorkspace(db, runId)!;
  const redactor = opts.redactSecrets ? redactorForRun(db, runId) : undefined;
  return withWorkspaceLock(runId, async () => {
    const { commit, omitted, redacted } = await buildResultCommit(plan, commitMessage(db, plan), redactor);
    const objects: GitTarget = { ...plan.repo, workTree: undefined };
    const branch = `airlock/run-${runId.slice(0, 8)}`;
    await runGit(objects, ["update-ref", `refs/heads/${branch}`, commit]);
    const file = path.join(plan.repo.gitDir, `airlock-${crypto.randomUUID()}.bundle`);
    try {
      await runGit(objects, ["bundle", "create", "-q", file, `refs/heads/${branch}`, ...(ws.source.type === "git" ? [`^${plan.base}`] : [])]);
      return { filename: downloadName(plan.run, "bundle"), body: await fs.readFile(file), omitted, redacted, branch };
    } finally {
      await fs.rm(file, { force: true });
      await runGit(objects, ["update-ref", "-d", `refs/heads/${branch}`]).catch(() => undefined);
    }
  });
}

// ---------------------------------------------------------------- requests to merge into the source repository

export const requestMergeInput = z.object({
  id: z.string().min(1),
  branch: z.string().trim().max(200).optional(),
  checkpointId: z.string().optional(),
  note: z.string().trim().max(2000).optional(),
});

export const decideMergeInput = z.object({
  mergeRequestId: z.string().min(1),
  decision: z.enum(["approve", "deny"]),
  reason: z.string().trim().max(2000).optional(),
});

async function checkNewBranch(gitDir: string, homeDir: string, branch: string): Promise<void> {
  const target: GitTarget = { gitDir, homeDir, asAgent: false };
  const valid = await runGit(target, ["check-ref-format", "--branch", branch], { okCodes: [1, 128] });
  if (valid.code !== 0 || branch.startsWith("-")) throw new DomainError("INVALID_INPUT", `"${branch}" is not a valid branch name.`);
  const exists = await runGit(target, ["show-ref", "--verify", "--quiet", `refs/heads/${branch}`], { okCodes: [1] });
  if (exists.code === 0)
    throw new DomainError("CONFLICT", `Branch ${branch} already exists in the source repository; merge-back only creates new branches. Choose another name.`);
}

function publish(tx: Parameters<Parameters<Db["transaction"]>[0]>[0], runId: string, payload: Record<string, unknown>) {
  return insertRunEvent(tx, runId, "note", { source: "merge", ...payload });
}

/** Asks for the run's result to be committed to a new branch of its source repository. */
export async function requestMergeBack(db: Db, actor: Actor & { userId: string }, raw: z.input<typeof requestMergeInput>): Promise<MergeRequest> {
  const input = requestMergeInput.parse(raw);
  const run = requireRun(db, input.id);
  const user = db.select().from(users).where(eq(users.id, actor.userId)).get();
  const denied = mergeBackRequestDenial(user, run);
  if (denied) throw new DomainError(denied.code, denied.message);
  if (!isTerminal(run.state)) throw new DomainError("PRECONDITION_FAILED", "Merge-back is for finished runs; stop or wait for the run first.");
  const ws = getWorkspace(db, run.id);
  if (ws?.source.type !== "git")
    throw new DomainError("PRECONDITION_FAILED", "This run did not start from a repository; download its result as a patch or bundle instead.");
  const plan = planResult(db, run.id, input.checkpointId);
  const repo = await resolveSourceRepo(ws.source.path);
  const branch = input.branch || `airlock/run-${run.id.slice(0, 8)}`;
  await checkNewBranch(repo.gitDir, plan.repo.homeDir, branch);
  const pending = db
    .select()
    .from(mergeRequests)
    .where(and(eq(mergeRequests.runId, run.id), eq(mergeRequests.state, "pending")))
    .get();
  if (pending) throw new DomainError("CONFLICT", `A merge-back request for this run is already pending (${pending.branch}).`);
  const { row, event } = db.transaction(
    (tx) => {
      const row = tx
        .insert(mergeRequests)
        .values({
          id: crypto.randomUUID(),
          runId: run.id,
          repoPath: repo.path,
          branch,
          commitSha: plan.final.commitSha,
          state: "pending",
          requestedBy: actor.userId,
          note: input.note ?? null,
        })
        .returning()
        .get();
      appendAudit(tx, actor, {
        action: "merge.request",
        targetType: "run",
        targetId: run.id,
        details: { mergeRequestId: row.id, repo: repo.path, branch, checkpointSeq: plan.final.seq },
      });
      const event = publish(tx, run.id, {
        text: `${actor.label} asked to merge the result (checkpoint #${plan.final.seq}) into a new branch ${branch} of ${repo.path}.`,
        mergeRequestId: row.id,
      });
      return { row, event };
    },
    { behavior: "immediate" },
  );
  announce(event);
  return row;
}

export function listMergeRequests(db: Db, runId: string): (MergeRequest & { requestedByEmail: string | null })[] {
  return db
    .select({ m: mergeRequests, email: users.email })
    .from(mergeRequests)
    .leftJoin(users, eq(users.id, mergeRequests.requestedBy))
    .where(eq(mergeRequests.runId, runId))
    .orderBy(desc(mergeRequests.createdAt))
    .all()
    .map((r) => ({ ...r.m, requestedByEmail: r.email }));
}

/**
 * A reviewer (not the requester, unless an admin) approves or denies. On
 * approval one commit is created on the new branch; the repository's current
 * branch, index and working tree are not touched.
 */
export async function decideMergeBack(db: Db, actor: Actor & { userId: string }, raw: z.input<typeof decideMergeInput>): Promise<MergeRequest> {
  const input = decideMergeInput.parse(raw);
  const request = db.select().from(mergeRequests).where(eq(mergeRequests.id, input.mergeRequestId)).get();
  if (!request) throw new DomainError("NOT_FOUND", `No merge-back request ${input.mergeRequestId}.`);
  const user = db.select().from(users).where(eq(users.id, actor.userId)).get();
  const { reason: denied } = mergeRequestPermissions(user, request);
  if (denied) throw new DomainError(denied.code, denied.message);
  const finish = (fields: Partial<MergeRequest>, action: string, text: string, details: Record<string, unknown> = {}) => {
    const event = db.transaction(
      (tx) => {
        const changed = tx
          .update(mergeRequests)
          .set({ ...fields, decidedBy: actor.label, decidedAt: new Date(), decisionReason: input.reason ?? null })
          .where(and(eq(mergeRequests.id, request.id), inArray(mergeRequests.state, ["pending"])))
          .run();
        if (changed.changes !== 1) throw new DomainError("CONFLICT", "This request was decided meanwhile.");
        appendAudit(tx, actor, {
          action,
          targetType: "run",
          targetId: request.runId,
          details: { mergeRequestId: request.id, repo: request.repoPath, branch: request.branch, reason: input.reason ?? null, ...details },
        });
        return publish(tx, request.runId, { text, mergeRequestId: request.id });
      },
      { behavior: "immediate" },
    );
    announce(event);
    return db.select().from(mergeRequests).where(eq(mergeRequests.id, request.id)).get()!;
  };
  if (input.decision === "deny")
    return finish({ state: "denied" }, "merge.deny", `${actor.label} denied merging into ${request.branch}${input.reason ? `: ${input.reason}` : "."}`);

  const checkpoint = listCheckpointByCommit(db, request.runId, request.commitSha);
  try {
    const plan = planResult(db, request.runId, checkpoint.id);
    const repo = await resolveSourceRepo(request.repoPath);
    await checkNewBranch(repo.gitDir, plan.repo.homeDir, request.branch);
    const result = await withWorkspaceLock(request.runId, async () => {
      const built = await buildResultCommit(plan, commitMessage(db, plan, actor.label));
      const ref = `refs/airlock/merge/${request.id}`;
      const objects: GitTarget = { ...plan.repo, workTree: undefined };
      await runGit(objects, ["update-ref", ref, built.commit]);
      // The objects travel as a bundle, fetched by the repository's owner (so
      // the new files are theirs) with hooks off: only objects and one new
      // ref change in the source repository.
      const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "airlock-merge-"));
      try {
        await fs.chmod(tmp, 0o711);
        const home = path.join(tmp, "home");
        await ensureGitHome(home, 0o755);
        const bundle = path.join(tmp, `${crypto.randomUUID()}.bundle`);
        await runGit(objects, ["bundle", "create", "-q", bundle, ref, `^${plan.base}`]);
        await fs.chmod(bundle, 0o644);
        const owner = await fs.stat(repo.gitDir);
        await runGit(
          { gitDir: repo.gitDir, homeDir: home, asAgent: false, owner: { uid: owner.uid, gid: owner.gid } },
          ["fetch", "-q", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", bundle, `${ref}:refs/heads/${request.branch}`],
          { cwd: repo.gitDir },
        );
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
        await runGit(objects, ["update-ref", "-d", ref]).catch(() => undefined);
      }
      return built;
    });
    return finish(
      { state: "merged", resultCommit: result.commit },
      "merge.approve",
      `${actor.label} approved: the result is commit ${result.commit.slice(0, 12)} on the new branch ${request.branch} of ${request.repoPath}.`,
      {
        commit: result.commit,
        omitted: result.omitted,
      },
    );
  } catch (err) {
    if (err instanceof DomainError && err.code === "CONFLICT" && /already exists/.test(err.message)) throw err;
    return finish(
      { state: "failed", error: (err as Error).message.slice(0, 2000) },
      "merge.failed",
      `Merging into ${request.branch} failed: ${(err as Error).message.slice(0, 300)}`,
    );
  }
}

function listCheckpointByCommit(db: Db, runId: string, commit: string): Checkpoint {
  const row = db
    .select()
    .from(checkpoints)
    .where(and(eq(checkpoints.runId, runId), eq(checkpoints.commitSha, commit)))
    .get();
  if (!row) throw new DomainError("NOT_FOUND", "The checkpoint this request was made for no longer exists.");
  return row;
}
