// A project's policy as versioned YAML documents. A save validates the draft
// completely (syntax, schema, never-matching rules, unsafe regexes, rule
// examples) and refuses it with the exact problems, leaving the stored policy
// unchanged; an accepted save or a restore appends a new version, audited with
// its diff. The gateway reads the version in force through `policyForRun`.
import { and, desc, eq } from "drizzle-orm";
import YAML from "yaml";
import type { Db } from "@/db/client";
import { policyVersions, projects, type PolicyVersion, type Project } from "@/db/schema";
import type { Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { formatProblem, parsePolicy, type Policy, type PolicyProblem } from "@/server/policy";
import { runDraftTask } from "@/server/policy/offthread";
import type { ValidateDraftOutcome } from "@/server/policy/worker/tasks";
import { projectOfRun, requireProject } from "@/server/projects/projects";
import { diffStats, insertPolicyVersionInTx, policyDiff } from "@/server/projects/policy-versions";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** A refused save: the message lists every problem; `problems` carries their lines for editors. */
export class PolicyValidationError extends DomainError {
  constructor(readonly problems: PolicyProblem[]) {
    super(
      "INVALID_INPUT",
      `The policy was not saved (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map(formatProblem).join("\n")}`,
    );
  }
}

// ---------------------------------------------------------------------------
// Reading

const parsedCache = new Map<string, Policy>();
const MAX_CACHED = 64;

/** A stored version was fully validated when saved; reading it only needs the schema. */
function parseStored(projectId: string, version: number, yaml: string): Policy {
  const key = `${projectId}@${version}`;
  const cached = parsedCache.get(key);
  if (cached) return cached;
  const policy = parsePolicy(YAML.parse(yaml, { maxAliasCount: 100 }));
  if (parsedCache.size >= MAX_CACHED) parsedCache.delete(parsedCache.keys().next().value!);
  parsedCache.set(key, policy);
  return policy;
}

export interface CurrentPolicy {
  projectId: string;
  projectSlug: string;
  projectName: string;
  version: number;
  yaml: string;
  comment: string | null;
  createdAt: Date;
  createdBy: string;
  policy: Policy;
}

function versionRow(db: Db | Tx, projectId: string, version: number): PolicyVersion {
  const row = db
    .select()
    .from(policyVersions)
    .where(and(eq(policyVersions.projectId, projectId), eq(policyVersions.version, version)))
    .get();
  if (!row) throw new DomainError("NOT_FOUND", `The project has no policy version ${version}.`);
  return row;
}

function currentOf(db: Db, project: Project): CurrentPolicy {
  const row = versionRow(db, project.id, project.policyVersion);
  return {
    projectId: project.id,
    projectSlug: project.slug,
    projectName: project.name,
    version: row.version,
    yaml: row.yaml,
    comment: row.comment,
    createdAt: row.createdAt,
    createdBy: row.createdByLabel,
    policy: parseStored(project.id, row.version, row.yaml),
  };
}

export function currentPolicy(db: Db, projectId?: string | null): CurrentPolicy {
  return currentOf(db, requireProject(db, projectId));
}

/** The policy the gateway judges a run's calls by: its project's version in force now. */
export function policyForRun(db: Db, run: { projectId: string | null }): { policy: Policy; projectId: string; version: number } {
  const project = projectOfRun(db, run);
  const row = versionRow(db, project.id, project.policyVersion);
  return { policy: parseStored(project.id, row.version, row.yaml), projectId: project.id, version: row.version };
}

export function getPolicyVersion(db: Db, projectId: string | undefined, version: number): PolicyVersion {
  const project = requireProject(db, projectId);
  return versionRow(db, project.id, version);
}

export interface PolicyVersionSummary {
  version: number;
  comment: string | null;
  createdBy: string;
  createdAt: Date;
  restoredFrom: number | null;
  current: boolean;
  added: number;
  removed: number;
}

export function policyHistory(db: Db, projectId?: string | null): PolicyVersionSummary[] {
  const project = requireProject(db, projectId);
  const rows = db.select().from(policyVersions).where(eq(policyVersions.projectId, project.id)).orderBy(desc(policyVersions.version)).all();
  return rows.map((row, i) => {
    const previous = rows[i + 1];
    const stats = diffStats(policyDiff(previous?.yaml ?? "", row.yaml, "a", "b"));
    return {
      version: row.version,
      comment: row.comment,
      createdBy: row.createdByLabel,
      createdAt: row.createdAt,
      restoredFrom: row.restoredFrom,
      current: row.version === project.policyVersion,
      ...stats,
    };
  });
}

// ---------------------------------------------------------------------------
// Changing

export interface DraftCheck {
  ok: boolean;
  problems: PolicyProblem[];
  warnings: PolicyProblem[];
  baseVersion: number;
  /** The draft against the version in force; "" when they are the same. */
  diff: string;
}

/** Checks a draft in the policy worker (server/policy/offthread.ts): problems with their lines, and the diff against the version in force. */
export async function checkDraft(db: Db, input: { projectId?: string | null; yaml: string }, opts: { limitMs?: number } = {}): Promise<DraftCheck> {
  const current = currentPolicy(db, input.projectId);
  const { validation, diff } = await runDraftTask<ValidateDraftOutcome>(
    "validateDraft",
    { yaml: input.yaml, current: { yaml: current.yaml, version: current.version } },
    { limitMs: opts.limitMs },
  );
  return {
    ok: validation.ok,
    problems: validation.ok ? [] : validation.problems,
    warnings: validation.warnings,
    baseVersion: current.version,
    diff,
  };
}

export interface PolicySaveResult {
  projectId: string;
  version: number;
  unchanged: boolean;
  diff: string;
}

/** Checks a draft in the policy worker, off the main thread (checking a preset's examples alone takes about 300 ms). */
async function validateDraftOffThread(yaml: string): Promise<void> {
  const { validation } = await runDraftTask<ValidateDraftOutcome>("validateDraft", { yaml, current: null });
  if (!validation.ok) throw new PolicyValidationError(validation.problems);
}

export async function updatePolicy(
  db: Db,
  actor: Actor,
  input: { projectId?: string | null; yaml: string; comment?: string | null; baseVersion?: number },
): Promise<PolicySaveResult> {
  const project = requireProject(db, input.projectId);
  await validateDraftOffThread(input.yaml);
  return db.transaction(
    (tx) => {
      const fresh = tx.select().from(projects).where(eq(projects.id, project.id)).get()!;
      if (input.baseVersion !== undefined && input.baseVersion !== fresh.policyVersion) {
        throw new DomainError(
          "CONFLICT",
          `Version ${fresh.policyVersion} was saved after the version ${input.baseVersion} you edited; reload the policy, reapply your change and save again. Nothing was saved.`,
        );
      }
      const previous = versionRow(tx, project.id, fresh.policyVersion);
      if (previous.yaml === input.yaml) return { projectId: project.id, version: previous.version, unchanged: true, diff: "" };
      const row = insertPolicyVersionInTx(tx, actor, {
        projectId: project.id,
        yaml: input.yaml,
        comment: input.comment?.trim() || null,
        previousYaml: previous.yaml,
      });
      return {
        projectId: project.id,
        version: row.version,
        unchanged: false,
        diff: policyDiff(previous.yaml, input.yaml, `policy v${previous.version}`, `policy v${row.version}`),
      };
    },
    { behavior: "immediate" },
  );
}

/** Makes an older version current again, as a new version (history is never rewritten). */
export async function restorePolicyVersion(
  db: Db,
  actor: Actor,
  input: { projectId?: string | null; version: number; comment?: string | null },
): Promise<PolicySaveResult> {
  const project = requireProject(db, input.projectId);
  const old = versionRow(db, project.id, input.version);
  if (old.version === project.policyVersion) throw new DomainError("CONFLICT", `Version ${old.version} is already the policy in force.`);
  // Re-validate: a version saved by an older Airlock might not pass today's checks.
  await validateDraftOffThread(old.yaml);
  return db.transaction(
    (tx) => {
      const fresh = tx.select().from(projects).where(eq(projects.id, project.id)).get()!;
      const previous = versionRow(tx, project.id, fresh.policyVersion);
      const row = insertPolicyVersionInTx(tx, actor, {
        projectId: project.id,
        yaml: old.yaml,
        comment: input.comment?.trim() || `Restored version ${old.version}`,
        restoredFrom: old.version,
        previousYaml: previous.yaml,
      });
      return {
        projectId: project.id,
        version: row.version,
        unchanged: false,
        diff: policyDiff(previous.yaml, old.yaml, `policy v${previous.version}`, `policy v${row.version}`),
      };
    },
    { behavior: "immediate" },
  );
}
