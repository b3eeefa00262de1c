// Backups as a user takes them: `airlock backup`, `backup --verify` and
// `airlock restore` in their own processes against a data directory a
// supervisor is using right now (real Docker, git and SQLite, the scripted
// model server): one run finished, one running a command, one waiting for its
// plan's approval. The restored copy is then started as a server would start
// (test/helpers/restored-instance.ts) and looked at.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@/db/client";
import { toolCalls } from "@/db/schema";
import type { BackupManifest } from "@/server/backup/manifest";
import { createRun } from "@/server/runs/runs";
import { authSecret } from "@/server/auth/secret";
import { createSecret } from "@/server/secrets/secrets";
import { storeUpload } from "@/server/workspace/uploads";
import { buildTarGz } from "@/test/helpers/archives";
import { setSupervisor, type Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import {
  approveEverything,
  getRun,
  newSupervisor,
  registerModel,
  requireDocker,
  roomyQueue,
  stopSupervisor,
  waitFor,
  waitForPendingApproval,
  waitForState,
} from "@/test/helpers/runs";
import { actorOf, addUser } from "@/test/helpers/users";

const exec = promisify(execFile);
const SECRET_VALUE = "npm-secret-value-for-backup";

let dataDir: string;
let database: Db;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];
const stoppers: (() => void)[] = [];
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-backup-test-"));
const backupDir = path.join(scratch, "backup");
let finishedRun: string;
let activeRun: string;
let waitingRun: string;
let backupMs = 0;
let uploadId: string;

const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
const plan = (): ScriptStep => call("submit_plan", { steps: [{ title: "step 1", risk: "low", risk_note: "workspace only" }] });
const finish = (): ScriptStep => call("finish", { summary: "done", status: "success" });

async function airlock(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await exec("bin/airlock", args, { env: { ...process.env, ...env }, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, out: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}

const onSource = (...args: string[]) => airlock({ AIRLOCK_DATA_DIR: dataDir }, ...args);

async function launch(script: ScriptStep[], approve: boolean): Promise<string> {
  const server = await startScriptedModelServer(script);
  servers.push(server);
  const run = createRun(
    database,
    { ...actorOf(operator), userId: operator.id },
    { title: "backup test", task: "do it", modelId: registerModel(database, admin, server.baseUrl) },
  );
  supervisor.launch(run.id);
  if (approve) stoppers.push(approveEverything(database, run.id, reviewer));
  return run.id;
}

/** A copy of the backup to damage, so each case starts from the intact one. */
function copyOfBackup(name: string): string {
  const dir = path.join(scratch, name);
  fs.cpSync(backupDir, dir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  return dir;
}

/** Every entry under `dir` with its content, to show that nothing changed. */
function snapshotOf(dir: string): string {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const p = path.join(dir, rel, name);
      const st = fs.lstatSync(p);
      out.push(`${path.join(rel, name)} ${st.mode} ${st.size} ${st.isFile() ? fs.readFileSync(p, "base64") : ""}`);
      if (st.isDirectory()) walk(path.join(rel, name));
    }
  };
  walk("");
  return out.join("\n");
}

function readManifest(dir = backupDir): BackupManifest {
  return JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as BackupManifest;
}

beforeAll(async () => {
  await requireDocker();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-backup-src-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
  database = (await import("@/db/client")).db();
  roomyQueue(database);
  supervisor = newSupervisor(database, dataDir);
  setSupervisor(supervisor);
  await supervisor.start();
  admin = await addUser(database, "admin");
  operator = await addUser(database, "operator");
  reviewer = await addUser(database, "reviewer");
  createSecret(database, actorOf(admin), { name: "NPM_TOKEN", value: SECRET_VALUE, description: "for the backup test" });
  authSecret(); // the dashboard makes it at its first sign-in
  const archive = buildTarGz([{ name: "app/readme.txt", content: "uploaded\n" }]);
  uploadId = (await storeUpload(database, { ...actorOf(operator), userId: operator.id }, dataDir, Readable.from([archive]), "app.tar.gz")).id;

  finishedRun = await launch([plan(), call("write_file", { path: "done.txt", content: "finished work\n" }), finish()], true);
  activeRun = await launch(
    [
      plan(),
      call("write_file", { path: "a.txt", content: "before the command\n" }),
      call("run_command", { command: "echo partial > partial.txt; sleep 110" }),
      // Commands stop at 120 s (the largest limit): more of them keep the run busy until the last test looks at it.
      ...Array.from({ length: 6 }, () => call("run_command", { command: "sleep 110" })),
    ],
    true,
  );
  waitingRun = await launch([plan(), finish()], false);
  await waitForState(database, finishedRun, "succeeded", 120_000);
  await waitForPendingApproval(database, waitingRun, "plan", 120_000);
  await waitFor(
    "the active run's command to be executing",
    () =>
      database
        .select()
        .from(toolCalls)
        .where(eq(toolCalls.runId, activeRun))
        .all()
        .some((c) => c.tool === "run_command" && c.state === "executing") && fs.existsSync(path.join(dataDir, "workspaces", activeRun, "partial.txt")),
    120_000,
  );
}, 300_000);

afterAll(async () => {
  for (const stop of stoppers) stop();
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  database?.$client.close();
  fs.rmSync(scratch, { recursive: true, force: true });
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("airlock backup", () => {
  it("B1: a backup taken while a run executes a command and another waits for approval holds the database, keys, workspaces and checkpoints, and names the active runs", async () => {
    const started = Date.now();
    const r = await onSource("backup", backupDir);
    backupMs = Date.now() - started;
    expect(r.code, r.out).toBe(0);
    const manifest = readManifest();
    console.log(
      `backup of the test world: ${backupMs} ms wall (manifest: ${manifest.durationMs} ms), ${manifest.files.length} entries, ${manifest.totalBytes} bytes`,
    );
    expect(manifest.formatVersion).toBe(1);
    expect(manifest.schemaMigration).toMatch(/^\d{4}_/);
    expect(manifest.audit.count).toBeGreaterThan(10);
    expect(manifest.audit.sealed).toBe(true);
    const active = new Map(manifest.runs.active.map((a) => [a.id, a]));
    expect(active.get(activeRun)).toMatchObject({ state: "running", frozen: true, workspace: true });
    expect(active.get(waitingRun)).toMatchObject({ state: "awaiting_plan_approval", frozen: true });
    expect(active.has(finishedRun)).toBe(false);
    const paths = new Set(manifest.files.map((f) => f.path));
    for (const p of [
      "data/airlock.db",
      "data/keys/audit.key",
      "data/keys/secrets.key",
      "data/keys/auth-secret",
      `data/workspaces/${finishedRun}/done.txt`,
      `data/workspaces/${activeRun}/partial.txt`,
      `data/checkpoints/${finishedRun}.git/HEAD`,
      `data/checkpoints/${activeRun}.git/HEAD`,
      `data/uploads/${uploadId}`,
    ]) {
      expect(paths.has(p) ? p : `${p} missing`).toBe(p);
    }
    expect([...paths].some((p) => p.endsWith(".lock") || p.includes("/.home"))).toBe(false);
    // The backup only paused the sandboxes: the run goes on.
    const { stdout } = await exec("docker", ["inspect", "-f", "{{.State.Status}}", getRun(database, activeRun).containerId!]);
    expect(stdout.trim()).toBe("running");
    expect(getRun(database, activeRun).state).toBe("running");
    expect(fs.statSync(backupDir).mode & 0o777).toBe(0o700);
  }, 180_000);

  it("B1: backup --verify passes on the intact backup", async () => {
    const r = await onSource("backup", "--verify", backupDir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/backup OK/);
  }, 120_000);

  it("B3: a backup into a directory that is not empty is refused and writes nothing", async () => {
    const r = await onSource("backup", backupDir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/is not empty/);
    expect(r.out).toMatch(/nothing was written/);
    expect((await onSource("backup", "--verify", backupDir)).code).toBe(0);
  }, 120_000);
});

describe("airlock backup --verify", () => {
  it("B2: one changed byte in a workspace file fails verification naming the file", async () => {
    const dir = copyOfBackup("corrupt");
    const file = path.join(dir, "data", "workspaces", finishedRun, "done.txt");
    const bytes = fs.readFileSync(file);
    bytes[0] = bytes[0]! ^ 0x01;
    fs.writeFileSync(file, bytes);
    const r = await onSource("backup", "--verify", dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`data/workspaces/${finishedRun}/done.txt: checksum mismatch`);
  }, 120_000);

  it("B2: a missing key file fails verification naming it", async () => {
    const dir = copyOfBackup("missing");
    fs.rmSync(path.join(dir, "data", "keys", "secrets.key"));
    const r = await onSource("backup", "--verify", dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain("missing file data/keys/secrets.key");
  }, 120_000);

  it("B2: an extra file fails verification naming it", async () => {
    const dir = copyOfBackup("extra");
    fs.writeFileSync(path.join(dir, "data", "workspaces", finishedRun, "planted.sh"), "echo hi\n");
    const r = await onSource("backup", "--verify", dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`extra file data/workspaces/${finishedRun}/planted.sh`);
  }, 120_000);

  it("B2: a damaged database page fails verification naming the database", async () => {
    const dir = copyOfBackup("damaged-db");
    const file = path.join(dir, "data", "airlock.db");
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.from("garbage!"), 0, 8, 4096 * 3 + 100);
    fs.closeSync(fd);
    const r = await onSource("backup", "--verify", dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain("data/airlock.db: checksum mismatch");
  }, 120_000);
});

describe("airlock restore", () => {
  it("B4: a restore into a data directory that is not empty is refused and changes nothing there", async () => {
    const target = path.join(scratch, "occupied");
    fs.mkdirSync(path.join(target, "keys"), { recursive: true });
    fs.writeFileSync(path.join(target, "airlock.db"), "someone's database");
    fs.writeFileSync(path.join(target, "keys", "audit.key"), "someone's key");
    const before = snapshotOf(target);
    const r = await airlock({ AIRLOCK_DATA_DIR: target }, "restore", backupDir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/is not empty/);
    expect(r.out).toMatch(/nothing was changed/);
    expect(snapshotOf(target)).toBe(before);
  }, 120_000);

  it("B4: a backup that does not verify is not restored", async () => {
    const dir = copyOfBackup("corrupt-for-restore");
    fs.appendFileSync(path.join(dir, "data", "workspaces", finishedRun, "done.txt"), "tampered\n");
    const target = path.join(scratch, "restore-of-bad");
    const r = await airlock({ AIRLOCK_DATA_DIR: target }, "restore", dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`data/workspaces/${finishedRun}/done.txt`);
    expect(fs.existsSync(target)).toBe(false);
  }, 120_000);

  it("B5: a restore into an empty data directory gives a working instance: the audit chain verifies, the finished run's diff and checkpoints read, the active runs end with a reason, secrets decrypt", async () => {
    const target = path.join(scratch, "restored");
    const r = await airlock({ AIRLOCK_DATA_DIR: target }, "restore", backupDir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/the audit chain verifies/);
    expect(fs.readFileSync(path.join(target, "workspaces", activeRun, "partial.txt"), "utf8")).toBe("partial\n");
    expect(fs.readFileSync(path.join(target, "uploads", uploadId))).toEqual(fs.readFileSync(path.join(dataDir, "uploads", uploadId)));
    expect(fs.readFileSync(path.join(target, "keys", "auth-secret"), "utf8")).toBe(authSecret());
    expect(fs.statSync(path.join(target, "workspaces", activeRun)).uid).toBe(fs.statSync(path.join(dataDir, "workspaces", activeRun)).uid);

    const audit = await airlock({ AIRLOCK_DATA_DIR: target }, "audit", "verify");
    expect(audit.code, audit.out).toBe(0);

    // Started as a server would be: reconciliation ends the runs whose sandboxes did not come with the backup.
    const started = await exec("node_modules/.bin/tsx", ["--tsconfig", "tsconfig.json", "test/helpers/restored-instance.ts"], {
      env: { ...process.env, AIRLOCK_DATA_DIR: target },
      timeout: 170_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const report = JSON.parse(started.stdout.trim().split("\n").at(-1)!) as {
      audit: { ok: boolean; count: number };
      markerLeft: boolean;
      runs: Record<string, { state: string; endedReason: string | null; checkpoints: number; diff: string }>;
      secrets: { name: string; value: string }[];
    };
    expect(report.audit.ok).toBe(true);
    expect(report.audit.count).toBeGreaterThan(readManifest().audit.count); // the runs' endings were appended to the restored chain
    expect(report.markerLeft).toBe(false);
    for (const id of [activeRun, waitingRun]) {
      expect(report.runs[id]!.state).toBe("failed");
      expect(report.runs[id]!.endedReason).toMatch(/restored from a backup taken .*; its sandbox did not survive/i);
    }
    expect(report.runs[finishedRun]!.state).toBe("succeeded");
    expect(report.runs[finishedRun]!.checkpoints).toBeGreaterThan(0);
    expect(report.runs[finishedRun]!.diff).toContain("+finished work");
    expect(report.runs[activeRun]!.checkpoints).toBeGreaterThan(0);
    expect(report.runs[activeRun]!.diff).toContain("+before the command");
    expect(report.secrets).toEqual([{ name: "NPM_TOKEN", value: SECRET_VALUE }]);

    // The original instance on the same engine was not touched by the restored one's reconciliation.
    expect(getRun(database, activeRun).state).toBe("running");
    const { stdout } = await exec("docker", ["inspect", "-f", "{{.State.Status}}", getRun(database, activeRun).containerId!]);
    expect(stdout.trim()).toBe("running");
  }, 180_000);
});

describe("a backup under churn", () => {
  it("B8: a backup taken while a run writes and checkpoints file after file verifies, its repository copy included", async () => {
    const writes = Array.from({ length: 15 }, (_, i) => call("write_file", { path: `churn/f${i}.txt`, content: `step ${i}\n`.repeat(200) }));
    const churnRun = await launch([plan(), ...writes, finish()], true);
    const checkpointsOf = () => database.$client.prepare("select count(*) from checkpoints where run_id = ?").pluck().get(churnRun) as number;
    await waitFor("the churning run's first checkpoints", () => checkpointsOf() >= 3, 120_000);
    const dir = path.join(scratch, "churn");
    const r = await onSource("backup", dir);
    expect(r.code, r.out).toBe(0);
    const verify = await onSource("backup", "--verify", dir);
    expect(verify.code, verify.out).toBe(0);
    expect(readManifest(dir).runs.shadowRepos).toContain(churnRun);
    // The copy is of a moment in the middle of the run: it went on checkpointing meanwhile.
    const copy = new Database(path.join(dir, "data", "airlock.db"), { readonly: true });
    const copied = copy.prepare("select count(*) from checkpoints where run_id = ?").pluck().get(churnRun) as number;
    copy.close();
    expect(copied).toBeGreaterThanOrEqual(3);
    expect(copied).toBeLessThan(checkpointsOf());
  }, 240_000);
});

describe("a backup onto a full disk", () => {
  it("B9: fails saying the disk is full and that the directory is incomplete, and leaves no manifest", async () => {
    const mount = path.join(scratch, "small-disk");
    fs.mkdirSync(mount);
    // A 256 KB filesystem made by the test (root, as the engine needs): smaller than the database.
    await exec("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mount]);
    try {
      const dir = path.join(mount, "backup");
      const r = await onSource("backup", dir);
      expect(r.code).toBe(1);
      expect(r.out).toContain(`the disk holding ${dir} is full`);
      expect(r.out).toMatch(/is incomplete \(it has no manifest.json\): delete it/);
      expect(fs.existsSync(path.join(dir, "manifest.json"))).toBe(false);
    } finally {
      await exec("umount", [mount]);
    }
  }, 120_000);
});

describe("an interrupted backup", () => {
  it("B6: Ctrl-C while an active run's container is frozen for its copy thaws the container and leaves a backup without a manifest", async () => {
    // Enough files that the frozen copy lasts long enough to be interrupted.
    const workspace = path.join(dataDir, "workspaces", waitingRun);
    fs.mkdirSync(path.join(workspace, "many"));
    for (let i = 0; i < 8_000; i++) fs.writeFileSync(path.join(workspace, "many", `f${i}.txt`), `file ${i}\n`);
    const containerId = getRun(database, waitingRun).containerId!;
    const dir = path.join(scratch, "interrupted");
    const child = spawn("bin/airlock", ["backup", dir], { env: { ...process.env, AIRLOCK_DATA_DIR: dataDir }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const inspect = async (format: string) => (await exec("docker", ["inspect", "-f", format, containerId])).stdout.trim();
    const deadline = Date.now() + 120_000;
    while ((await inspect("{{.State.Paused}}")) !== "true") {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the backup never froze the waiting run's container: ${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    const code = await exited;
    expect(code, output).toBe(130);
    expect(output).toMatch(/backup interrupted/);
    expect(await inspect("{{.State.Paused}}")).toBe("false");
    expect(await inspect("{{.State.Status}}")).toBe("running");
    expect(fs.existsSync(path.join(dir, "manifest.json"))).toBe(false); // verify calls it unfinished (B7)
    fs.rmSync(path.join(workspace, "many"), { recursive: true, force: true });
  }, 240_000);
});
