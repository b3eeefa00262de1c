// Per-tool normalisation (paths resolved inside the container, previews) and
// execution inside the run's container.
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs, type Run } from "@/db/schema";
import { publishRunEvent } from "@/server/events/bus";
import { normaliseWorkspacePath } from "@/server/policy";
import { listFiles, readFile, realpathInWorkspace, searchFiles, writeFile, OutOfWorkspaceError, SandboxFileError } from "@/server/sandbox/files";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { fileDiffPreview } from "@/server/tools/preview";
import { searchProjectDocs } from "@/server/projects/docs";
import { toolError, type ToolName, type ToolResult } from "@/server/tools/palette";
import { OutputBuffer, MODEL_OUTPUT_CAP } from "@/server/tools/output";
import type { ControlTools } from "@/server/tools/control";

export interface ExecutionSession {
  db: Db;
  runId: string;
  runtime: SandboxRuntime;
  containerId: string;
  signal: AbortSignal;
  control: ControlTools;
}

export type Prepared =
  | { ok: true; normalised: Record<string, unknown>; preview?: Record<string, unknown> | null; newContent?: string }
  | { ok: false; result: ToolResult };

const PATH_TOOLS = new Set<ToolName>(["read_file", "list_files", "search_files", "write_file", "edit_file"]);

function loadRun(db: Db, runId: string): Run {
  return db.select().from(runs).where(eq(runs.id, runId)).get()!;
}

async function resolvePath(session: ExecutionSession, raw: string, mustExist: boolean): Promise<{ ok: true; path: string } | { ok: false; result: ToolResult }> {
  const lexical = normaliseWorkspacePath(raw);
  if (!lexical.ok) return { ok: false, result: toolError("OUT_OF_WORKSPACE", lexical.message) };
  try {
    const resolved = await realpathInWorkspace(session.runtime, session.containerId, lexical.path);
    if (mustExist && !resolved.exists) return { ok: false, result: toolError("INVALID_INPUT", `${raw} does not exist in the workspace. Use list_files to see what is there.`) };
    return { ok: true, path: resolved.path };
  } catch (err) {
    if (err instanceof OutOfWorkspaceError) return { ok: false, result: toolError("OUT_OF_WORKSPACE", err.message) };
    throw err;
  }
}

function countOccurrences(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Normalises a call for judging; file errors (a directory, no permission…) become INVALID_INPUT for the agent. */
export async function prepareTool(session: ExecutionSession, tool: ToolName, args: Record<string, unknown>): Promise<Prepared> {
  try {
    return await prepareToolUnsafe(session, tool, args);
  } catch (err) {
    if (err instanceof SandboxFileError) return { ok: false, result: toolError("INVALID_INPUT", err.message) };
    if (err instanceof OutOfWorkspaceError) return { ok: false, result: toolError("OUT_OF_WORKSPACE", err.message) };
    throw err;
  }
}

async function prepareToolUnsafe(session: ExecutionSession, tool: ToolName, args: Record<string, unknown>): Promise<Prepared> {
  const normalised: Record<string, unknown> = { ...args };
  if (PATH_TOOLS.has(tool)) {
    const raw = (args.path as string | undefined) ?? ".";
    const r = await resolvePath(session, raw, tool === "read_file" || tool === "edit_file");
    if (!r.ok) return r;
    normalised.path = r.path;
  }
  switch (tool) {
    case "write_file": {
      const current = await readFile(session.runtime, session.containerId, normalised.path as string, {}).catch(() => null);
      const before = current && current.exists !== false ? (current.content as string) : null;
      return { ok: true, normalised, preview: { ...fileDiffPreview(normalised.path as string, before, args.content as string) }, newContent: args.content as string };
    }
    case "edit_file": {
      const current = await readFile(session.runtime, session.containerId, normalised.path as string, {});
      const text = current.content as string;
      const n = countOccurrences(text, args.old_string as string);
      if (n === 0) return { ok: false, result: toolError("INVALID_INPUT", `old_string was not found in ${args.path as string}. Read the file again and copy the exact text, including whitespace.`) };
      if (n > 1) return { ok: false, result: toolError("INVALID_INPUT", `old_string appears ${n} times in ${args.path as string}; include more surrounding lines so it matches exactly once.`) };
      const newContent = text.replace(args.old_string as string, () => args.new_string as string);
      return { ok: true, normalised, preview: { ...fileDiffPreview(normalised.path as string, text, newContent) }, newContent };
    }
    case "run_command": {
      if (args.cwd) {
        const r = await resolvePath(session, args.cwd as string, true);
        if (!r.ok) return r;
        normalised.cwd = r.path;
      } else normalised.cwd = "/workspace";
      return { ok: true, normalised, preview: { type: "command", command: args.command, cwd: normalised.cwd } };
    }
    case "run_tests": {
      const run = loadRun(session.db, session.runId);
      if (!run.testCommand) return { ok: false, result: toolError("NOT_AVAILABLE", "No test command is configured for this run; use run_command to run the tests you need.") };
      normalised.command = run.testCommand;
      normalised.cwd = "/workspace";
      return { ok: true, normalised, preview: { type: "command", command: run.testCommand, cwd: "/workspace" } };
    }
    case "install_package": {
      const pkgs = (args.packages as string[]).map((p) => `'${p}'`).join(" ");
      const command = args.manager === "npm" ? `npm install ${pkgs}` : args.manager === "pip" ? `pip install --user ${pkgs}` : `apt-get install -y ${pkgs}`;
      return { ok: true, normalised: { ...normalised, command }, preview: { type: "install", manager: args.manager, packages: args.packages, command } };
    }
    case "http_fetch":
      return { ok: true, normalised, preview: { type: "http", method: args.method ?? "GET", url: args.url } };
    default:
      return { ok: true, normalised, preview: null };
  }
}

export async function executeTool(session: ExecutionSession, callId: string, tool: ToolName, args: Record<string, unknown>, prepared: Prepared & { ok: true }): Promise<ToolResult> {
  const { runtime, containerId } = session;
  const path = prepared.normalised.path as string | undefined;
  switch (tool) {
    case "read_file": {
      const r = await readFile(runtime, containerId, path!, { offset: args.offset as number | undefined, limit: (args.limit as number | undefined) ?? 256 * 1024 });
      return { ok: true, ...r };
    }
    case "list_files":
      return { ok: true, ...(await listFiles(runtime, containerId, path!, (args.depth as number | undefined) ?? 2)) };
    case "search_files":
      return { ok: true, ...(await searchFiles(runtime, containerId, args.pattern as string, path!, args.glob as string | undefined)) };
    case "write_file":
    case "edit_file": {
      if (tool === "edit_file") {
        // Re-check against the current file: it may have changed while the reviewer looked.
        const again = await prepareTool(session, tool, args);
        if (!again.ok) return again.result;
        if (again.newContent !== prepared.newContent) return toolError("INVALID_INPUT", `${args.path as string} changed since the edit was approved; read it again and retry.`);
      }
      await writeFile(runtime, containerId, path!, prepared.newContent!);
      return { ok: true, path, bytes: Buffer.byteLength(prepared.newContent!), status: (prepared.preview as { status?: string } | null)?.status ?? "written" };
    }
    case "run_command":
    case "run_tests":
    case "install_package":
      return runInSandbox(session, callId, prepared.normalised.command as string, (prepared.normalised.cwd as string | undefined) ?? "/workspace", args.timeout_s as number | undefined);
    case "http_fetch":
      return toolError("EGRESS_DENIED", "This run has no network egress configured, so the fetch was not made even though it was approved. Work offline or ask the operator to start a run with egress.");
    case "request_secret":
      return toolError("NOT_AVAILABLE", `No secret store is configured yet, so ${args.name as string} cannot be provided. Continue without it or finish and explain what you need.`);
    case "search_docs":
      return { ok: true, ...(await searchProjectDocs(session.db, session.runId, runtime, containerId, args.query as string)) };
    case "submit_plan":
      return session.control.submitPlan(callId, args as { steps: never });
    case "complete_step":
      return session.control.completeStep(callId, args as { step: number; note?: string });
    case "finish":
      return session.control.finish(args as { summary: string; status: "success" | "failure" });
  }
}

async function runInSandbox(session: ExecutionSession, callId: string, command: string, cwd: string, timeoutS: number | undefined): Promise<ToolResult> {
  const run = loadRun(session.db, session.runId);
  const limit = Math.min(timeoutS ?? run.limits.commandTimeoutS, run.limits.commandTimeoutS);
  const buffer = new OutputBuffer((chunk, stream) => publishRunEvent(session.db, session.runId, "output", { toolCallId: callId, stream, text: chunk }));
  let result;
  try {
    result = await session.runtime.exec(session.containerId, {
      cmd: ["bash", "-c", command],
      cwd,
      timeoutS: limit,
      onOutput: (chunk, stream) => buffer.push(chunk, stream),
      signal: session.signal,
    });
  } finally {
    buffer.flush();
  }
  const combined = result.stdout + (result.stderr ? (result.stdout ? "\n" : "") + result.stderr : "");
  const shown = capForModel(combined, result.totalBytes, result.truncated);
  if (result.aborted) return toolError("RUN_STOPPED", "The run was stopped while the command ran; it was killed.");
  if (result.timedOut) {
    return { ok: false, code: "TIMEOUT", message: `The command ran longer than ${limit} s and was killed with all its processes.`, output: shown.text, output_truncated: shown.truncated, total_bytes: result.totalBytes };
  }
  return {
    ok: true,
    exit_code: result.exitCode,
    signal: result.signal,
    oom_killed: result.oomKilled,
    ...(result.oomKilled ? { note: "The command ran out of memory and was killed by the kernel (the run's memory limit)." } : {}),
    output: shown.text,
    output_truncated: shown.truncated,
    total_bytes: result.totalBytes,
    duration_ms: result.durationMs,
  };
}

/** What the model sees of a long output: head and tail, with the total size. */
export function capForModel(text: string, totalBytes: number, alreadyTruncated: boolean): { text: string; truncated: boolean } {
  if (Buffer.byteLength(text) <= MODEL_OUTPUT_CAP && !alreadyTruncated) return { text, truncated: false };
  const half = Math.floor(MODEL_OUTPUT_CAP / 2);
  const head = text.slice(0, half);
  const tail = text.length > half ? text.slice(-half) : "";
  return {
    text: `${head}\n…[output truncated: ${totalBytes} bytes in total; showing the first and last ${half} characters]…\n${tail}`,
    truncated: true,
  };
}
