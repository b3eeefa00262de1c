// Projects: what a run belongs to. A project holds its policy (versioned, see
// policy-store.ts), the limits and test command its runs start with, the
// documentation search_docs looks in, and who may start runs in it. The
// "default" project exists from first use, so runs created without a project
// (and runs from before projects existed) keep working under it.
import { ENGINE_LABEL } from "@/server/engines/types";
import crypto from "node:crypto";
import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { projectMembers, projects, runs, users, type Project, type ProjectDocSource, type RunLimitsJson } from "@/db/schema";
import { appendAudit, SYSTEM_ACTOR, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { PRESET_NAMES, presetYaml } from "@/server/policy";
import { normaliseWorkspacePath } from "@/server/policy/paths";
import { resolveRunLimits, runLimitsInput } from "@/server/runs/limits";
import { projectRunDenial, type PermissionActor } from "@/lib/permissions";
import { insertPolicyVersionInTx } from "@/server/projects/policy-versions";
import { emitSignal } from "@/server/events/bus";
import { QUEUE_CHANGED_SIGNAL } from "@/server/runs/queue-settings";

export const DEFAULT_PROJECT_ID = "default";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

const slugSchema = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "A project slug is 1–40 lower-case letters, digits and dashes, starting with a letter or digit.");

export const docSourceSchema = z
  .object({
    kind: z.enum(["path", "text"]),
    title: z.string().trim().min(1, "Give each documentation source a title.").max(200),
    path: z.string().trim().max(1000).optional(),
    text: z.string().max(50_000, "A documentation snippet may be at most 50 000 characters.").optional(),
  })
  .strict()
  .superRefine((source, ctx) => {
    if (source.kind === "path") {
      if (!source.path) {
        ctx.addIssue({ code: "custom", path: ["path"], message: "A path source needs a path under the workspace (e.g. docs/)." });
        return;
      }
      const resolved = normaliseWorkspacePath(source.path);
      if (!resolved.ok) ctx.addIssue({ code: "custom", path: ["path"], message: resolved.message });
    } else if (!source.text?.trim()) {
      ctx.addIssue({ code: "custom", path: ["text"], message: "A text source needs its text." });
    }
  });

const projectFields = {
  name: z.string().trim().min(1, "Give the project a name.").max(100),
  description: z.string().trim().max(2000).default(""),
  testCommand: z.string().trim().max(2000).nullish(),
  defaultLimits: runLimitsInput.optional(),
  docSources: z.array(docSourceSchema).max(50).optional(),
  // Escalation (issue 11): a request undecided after this many minutes goes to a second group too; null turns it off.
  escalateAfterMinutes: z
    .number()
    .int("Escalation takes whole minutes.")
    .min(1, "Escalate after at least 1 minute (or turn escalation off).")
    .max(7 * 24 * 60, "Escalate after at most 10080 minutes (7 days).")
    .nullish(),
  escalateTo: z.enum(["admins", "reviewers"]).optional(),
  // Issue 13: at most this many of the project's runs execute at once; null: only the instance's and users' limits.
  maxConcurrentRuns: z
    .number({ message: "maxConcurrentRuns takes a whole number of runs from 1 to 1000, or null for no project limit." })
    .int("maxConcurrentRuns takes a whole number of runs.")
    .min(1, "maxConcurrentRuns must allow at least 1 run (null removes the project's limit).")
    .max(1000, "maxConcurrentRuns may be at most 1000 (null removes the project's limit).")
    .nullish(),
  // Issue 13: "runsc" = the project's runs require gVisor (they fail rather than run on runc); null = no requirement.
  runtime: z
    .enum(["runsc"], {
      error: (issue) =>
        `runtime must be "runsc" (the project's runs require gVisor) or null (no requirement), got ${typeof issue.input === "string" ? JSON.stringify(issue.input.slice(0, 50)) : typeof issue.input === "bigint" ? "a bigint" : JSON.stringify(issue.input)?.slice(0, 50)}. runc needs no requirement: AIRLOCK_RUNTIME decides.`,
    })
    .nullish(),
  // Issue 17: a run of the project goes only to an engine carrying every one of these labels ([]: any engine).
  engineLabels: z
    .array(
      z
        .string()
        .trim()
        .regex(
          ENGINE_LABEL,
          "An engine label is 1 to 40 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. gpu, big-memory).",
        ),
    )
    .max(16, "A project may require at most 16 engine labels.")
    .transform((labels) => [...new Set(labels)])
    .optional(),
};

export const createProjectInput = z
  .object({
    slug: slugSchema,
    ...projectFields,
    preset: z.enum(PRESET_NAMES).default("supervised"),
  })
  .strict();

export const updateProjectInput = z
  .object({
    id: z.string().min(1),
    name: projectFields.name.optional(),
    description: z.string().trim().max(2000).optional(),
    testCommand: projectFields.testCommand,
    defaultLimits: runLimitsInput.optional(),
    docSources: projectFields.docSources,
    escalateAfterMinutes: projectFields.escalateAfterMinutes,
    escalateTo: projectFields.escalateTo,
    maxConcurrentRuns: projectFields.maxConcurrentRuns,
    runtime: projectFields.runtime,
    engineLabels: projectFields.engineLabels,
  })
  .strict();

function checkLimits(limits: Partial<RunLimitsJson> | undefined): Partial<RunLimitsJson> {
  if (!limits) return {};
  try {
    resolveRunLimits(limits);
  } catch (err) {
    throw new DomainError("INVALID_INPUT", (err as Error).message);
  }
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Partial<RunLimitsJson>;
}

function normaliseDocSources(sources: ProjectDocSource[] | undefined): ProjectDocSource[] {
  return (sources ?? []).map((s) =>
    s.kind === "path"
      ? { kind: "path", title: s.title, path: (normaliseWorkspacePath(s.path!) as { path: string }).path }
      : { kind: "text", title: s.title, text: s.text! },
  );
}

function insertProjectInTx(
  tx: Tx,
  actor: Actor,
  values: {
    id: string;
    slug: string;
    name: string;
    description: string;
    testCommand: string | null;
    defaultLimits: Partial<RunLimitsJson>;
    docSources: ProjectDocSource[];
    escalateAfterMinutes?: number | null;
    escalateTo?: "admins" | "reviewers";
    maxConcurrentRuns?: number | null;
    runtime?: "runsc" | null;
    engineLabels?: string[];
  },
  preset: (typeof PRESET_NAMES)[number],
): Project {
  const now = new Date();
  tx.insert(projects)
    .values({ ...values, policyVersion: 0, createdBy: actor.userId, updatedAt: now })
    .run();
  appendAudit(tx, actor, {
    action: "project.create",
    targetType: "project",
    targetId: values.id,
    details: {
      slug: values.slug,
      name: values.name,
      preset,
      ...(values.runtime ? { runtime: values.runtime } : {}),
      ...(values.engineLabels?.length ? { engineLabels: values.engineLabels } : {}),
    },
  });
  insertPolicyVersionInTx(tx, actor, { projectId: values.id, yaml: presetYaml(preset), comment: `Started from the ${preset} preset`, previousYaml: null });
  return tx.select().from(projects).where(eq(projects.id, values.id)).get()!;
}

/** The default project, created (with the supervised policy) the first time anything needs it. */
export function ensureDefaultProject(db: Db): Project {
  const existing = db.select().from(projects).where(eq(projects.id, DEFAULT_PROJECT_ID)).get();
  if (existing) return existing;
  return db.transaction(
    (tx) => {
      const again = tx.select().from(projects).where(eq(projects.id, DEFAULT_PROJECT_ID)).get();
      if (again) return again;
      return insertProjectInTx(
        tx,
        SYSTEM_ACTOR,
        {
          id: DEFAULT_PROJECT_ID,
          slug: "default",
          name: "Default",
          description: "Runs started without a project belong here.",
          testCommand: null,
          defaultLimits: {},
          docSources: [],
        },
        "supervised",
      );
    },
    { behavior: "immediate" },
  );
}

/** A project by id or slug; the default project for none. */
export function requireProject(db: Db, idOrSlug?: string | null): Project {
  if (!idOrSlug || idOrSlug === DEFAULT_PROJECT_ID) return ensureDefaultProject(db);
  const row = db.select().from(projects).where(eq(projects.id, idOrSlug)).get() ?? db.select().from(projects).where(eq(projects.slug, idOrSlug)).get();
  if (!row)
    throw new DomainError("NOT_FOUND", `No project ${idOrSlug}. Admins create projects on the Projects page (or leave projectId out for the default project).`);
  return row;
}

/** The project a run belongs to (runs from before projects existed belong to the default one). */
export function projectOfRun(db: Db, run: { projectId: string | null }): Project {
  if (!run.projectId) return ensureDefaultProject(db);
  return db.select().from(projects).where(eq(projects.id, run.projectId)).get() ?? ensureDefaultProject(db);
}

export function createProject(db: Db, actor: Actor, raw: z.input<typeof createProjectInput>): Project {
  const input = createProjectInput.parse(raw);
  const taken = db.select({ id: projects.id }).from(projects).where(eq(projects.slug, input.slug)).get();
  if (taken || input.slug === DEFAULT_PROJECT_ID) throw new DomainError("CONFLICT", `A project with the slug ${input.slug} already exists.`);
  const limits = checkLimits(input.defaultLimits);
  return db.transaction(
    (tx) =>
      insertProjectInTx(
        tx,
        actor,
        {
          id: crypto.randomUUID(),
          slug: input.slug,
          name: input.name,
          description: input.description,
          testCommand: input.testCommand || null,
          defaultLimits: limits,
          docSources: normaliseDocSources(input.docSources),
          escalateAfterMinutes: input.escalateAfterMinutes ?? null,
          escalateTo: input.escalateTo ?? "admins",
          maxConcurrentRuns: input.maxConcurrentRuns ?? null,
          runtime: input.runtime ?? null,
          engineLabels: input.engineLabels ?? [],
        },
        input.preset,
      ),
    { behavior: "immediate" },
  );
}

export function updateProject(db: Db, actor: Actor, raw: z.input<typeof updateProjectInput>): Project {
  const input = updateProjectInput.parse(raw);
  const project = requireProject(db, input.id);
  const changes: Partial<typeof projects.$inferInsert> = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.description !== undefined) changes.description = input.description;
  if (input.testCommand !== undefined) changes.testCommand = input.testCommand || null;
  if (input.defaultLimits !== undefined) changes.defaultLimits = checkLimits(input.defaultLimits);
  if (input.docSources !== undefined) changes.docSources = normaliseDocSources(input.docSources);
  if (input.escalateAfterMinutes !== undefined) changes.escalateAfterMinutes = input.escalateAfterMinutes;
  if (input.escalateTo !== undefined) changes.escalateTo = input.escalateTo;
  if (input.maxConcurrentRuns !== undefined) changes.maxConcurrentRuns = input.maxConcurrentRuns;
  if (input.runtime !== undefined) changes.runtime = input.runtime;
  if (input.engineLabels !== undefined) changes.engineLabels = input.engineLabels;
  if (Object.keys(changes).length === 0) return project;
  const updated = db.transaction(
    (tx) => {
      tx.update(projects)
        .set({ ...changes, updatedAt: new Date() })
        .where(eq(projects.id, project.id))
        .run();
      appendAudit(tx, actor, {
        action: "project.update",
        targetType: "project",
        targetId: project.id,
        details: { slug: project.slug, changed: Object.keys(changes), ...changes },
      });
      return tx.select().from(projects).where(eq(projects.id, project.id)).get()!;
    },
    { behavior: "immediate" },
  );
  // A raised (or removed) limit lets waiting runs of the project start now.
  // So do changed engine labels: its waiting runs may fit another engine now.
  if ("maxConcurrentRuns" in changes || "engineLabels" in changes) emitSignal(QUEUE_CHANGED_SIGNAL, null);
  return updated;
}

export interface ProjectMemberView {
  userId: string;
  email: string;
  role: string;
  addedAt: Date;
}

export interface ProjectView {
  id: string;
  slug: string;
  name: string;
  description: string;
  testCommand: string | null;
  defaultLimits: Partial<RunLimitsJson>;
  docSources: ProjectDocSource[];
  policyVersion: number;
  /** Minutes before an undecided request is escalated (null: never) and to whom. */
  escalateAfterMinutes: number | null;
  escalateTo: "admins" | "reviewers";
  /** Issue 13: at most this many of the project's runs execute at once (null: no project limit). */
  maxConcurrentRuns: number | null;
  /** "runsc": the project's runs require gVisor; null: AIRLOCK_RUNTIME decides. */
  runtime: "runsc" | null;
  /** Issue 17: labels an engine must carry for the project's runs ([]: any engine). */
  engineLabels: string[];
  isDefault: boolean;
  runCount: number;
  members: ProjectMemberView[];
  createdAt: Date;
  updatedAt: Date;
}

function membersOf(db: Db, projectId: string): ProjectMemberView[] {
  return db
    .select({ userId: projectMembers.userId, email: users.email, role: users.role, addedAt: projectMembers.createdAt })
    .from(projectMembers)
    .innerJoin(users, eq(users.id, projectMembers.userId))
    .where(eq(projectMembers.projectId, projectId))
    .orderBy(asc(users.email))
    .all();
}

function runCountOf(db: Db, projectId: string): number {
  const condition = projectId === DEFAULT_PROJECT_ID ? sql`(${runs.projectId} = ${projectId} or ${runs.projectId} is null)` : eq(runs.projectId, projectId);
  return (
    db
      .select({ n: sql<number>`count(*)` })
      .from(runs)
      .where(condition)
      .get()?.n ?? 0
  );
}

function toView(db: Db, p: Project): ProjectView {
  return {
    id: p.id,
    slug: p.slug,
    name: p.name,
    description: p.description,
    testCommand: p.testCommand,
    defaultLimits: p.defaultLimits,
    docSources: p.docSources,
    policyVersion: p.policyVersion,
    escalateAfterMinutes: p.escalateAfterMinutes,
    escalateTo: p.escalateTo,
    maxConcurrentRuns: p.maxConcurrentRuns,
    runtime: p.runtime ?? null,
    engineLabels: p.engineLabels ?? [],
    isDefault: p.id === DEFAULT_PROJECT_ID,
    runCount: runCountOf(db, p.id),
    members: membersOf(db, p.id),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

export function listProjects(db: Db): ProjectView[] {
  ensureDefaultProject(db);
  const rows = db.select().from(projects).orderBy(asc(projects.createdAt)).all();
  return rows.map((p) => toView(db, p));
}

export function getProjectView(db: Db, idOrSlug: string | undefined): ProjectView {
  return toView(db, requireProject(db, idOrSlug));
}

export function addProjectMember(db: Db, actor: Actor, input: { projectId: string; email: string }): ProjectView {
  const project = requireProject(db, input.projectId);
  const user = db.select().from(users).where(eq(users.email, input.email.trim().toLowerCase())).get();
  if (!user) throw new DomainError("NOT_FOUND", `No user with email ${input.email}. Admins add users in Settings.`);
  const already = db
    .select()
    .from(projectMembers)
    .where(and(eq(projectMembers.projectId, project.id), eq(projectMembers.userId, user.id)))
    .get();
  if (already) throw new DomainError("CONFLICT", `${user.email} is already a member of ${project.name}.`);
  db.transaction(
    (tx) => {
      tx.insert(projectMembers).values({ projectId: project.id, userId: user.id, addedBy: actor.userId }).run();
      appendAudit(tx, actor, { action: "project.member.add", targetType: "project", targetId: project.id, details: { userId: user.id, email: user.email } });
    },
    { behavior: "immediate" },
  );
  return toView(db, project);
}

export function removeProjectMember(db: Db, actor: Actor, input: { projectId: string; userId: string }): ProjectView {
  const project = requireProject(db, input.projectId);
  db.transaction(
    (tx) => {
      const removed = tx
        .delete(projectMembers)
        .where(and(eq(projectMembers.projectId, project.id), eq(projectMembers.userId, input.userId)))
        .run();
      if (removed.changes === 0) throw new DomainError("NOT_FOUND", "That user is not a member of this project.");
      appendAudit(tx, actor, { action: "project.member.remove", targetType: "project", targetId: project.id, details: { userId: input.userId } });
    },
    { behavior: "immediate" },
  );
  return toView(db, project);
}

/** Admins may start runs anywhere; others in projects that list no members, or that list them (the rule: lib/permissions.ts). */
export function assertMayStartRunIn(db: Db, project: Project, user: PermissionActor | null): void {
  const memberIds = user
    ? db
        .select({ userId: projectMembers.userId })
        .from(projectMembers)
        .where(eq(projectMembers.projectId, project.id))
        .all()
        .map((m) => m.userId)
    : [];
  const denied = projectRunDenial(user, { name: project.name, memberIds });
  if (denied) throw new DomainError(denied.code, denied.message);
}
