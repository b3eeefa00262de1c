// Fault: the data directory's filesystem fills up while a run is active. The
// data directory (database, workspaces, shadow repositories) lives on a small
// tmpfs the test mounts; a filler file takes its space and gives it back.
// Writes are refused with a plain error (the agent's command, the run's reason,
// the API's answer), the database and the audit chain stay intact, and once the
// space is back new runs, tool calls and checkpoints work.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCError } from "@trpc/server";
import { and, eq } from "drizzle-orm";
import { migrateDatabase, openDatabase, type Db } from "@/db/client";
import { toolCalls, type Run } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { DomainError } from "@/server/errors/domain-error";
import { instanceIdForDataDir } from "@/server/sandbox/runtime";
import { docker } from "@/server/sandbox/docker";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { approveEverything, getRun, newSupervisor, registerModel, requireDocker, roomyQueue, startRun, waitFor, waitForState } from "@/test/helpers/runs";
import { addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import { checkEnvInvariants } from "@/test/faults/env-invariants";
import { mountSmallFilesystem, type SmallFilesystem } from "@/test/faults/full-disk";

const FULL = process.env.AIRLOCK_FAULTS === "full";
/** A test of the full form only (npm run test:faults): the short form inside npm test leaves it out, not skipped. */
const itFull = (name: string, fn: () => Promise<void>, timeout?: number) => {
  if (FULL) it(name, fn, timeout);
};
const ENDED = ["failed", "killed", "succeeded"] as const;
const DISK_FULL_REASON = /The disk holding Airlock's data directory is full \(no space left on device\)/;

let fsys: SmallFilesystem;
let db: Db;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let adminToken: string;
const servers: ScriptedModelServer[] = [];

beforeAll(async () => {
  await requireDocker();
  fsys = mountSmallFilesystem(48);
  db = openDatabase(path.join(fsys.dir, "airlock.db"));
  migrateDatabase(db);
  roomyQueue(db);
  supervisor = newSupervisor(db, fsys.dir);
  await supervisor.start();
  admin = await addUser(db, "admin");
  operator = await addUser(db, "operator");
  reviewer = await addUser(db, "reviewer");
  adminToken = issueToken(db, admin.id).token;
});

afterAll(async () => {
  fsys?.free();
  await supervisor?.stopAll({ userId: null, label: "test-cleanup" }, "test cleanup").catch(() => undefined);
  await supervisor?.shutdown();
  await Promise.all(servers.map((s) => s.close()));
  db?.$client.close();
  fsys?.unmount();
});

/** A model that plays `steps` in order; a step may wait (for the test to fill or free the disk) before it answers. */
async function modelOf(steps: (() => ScriptStep | Promise<ScriptStep>)[]): Promise<string> {
  const server = await startScriptedModelServer(async (_req, i) => steps[i]?.());
  servers.push(server);
  return registerModel(db, admin, server.baseUrl);
}

/**
 * Fills the disk with the database's write-ahead log emptied first: SQLite
 * reuses a WAL file's existing pages, so without this small writes could still
 * fit in the room an earlier, larger log left behind.
 */
function fillDisk(): void {
  db.$client.pragma("wal_checkpoint(TRUNCATE)");
  fsys.fill();
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

const PLAN: ScriptStep = { type: "tool_calls", calls: [{ name: "submit_plan", arguments: { steps: [{ title: "work", risk: "low", risk_note: "test" }] } }] };
const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });

function callsOf(runId: string, tool: string) {
  return db
    .select()
    .from(toolCalls)
    .where(and(eq(toolCalls.runId, runId), eq(toolCalls.tool, tool)))
    .all();
}

async function expectIntact(): Promise<void> {
  let problems: string[] = [];
  const deadline = Date.now() + 30_000;
  do {
    problems = (await checkEnvInvariants({ db, docker: docker(), instance: instanceIdForDataDir(fsys.dir), dataDir: fsys.dir })).problems;
    if (problems.length === 0) break;
    await new Promise((r) => setTimeout(r, 300));
  } while (Date.now() < deadline);
  expect(problems).toEqual([]);
}

/** A run that writes, runs and finishes: what must work once space is back. */
async function healthyRun(tag: string): Promise<Run> {
  const run = startRun(
    db,
    supervisor,
    operator,
    await modelOf([
      () => PLAN,
      () => call("write_file", { path: `${tag}.txt`, content: `${tag}\n` }),
      () => call("run_command", { command: `cat ${tag}.txt` }),
      () => call("finish", { summary: "ok", status: "success" }),
    ]),
  );
  const stop = approveEverything(db, run.id, reviewer);
  const done = await waitForState(db, run.id, [...ENDED], 90_000).finally(stop);
  expect(done.state, done.endedReason ?? "").toBe("succeeded");
  expect(JSON.stringify(callsOf(run.id, "run_command")[0]?.result)).toContain(tag);
  return done;
}

describe("fault: the data directory's filesystem fills up", () => {
  let stuck: Run;

  it("F-DISK-1: an agent command that runs the disk full gets 'No space left on device' in its answer, and the run goes on", async () => {
    const nearlyFull = gate();
    const run = startRun(
      db,
      supervisor,
      operator,
      await modelOf([
        () => PLAN,
        async () => {
          await nearlyFull.opened;
          return call("run_command", { command: "head -c 20000000 /dev/zero > blob.bin; echo rc=$?; rm -f blob.bin" });
        },
        () => call("write_file", { path: "after.txt", content: "after\n" }),
        () => call("finish", { summary: "ok", status: "success" }),
      ]),
    );
    const stop = approveEverything(db, run.id, reviewer);
    try {
      await waitForState(db, run.id, "running", 60_000);
      fsys.fill(4 * 1024 * 1024); // 4 MiB left: room for the database, not for the command's 20 MB
      nearlyFull.open();
      const done = await waitForState(db, run.id, [...ENDED], 90_000);
      expect(done.state, done.endedReason ?? "").toBe("succeeded");
    } finally {
      stop();
      fsys.free();
    }
    const answer = JSON.stringify(callsOf(run.id, "run_command")[0]?.result);
    expect(answer).toContain("No space left on device");
    expect(answer).toContain("rc=1");
    expect(callsOf(run.id, "write_file")[0]?.state).toBe("succeeded");
  });

  it("F-DISK-2: with the disk full, the API refuses a write with STORAGE_FULL (503, says what to do), not a 500", async () => {
    const identity = await identityOfToken(db, adminToken);
    fillDisk();
    try {
      const caller = createCallerFactory(appRouter)({ db, identity, sourceIp: "192.0.2.7" });
      const err = await caller.models.create({ name: "while full", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TRPCError);
      expect((err as TRPCError).code).toBe("SERVICE_UNAVAILABLE");
      expect((err as TRPCError).cause).toBeInstanceOf(DomainError);
      expect(((err as TRPCError).cause as DomainError).code).toBe("STORAGE_FULL");
      expect((err as TRPCError).message).toMatch(DISK_FULL_REASON);
      expect((err as TRPCError).message).toMatch(/free space on that disk/);
    } finally {
      fsys.free();
    }
  });

  it("F-DISK-3: a run that cannot record its work on a full disk does not stay 'running': it ends failed, naming the full disk, once space returns", async () => {
    const full = gate();
    const run = startRun(
      db,
      supervisor,
      operator,
      await modelOf([
        () => PLAN,
        () => call("write_file", { path: "before.txt", content: "before\n" }),
        async () => {
          await full.opened;
          // Large arguments: recording the call needs more room than is left.
          return call("write_file", { path: "big.txt", content: "x".repeat(600_000) });
        },
        () => ({ type: "hang" }),
      ]),
    );
    const stop = approveEverything(db, run.id, reviewer);
    try {
      await waitFor("before.txt to be written", () => callsOf(run.id, "write_file")[0]?.state === "succeeded", 60_000);
      await new Promise((r) => setTimeout(r, 1000)); // its checkpoint
      fillDisk();
      full.open();
      // Full: whatever happens, nothing may claim success, and the run is never left without a driver once space is back.
      await new Promise((r) => setTimeout(r, 3000));
      stuck = getRun(db, run.id);
      expect(stuck.state).not.toBe("succeeded");
    } finally {
      stop();
      fsys.free();
    }
    const ended = await waitForState(db, run.id, [...ENDED], 20_000);
    expect(ended.state).toBe("failed");
    expect(ended.endedReason).toMatch(DISK_FULL_REASON);
    expect(ended.endedReason).not.toMatch(/Internal error/);
  });

  it("F-DISK-4: once space is back the database passes integrity_check, the audit chain verifies, shadow repositories pass git fsck, and a new run writes, runs and finishes", async () => {
    expect(fsys.freeBytes()).toBeGreaterThan(10 * 1024 * 1024);
    await healthyRun("recovered");
    await expectIntact();
  });

  itFull(
    "F-DISK-5 (full): the disk fills at five different points of a run that writes, runs and commits; each run ends plainly or finishes, nothing is corrupted, and Airlock works after",
    async () => {
      // From the sandbox's start to the middle of the write/command/checkpoint loop.
      for (const delayMs of [300, 1500, 3000, 5000, 8000]) {
        const steps: (() => ScriptStep)[] = [() => PLAN];
        for (let i = 0; i < 8; i++) {
          steps.push(() => call("write_file", { path: `f${i}.txt`, content: `${"y".repeat(50_000)}${i}\n` }));
          steps.push(() => call("run_command", { command: `head -c 300000 /dev/urandom > r${i}.bin; echo ${i}` }));
        }
        steps.push(() => call("finish", { summary: "ok", status: "success" }));
        const run = startRun(db, supervisor, operator, await modelOf(steps));
        const stop = approveEverything(db, run.id, reviewer);
        try {
          await new Promise((r) => setTimeout(r, delayMs));
          fillDisk();
          await new Promise((r) => setTimeout(r, 2000));
        } finally {
          fsys.free();
        }
        const ended = await waitForState(db, run.id, [...ENDED], 120_000).finally(stop);
        if (ended.state !== "succeeded") expect(ended.endedReason, `filled after ${delayMs} ms`).toMatch(DISK_FULL_REASON);
        await expectIntact();
      }
      await healthyRun("after-cycles");
      await expectIntact();
    },
  );
});
