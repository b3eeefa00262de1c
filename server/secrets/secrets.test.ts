import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { auditEvents, models, runs, secrets } from "@/db/schema";
import { verifyAuditChain } from "@/server/audit/chain";
import { createProject } from "@/server/projects/projects";
import { DEFAULT_RUN_LIMITS } from "@/server/runs/limits";
import { createSecret, deleteSecret, findSecretForRun, grantSecret, listSecrets, secretsForRun, updateSecret } from "@/server/secrets/secrets";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";
import type { PublicUser } from "@/server/users/users";

const VALUE = "tok_live_abcdefghijklmnop";
const ROTATED = "tok_live_rotated_qrstuvwx";
let t: TestDb;
let admin: PublicUser;

beforeEach(async () => {
  t = createTestDb();
  admin = await addUser(t.db, "admin");
});
afterEach(() => t.close());

function everything(): string {
  // The whole database file as text: the value must appear nowhere in it, encrypted or not.
  t.db.$client.pragma("wal_checkpoint(TRUNCATE)");
  return fs.readFileSync(t.file).toString("latin1") + JSON.stringify(t.db.select().from(auditEvents).all()) + JSON.stringify(listSecrets(t.db));
}

function addRun(id: string, projectId: string | null = null) {
  t.db
    .insert(models)
    .values({ id: `m-${id}`, name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" })
    .run();
  t.db
    .insert(runs)
    .values({
      id,
      title: "r",
      task: "t",
      modelId: `m-${id}`,
      state: "running",
      createdBy: admin.id,
      limits: DEFAULT_RUN_LIMITS,
      projectId,
      updatedAt: new Date(),
    })
    .run();
  return { id, projectId };
}

describe("the secret store", () => {
  it("stores the value encrypted and never returns it from list or puts it in the audit trail", () => {
    const { id } = createSecret(t.db, actorOf(admin), { name: "NPM_TOKEN", value: VALUE, description: "publish" });

    const stored = t.db.select().from(secrets).where(eq(secrets.id, id)).get()!;
    expect(stored.valueEnc).not.toContain(VALUE);
    expect(listSecrets(t.db)).toEqual([
      expect.objectContaining({ id, name: "NPM_TOKEN", description: "publish", projectId: null, createdBy: admin.id, grants: 0 }),
    ]);
    expect(Object.keys(listSecrets(t.db)[0]!)).not.toContain("value");
    expect(everything()).not.toContain(VALUE);
    expect(
      t.db
        .select()
        .from(auditEvents)
        .all()
        .map((e) => e.action),
    ).toContain("secret.create");
  });

  it("rotates, updates and deletes with an audit event each, never recording a value", () => {
    const { id } = createSecret(t.db, actorOf(admin), { name: "API_KEY", value: VALUE });
    const rotated = updateSecret(t.db, actorOf(admin), { id, value: ROTATED });
    expect(rotated.rotatedAt).toBeInstanceOf(Date);
    updateSecret(t.db, actorOf(admin), { id, description: "new words" });
    deleteSecret(t.db, actorOf(admin), { id });

    expect(listSecrets(t.db)).toEqual([]);
    const actions = t.db
      .select()
      .from(auditEvents)
      .all()
      .map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["secret.create", "secret.rotate", "secret.update", "secret.delete"]));
    const text = everything();
    expect(text).not.toContain(VALUE);
    expect(text).not.toContain(ROTATED);
    expect(verifyAuditChain(t.db).ok).toBe(true);
  });

  it("refuses bad names, short values and a second secret of the same name in the same scope", () => {
    expect(() => createSecret(t.db, actorOf(admin), { name: "1BAD", value: VALUE })).toThrow(/environment variables/);
    expect(() => createSecret(t.db, actorOf(admin), { name: "SHORT", value: "abc" })).toThrow(/at least 8/);
    createSecret(t.db, actorOf(admin), { name: "DUP", value: VALUE });
    expect(() => createSecret(t.db, actorOf(admin), { name: "DUP", value: VALUE })).toThrow(/already exists/);
  });

  it("gives a run its project's own secret before the one for all projects", () => {
    const project = createProject(t.db, actorOf(admin), { slug: "web", name: "Web" });
    createSecret(t.db, actorOf(admin), { name: "TOKEN", value: "global-value-123" });
    createSecret(t.db, actorOf(admin), { name: "TOKEN", value: "project-value-456", projectId: "web" });
    const inProject = addRun("r1", project.id);
    const elsewhere = addRun("r2");

    const forProject = findSecretForRun(t.db, inProject, "TOKEN")!;
    grantSecret(t.db, actorOf(admin), { runId: inProject.id, secret: forProject, toolCallId: null, approvalId: null, grantedBy: admin.id });
    grantSecret(t.db, actorOf(admin), {
      runId: elsewhere.id,
      secret: findSecretForRun(t.db, elsewhere, "TOKEN")!,
      toolCallId: null,
      approvalId: null,
      grantedBy: admin.id,
    });

    expect(secretsForRun(t.db, inProject.id).env).toEqual({ TOKEN: "project-value-456" });
    expect(secretsForRun(t.db, elsewhere.id).env).toEqual({ TOKEN: "global-value-123" });
    expect(findSecretForRun(t.db, elsewhere, "NOPE")).toBeNull();
  });

  it("grants a secret to a run once, audited, and a rotation reaches the run's next command", () => {
    const { id } = createSecret(t.db, actorOf(admin), { name: "API_KEY", value: VALUE });
    const run = addRun("r1");
    const secret = findSecretForRun(t.db, run, "API_KEY")!;
    expect(grantSecret(t.db, actorOf(admin), { runId: run.id, secret, toolCallId: "c1", approvalId: "a1", grantedBy: admin.id }).alreadyGranted).toBe(false);
    expect(grantSecret(t.db, actorOf(admin), { runId: run.id, secret, toolCallId: "c2", approvalId: "a2", grantedBy: admin.id }).alreadyGranted).toBe(true);
    expect(listSecrets(t.db)[0]!.grants).toBe(1);

    updateSecret(t.db, actorOf(admin), { id, value: ROTATED });
    expect(secretsForRun(t.db, run.id).env).toEqual({ API_KEY: ROTATED });
    expect(secretsForRun(t.db, run.id).redactor.redact(`x ${ROTATED}`)).toBe("x [secret:API_KEY]");
    const grant = t.db
      .select()
      .from(auditEvents)
      .all()
      .find((e) => e.action === "secret.grant")!;
    expect(JSON.parse(grant.details)).toMatchObject({ name: "API_KEY", runId: "r1", approvalId: "a1" });
    expect(everything()).not.toContain(VALUE);
  });

  it("keeps redacting a value the run was given after the secret is rotated or deleted, without storing it in the clear", () => {
    const { id } = createSecret(t.db, actorOf(admin), { name: "API_KEY", value: VALUE });
    const run = addRun("r1");
    const other = addRun("r2");
    grantSecret(t.db, actorOf(admin), {
      runId: run.id,
      secret: findSecretForRun(t.db, run, "API_KEY")!,
      toolCallId: null,
      approvalId: null,
      grantedBy: admin.id,
    });
    expect(secretsForRun(t.db, run.id).env).toEqual({ API_KEY: VALUE }); // the run's commands got VALUE

    updateSecret(t.db, actorOf(admin), { id, value: ROTATED });
    const afterRotation = secretsForRun(t.db, run.id);
    expect(afterRotation.env).toEqual({ API_KEY: ROTATED });
    expect(afterRotation.redactor.redact(`old ${VALUE} new ${ROTATED}`)).toBe("old [secret:API_KEY] new [secret:API_KEY]");

    deleteSecret(t.db, actorOf(admin), { id });
    const afterDelete = secretsForRun(t.db, run.id);
    expect(afterDelete.env).toEqual({});
    expect(afterDelete.redactor.redact(`old ${VALUE} new ${ROTATED}`)).toBe("old [secret:API_KEY] new [secret:API_KEY]");
    // Only for the run that was given them.
    expect(secretsForRun(t.db, other.id).redactor.redact(`old ${VALUE}`)).toBe(`old ${VALUE}`);
    expect(everything()).not.toContain(VALUE);
    expect(everything()).not.toContain(ROTATED);
  });
});
