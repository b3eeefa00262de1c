// Approval latency (issue 14, part 3): what a reviewer waits for. From the
// agent's tool call (a command the policy asks about, over MCP through the
// real gateway) to the pending request in the reviewer's browser, at the Web
// Push service and at the webhook receiver; and from approvals.decide to the
// command starting in the sandbox. Each against its raw transport, measured
// in turns in the same rounds (bench/approval-latency.ts). Asserts nothing.
//
//   npx tsx bench/approvals.bench.ts [rounds]
import os from "node:os";
import { measureApprovalLatency } from "./approval-latency";
import { startLab } from "./lab";
import { numericArgs, params, record } from "./support";

const [rounds] = numericArgs(30);

async function main() {
  const lab = await startLab();
  try {
    params({ rounds, warmup: 2 });
    console.log(`approval latency: ${rounds} rounds, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);
    const s = await measureApprovalLatency(lab, { rounds, warmup: 2 });
    const target = { metric: "p95" as const, max: 100, source: "issue 14" };
    record({
      id: "approval.browser",
      label: "tool call → pending request in the browser (approvals.changes + list)",
      samples: s.browser,
      baseline: { label: "bare HTTP POST relayed as one SSE message", samples: s.raw.sse, paired: true },
      target,
    });
    record({
      id: "approval.browser.ping",
      label: "tool call → approvals.changes ping (SSE) alone",
      samples: s.browserPing,
      baseline: { label: "bare HTTP POST relayed as one SSE message", samples: s.raw.sse, paired: true },
    });
    record({
      id: "approval.recorded",
      label: "tool call → request committed on the server (gateway's share)",
      samples: s.recorded,
    });
    record({
      id: "approval.reached_gateway",
      label: "tool call → the gateway records it (MCP transport, token check)",
      samples: s.reachedGateway,
    });
    record({
      id: "approval.push",
      label: "tool call → Web Push at the push service",
      samples: s.push,
      baseline: { label: "bare HTTP POST of the same body to the push service", samples: s.raw.push, paired: true },
      target,
    });
    record({
      id: "approval.webhook",
      label: "tool call → webhook at the receiver",
      samples: s.webhook,
      baseline: { label: "bare HTTP POST of the same body to the receiver", samples: s.raw.webhook, paired: true },
      target,
    });
    record({
      id: "approval.decide_to_start",
      label: "approvals.decide → the command starts in the sandbox",
      runtime: "runc",
      samples: s.decideToStart,
      baseline: { label: "bare engine API exec → the same command starts", samples: s.raw.exec, paired: true },
      target,
    });
  } finally {
    await lab.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
