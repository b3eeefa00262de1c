// M2: a run's result downloaded as a patch or a bundle (GET /api/runs/<id>/
// patch|bundle, called as Next.js calls them, with bearer tokens) shows a
// granted secret the agent wrote into a file as [secret:NAME] below
// reviewer, as runs.diff does; reviewers get the real content (merge-back
// needs it). Every download is in the audit trail. Real container, real git.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@/db/client";
import { addUser, actorOf, issueToken } from "@/test/helpers/users";
import { registerModel, requireDocker } from "@/test/helpers/runs";
import { agentShell, sandboxedRun } from "@/test/helpers/workspaces";
import { dockerRuntime } from "@/server/sandbox/runtime";
import { checkpointWorkspace } from "@/server/workspace/checkpoints";
import { createSecret, findSecretForRun, grantSecret } from "@/server/secrets/secrets";
import type { PublicUser } from "@/server/users/users";

const VALUE = "tok-9f8e7d6c5b4a-redact-me";

let dataDir: string;
let database: Db;
let viewer: PublicUser;
let reviewer: PublicUser;
let runId: string;
const runtime = dockerRuntime();
const containers: string[] = [];

const bearer = (user: PublicUser) => ({ authorization: `Bearer ${issueToken(database, user.id).token}` });
const params = (id: string) => ({ params: Promise.resolve({ id }) });

async function download(kind: "patch" | "bundle", user: PublicUser): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const { GET } = kind === "patch" ? await import("@/app/api/runs/[id]/patch/route") : await import("@/app/api/runs/[id]/bundle/route");
  const res = await GET(new Request(`http://x/api/runs/${runId}/${kind}`, { headers: bearer(user) }), params(runId));
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/** Every object of a bundle, as git prints them: the value must be in none of them. */
function bundleObjects(bundle: Buffer): { objects: string; file: (p: string) => string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-bundle-"));
  const file = path.join(dir, "result.bundle");
  fs.writeFileSync(file, bundle);
  const git = (...args: string[]) => execFileSync("git", ["-C", path.join(dir, "repo"), ...args], { encoding: "utf8" });
  execFileSync("git", ["init", "-q", path.join(dir, "repo")]);
  git("fetch", "-q", file, "refs/heads/*:refs/heads/*");
  const branch = git("for-each-ref", "--format=%(refname:short)", "refs/heads/").trim();
  const objects = git("cat-file", "--batch-all-objects", "--batch");
  return { objects, file: (p: string) => git("show", `${branch}:${p}`) };
}

beforeAll(async () => {
  await requireDocker();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-redact-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
  database = (await import("@/db/client")).db();
  const admin = await addUser(database, "admin");
  const operator = await addUser(database, "operator");
  viewer = await addUser(database, "viewer");
  reviewer = await addUser(database, "reviewer");
  const r = await sandboxedRun(database, runtime, dataDir, operator, registerModel(database, admin, "http://127.0.0.1:9"));
  containers.push(r.containerId);
  runId = r.run.id;
  createSecret(database, actorOf(admin), { name: "API_TOKEN", value: VALUE });
  const secret = findSecretForRun(database, r.run, "API_TOKEN")!;
  grantSecret(database, actorOf(reviewer), { runId, secret, toolCallId: null, approvalId: null, grantedBy: reviewer.id });
  // What a command given $API_TOKEN might do: write it into the project.
  await agentShell(runtime, r.containerId, `printf 'token = "%s"\\n' '${VALUE}' > /workspace/config.toml && echo plain > /workspace/readme.txt`);
  await checkpointWorkspace(database, runId, { label: "wrote config", kind: "tool", runtime });
});

afterAll(async () => {
  await Promise.all(containers.map((c) => runtime.removeSandbox(c).catch(() => undefined)));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("downloads of a run's result", () => {
  it("M2: a viewer's patch and bundle show [secret:NAME] where the agent wrote a granted secret", async () => {
    const patch = await download("patch", viewer);
    expect(patch.status).toBe(200);
    const text = patch.body.toString("utf8");
    expect(text).toContain('+token = "[secret:API_TOKEN]"');
    expect(text).toContain("+plain");
    expect(text).not.toContain(VALUE);
    expect(patch.headers.get("x-airlock-secrets-redacted")).toBe("1");

    const bundle = await download("bundle", viewer);
    expect(bundle.status).toBe(200);
    const { objects, file } = bundleObjects(bundle.body);
    expect(file("config.toml")).toBe('token = "[secret:API_TOKEN]"\n');
    expect(file("readme.txt")).toBe("plain\n");
    expect(objects).not.toContain(VALUE);
  });

  it("M2: a reviewer's patch and bundle carry the real value (merge-back needs it)", async () => {
    const patch = await download("patch", reviewer);
    expect(patch.status).toBe(200);
    expect(patch.body.toString("utf8")).toContain(`+token = "${VALUE}"`);
    expect(patch.headers.get("x-airlock-secrets-redacted")).toBeNull();
    const bundle = await download("bundle", reviewer);
    expect(bundleObjects(bundle.body).file("config.toml")).toBe(`token = "${VALUE}"\n`);
  });

  it("M2: every download is audited with who, which run, which form, and whether it was redacted", async () => {
    const rows = database.$client
      .prepare(
        "select actor_id as actorId, actor_label as actorLabel, target_id as targetId, details from audit_events where action = 'run.download' order by seq",
      )
      .all() as { actorId: string; actorLabel: string; targetId: string; details: string }[];
    const seen = rows.map((r) => ({
      actorId: r.actorId,
      actorLabel: r.actorLabel,
      targetId: r.targetId,
      ...(JSON.parse(r.details) as { kind: string; redacted: boolean; redactedPaths: string[] }),
    }));
    expect(seen.map((d) => [d.actorLabel, d.targetId, d.kind, d.redacted])).toEqual([
      [viewer.email, runId, "patch", true],
      [viewer.email, runId, "bundle", true],
      [reviewer.email, runId, "patch", false],
      [reviewer.email, runId, "bundle", false],
    ]);
    expect(seen[0]).toMatchObject({ actorId: viewer.id, redactedPaths: ["config.toml"] });
    expect(seen[2]).toMatchObject({ actorId: reviewer.id, redactedPaths: [] });
    // The audit trail itself never holds the value.
    expect(rows.some((r) => r.details.includes(VALUE))).toBe(false);
  });
});
