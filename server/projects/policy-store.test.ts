import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { desc, eq } from "drizzle-orm";
import { auditEvents, runs } from "@/db/schema";
import { presetYaml } from "@/server/policy";
import { createModel } from "@/server/models/models";
import { stopPolicyWorkers } from "@/server/policy/offthread";
import { currentPolicy, policyForRun, policyHistory, restorePolicyVersion, updatePolicy, PolicyValidationError } from "@/server/projects/policy-store";
import {
  addProjectMember,
  createProject,
  DEFAULT_PROJECT_ID,
  ensureDefaultProject,
  getProjectView,
  listProjects,
  updateProject,
} from "@/server/projects/projects";
import { createRun } from "@/server/runs/runs";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";

let t: TestDb;
let admin: PublicUser;
let operator: PublicUser;
let modelId: string;

beforeAll(async () => {
  t = createTestDb();
  admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  modelId = createModel(t.db, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
});
afterAll(async () => {
  t?.close();
  await stopPolicyWorkers();
});

const lastAudit = () => t.db.select().from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1).get()!;

describe("projects", () => {
  it("the default project exists from first use, with the supervised policy as version 1", () => {
    const project = ensureDefaultProject(t.db);
    expect(project).toMatchObject({ id: DEFAULT_PROJECT_ID, slug: "default", policyVersion: 1 });
    expect(currentPolicy(t.db).yaml).toBe(presetYaml("supervised"));
    expect(ensureDefaultProject(t.db).id).toBe(DEFAULT_PROJECT_ID);
  });

  it("a run created without a project belongs to the default one, and old runs without one are judged by it", () => {
    const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "t", task: "x", modelId });
    expect(run.projectId).toBe(DEFAULT_PROJECT_ID);
    t.db.update(runs).set({ projectId: null }).where(eq(runs.id, run.id)).run();
    expect(policyForRun(t.db, { projectId: null })).toMatchObject({ projectId: DEFAULT_PROJECT_ID, version: currentPolicy(t.db).version });
  });

  it("a project's runs start with its limits and test command, and use its policy", () => {
    const project = createProject(t.db, actorOf(admin), {
      slug: "web",
      name: "Web",
      preset: "trusted",
      testCommand: "npm test",
      defaultLimits: { commandTimeoutS: 60 },
    });
    const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "t", task: "x", modelId, projectId: "web" });
    expect(run).toMatchObject({ projectId: project.id, testCommand: "npm test" });
    expect(run.limits.commandTimeoutS).toBe(60);
    expect(policyForRun(t.db, run).policy.id).toBe("trusted");
    const own = createRun(
      t.db,
      { ...actorOf(operator), userId: operator.id },
      { title: "t", task: "x", modelId, projectId: project.id, testCommand: "make check", limits: { commandTimeoutS: 30 } },
    );
    expect(own).toMatchObject({ testCommand: "make check" });
    expect(own.limits.commandTimeoutS).toBe(30);
  });

  it("refuses limits above Airlock's ceiling and documentation paths outside the workspace", () => {
    expect(() => createProject(t.db, actorOf(admin), { slug: "big", name: "Big", defaultLimits: { memoryMb: 999_999 } })).toThrow(/memoryMb may be at most/);
    expect(() => updateProject(t.db, actorOf(admin), { id: "web", docSources: [{ kind: "path", title: "etc", path: "../../etc" }] })).toThrow(
      /outside \/workspace/,
    );
  });

  it("only members may start runs in a project that lists members; admins always may", async () => {
    const other = await addUser(t.db, "operator");
    createProject(t.db, actorOf(admin), { slug: "secret", name: "Secret" });
    addProjectMember(t.db, actorOf(admin), { projectId: "secret", email: operator.email });
    expect(() => createRun(t.db, { ...actorOf(other), userId: other.id }, { title: "t", task: "x", modelId, projectId: "secret" })).toThrow(
      /Only members of the project Secret/,
    );
    expect(createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "t", task: "x", modelId, projectId: "secret" }).projectId).toBe(
      getProjectView(t.db, "secret").id,
    );
    expect(createRun(t.db, { ...actorOf(admin), userId: admin.id }, { title: "t", task: "x", modelId, projectId: "secret" })).toBeTruthy();
    expect(getProjectView(t.db, "secret").members.map((m) => m.email)).toEqual([operator.email]);
  });

  it("lists projects with their policy version and run count", () => {
    const web = listProjects(t.db).find((p) => p.slug === "web")!;
    expect(web).toMatchObject({ policyVersion: 1, runCount: 2, isDefault: false });
  });
});

describe("versioned policies", () => {
  it("a save appends a version, audited with its diff", async () => {
    const before = currentPolicy(t.db, "web");
    const yaml = before.yaml.replace("name: Trusted", "name: Trusted web");
    const saved = await updatePolicy(t.db, actorOf(admin), { projectId: "web", yaml, comment: "rename", baseVersion: before.version });
    expect(saved).toMatchObject({ version: before.version + 1, unchanged: false });
    expect(saved.diff).toContain("-name: Trusted\n+name: Trusted web");
    expect(lastAudit()).toMatchObject({ action: "policy.update", targetId: getProjectView(t.db, "web").id });
    expect(JSON.parse(lastAudit().details)).toMatchObject({ version: saved.version, comment: "rename", added: 1, removed: 1 });
    expect(currentPolicy(t.db, "web")).toMatchObject({ version: saved.version, yaml });
  });

  it.each([
    ["a YAML syntax error", (y: string) => y.replace("rules:", "rules: [")],
    ["an unknown field", (y: string) => y.replace("    match:\n      programs: [rm]", "    match:\n      programz: [rm]")],
    ["an unknown tool", (y: string) => y.replace("tools: [install_package]", "tools: [install_pkg]")],
    ["a rule that can never match", (y: string) => y.replace("      programs: [rm]\n", "      programs: [./rm]\n")],
    ["a regex the linear-time engine cannot run", (y: string) => y.replace("anyArg: [", "anyArg: ['(a)\\1', ")],
    ["a contradicted example", (y: string) => y.replace("expect: deny", "expect: allow")],
  ])("%s is refused and the stored policy stays as it was", async (_name, breakIt) => {
    const before = currentPolicy(t.db, "web");
    const draft = breakIt(before.yaml);
    expect(draft).not.toBe(before.yaml);
    let error: unknown;
    try {
      await updatePolicy(t.db, actorOf(admin), { projectId: "web", yaml: draft });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyValidationError);
    expect((error as PolicyValidationError).message).toMatch(/^The policy was not saved \(\d+ problems?\):\nline \d+, column \d+: /);
    expect(currentPolicy(t.db, "web")).toMatchObject({ version: before.version, yaml: before.yaml });
  });

  it("a save based on an older version is refused", async () => {
    const current = currentPolicy(t.db, "web");
    await expect(updatePolicy(t.db, actorOf(admin), { projectId: "web", yaml: `${current.yaml}\n# x\n`, baseVersion: current.version - 1 })).rejects.toThrow(
      /was saved after the version/,
    );
  });

  it("saving the same text again creates no version", async () => {
    const current = currentPolicy(t.db, "web");
    expect(await updatePolicy(t.db, actorOf(admin), { projectId: "web", yaml: current.yaml })).toMatchObject({ version: current.version, unchanged: true });
  });

  it("restoring an older version appends it as a new version; history is never rewritten", async () => {
    const restored = await restorePolicyVersion(t.db, actorOf(admin), { projectId: "web", version: 1 });
    expect(currentPolicy(t.db, "web").yaml).toBe(presetYaml("trusted"));
    const history = policyHistory(t.db, "web");
    expect(history.map((h) => h.version)).toEqual([restored.version, restored.version - 1, 1]);
    expect(history[0]).toMatchObject({ current: true, restoredFrom: 1, comment: "Restored version 1" });
    expect(lastAudit()).toMatchObject({ action: "policy.restore" });
    await expect(restorePolicyVersion(t.db, actorOf(admin), { projectId: "web", version: restored.version })).rejects.toThrow(/already the policy in force/);
  });
});
