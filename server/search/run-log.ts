// A run's log as a file: every event in order, as NDJSON (one event per line,
// as stored) or as plain text (what a person reads: the command output as it
// was printed, model messages, tool calls and their results, notes). Streamed
// page by page, so a long run's log is never held in memory whole.
import type { Db } from "@/db/client";
import type { RunEvent } from "@/db/schema";
import { listRunEvents } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { requireRun } from "@/server/runs/lookup";

export const LOG_FORMATS = ["ndjson", "text"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const PAGE = 1000;

export function parseLogFormat(raw: string | null): LogFormat {
  const format = raw ?? "text";
  if (!(LOG_FORMATS as readonly string[]).includes(format))
    throw new DomainError("INVALID_INPUT", `Unknown log format "${format.slice(0, 40)}": use format=ndjson (one event per line) or format=text.`);
  return format as LogFormat;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v);
}

/** One event as text lines; command output is kept exactly as printed. */
export function eventAsText(e: RunEvent): string {
  const p = e.payload;
  const at = e.at.toISOString();
  switch (e.type) {
    case "output":
    case "service_output":
      return str(p.text);
    case "model_delta":
      return ""; // the model_message that follows holds the whole text
    case "model_message":
      return `\n[${at}] model: ${str(p.content)}\n`;
    case "tool_call":
      return `\n[${at}] tool call #${str(p.seq)} ${str(p.tool)} ${JSON.stringify(p.args ?? {})}\n`;
    case "tool_result":
      return `[${at}] result: ${p.ok ? "ok" : `${str(p.code)} ${str(p.message)}`}\n`;
    case "state":
      return `[${at}] state: ${str(p.state ?? p.to)}${p.reason ? ` (${str(p.reason)})` : ""}\n`;
    case "checkpoint":
      return `[${at}] checkpoint #${str(p.seq)} ${str(p.label)}${Array.isArray(p.files) ? `: ${p.files.join(", ")}` : ""}\n`;
    default:
      return `[${at}] ${e.type}: ${str(p.text ?? p.message ?? p)}\n`;
  }
}

/** The run's log as a download (the run must exist: NOT_FOUND otherwise). */
export function runLogDownload(db: Db, runId: string, format: LogFormat): Response {
  const run = requireRun(db, runId);
  const encoder = new TextEncoder();
  let after = 0;
  let headerSent = format === "ndjson";
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(`Airlock run ${run.id}: ${run.title}\nTask: ${run.task}\nState: ${run.state}\n`));
        return;
      }
      const page = listRunEvents(db, run.id, after, PAGE);
      if (page.length === 0) {
        controller.close();
        return;
      }
      after = page.at(-1)!.id;
      const text =
        format === "ndjson"
          ? page.map((e) => `${JSON.stringify({ id: e.id, type: e.type, at: e.at.toISOString(), payload: e.payload })}\n`).join("")
          : page.map(eventAsText).join("");
      controller.enqueue(encoder.encode(text));
    },
  });
  const filename = `airlock-run-${run.id.slice(0, 8)}.${format === "ndjson" ? "ndjson" : "log"}`;
  return new Response(body, {
    headers: {
      "Content-Type": format === "ndjson" ? "application/x-ndjson; charset=utf-8" : "text/plain; charset=utf-8",
      "Content-Disposition": `attachment; filename="${filename}"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
}
