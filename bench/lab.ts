// A whole Airlock on loopback for the latency benchmarks (not a benchmark
// itself): the process's database in a fresh data directory, a supervisor on
// the real engine, notifications started as the server starts them, the real
// tRPC and MCP route handlers served over HTTP, a reviewer signed in through a
// browser's tRPC client (SSE for subscriptions, the streaming batch link for
// the rest), a Web Push service and a webhook receiver the reviewer and an
// admin subscribed to through the API as a user does. An external agent drives
// runs over MCP, so every tool call takes the gateway path a real agent takes.
//
// startLab() must run before anything reads the configuration (it sets the
// data directory and the notification allow-list).
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createTRPCClient, httpBatchStreamLink, httpSubscriptionLink, splitLink, type TRPCClient } from "@trpc/client";
import { EventSource } from "eventsource";
import superjson from "superjson";
import type { Db } from "@/db/client";
import type { AppRouter } from "@/server/api/root";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import type { RouteServer } from "@/test/helpers/route-server";
import type { PushDevice, PushService } from "@/test/helpers/push-service";

/** Wall-clock milliseconds with sub-millisecond resolution (comparable with `date +%s%N` in a container: same kernel clock). */
export const now = (): number => performance.timeOrigin + performance.now();

export interface WebhookHit {
  at: number;
  body: string;
}

export interface WebhookReceiver {
  url: string;
  hits: WebhookHit[];
  close(): Promise<void>;
}

/** A loopback webhook receiver: records each POST's body and when it had fully arrived, answers 200. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const hits: WebhookHit[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      hits.push({ at: now(), body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/airlock`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A browser's tRPC client (the dashboard's links: SSE for subscriptions, httpBatchStreamLink for the rest), signed in with a token. */
export function browserClient(trpcUrl: string, token: string): TRPCClient<AppRouter> {
  const authorization = `Bearer ${token}`;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url: trpcUrl,
          transformer: superjson,
          EventSource,
          eventSourceOptions: () => ({
            fetch: (input: string | URL | Request, init?: RequestInit) =>
              fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization } }),
          }),
        }),
        false: httpBatchStreamLink({ url: trpcUrl, transformer: superjson, headers: { authorization } }),
      }),
    ],
  });
}

export interface Lab {
  dataDir: string;
  db: Db;
  supervisor: Supervisor;
  admin: PublicUser;
  operator: PublicUser;
  reviewer: PublicUser;
  /** http://127.0.0.1:PORT/api/trpc */
  trpcUrl: string;
  /** The reviewer's browser client. */
  reviewerClient: TRPCClient<AppRouter>;
  /** The operator's client (starts runs). */
  operatorClient: TRPCClient<AppRouter>;
  push: PushService;
  /** The reviewer's browser, subscribed to Web Push. */
  pushDevice: PushDevice;
  webhook: WebhookReceiver;
  /** Starts an external run and connects an MCP agent to it; its plan is approved, so tool calls go straight to policy. */
  startAgentRun(title: string): Promise<AgentRun>;
  close(): Promise<void>;
}

export interface AgentRun {
  runId: string;
  agent: Client;
  /** Calls a tool as the agent and returns its JSON result. */
  call(tool: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export async function startLab(): Promise<Lab> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-bench-lab-"));
  process.env.AIRLOCK_DATA_DIR = dataDir;
  process.env.NEXTAUTH_URL ??= "http://airlock.bench:3000";
  // Push endpoints and webhooks on loopback are refused unless an admin lists the host (README, "Notifications").
  process.env.AIRLOCK_NOTIFY_ALLOW_HOSTS = "127.0.0.1";
  const { db: processDb } = await import("@/db/client");
  const { Supervisor, setSupervisor } = await import("@/server/supervisor/supervisor");
  const { dockerRuntime, instanceIdForDataDir } = await import("@/server/sandbox/runtime");
  const { sandboxImageName } = await import("@/server/sandbox/image");
  const { startNotifications } = await import("@/server/notify/boot");
  const { serveRoute } = await import("@/test/helpers/route-server");
  const { startPushService, newPushDevice } = await import("@/test/helpers/push-service");
  const { addUser, issueToken } = await import("@/test/helpers/users");
  const { roomyQueue, waitForPendingApproval, waitForState } = await import("@/test/helpers/runs");

  const db = processDb();
  roomyQueue(db);
  startNotifications(db);
  const supervisor = new Supervisor({
    db,
    runtime: dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) }),
    dataDir,
    image: sandboxImageName(),
  });
  setSupervisor(supervisor);
  await supervisor.start();
  const admin = await addUser(db, "admin");
  const operator = await addUser(db, "operator");
  const reviewer = await addUser(db, "reviewer");

  const trpcRoute = await import("@/app/api/trpc/[trpc]/route");
  const mcpRoute = await import("@/app/api/mcp/route");
  const servers: RouteServer[] = [
    await serveRoute("/api/trpc/*", { GET: trpcRoute.GET, POST: trpcRoute.POST }),
    await serveRoute("/api/mcp", { GET: mcpRoute.GET, POST: mcpRoute.POST, DELETE: mcpRoute.DELETE }),
  ];
  const [trpcServer, mcpServer] = servers as [RouteServer, RouteServer];
  const reviewerClient = browserClient(trpcServer.url, issueToken(db, reviewer.id).token);
  const operatorClient = browserClient(trpcServer.url, issueToken(db, operator.id).token);
  const adminClient = browserClient(trpcServer.url, issueToken(db, admin.id).token);

  // The reviewer turns notifications on in this browser; an admin adds a webhook for approval requests.
  const push = await startPushService();
  const pushDevice = newPushDevice(push);
  await reviewerClient.notifications.subscribe.mutate({ endpoint: pushDevice.endpoint, keys: pushDevice.keys, label: "bench phone" });
  const webhook = await startWebhookReceiver();
  await adminClient.webhooks.create.mutate({ url: webhook.url, events: ["approval.requested"], format: "standard" });

  const agents: Client[] = [];
  return {
    dataDir,
    db,
    supervisor,
    admin,
    operator,
    reviewer,
    trpcUrl: trpcServer.url,
    reviewerClient,
    operatorClient,
    push,
    pushDevice,
    webhook,
    async startAgentRun(title) {
      const created = await operatorClient.runs.create.mutate({ title, task: "benchmark", agent: "external" });
      await waitForState(db, created.id, "planning");
      const agent = new Client({ name: "airlock-bench-agent", version: "1.0.0" });
      await agent.connect(
        new StreamableHTTPClientTransport(new URL(mcpServer.url), { requestInit: { headers: { authorization: `Bearer ${created.mcpToken!}` } } }),
      );
      agents.push(agent);
      const call = async (tool: string, args: Record<string, unknown>) => {
        const res = await agent.callTool({ name: tool, arguments: args }, undefined, { timeout: 600_000 });
        return JSON.parse((res.content as { text: string }[])[0]!.text) as Record<string, unknown>;
      };
      const plan = call("submit_plan", { steps: [{ title: "benchmark", risk: "low", risk_note: "prints to the terminal" }] });
      const planApproval = await waitForPendingApproval(db, created.id, "plan");
      await reviewerClient.approvals.decide.mutate({ id: planApproval.id, decision: "approve" });
      const planned = await plan;
      if (planned.ok !== true) throw new Error(`the plan was not approved: ${JSON.stringify(planned)}`);
      return { runId: created.id, agent, call };
    },
    async close() {
      await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
      await supervisor.stopAll({ userId: null, label: "bench-cleanup" }, "benchmark done").catch(() => undefined);
      await supervisor.shutdown();
      setSupervisor(undefined);
      await Promise.all([...servers.map((s) => s.close()), push.close(), webhook.close()]);
      db.$client.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
