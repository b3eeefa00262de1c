// A human in the connection from a real sandbox (issue 12, item 5): the
// project's policy asks about a host, no reviewer granted anything yet; the
// run's command is put on the egress network, its request to that host is
// held by the real proxy behind the real firewall until a reviewer decides.
// "The registry" is an HTTP server on 127.0.0.1, allowed by
// AIRLOCK_EGRESS_ALLOW_HOSTS for this test as in egress.int.test.ts; the
// made-up name resolves only in the proxy. No traffic leaves the machine.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvals, runs } from "@/db/schema";
import { decideApproval } from "@/server/approvals/approvals";
import { EgressController, setEgressController } from "@/server/egress/controller";
import { DEFAULT_POLICY } from "@/server/policy/default-policy";
import { policyToYaml } from "@/server/policy/yaml";
import { updatePolicy } from "@/server/projects/policy-store";
import { dockerRuntime, instanceIdForDataDir, type SandboxRuntime } from "@/server/sandbox/runtime";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { registerModel, requireDocker, tempDataDir, waitFor } from "@/test/helpers/runs";
import { actorOf, addUser } from "@/test/helpers/users";
import { sandboxedRun } from "@/test/helpers/workspaces";

await requireDocker();

let t: TestDb;
let dataDir: string;
let runtime: SandboxRuntime;
let controller: EgressController;
let operator: PublicUser;
let reviewer: PublicUser;
let modelId: string;
let registry: http.Server;
let port: number;
const containers: string[] = [];

const fetchScript = (url: string) => `python3 - <<'PY'
import urllib.request, urllib.error
try:
    r = urllib.request.urlopen(${JSON.stringify(url)}, timeout=60)
    print("STATUS", r.status)
    print(r.read().decode())
except urllib.error.HTTPError as e:
    print("STATUS", e.code)
    print(e.read().decode())
except Exception as e:
    print("ERROR", type(e).__name__, e)
PY`;

beforeAll(async () => {
  t = createTestDb();
  dataDir = tempDataDir();
  const instance = instanceIdForDataDir(dataDir);
  runtime = dockerRuntime(undefined, { instance });
  const admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  modelId = registerModel(t.db, admin, "http://127.0.0.1:9");
  registry = http.createServer((req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(`registry answered ${req.url}`));
  await new Promise<void>((r) => registry.listen(0, "127.0.0.1", () => r()));
  port = (registry.address() as AddressInfo).port;
  await updatePolicy(
    t.db,
    { ...actorOf(admin), userId: admin.id },
    {
      yaml: policyToYaml({
        ...DEFAULT_POLICY,
        rules: [
          {
            id: "ask-registry",
            description: "The registry needs a reviewer.",
            tools: ["http_fetch"],
            match: { url: { hosts: ["registry.test"], ports: [port] } },
            outcome: "ask",
            reason: "{host} is the team registry; a reviewer decides.",
          },
          ...DEFAULT_POLICY.rules,
        ],
      }),
    },
  );
  process.env.AIRLOCK_EGRESS_ALLOW_HOSTS = "127.0.0.1";
  controller = new EgressController({
    db: t.db,
    instance,
    resolve: async (host) => (host === "registry.test" ? [{ address: "127.0.0.1", family: 4 }] : []),
    askTimeoutMs: () => 90_000,
    sweepMs: 60_000,
  });
  setEgressController(controller);
});

afterAll(async () => {
  delete process.env.AIRLOCK_EGRESS_ALLOW_HOSTS;
  await controller?.close({ teardown: true }).catch(() => undefined);
  setEgressController(undefined);
  await Promise.all(containers.map((id) => runtime.removeSandbox(id).catch(() => undefined)));
  registry?.close();
  t?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("a project domain rule that asks, from a real sandbox", () => {
  it("I5: a command's request is held by the proxy until a reviewer allows it for the run, then it proceeds", async () => {
    const s = await sandboxedRun(t.db, runtime, dataDir, operator, modelId);
    containers.push(s.containerId);
    t.db.update(runs).set({ state: "running" }).where(eq(runs.id, s.run.id)).run();

    // No grant: the policy's ask rule alone puts the sandbox on the egress network.
    const env = await controller.execEnv(s.run.id, s.containerId);
    expect(env.https_proxy).toBe(controller.proxyUrl);

    const out = runtime.exec(s.containerId, { cmd: ["bash", "-c", fetchScript(`http://registry.test:${port}/simple/`)], env, timeoutS: 120 });
    const held = await waitFor(
      "the held request's approval",
      () =>
        t.db
          .select()
          .from(approvals)
          .where(and(eq(approvals.runId, s.run.id), eq(approvals.tool, "network"), eq(approvals.state, "pending")))
          .get(),
      60_000,
    );
    expect(held).toMatchObject({ rule: "ask-registry", args: { host: "registry.test", port, entry: `registry.test:${port}` } });
    decideApproval(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { id: held.id, decision: "approve", edit: { scope: "run" } });

    const result = await out;
    expect(`${result.stdout}${result.stderr}`).toContain("STATUS 200");
    expect(result.stdout).toContain("registry answered /simple/");
    expect(controller.view(s.run.id).domains.map((d) => d.entry)).toEqual([`registry.test:${port}`]);
  });
});
