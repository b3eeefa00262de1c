// Approval latency, as a reviewer waits for it (issue 14, part 3), measured
// on a Lab (bench/lab.ts); importable by other benchmarks (the scale
// benchmark repeats it under load). Not a benchmark itself.
//
// One round: the agent calls run_command with a command the policy asks
// about (over MCP, through the real gateway). From that call we time the
// pending request's arrival (a) in the reviewer's browser: the
// approvals.changes ping over SSE, then the approvals.list the dashboard
// refetches on it, showing the new request; (b) at the push service (the
// reviewer's subscribed device); (c) at the webhook receiver. Then the
// reviewer decides through approvals.decide, and we time until the command's
// first action in the sandbox (it prints `date +%s%N`).
//
// Each round also times the raw transports in turn: an agent's bare HTTP POST
// relayed as one SSE message to a subscribed EventSource (a), a bare POST of
// the same size to the push service (b) and to the webhook receiver (c), and
// the same command started by a bare exec through the engine API (decide).
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { EventSource } from "eventsource";
import { decryptPush, pushesTo } from "@/test/helpers/push-service";
import { docker } from "@/server/sandbox/docker";
import { onSignal } from "@/server/events/bus";
import { eq } from "drizzle-orm";
import { approvals, toolCalls } from "@/db/schema";
import { AGENT_USER } from "@/server/sandbox/layout";
import { getRun } from "@/test/helpers/runs";
import { now, type Lab } from "./lab";

export interface ApprovalLatency {
  /** Tool call → the pending request in the browser's approvals.list (after the approvals.changes ping). */
  browser: number[];
  /** Tool call → the approvals.changes ping alone. */
  browserPing: number[];
  /** Tool call → the encrypted push at the push service. */
  push: number[];
  /** Tool call → the signed POST at the webhook receiver. */
  webhook: number[];
  /** Tool call → the request committed on the server (its approvals:changed signal): the gateway's share of the figures above. */
  recorded: number[];
  /** Tool call → the gateway's tool_calls row (MCP transport and the run token's check; ms resolution): the rest of `recorded` is judging and committing. */
  reachedGateway: number[];
  /** approvals.decide sent → the command's first action in the sandbox. */
  decideToStart: number[];
  /** The raw transports, one sample per round each (see the module head). */
  raw: { sse: number[]; push: number[]; webhook: number[]; exec: number[] };
}

/** A command the default policy asks about (command substitution), which prints when it starts: "started <ns since the epoch>". */
export const ASKING_COMMAND = 'echo "started $(date +%s%N)"';
const STARTED = /started (\d+)/;

function startedAt(text: string): number {
  const m = STARTED.exec(text);
  if (!m) throw new Error(`the command printed no start time: ${text.slice(0, 200)}`);
  return Number(BigInt(m[1]!) / 1000n) / 1000; // ns → ms, keeping µs
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A bare SSE relay on loopback: whatever is POSTed to /emit is written as one message to every open /events stream. */
async function startSseRelay(): Promise<{ url: string; close(): Promise<void> }> {
  const streams = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    if (req.url === "/events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
      res.write(": open\n\n");
      streams.add(res);
      res.on("close", () => streams.delete(res));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      for (const s of streams) s.write(`data: ${body}\n\n`);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The first moment each pending request of the run was in the browser's list, and each ping. */
function watchBrowser(lab: Lab, runId: string) {
  const seen = new Map<string, number>();
  const pings: number[] = [];
  let refetching: Promise<void> | null = null;
  let again = false;
  // As the dashboard does (components/approvals/live.tsx): every ping invalidates approvals.list, which refetches.
  const refetch = async () => {
    do {
      again = false;
      const { items } = await lab.reviewerClient.approvals.list.query({ state: "pending" });
      const at = now();
      for (const a of items) if (a.runId === runId && !seen.has(a.id)) seen.set(a.id, at);
    } while (again);
  };
  const sub = lab.reviewerClient.approvals.changes.subscribe(undefined, {
    onData: () => {
      pings.push(now());
      if (refetching) {
        again = true;
        return;
      }
      refetching = refetch().finally(() => (refetching = null));
    },
    onError: (err) => console.error("approvals.changes failed:", err),
  });
  return { seen, pings, close: () => sub.unsubscribe() };
}

async function bareExecStart(containerId: string): Promise<number> {
  const container = docker().getContainer(containerId);
  const t0 = now();
  const exec = await container.exec({
    Cmd: ["bash", "-c", ASKING_COMMAND],
    User: AGENT_USER,
    WorkingDir: "/workspace",
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", resolve);
  });
  return startedAt(Buffer.concat(chunks).toString("latin1")) - t0;
}

async function barePost(url: string, body: string | Buffer): Promise<number> {
  const t0 = now();
  const res = await fetch(url, {
    method: "POST",
    body: typeof body === "string" ? body : new Uint8Array(body),
    headers: { "content-type": "application/octet-stream" },
  });
  await res.arrayBuffer();
  return t0;
}

/**
 * `rounds` measured rounds after `warmup` unmeasured ones, on one external
 * run started for it. Samples in milliseconds.
 */
export async function measureApprovalLatency(lab: Lab, opts: { rounds: number; warmup?: number }): Promise<ApprovalLatency> {
  const warmup = opts.warmup ?? 2;
  const run = await lab.startAgentRun("approval latency");
  const containerId = getRun(lab.db, run.runId).containerId!;
  const browser = watchBrowser(lab, run.runId);
  const relay = await startSseRelay();
  const relayFeed = new EventSource(`${relay.url}/events`);
  const relayed: { at: number; data: string }[] = [];
  relayFeed.onmessage = (m) => relayed.push({ at: now(), data: m.data });
  await new Promise<void>((resolve, reject) => {
    relayFeed.onopen = () => resolve();
    relayFeed.onerror = () => reject(new Error("the SSE relay did not open"));
  });
  const committed = new Map<string, number>();
  const stopWatchingCommits = onSignal("approvals:changed", (p) => {
    const { id, state } = p as { id: string; state: string };
    if (state === "pending" && !committed.has(id)) committed.set(id, now());
  });
  const out: ApprovalLatency = {
    browser: [],
    browserPing: [],
    push: [],
    webhook: [],
    recorded: [],
    reachedGateway: [],
    decideToStart: [],
    raw: { sse: [], push: [], webhook: [], exec: [] },
  };
  try {
    // Let the subscription open (its first ping is "ready").
    await until("the approvals feed to open", () => (browser.pings.length ? true : undefined));
    for (let i = -warmup; i < opts.rounds; i++) {
      const keep = i >= 0;
      // Airlock: the tool call, its notifications, the decision, the command.
      const pingsBefore = browser.pings.length;
      const pushesBefore = pushesTo(lab.push, lab.pushDevice).length;
      const hooksBefore = lab.webhook.hits.length;
      const t0 = now();
      const result = run.call("run_command", { command: ASKING_COMMAND });
      const approvalId = await until("the request in the browser", () => [...browser.seen.keys()].find((id) => browser.seen.get(id)! >= t0));
      const pushed = await until("the push", () =>
        pushesTo(lab.push, lab.pushDevice)
          .slice(pushesBefore)
          .find((p) => (decryptPush(lab.pushDevice, p.body) as { approvalId?: string }).approvalId === approvalId),
      );
      const hooked = await until("the webhook", () =>
        lab.webhook.hits.slice(hooksBefore).find((h) => (JSON.parse(h.body) as { data: { approvalId?: string } }).data.approvalId === approvalId),
      );
      const ping = browser.pings.slice(pingsBefore).find((p) => p >= t0)!;
      const tDecide = now();
      await lab.reviewerClient.approvals.decide.mutate({ id: approvalId, decision: "approve" });
      const done = await result;
      if (done.ok !== true) throw new Error(`the approved command failed: ${JSON.stringify(done)}`);
      const start = startedAt(String(done.output));
      if (keep) {
        out.browser.push(browser.seen.get(approvalId)! - t0);
        out.browserPing.push(ping - t0);
        out.push.push(pushed.at - t0);
        out.webhook.push(hooked.at - t0);
        out.decideToStart.push(start - tDecide);
        out.recorded.push(committed.get(approvalId)! - t0);
        const call = lab.db
          .select({ createdAt: toolCalls.createdAt })
          .from(toolCalls)
          .innerJoin(approvals, eq(approvals.toolCallId, toolCalls.id))
          .where(eq(approvals.id, approvalId))
          .get()!;
        out.reachedGateway.push(call.createdAt.getTime() - t0);
      }

      // Raw: the same hops without Airlock.
      const marker = `round-${i}-${Math.random()}`;
      const tSse = await barePost(`${relay.url}/emit`, marker);
      const sse = await until("the relayed SSE message", () => relayed.find((m) => m.data === marker));
      const rawPushBefore = lab.push.received.length;
      const tPush = await barePost(`${lab.push.origin}/raw-baseline`, pushed.body);
      const rawPush = await until("the raw push", () => lab.push.received.slice(rawPushBefore).find((p) => p.path === "/raw-baseline"));
      const rawHooksBefore = lab.webhook.hits.length;
      const tHook = await barePost(lab.webhook.url, hooked.body);
      const rawHook = await until("the raw webhook", () => lab.webhook.hits[rawHooksBefore]);
      const exec = await bareExecStart(containerId);
      if (keep) {
        out.raw.sse.push(sse.at - tSse);
        out.raw.push.push(rawPush.at - tPush);
        out.raw.webhook.push(rawHook.at - tHook);
        out.raw.exec.push(exec);
      }
    }
  } finally {
    stopWatchingCommits();
    browser.close();
    relayFeed.close();
    await relay.close();
  }
  return out;
}
