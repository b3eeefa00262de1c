// The live viewers of bench/load.bench.ts, in a process of their own so the
// Airlock process's memory and event loop are measured without them (not a
// benchmark itself). Each viewer is a browser's tRPC client (SSE) signed in
// as the reviewer. Reads JSON lines on stdin:
//   {"settings": {trpcUrl, token}}        first
//   {"follow": {"sub": 3, "runId": "…"}}  viewer 3 opens runs.events of that run from its start
//   {"review": {"token": "…"}}            a reviewer starts deciding every pending request through the API
//                                          (plans approved, every fifth tool request denied with a reason)
//   {"report": {"<runId>": lastId, …}}    the reviewer stops; wait (up to 60 s) until every subscription has
//                                          the run's last event, then print one JSON line: every event id each
//                                          saw, and the reviewer's decisions and errors
// The reviewer lives here, not in the Airlock process, as a reviewer's browser would: a client sharing
// Airlock's event loop saw its stalls as its own (idle keep-alive sockets reused after the server closed them).
// Prints "started <sub> <runId>" when a subscription is open.
import readline from "node:readline";
import { browserClient } from "./lab";

export interface ReviewerReport {
  decided: number;
  toolDecisions: number;
  errors: string[];
}

export interface ViewersReport {
  subscriptions: LoadSubscription[];
  reviewer: ReviewerReport;
}

export interface LoadSubscription {
  sub: number;
  runId: string;
  /** Every event id received, in the order received. */
  ids: number[];
  errors: string[];
}

const clients = new Map<number, ReturnType<typeof browserClient>>();
const subscriptions: (LoadSubscription & { close: () => void })[] = [];
let settings: { trpcUrl: string; token: string } | null = null;
const reviewer: ReviewerReport = { decided: 0, toolDecisions: 0, errors: [] };
let reviewing: Promise<void> | null = null;
let stopReviewing = false;

/** An error's message with its causes' (fetch hides the socket's reason two levels down). */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as (Error & { code?: string }) | undefined; e && parts.length < 5; e = e.cause as typeof e)
    parts.push(`${e.code ? `${e.code} ` : ""}${e.message}`);
  return parts.join(" ← ");
}

async function review(token: string): Promise<void> {
  if (!settings) throw new Error("settings first");
  const client = browserClient(settings.trpcUrl, token);
  while (!stopReviewing) {
    try {
      const { items } = await client.approvals.list.query({ state: "pending" });
      for (const a of items) {
        // Plans are always approved (a denied plan leaves the agent without one); every fifth tool request is denied.
        const deny = a.kind === "tool" && reviewer.toolDecisions % 5 === 4;
        await client.approvals.decide.mutate(deny ? { id: a.id, decision: "deny", reason: "not now (load benchmark)" } : { id: a.id, decision: "approve" });
        reviewer.decided += 1;
        if (a.kind === "tool") reviewer.toolDecisions += 1;
      }
    } catch (err) {
      reviewer.errors.push(causeChain(err));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function follow(sub: number, runId: string): void {
  if (!settings) throw new Error("settings first");
  let client = clients.get(sub);
  if (!client) {
    client = browserClient(settings.trpcUrl, settings.token);
    clients.set(sub, client);
  }
  const s: LoadSubscription & { close: () => void } = { sub, runId, ids: [], errors: [], close: () => undefined };
  const handle = client.runs.events.subscribe(
    { id: runId },
    {
      onStarted: () => console.log(`started ${sub} ${runId}`),
      onData: (envelope) => s.ids.push(Number(envelope.id)),
      onError: (err) => s.errors.push(err.message),
    },
  );
  s.close = () => handle.unsubscribe();
  subscriptions.push(s);
}

async function report(lastIds: Record<string, number>): Promise<void> {
  stopReviewing = true;
  await reviewing;
  const deadline = Date.now() + 60_000;
  const caughtUp = () => subscriptions.every((s) => (s.ids.at(-1) ?? 0) >= (lastIds[s.runId] ?? 0));
  while (!caughtUp() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  for (const s of subscriptions) s.close();
  const out: ViewersReport = { subscriptions: subscriptions.map((s) => ({ sub: s.sub, runId: s.runId, ids: s.ids, errors: s.errors })), reviewer };
  const cpu = process.cpuUsage();
  console.error(`viewers' process: cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, rss ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB`);
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
}

// Closing an EventSource whose fetch body has just ended can make undici throw
// "Controller is already closed" from an abort listener (a teardown race in the
// client library, as in bench/stream-subscribers.ts): not a delivery problem.
process.on("uncaughtException", (err: NodeJS.ErrnoException) => {
  if (err.code === "ERR_INVALID_STATE") return;
  console.error(err);
  process.exit(1);
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const msg = JSON.parse(line) as {
    settings?: { trpcUrl: string; token: string };
    follow?: { sub: number; runId: string };
    review?: { token: string };
    report?: Record<string, number>;
  };
  if (msg.settings) settings = msg.settings;
  if (msg.follow) follow(msg.follow.sub, msg.follow.runId);
  if (msg.review) reviewing = review(msg.review.token);
  if (msg.report) void report(msg.report);
});
