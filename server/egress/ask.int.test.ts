// A human in the connection (issue 12, item 5), through the real egress proxy
// on loopback with the controller's own hooks (egressPolicyHooks), a real
// SQLite file, real approval requests and the audit chain. The project's
// saved policy names made-up hosts that the proxy's test resolver maps to a
// loopback "upstream", allowed the way egress.int.test.ts allows it. No
// traffic leaves the machine.
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { approvals, auditEvents, type Approval } from "@/db/schema";
import { decideApproval } from "@/server/approvals/approvals";
import { verifyAuditChain } from "@/server/audit/chain";
import { EGRESS_ASK_TOOL, EgressAsks, egressPolicyHooks, PROJECT_EGRESS_GRANT_DAYS } from "@/server/egress/ask";
import { EgressProxy, type EgressConnectionRecord } from "@/server/egress/proxy";
import { egressView } from "@/server/egress/controller";
import { DEFAULT_POLICY } from "@/server/policy/default-policy";
import type { PolicyRule } from "@/server/policy/policy";
import { policyToYaml } from "@/server/policy/yaml";
import { updatePolicy } from "@/server/projects/policy-store";
import { createRun } from "@/server/runs/runs";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { registerModel, waitFor } from "@/test/helpers/runs";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { createApproval } from "@/server/approvals/approvals";

const HOLD_MS = 1500;

let t: TestDb;
let operator: PublicUser;
let reviewer: PublicUser;
let modelId: string;
let upstream: http.Server;
let upstreamPort: number;
let proxy: EgressProxy;
let proxyPort: number;
let asks: EgressAsks;
/** The run whose sandbox the loopback client stands for. */
let currentRun: string;
const resolved: string[] = [];
const records: EgressConnectionRecord[] = [];

function domainRule(id: string, hosts: string[], outcome: PolicyRule["outcome"]): PolicyRule {
  return {
    id,
    description: `${outcome} ${hosts.join(", ")}`,
    tools: ["http_fetch"],
    match: { url: { hosts } },
    outcome,
    reason: `The project's policy says ${outcome} for {host}.`,
  };
}

/** Writes `request` to the proxy and returns everything it answers until the connection closes. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.write(request);
  });
}

const connect = (host: string) =>
  raw(`CONNECT ${host}:${upstreamPort} HTTP/1.1\r\nHost: ${host}:${upstreamPort}\r\n\r\nGET /simple/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
const plainGet = (host: string) => raw(`GET http://${host}:${upstreamPort}/pkg HTTP/1.1\r\nHost: ${host}:${upstreamPort}\r\nConnection: close\r\n\r\n`);

const pendingNetworkApprovals = (runId: string): Approval[] =>
  t.db
    .select()
    .from(approvals)
    .where(and(eq(approvals.runId, runId), eq(approvals.tool, EGRESS_ASK_TOOL), eq(approvals.state, "pending")))
    .all();

const heldApproval = (runId: string) => waitFor("a held connection's approval request", () => pendingNetworkApprovals(runId)[0], 10_000);

const auditOf = (action: string) =>
  t.db
    .select()
    .from(auditEvents)
    .where(eq(auditEvents.action, action))
    .all()
    .map((e) => JSON.parse(e.details) as Record<string, unknown>);

const decide = (id: string, decision: "approve" | "deny", extra: { reason?: string; edit?: Record<string, unknown> } = {}) =>
  decideApproval(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { id, decision, ...extra });

function newRun(): string {
  currentRun = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "egress ask", task: "none", modelId }).id;
  return currentRun;
}

beforeAll(async () => {
  t = createTestDb();
  const admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  modelId = registerModel(t.db, admin, "http://127.0.0.1:9");
  upstream = http.createServer((req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(`upstream says hi to ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  upstreamPort = (upstream.address() as AddressInfo).port;
  // The project's own policy: one host allowed, one asked about, one denied (ports as http_fetch rules give them).
  await updatePolicy(
    t.db,
    { ...actorOf(admin), userId: admin.id },
    {
      yaml: policyToYaml({
        ...DEFAULT_POLICY,
        rules: [
          domainRule("allow-mirror", [`mirror.test`], "allow"),
          domainRule("ask-api", ["api.test", "api2.test"], "ask"),
          domainRule("deny-tracker", ["tracker.test"], "deny"),
          ...DEFAULT_POLICY.rules,
        ],
      }),
    },
  );
  asks = new EgressAsks({ db: t.db, timeoutMs: () => HOLD_MS });
  proxy = new EgressProxy({
    host: "127.0.0.1",
    identify: (address) => (address === "127.0.0.1" ? currentRun : null),
    ...egressPolicyHooks(t.db, asks),
    allowance: () => ({ allowPrivate: false, allowHosts: ["127.0.0.1"] }),
    resolve: async (host) => {
      resolved.push(host);
      return host.endsWith(".test") ? [{ address: "127.0.0.1", family: 4 }] : [];
    },
    record: (_runId, _source, record) => records.push(record),
  });
  proxyPort = (await proxy.listen()).port;
});

afterAll(async () => {
  await proxy?.close();
  upstream?.close();
  t?.close();
});

beforeEach(() => {
  resolved.length = 0;
  records.length = 0;
  newRun();
});

describe("network rules with a human in the connection", () => {
  it("I5: a reviewer allows a held CONNECT for this run: the request proceeds, and the run's next connection needs no question", async () => {
    const runId = currentRun;
    const answer = connect("api.test");
    const approval = await heldApproval(runId);
    expect(approval).toMatchObject({ kind: "tool", tool: "network", rule: "ask-api", allowSelfApproval: false });
    expect(approval.args).toMatchObject({ host: "api.test", port: upstreamPort, entry: `api.test:${upstreamPort}`, scopes: ["run", "project"] });
    expect(approval.reason).toContain(`connecting to api.test:${upstreamPort}; the connection is held for up to 2 s`);
    expect(resolved, "DNS waits for the reviewer").not.toContain("api.test");

    decide(approval.id, "approve", { edit: { scope: "run" } });
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 200 Connection Established/);
    expect(text).toContain("upstream says hi to /simple/");

    expect(await connect("api.test")).toContain("upstream says hi to /simple/");
    expect(pendingNetworkApprovals(runId)).toHaveLength(0);
    expect(t.db.select().from(approvals).where(eq(approvals.runId, runId)).all()).toHaveLength(1);
    const audit = auditOf("egress.ask").find((d) => d.approvalId === approval.id);
    expect(audit).toMatchObject({ decision: "approved", scope: "run", expiresAt: null, expires: "when the run ends", entry: `api.test:${upstreamPort}` });
    expect(auditOf("egress.grant").find((d) => d.approvalId === approval.id)).toMatchObject({ domains: [`api.test:${upstreamPort}`], scope: "run" });
    expect(verifyAuditChain(t.db).ok).toBe(true);
  });

  it("I5: a reviewer denies a held plain HTTP request: the proxy answers 403 with the reviewer's reason and never resolves the host", async () => {
    const runId = currentRun;
    const answer = plainGet("api.test");
    const approval = await heldApproval(runId);
    decide(approval.id, "deny", { reason: "the task needs no API access" });
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 403/);
    expect(text).toContain(`a reviewer denied api.test:${upstreamPort}: the task needs no API access`);
    expect(resolved).not.toContain("api.test");
    expect(auditOf("egress.ask").find((d) => d.approvalId === approval.id)).toMatchObject({ decision: "denied", scope: null });
  });

  it("I5: a held connection nobody decides is refused with 403 once the hold time is over", async () => {
    const runId = currentRun;
    const started = Date.now();
    const answer = connect("api.test");
    const approval = await heldApproval(runId);
    const text = await answer;
    const waited = Date.now() - started;
    expect(text).toMatch(/^HTTP\/1\.1 403/);
    expect(text).toContain(`no reviewer decided within 2 s, so the connection to api.test:${upstreamPort} was refused.`);
    expect(waited).toBeGreaterThanOrEqual(HOLD_MS - 50);
    expect(waited).toBeLessThan(HOLD_MS + 3000);
    expect(t.db.select().from(approvals).where(eq(approvals.id, approval.id)).get()!.state).toBe("expired");
    expect(auditOf("egress.ask").find((d) => d.approvalId === approval.id)).toMatchObject({ decision: "expired", scope: null, expiresAt: null });
    expect(records.at(-1)).toMatchObject({ verdict: "refused", status: 403, host: "api.test" });
  });

  it("I5: two concurrent connections to the same host wait on one approval request and both proceed", async () => {
    const runId = currentRun;
    const first = connect("api2.test");
    const second = plainGet("api2.test");
    const approval = await heldApproval(runId);
    await waitFor("both connections held", () => asks.waiting === 1 && records.length === 0, 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(pendingNetworkApprovals(runId)).toHaveLength(1);
    decide(approval.id, "approve");
    const [a, b] = await Promise.all([first, second]);
    expect(a).toContain("upstream says hi to /simple/");
    expect(b).toMatch(/^HTTP\/1\.1 200/);
    expect(b).toContain("upstream says hi to /pkg");
    expect(t.db.select().from(approvals).where(eq(approvals.runId, runId)).all()).toHaveLength(1);
  });

  it("I5: approved for this project, the destination opens for the project's other runs until it expires, audited with scope and expiry", async () => {
    const firstRun = currentRun;
    const answer = connect("api2.test");
    const approval = await heldApproval(firstRun);
    const before = Date.now();
    decide(approval.id, "approve", { edit: { scope: "project" } });
    expect(await answer).toContain("upstream says hi to /simple/");
    const audit = auditOf("egress.ask").find((d) => d.approvalId === approval.id)!;
    expect(audit).toMatchObject({ decision: "approved", scope: "project", runId: firstRun });
    const expiresAt = Date.parse(String(audit.expiresAt));
    expect(expiresAt - before).toBeGreaterThanOrEqual(PROJECT_EGRESS_GRANT_DAYS * 86_400_000 - 1000);
    expect(expiresAt - before).toBeLessThan(PROJECT_EGRESS_GRANT_DAYS * 86_400_000 + 60_000);

    const otherRun = newRun();
    expect(await plainGet("api2.test")).toContain("upstream says hi to /pkg");
    expect(pendingNetworkApprovals(otherRun)).toHaveLength(0);
    // The run page's Network access panel lists it for the project's runs.
    expect(egressView(t.db, otherRun).projectDomains).toEqual([
      { entry: `api2.test:${upstreamPort}`, reason: expect.any(String), grantedBy: reviewer.email, expiresAt: new Date(expiresAt) },
    ]);
  });

  it("I5: the project's allow rule admits a host no grant names, and its deny rule refuses with the rule's reason", async () => {
    expect(await connect("mirror.test")).toContain("upstream says hi to /simple/");
    const denied = await plainGet("tracker.test");
    expect(denied).toMatch(/^HTTP\/1\.1 403/);
    expect(denied).toContain("the project's policy denies it (rule deny-tracker): The project's policy says deny for tracker.test.");
    // A host no domain rule names keeps the grants-only answer: refused at once, nobody asked.
    const other = await connect("elsewhere.test");
    expect(other).toMatch(/^HTTP\/1\.1 403/);
    expect(other).toContain("is not among the domains granted to this run");
    expect(pendingNetworkApprovals(currentRun)).toHaveLength(0);
  });

  it("I5: the card's scope choice travels through approvals.decide; a scope on any other request is refused", async () => {
    const runId = currentRun;
    const caller = createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, reviewer.id).token), sourceIp: null });
    const other = createApproval(
      t.db,
      { userId: null, label: "test" },
      {
        runId,
        kind: "tool",
        tool: "write_file",
        args: { path: "a.txt", content: "x" },
        verdict: "ask",
        reason: "a write",
        requestedBy: operator.id,
      },
    );
    await expect(caller.approvals.decide({ id: other.id, decision: "approve", edit: { scope: "project" } })).rejects.toThrow(
      /scope only applies to a held network connection/,
    );

    const answer = plainGet("api.test");
    const approval = await heldApproval(runId);
    // The inbox lists it like any other request, with what the card shows.
    const inbox = await caller.approvals.list({ state: "pending" });
    expect(inbox.items.find((i) => i.id === approval.id)).toMatchObject({
      tool: "network",
      kind: "tool",
      args: { entry: `api.test:${upstreamPort}`, scopes: ["run", "project"] },
      canDecide: true,
    });
    await expect(caller.approvals.decide({ id: approval.id, decision: "approve", edit: { command: "x" } })).rejects.toThrow(/cannot be edited/);
    await caller.approvals.decide({ id: approval.id, decision: "approve", edit: { scope: "project" } });
    expect(await answer).toContain("upstream says hi to /pkg");
    expect(auditOf("egress.ask").find((d) => d.approvalId === approval.id)).toMatchObject({ decision: "approved", scope: "project" });
  });
});
