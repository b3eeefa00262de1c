// The one line a notification shows about a request or a run. It names what
// the agent wants to do, never what came back: no file contents, no command
// output, and every granted secret value replaced by [secret:NAME].
import type { Approval, Run } from "@/db/schema";
import type { SecretRedactor } from "@/server/secrets/redaction";

export const SUMMARY_MAX_CHARS = 200;

const FILE_TOOLS = new Set(["read_file", "write_file", "edit_file", "list_files", "search_files"]);

/** One line, control characters out, cut to the limit with an ellipsis. */
export function oneLine(text: string, max = SUMMARY_MAX_CHARS): string {
  const line = (text.split(/\r?\n/).find((l) => l.trim()) ?? "")
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function str(value: unknown): string | null {
  return typeof value === "string" && value.trim() ? value : null;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "an invalid URL";
  }
}

/** What the request asks for, in one redacted line. */
export function summarizeApproval(approval: Pick<Approval, "kind" | "tool" | "args">, redactor: SecretRedactor): string {
  const args = approval.args ?? {};
  let text: string;
  if (approval.kind === "plan") {
    const steps = Array.isArray(args.steps) ? args.steps.length : 0;
    text = `Plan with ${steps} step${steps === 1 ? "" : "s"}`;
  } else if (approval.kind === "step") {
    text = `Step ${typeof args.step === "number" ? args.step : "?"} done; continue the run?`;
  } else if (approval.tool === "run_command") {
    // Only the first line: a heredoc's body is file content.
    const command = (str(args.command) ?? "").split(/\r?\n/)[0] ?? "";
    text = `run_command: ${command}`;
  } else if (FILE_TOOLS.has(approval.tool)) {
    text = `${approval.tool} ${str(args.path) ?? "/workspace"}`;
  } else if (approval.tool === "http_fetch") {
    text = `http_fetch ${(str(args.method) ?? "GET").toUpperCase()} ${hostOf(str(args.url) ?? "")}`;
  } else if (approval.tool === "install_package") {
    const packages = Array.isArray(args.packages) ? args.packages.filter((p): p is string => typeof p === "string") : [];
    text = `install_package ${str(args.manager) ?? ""}: ${packages.join(" ")}`;
  } else if (approval.tool === "request_secret") {
    text = `request_secret ${str(args.name) ?? ""}`;
  } else {
    text = approval.tool;
  }
  return oneLine(redactor.redact(text));
}

/** The line for a finished run: its outcome and, when it did not succeed, Airlock's reason (never output). */
export function summarizeRunEnd(run: Pick<Run, "title" | "endedReason">, outcome: "succeeded" | "failed" | "killed", redactor: SecretRedactor): string {
  const verb = outcome === "succeeded" ? "finished" : outcome === "failed" ? "failed" : "was stopped";
  const reason = outcome !== "succeeded" && run.endedReason ? `: ${run.endedReason}` : "";
  return oneLine(redactor.redact(`Run "${run.title}" ${verb}${reason}`));
}
