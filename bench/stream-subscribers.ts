// The run page's viewers for bench/streaming.bench.ts, in a process of their
// own so Airlock's memory is measured without them (not a benchmark itself).
// Reads its settings as one JSON line on stdin, opens `subscribers` runs.events
// subscriptions through a browser's tRPC client (SSE), prints "ready" once all
// are open, then follows the run's live output: every line must arrive, in
// order; lines carrying a print time ("<n> <ms since the epoch>") give the
// delay from print to receipt. Prints one JSON line with what each saw.
import readline from "node:readline";
import { browserClient, now } from "./lab";

export interface SubscriberSettings {
  trpcUrl: string;
  token: string;
  runId: string;
  /** Output after this event only (the command's). */
  afterEventId: number;
  lines: number;
  subscribers: number;
  timeoutMs: number;
}

export interface SubscriberReport {
  /** Lines received, in order, before the first gap (all of them when complete). */
  received: number;
  /** The first line out of order or missing: what was expected and what came. */
  firstGap: { expected: number; got: string } | null;
  /** Receipt time of the last line. */
  lastAt: number | null;
  /** Receipt − print time, for each line that carried its print time. */
  delays: number[];
  /** Print time of line 1. */
  firstPrintedAt: number | null;
  /** Text that was not a line of the command (e.g. Airlock's own notice of a cut). */
  foreign: string[];
  error: string | null;
}

function follow(settings: SubscriberSettings, onStarted: () => void, onDone: () => void): SubscriberReport {
  const report: SubscriberReport = { received: 0, firstGap: null, lastAt: null, delays: [], firstPrintedAt: null, foreign: [], error: null };
  const client = browserClient(settings.trpcUrl, settings.token);
  let partial = "";
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    sub.unsubscribe();
    onDone();
  };
  const line = (text: string, at: number) => {
    if (report.firstGap) return;
    const [n, printed] = text.split(" ");
    const expected = report.received + 1;
    if (n !== String(expected)) {
      if (text.startsWith("[airlock") || !/^\d+$/.test(n ?? "")) {
        report.foreign.push(text.slice(0, 200));
        return;
      }
      report.firstGap = { expected, got: text.slice(0, 100) };
      finish();
      return;
    }
    report.received = expected;
    report.lastAt = at;
    if (printed) {
      report.delays.push(at - Number(printed));
      if (expected === 1) report.firstPrintedAt = Number(printed);
    }
    if (expected === settings.lines) finish();
  };
  const sub = client.runs.events.subscribe(
    { id: settings.runId, lastEventId: String(settings.afterEventId) },
    {
      onStarted,
      onData: (envelope) => {
        const event = envelope.data;
        if (event.type !== "output") return;
        const at = now();
        const text = partial + String((event.payload as { text?: string }).text ?? "");
        const pieces = text.split("\n");
        partial = pieces.pop()!;
        for (const p of pieces) line(p, at);
      },
      onError: (err) => {
        report.error = err.message;
        finish();
      },
    },
  );
  setTimeout(() => {
    if (!finished) report.error ??= `timed out after ${settings.timeoutMs} ms with ${report.received} lines`;
    finish();
  }, settings.timeoutMs).unref();
  return report;
}

// Closing an EventSource whose fetch body has just ended can make undici throw
// "Controller is already closed" from an abort listener (a teardown race in the
// client library, after the stream was read): not a delivery problem, so not fatal.
process.on("uncaughtException", (err: NodeJS.ErrnoException) => {
  if (err.code === "ERR_INVALID_STATE") return;
  console.error(err);
  process.exit(1);
});

async function main() {
  const input = await new Promise<string>((resolve) => readline.createInterface({ input: process.stdin }).once("line", resolve));
  const settings = JSON.parse(input) as SubscriberSettings;
  let started = 0;
  let done = 0;
  const reports: SubscriberReport[] = [];
  await new Promise<void>((resolve) => {
    for (let i = 0; i < settings.subscribers; i++) {
      reports.push(
        follow(
          settings,
          () => {
            started += 1;
            if (started === settings.subscribers) console.log("ready");
          },
          () => {
            done += 1;
            if (done === settings.subscribers) resolve();
          },
        ),
      );
    }
  });
  const cpu = process.cpuUsage();
  console.error(`viewers' process: cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`);
  console.log(JSON.stringify(reports));
  process.exit(0);
}

void main();
