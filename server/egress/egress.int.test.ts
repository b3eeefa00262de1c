// Egress for sandbox commands against the real engine, real containers, the
// real proxy and real host firewall rules. "The registry" is an HTTP server
// on 127.0.0.1 that the proxy reaches host-side (allowed by
// AIRLOCK_EGRESS_ALLOW_HOSTS for this test); made-up names (registry.test,
// other.test) resolve to it through the proxy's test-only resolver. No
// traffic leaves the machine.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEvents, runEvents, runs, type Approval } from "@/db/schema";
import { decideApproval } from "@/server/approvals/approvals";
import { EgressController, setEgressController } from "@/server/egress/controller";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { applyFirewall, chainFor, firewallInstalled, removeFirewall } from "@/server/egress/firewall";
import { proxyEnvironment as proxyEnvFor } from "@/server/egress/controller";
import { egressNetworkName, findEgressNetwork } from "@/server/egress/network";
import { docker } from "@/server/sandbox/docker";
import { dockerRuntime, instanceIdForDataDir, type SandboxRuntime } from "@/server/sandbox/runtime";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import { buildZip } from "@/test/helpers/archives";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep, toolResultsSent } from "@/test/helpers/model-server";
import { getRun, newSupervisor, registerModel, requireDocker, roomyQueue, startRun, tempDataDir, waitForState } from "@/test/helpers/runs";
import { actorOf, addUser } from "@/test/helpers/users";
import { sandboxedRun } from "@/test/helpers/workspaces";
import { sandboxProcessListing, withRuntimeUnderTest } from "@/test/helpers/sandbox-runtime";

await requireDocker();
const execFileP = promisify(execFile);

let t: TestDb;
let dataDir: string;
let runtime: SandboxRuntime;
let controller: EgressController;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let modelId: string;
let registry: http.Server;
let port: number;
let hostService: net.Server;
let hostServicePort: number;
const containers: string[] = [];
const registryHits: string[] = [];

// ---- a tiny PEP 503 index serving one pure-Python wheel
const GREETING = `hello from the test registry ${crypto.randomBytes(4).toString("hex")}`;
const WHEEL_NAME = "airlock_hello-0.1.0-py3-none-any.whl";
const WHEEL = buildZip([
  { name: "airlock_hello/__init__.py", content: `GREETING = ${JSON.stringify(GREETING)}\n` },
  { name: "airlock_hello-0.1.0.dist-info/METADATA", content: "Metadata-Version: 2.1\nName: airlock-hello\nVersion: 0.1.0\n" },
  { name: "airlock_hello-0.1.0.dist-info/WHEEL", content: "Wheel-Version: 1.0\nGenerator: airlock-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n" },
  {
    name: "airlock_hello-0.1.0.dist-info/RECORD",
    content:
      "airlock_hello/__init__.py,,\nairlock_hello-0.1.0.dist-info/METADATA,,\nairlock_hello-0.1.0.dist-info/WHEEL,,\nairlock_hello-0.1.0.dist-info/RECORD,,\n",
  },
]);
const WHEEL_SHA256 = crypto.createHash("sha256").update(WHEEL).digest("hex");

/** A python3 one-shot inside the sandbox: GETs a URL (through the proxy variables, if any) and prints STATUS / ERROR and the body. */
const fetchScript = (url: string) => `python3 - <<'PY'
import urllib.request, urllib.error
try:
    r = urllib.request.urlopen(${JSON.stringify(url)}, timeout=10)
    print("STATUS", r.status)
    print(r.read().decode())
except urllib.error.HTTPError as e:
    print("STATUS", e.code)
    print(e.read().decode())
except Exception as e:
    print("ERROR", type(e).__name__, e)
PY`;

/** Tries a direct TCP connection from the sandbox; prints CONNECTED or FAILED <why>. */
const connectScript = (host: string, p: number) => `python3 - <<'PY'
import socket
try:
    s = socket.create_connection((${JSON.stringify(host)}, ${p}), timeout=3)
    print("CONNECTED")
except Exception as e:
    print("FAILED", type(e).__name__, e)
PY`;

async function sh(containerId: string, script: string, env: Record<string, string> = {}, timeoutS = 60): Promise<string> {
  const r = await runtime.exec(containerId, { cmd: ["bash", "-c", script], env, timeoutS });
  return `${r.stdout}${r.stderr}`;
}

async function liveRun() {
  const s = await sandboxedRun(t.db, runtime, dataDir, operator, modelId);
  containers.push(s.containerId);
  // Arrange: a live run (never launched: no agent drives it here).
  t.db.update(runs).set({ state: "running" }).where(eq(runs.id, s.run.id)).run();
  return { runId: s.run.id, containerId: s.containerId };
}

const reviewerActor = () => ({ ...actorOf(reviewer), userId: reviewer.id });
const grant = (runId: string, domains: string[], reason = "install dependencies") =>
  controller.grant(reviewerActor(), { userId: reviewer.id, role: "reviewer" }, { runId, domains, reason });

beforeAll(async () => {
  t = createTestDb();
  roomyQueue(t.db); // the runs arranged by liveRun() hold slots
  dataDir = tempDataDir();
  const instance = instanceIdForDataDir(dataDir);
  runtime = withRuntimeUnderTest(dockerRuntime(undefined, { instance }));
  admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  modelId = registerModel(t.db, admin, "http://127.0.0.1:9");
  registry = http.createServer((req, res) => {
    registryHits.push(`${req.headers.host} ${req.url}`);
    const u = new URL(req.url!, "http://x");
    if (u.pathname === "/hello") return res.writeHead(200, { "content-type": "text/plain" }).end("hello from the registry");
    if (u.pathname === "/simple/")
      return res.writeHead(200, { "content-type": "text/html" }).end('<html><body><a href="/simple/airlock-hello/">airlock-hello</a></body></html>');
    if (u.pathname === "/simple/airlock-hello/") {
      return res
        .writeHead(200, { "content-type": "text/html" })
        .end(`<html><body><a href="/files/${WHEEL_NAME}#sha256=${WHEEL_SHA256}">${WHEEL_NAME}</a></body></html>`);
    }
    if (u.pathname === `/files/${WHEEL_NAME}`)
      return res.writeHead(200, { "content-type": "application/octet-stream", "content-length": WHEEL.length }).end(WHEEL);
    res.writeHead(404).end("not here");
  });
  await new Promise<void>((r) => registry.listen(0, "127.0.0.1", () => r()));
  port = (registry.address() as AddressInfo).port;
  // A host service on every address (like the dashboard or a database): the sandbox must never reach it.
  hostService = net.createServer((s) => s.end("host service\n"));
  await new Promise<void>((r) => hostService.listen({ port: 0, host: "::", ipv6Only: false }, () => r()));
  hostServicePort = (hostService.address() as AddressInfo).port;
  process.env.AIRLOCK_EGRESS_ALLOW_HOSTS = "127.0.0.1";
  controller = new EgressController({
    db: t.db,
    instance,
    resolve: async (host) => (host === "registry.test" || host === "other.test" ? [{ address: "127.0.0.1", family: 4 }] : []),
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
  hostService?.close();
  t?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("egress for sandbox commands", () => {
  it("machine check: iptables and ip6tables work here, so egress can be granted", async () => {
    expect(await controller.unavailableReason()).toBeNull();
  });

  it("a sandbox without a grant has no network at all and gets no proxy variables", async () => {
    const { runId, containerId } = await liveRun();

    const interfaces = await sh(containerId, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    const env = await controller.execEnv(runId, containerId);
    const out = await sh(containerId, fetchScript(`http://registry.test:${port}/hello`), env);

    expect(interfaces.trim().split("\n")).toEqual(["lo"]);
    expect(env).toEqual({});
    expect(out).toMatch(/^ERROR URLError/);
    expect(registryHits).toHaveLength(0);
  });

  describe("a run granted registry.test", () => {
    let runId: string;
    let containerId: string;
    let env: Record<string, string>;
    let gateway: string;

    beforeAll(async () => {
      ({ runId, containerId } = await liveRun());
      const view = await grant(runId, [`registry.test:${port}`]);
      expect(view).toMatchObject({ state: "granted", connected: true, domains: [{ entry: `registry.test:${port}`, grantedBy: reviewer.email }] });
      env = await controller.execEnv(runId, containerId);
      gateway = controller.egressNetwork!.gateway;
    });

    it("its commands get the proxy variables, pointing at the gateway", () => {
      expect(env.https_proxy).toBe(controller.proxyUrl);
      expect(env.HTTP_PROXY).toMatch(new RegExp(`^http://${gateway.replace(/\./g, "\\.")}:\\d+$`));
      expect(env.npm_config_https_proxy).toBe(controller.proxyUrl);
    });

    it("reaches the granted domain through the proxy with python urllib (plain http)", async () => {
      const out = await sh(containerId, fetchScript(`http://registry.test:${port}/hello`), env);
      expect(out).toContain("STATUS 200");
      expect(out).toContain("hello from the registry");
    });

    it("reaches the granted domain through a CONNECT tunnel (how https goes)", async () => {
      const proxyPort = Number(new URL(controller.proxyUrl!).port);
      const out = await sh(
        containerId,
        `python3 - <<'PY'
import socket
s = socket.create_connection((${JSON.stringify(gateway)}, ${proxyPort}), timeout=10)
s.sendall(b"CONNECT registry.test:${port} HTTP/1.1\\r\\nHost: registry.test:${port}\\r\\n\\r\\nGET /hello HTTP/1.1\\r\\nHost: registry.test\\r\\nConnection: close\\r\\n\\r\\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode())
PY`,
      );
      expect(out).toMatch(/^HTTP\/1\.1 200 Connection Established/);
      expect(out).toContain("hello from the registry");
    });

    it("a domain that is not granted is refused with 403 and the reason", async () => {
      const out = await sh(containerId, fetchScript(`http://other.test:${port}/hello`), env);
      expect(out).toContain("STATUS 403");
      expect(out).toContain("other.test is not among the domains granted to this run");
      expect(out).toContain("A reviewer can grant it on the run page");
    });

    it("the granted name on another port is refused (grants cover 80/443 unless they name a port)", async () => {
      const out = await sh(containerId, fetchScript(`http://registry.test:${hostServicePort}/`), env);
      expect(out).toContain("STATUS 403");
      expect(out).toContain(`port ${hostServicePort} of registry.test is not granted`);
    });

    it("host services on the gateway are out of reach: the firewall lets only the proxy port through", async () => {
      const proxyPort = Number(new URL(controller.proxyUrl!).port);
      const hostServiceOut = await sh(containerId, connectScript(gateway, hostServicePort));
      const proxyOut = await sh(containerId, connectScript(gateway, proxyPort));
      // The same service from the host itself answers: it is the firewall that stops the sandbox.
      const fromHost = await new Promise<string>((resolve) => net.connect(hostServicePort, gateway).on("data", (d) => resolve(d.toString())));

      expect(hostServiceOut).toMatch(/^FAILED/);
      expect(proxyOut).toMatch(/^CONNECTED/);
      expect(fromHost).toBe("host service\n");
      expect(await firewallInstalled(controller.egressNetwork!.bridge)).toBe(true);
    });

    it("IPv6 gives no way around: the sandbox has no usable IPv6 there, and the bridge is dropped by ip6tables as well", async () => {
      const bridge = controller.egressNetwork!.bridge;
      const linkLocal = Object.values((await import("node:os")).networkInterfaces()[bridge] ?? []).find(
        (a) => a.family === "IPv6" && a.address.startsWith("fe80"),
      )?.address;

      const hasV6 = (await sh(containerId, "grep -c eth0 /proc/net/if_inet6 || true")).trim() !== "0";

      const out = linkLocal && hasV6 ? await sh(containerId, connectScript(`${linkLocal}%eth0`, hostServicePort)) : "FAILED no IPv6 on the link";

      expect(out).toMatch(/^FAILED/);
    });

    it("pip installs a package from the granted index", async () => {
      const out = await sh(
        containerId,
        `pip install --user --no-cache-dir --index-url http://registry.test:${port}/simple/ --trusted-host registry.test airlock-hello 2>&1 && python3 -c 'import airlock_hello; print(airlock_hello.GREETING)'`,
        env,
        120,
      );
      expect(out).toContain("Successfully installed airlock-hello-0.1.0");
      expect(out).toContain(GREETING);
      expect(registryHits).toContain(`registry.test:${port} /files/${WHEEL_NAME}`);
    });

    it("another sandbox on the egress network cannot reach this one", async () => {
      const other = await liveRun();
      await grant(other.runId, [`registry.test:${port}`]);
      // Revoked even when an assertion fails: a grant left behind keeps the network busy and fails the idle-teardown test too.
      try {
        const myAddress = (await docker().getContainer(containerId).inspect()).NetworkSettings.Networks[controller.egressNetwork!.name]!.IPAddress;
        expect(controller.egressNetwork!.name).toBe(egressNetworkName(instanceIdForDataDir(dataDir)));
        // The server runs as a command that has not ended (no process outlives its
        // command), checked from outside: a second command here would end it.
        const serving = new AbortController();
        const server = runtime.exec(containerId, { cmd: ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"], timeoutS: 60, signal: serving.signal });
        let out: string;
        try {
          await new Promise((r) => setTimeout(r, 1500));
          expect(await sandboxProcessListing(containerId)).toContain("http.server 8000");
          out = await sh(other.containerId, connectScript(myAddress, 8000));
        } finally {
          serving.abort();
          await server;
        }
        expect(out).toMatch(/^FAILED/);
      } finally {
        await controller.revoke(reviewerActor(), { runId: other.runId });
      }
    });

    it("M6: a grant of this host's own address (the gateway, where host services listen) is refused by the proxy with 403 and why, even with private addresses allowed", async () => {
      await grant(runId, [`${gateway}:${hostServicePort}`]);
      process.env.AIRLOCK_EGRESS_ALLOW_PRIVATE = "1";
      let out: string;
      try {
        out = await sh(containerId, fetchScript(`http://${gateway}:${hostServicePort}/`), env);
      } finally {
        delete process.env.AIRLOCK_EGRESS_ALLOW_PRIVATE;
        await controller.revoke(reviewerActor(), { runId, domains: [`${gateway}:${hostServicePort}`], reason: "test done" });
      }
      expect(out).toContain("STATUS 403");
      expect(out).toContain(`${gateway} is this host's own address`);
      expect(out).toContain("exact address in AIRLOCK_EGRESS_ALLOW_HOSTS");
    });

    it("DNS exfiltration: the sandbox has no resolver but the proxy's; getent, getaddrinfo and raw queries to 127.0.0.11 and the gateway resolve nothing and no query leaves", async () => {
      // A label no other traffic carries; iptables string-match counters see every
      // UDP packet carrying it that the host forwards (leaving the sandbox's
      // namespace towards any resolver) or sends itself. The counters sit in the
      // mangle table, which the host traverses before filter: Docker moves its own
      // jumps (DOCKER-USER, DOCKER-ISOLATION-*) back to the top of filter FORWARD
      // whenever any network is created, and an internal network's isolation DROP
      // would then hide the control packet from a counter placed below it.
      const tag = `alkx${crypto.randomBytes(5).toString("hex")}`;
      const rule = (chain: string) => [
        chain,
        "-p",
        "udp",
        "-m",
        "string",
        "--algo",
        "bm",
        "--string",
        tag,
        "-m",
        "comment",
        "--comment",
        `airlock-test-${tag}`,
      ];
      const chains = ["FORWARD", "OUTPUT"];
      for (const chain of chains) await execFileP("iptables", ["-w", "5", "-t", "mangle", "-I", ...rule(chain)]);
      const packets = async (chain: string) => {
        const { stdout } = await execFileP("iptables", ["-w", "5", "-t", "mangle", "-L", chain, "-v", "-n", "-x"]);
        return Number(
          stdout
            .split("\n")
            .find((l) => l.includes(`airlock-test-${tag}`))!
            .trim()
            .split(/\s+/)[0],
        );
      };
      const rawQuery = (server: string, name: string) => `python3 - <<'PY'
import socket, struct
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(p)]) + p.encode() for p in ${JSON.stringify(name)}.split(".")) + b"\\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
try:
    s.sendto(q, (${JSON.stringify(server)}, 53))
    d, _ = s.recvfrom(4096)
    print("ANSWER rcode", d[3] & 15, "answers", struct.unpack(">H", d[6:8])[0])
except Exception as e:
    print("NO ANSWER", type(e).__name__, e)
PY`;
      try {
        const resolvConf = await sh(containerId, "cat /etc/resolv.conf");
        const dns = (await docker().getContainer(containerId).inspect()).HostConfig.Dns;
        const started = Date.now();
        const getent = await sh(containerId, `getent hosts ${tag}-getent.example.com; echo "exit=$?"`);
        const getentMs = Date.now() - started;
        const getaddrinfo = await sh(containerId, `python3 -c 'import socket; print(socket.getaddrinfo("${tag}-py.example.com", 443))' 2>&1 | tail -n 1`);
        const embedded = await sh(containerId, rawQuery("127.0.0.11", `${tag}-raw.example.com`));
        const viaGateway = await sh(containerId, rawQuery(gateway, `${tag}-gw.example.com`));
        // Control: a packet the sandbox sends straight at an outside address does cross the host (and is counted), so a zero above means nothing went out.
        await sh(containerId, rawQuery("203.0.113.53", `${tag}-control.example.com`));

        expect(getent).toContain("exit=2");
        expect(getentMs).toBeLessThan(15_000);
        expect(getaddrinfo).toMatch(/gaierror/);
        expect(embedded).not.toMatch(/ANSWER rcode 0 answers [1-9]/);
        expect(viaGateway).toMatch(/^NO ANSWER/);
        expect(await packets("OUTPUT")).toBe(0);
        // Only the control packet crossed the host.
        expect(await packets("FORWARD")).toBe(1);
        // Docker's embedded resolver is the only nameserver in the file, and its only upstream is nowhere.
        expect(resolvConf).toMatch(/^nameserver 127\.0\.0\.11$/m);
        expect(resolvConf.match(/^nameserver/gm)).toHaveLength(1);
        expect(dns).toEqual(["0.0.0.0"]);
      } finally {
        for (const chain of chains) await execFileP("iptables", ["-w", "5", "-t", "mangle", "-D", ...rule(chain)]).catch(() => undefined);
      }
    });

    it("every connection is a run event (allowed with bytes, refused with the reason) and the grant is audited", () => {
      const events = t.db
        .select()
        .from(runEvents)
        .where(and(eq(runEvents.runId, runId), eq(runEvents.type, "egress")))
        .all()
        .map((e) => e.payload);
      const allowed = events.find((p) => p.verdict === "allowed" && p.method === "GET");
      const refused = events.find((p) => p.verdict === "refused" && p.host === "other.test");
      const audit = t.db.select().from(auditEvents).where(eq(auditEvents.action, "egress.grant")).all();

      expect(allowed).toMatchObject({ host: "registry.test", port, status: 200 });
      expect(Number(allowed!.bytesDown)).toBeGreaterThan(0);
      expect(Number(allowed!.bytesUp)).toBeGreaterThan(0);
      expect(refused).toMatchObject({ status: 403, reason: expect.stringContaining("not among the domains granted") });
      const granted = audit.find((a) => a.targetId === runId)!;
      expect(granted.actorLabel).toBe(reviewer.email);
      expect(JSON.parse(String(granted.details))).toEqual({ domains: [`registry.test:${port}`], reason: "install dependencies" });
      expect(controller.view(runId).refused).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ host: "other.test", port, count: 1 }),
          expect.objectContaining({ host: "registry.test", port: hostServicePort }),
        ]),
      );
    });

    it("revoking one domain refuses new connections to it; revoking the last puts the sandbox back on network none", async () => {
      await grant(runId, [`other.test:${port}`]);
      expect(await sh(containerId, fetchScript(`http://other.test:${port}/hello`), env)).toContain("STATUS 200");

      await controller.revoke(reviewerActor(), { runId, domains: [`other.test:${port}`], reason: "done with it" });
      const afterOne = await sh(containerId, fetchScript(`http://other.test:${port}/hello`), env);
      const stillGranted = await sh(containerId, fetchScript(`http://registry.test:${port}/hello`), env);

      expect(afterOne).toContain("STATUS 403");
      expect(stillGranted).toContain("STATUS 200");

      const view = await controller.revoke(reviewerActor(), { runId });
      const interfaces = await sh(containerId, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
      const afterAll = await sh(containerId, fetchScript(`http://registry.test:${port}/hello`), env);

      expect(view).toMatchObject({ state: "none", connected: false, domains: [] });
      expect(interfaces.trim().split("\n")).toEqual(["lo"]);
      expect(afterAll).toMatch(/^ERROR URLError/);
      expect(await controller.execEnv(runId, containerId)).toEqual({});
      expect(t.db.select().from(auditEvents).where(eq(auditEvents.action, "egress.revoke")).all().length).toBeGreaterThanOrEqual(2);
    });
  });

  it("the run's own operator cannot grant, nor can anyone grant to an ended run or with a bad domain", async () => {
    const { runId } = await liveRun();
    const self = await addUser(t.db, "reviewer");
    t.db.update(runs).set({ createdBy: self.id }).where(eq(runs.id, runId)).run();

    await expect(
      controller.grant({ ...actorOf(self), userId: self.id }, { userId: self.id, role: "reviewer" }, { runId, domains: ["pypi.org"], reason: "x" }),
    ).rejects.toThrow(/another reviewer/);
    await expect(grant(runId, ["https://pypi.org/simple"])).rejects.toThrow(/URL; grant the host name only/);
    t.db.update(runs).set({ state: "failed" }).where(eq(runs.id, runId)).run();
    await expect(grant(runId, ["pypi.org"])).rejects.toThrow(/has ended/);
  });

  it("an idle egress network is torn down: sandboxes back on none, firewall rules and network removed", async () => {
    const { runId, containerId } = await liveRun();
    await grant(runId, [`registry.test:${port}`]);
    const bridge = controller.egressNetwork!.bridge;
    t.db.update(runs).set({ state: "succeeded" }).where(eq(runs.id, runId)).run();

    await controller.sweep();

    expect(controller.egressNetwork).toBeNull();
    expect(await findEgressNetwork(docker(), instanceIdForDataDir(dataDir))).toBeNull();
    expect(await firewallInstalled(bridge)).toBe(false);
    expect((await sh(containerId, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")).trim()).toBe("lo");
  });
});

describe("host firewall rules", () => {
  const bridge = `alkt${crypto.randomBytes(4).toString("hex")}`;
  const rules = async () => (await execFileP("iptables", ["-w", "5", "-S", chainFor(bridge)])).stdout.trim().split("\n");
  afterAll(() => removeFirewall(bridge));

  it("applying again with a new proxy port replaces the old ACCEPT and keeps one jump and the DROP", async () => {
    await applyFirewall(bridge, "10.254.0.1", 40001);
    await applyFirewall(bridge, "10.254.0.1", 40001);
    await applyFirewall(bridge, "10.254.0.1", 40002);

    const chain = chainFor(bridge);
    expect(await rules()).toEqual([`-N ${chain}`, `-A ${chain} -d 10.254.0.1/32 -p tcp -m tcp --dport 40002 -j ACCEPT`, `-A ${chain} -j DROP`]);
    const input = (await execFileP("iptables", ["-w", "5", "-S", "INPUT"])).stdout.split("\n").filter((l) => l.includes(chain));
    const input6 = (await execFileP("ip6tables", ["-w", "5", "-S", "INPUT"])).stdout.split("\n").filter((l) => l.includes(chain));
    expect(input).toEqual([`-A INPUT -i ${bridge} -j ${chain}`]);
    expect(input6).toEqual([`-A INPUT -i ${bridge} -j ${chain}`]);
    expect(await firewallInstalled(bridge)).toBe(true);
  });

  it("removing is idempotent and leaves nothing behind", async () => {
    await removeFirewall(bridge);
    await removeFirewall(bridge);
    expect(await firewallInstalled(bridge)).toBe(false);
    await expect(rules()).rejects.toThrow();
  });
});

describe("egress across an Airlock restart", () => {
  it("a granted sandbox keeps its egress through a new proxy (new port, firewall updated); the old port is closed", async () => {
    const { runId, containerId } = await liveRun();
    await grant(runId, [`registry.test:${port}`]);
    const oldUrl = controller.proxyUrl!;
    await controller.close(); // the process stops: rules and network stay, the sandbox stays fenced

    const whileDown = await sh(containerId, fetchScript(`http://registry.test:${port}/hello`), proxyEnvFor(oldUrl));
    controller = new EgressController({
      db: t.db,
      instance: instanceIdForDataDir(dataDir),
      resolve: async (h) => (h === "registry.test" ? [{ address: "127.0.0.1", family: 4 }] : []),
      sweepMs: 60_000,
    });
    setEgressController(controller);
    await controller.restore();
    const env = await controller.execEnv(runId, containerId);
    const after = await sh(containerId, fetchScript(`http://registry.test:${port}/hello`), env);

    expect(whileDown).toMatch(/^ERROR URLError/);
    expect(controller.egressNetwork).not.toBeNull();
    expect(env.http_proxy).toBe(controller.proxyUrl);
    expect(after).toContain("STATUS 200");
    if (controller.proxyUrl !== oldUrl) {
      const oldPort = Number(new URL(oldUrl).port);
      expect(await sh(containerId, connectScript(controller.egressNetwork!.gateway, oldPort))).toMatch(/^FAILED/);
    }
    await controller.revoke(reviewerActor(), { runId });
  });
});

describe("egress through the tool gateway", () => {
  let supervisor: Supervisor;
  const servers: ScriptedModelServer[] = [];

  afterAll(async () => {
    await supervisor?.stopAll({ userId: null, label: "test-cleanup" }, "cleanup").catch(() => undefined);
    await supervisor?.shutdown();
    await Promise.all(servers.map((s) => s.close()));
  });

  it("a reviewer grants a domain mid-run and the agent's next run_command reaches it; the sandbox started with network none", async () => {
    supervisor = newSupervisor(t.db, dataDir);
    await supervisor.start();
    const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
    const script: ScriptStep[] = [
      call("submit_plan", { steps: [{ title: "fetch", risk: "medium", risk_note: "network" }] }),
      call("run_command", { command: fetchScript(`http://registry.test:${port}/hello`) }),
      call("finish", { summary: "done", status: "success" }),
    ];
    const server = await startScriptedModelServer(script);
    servers.push(server);
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl));
    let networkModeAtStart: string | undefined;
    for (;;) {
      const state = getRun(t.db, run.id).state;
      if (["succeeded", "failed", "killed"].includes(state)) break;
      const pending = (await import("@/db/schema")).approvals;
      const a = t.db
        .select()
        .from(pending)
        .where(and(eq(pending.runId, run.id), eq(pending.state, "pending")))
        .get() as Approval | undefined;
      if (a) {
        if (a.kind === "plan") {
          const containerId = getRun(t.db, run.id).containerId!;
          networkModeAtStart = (await docker().getContainer(containerId).inspect()).HostConfig.NetworkMode;
          await grant(run.id, [`registry.test:${port}`], "the task fetches from the registry");
        }
        decideApproval(t.db, reviewerActor(), { id: a.id, decision: "approve" });
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    const done = await waitForState(t.db, run.id, ["succeeded", "failed", "killed"]);
    const results = toolResultsSent(server);

    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    expect(networkModeAtStart).toBe("none");
    expect(String(results[1]!.output)).toContain("STATUS 200");
    expect(String(results[1]!.output)).toContain("hello from the registry");
  });

  it("approving an install_package with grantRegistry grants that manager's registry to the run; other requests cannot", async () => {
    supervisor ??= newSupervisor(t.db, dataDir);
    const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
    const server = await startScriptedModelServer([
      call("submit_plan", { steps: [{ title: "install", risk: "medium", risk_note: "network" }] }),
      call("write_file", { path: "requirements.txt", content: "airlock-hello\n" }),
      call("install_package", { manager: "pip", packages: ["airlock-hello"] }),
      call("finish", { summary: "done", status: "success" }),
    ]);
    servers.push(server);
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl));
    const { appRouter } = await import("@/server/api/root");
    const { createCallerFactory } = await import("@/server/api/trpc");
    const { identityOfToken, issueToken } = await import("@/test/helpers/users");
    const asReviewer = createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, reviewer.id).token), sourceIp: null });
    const { approvals } = await import("@/db/schema");
    const nextPending = () =>
      waitFor(
        () =>
          t.db
            .select()
            .from(approvals)
            .where(and(eq(approvals.runId, run.id), eq(approvals.state, "pending")))
            .get() as Approval | undefined,
      );

    await asReviewer.approvals.decide({ id: (await nextPending()).id, decision: "approve" }); // the plan
    const command = await nextPending();
    expect(command.tool).toBe("write_file");
    await expect(asReviewer.approvals.decide({ id: command.id, decision: "approve", grantRegistry: true })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(t.db.select().from(approvals).where(eq(approvals.id, command.id)).get()!.state).toBe("pending"); // nothing decided
    expect(controller.view(run.id).state).toBe("none"); // nothing granted
    await asReviewer.approvals.decide({ id: command.id, decision: "approve" });

    const install = await nextPending();
    expect(install.tool).toBe("install_package");
    await expect(asReviewer.approvals.decide({ id: install.id, decision: "approve", grantRegistry: true })).resolves.toEqual({ state: "approved" });
    const view = controller.view(run.id);
    expect(view.domains.map((d) => d.entry).sort()).toEqual(["files.pythonhosted.org", "pypi.org"]);
    expect(view.domains[0]!.reason).toMatch(/to install airlock-hello with pip/);
    // Deciding it again (already approved) grants nothing more and says why.
    await expect(asReviewer.approvals.decide({ id: install.id, decision: "approve", grantRegistry: true })).rejects.toThrow(/already approved/);
    await waitForState(t.db, run.id, ["succeeded", "failed", "killed"]);
  });
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}
