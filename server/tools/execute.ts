// Per-tool normalisation (paths resolved inside the container, previews) and
// execution inside the run's container.
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, toolCalls, type Run } from "@/db/schema";
import { appendAudit } from "@/server/audit/chain";
import { readEgressAllowance } from "@/server/config/env";
import { bodyAsText, fetchForAgent, type EgressOutcome, type EgressRequest, type HopVerdict } from "@/server/egress/fetch";
import { egressExecEnv } from "@/server/egress/controller";
import { remoteEngineEgressRefusal } from "@/server/egress/grants";
import { policyForRun } from "@/server/projects/policy-store";
import { secretMarker } from "@/server/secrets/redaction";
import { findSecretForRun, grantedSecretNames, grantSecret, secretsForRun } from "@/server/secrets/secrets";
import { judgeToolCall } from "@/server/tools/judge";
import { publishRunEvent } from "@/server/events/bus";
import { normaliseWorkspacePath } from "@/server/policy";
import { listFiles, readFile, realpathInWorkspace, searchFiles, writeFile, OutOfWorkspaceError, SandboxFileError } from "@/server/sandbox/files";
import type { ExecResult, RunLimits, SandboxRuntime } from "@/server/sandbox/runtime";
import { fileDiffPreview } from "@/server/tools/preview";
import { searchProjectDocs } from "@/server/projects/docs";
import { toolError, type ToolArgs, type ToolName, type ToolResult, type ValidatedCall } from "@/server/tools/palette";
import { OutputBuffer, MODEL_OUTPUT_CAP } from "@/server/tools/output";
import type { ControlTools } from "@/server/tools/control";
import {
  lastWorkspaceSize,
  measureWorkspace,
  quotaExceededMessage,
  watchWorkspaceQuota,
  workspaceQuotaBytes,
  type WorkspaceSize,
} from "@/server/workspace/quota";
import { formatBytes } from "@/lib/format";
import { requireRun } from "@/server/runs/lookup";
import { DomainError } from "@/server/errors/domain-error";
import { listServices, runningServiceByName, servicesForAgent, startService, stopService } from "@/server/services/services";
import type { Actor } from "@/server/audit/chain";
import { failpoint } from "@/server/faults/failpoints";
import { onRemoteEngine, pullRunWorkspace, sandboxListing } from "@/server/workspace/remote";
import { withWorkspaceLock } from "@/server/workspace/coordination";

/** The agent as the audit chain names it (the gateway's agentActor, without importing the gateway). */
function agentAuditActor(runId: string): Actor {
  return { userId: null, label: `agent:${runId.slice(0, 8)}` };
}

export interface ExecutionSession {
  db: Db;
  runId: string;
  runtime: SandboxRuntime;
  containerId: string;
  signal: AbortSignal;
  control: ControlTools;
}

/** A call normalised for judging: its arguments, with paths resolved inside the container and the command to run. */
export interface Normalised extends Record<string, unknown> {
  path?: string;
  cwd?: string;
  command?: string;
}

export type PreparedOk = { ok: true; normalised: Normalised; preview?: Record<string, unknown> | null; newContent?: string };
export type Prepared = PreparedOk | { ok: false; result: ToolResult };

/**
 * What each tool does at the gateway, keyed by tool name so every handler
 * gets its own tool's validated arguments: which path to resolve first, how
 * to normalise and preview the call for judging, and how to execute it.
 */
interface ToolHandler<K extends ToolName> {
  /** The path argument, resolved inside the container before `prepare` (mustExist: refuse a missing file). */
  path?: { of: (args: ToolArgs<K>) => string | undefined; mustExist: boolean };
  prepare?: (session: ExecutionSession, args: ToolArgs<K>, normalised: Normalised) => Promise<Prepared>;
  execute: (session: ExecutionSession, callId: string, args: ToolArgs<K>, prepared: PreparedOk) => Promise<ToolResult>;
}

const TOOL_HANDLERS: { [K in ToolName]: ToolHandler<K> } = {
  read_file: {
    path: { of: (a) => a.path, mustExist: true },
    execute: async ({ runtime, containerId }, _callId, args, prepared) => ({
      ok: true,
      ...(await readFile(runtime, containerId, prepared.normalised.path!, { offset: args.offset, limit: args.limit ?? 256 * 1024 })),
    }),
  },
  list_files: {
    path: { of: (a) => a.path, mustExist: false },
    execute: async ({ runtime, containerId }, _callId, args, prepared) => ({
      ok: true,
      ...(await listFiles(runtime, containerId, prepared.normalised.path!, args.depth ?? 2)),
    }),
  },
  search_files: {
    path: { of: (a) => a.path, mustExist: false },
    execute: async ({ runtime, containerId }, _callId, args, prepared) => ({
      ok: true,
      ...(await searchFiles(runtime, containerId, args.pattern, prepared.normalised.path!, args.glob)),
    }),
  },
  write_file: {
    path: { of: (a) => a.path, mustExist: false },
    prepare: async (session, args, normalised) => {
      const current = await readFile(session.runtime, session.containerId, normalised.path!, {}).catch(() => null);
      const before = current && current.exists !== false ? (current.content as string) : null;
      return { ok: true, normalised, preview: { ...fileDiffPreview(normalised.path!, before, args.content) }, newContent: args.content };
    },
    execute: async (session, _callId, _args, prepared) => writePrepared(session, prepared),
  },
  edit_file: {
    path: { of: (a) => a.path, mustExist: true },
    prepare: async (session, args, normalised) => {
      const current = await readFile(session.runtime, session.containerId, normalised.path!, {});
      const text = current.content as string;
      const n = countOccurrences(text, args.old_string);
      if (n === 0)
        return {
          ok: false,
          result: toolError("INVALID_INPUT", `old_string was not found in ${args.path}. Read the file again and copy the exact text, including whitespace.`),
        };
      if (n > 1)
        return {
          ok: false,
          result: toolError("INVALID_INPUT", `old_string appears ${n} times in ${args.path}; include more surrounding lines so it matches exactly once.`),
        };
      const newContent = text.replace(args.old_string, () => args.new_string);
      return { ok: true, normalised, preview: { ...fileDiffPreview(normalised.path!, text, newContent) }, newContent };
    },
    execute: async (session, _callId, args, prepared) => {
      // Re-check against the current file: it may have changed while the reviewer looked.
      const again = await prepareTool(session, { tool: "edit_file", args });
      if (!again.ok) return again.result;
      if (again.newContent !== prepared.newContent)
        return toolError("INVALID_INPUT", `${args.path} changed since the edit was approved; read it again and retry.`);
      return writePrepared(session, prepared);
    },
  },
  run_command: {
    prepare: async (session, args, normalised) => {
      if (args.cwd) {
        const r = await resolvePath(session, args.cwd, true);
        if (!r.ok) return r;
        normalised.cwd = r.path;
      } else normalised.cwd = "/workspace";
      return { ok: true, normalised, preview: { type: "command", command: args.command, cwd: normalised.cwd } };
    },
    execute: async (session, callId, args, prepared) => runInSandbox(session, callId, args.command, prepared.normalised.cwd ?? "/workspace", args.timeout_s),
  },
  run_tests: {
    prepare: async (session, _args, normalised) => {
      const run = requireRun(session.db, session.runId);
      if (!run.testCommand)
        return { ok: false, result: toolError("NOT_AVAILABLE", "No test command is configured for this run; use run_command to run the tests you need.") };
      normalised.command = run.testCommand;
      normalised.cwd = "/workspace";
      return { ok: true, normalised, preview: { type: "command", command: run.testCommand, cwd: "/workspace" } };
    },
    execute: async (session, callId, _args, prepared) =>
      runInSandbox(session, callId, prepared.normalised.command!, prepared.normalised.cwd ?? "/workspace", undefined),
  },
  install_package: {
    prepare: async (session, args, normalised) => {
      // Refused before anyone is asked: the packages' registry is reached through the egress proxy, out of a remote engine's reach.
      const remote = remoteEngineEgressRefusal(requireRun(session.db, session.runId));
      if (remote) return { ok: false, result: toolError("EGRESS_DENIED", remote) };
      if (args.manager === "apt") {
        // Refused before anyone is asked: it could not work after approval either.
        return {
          ok: false,
          result: toolError(
            "NOT_AVAILABLE",
            'apt needs root, and the sandbox runs as an unprivileged user (uid 1000) with no way to gain privileges. System packages must be in the sandbox image (ask the operator). Python packages can be installed with manager "pip" (into your home directory).',
          ),
        };
      }
      const pkgs = args.packages.map((p) => `'${p}'`).join(" ");
      const command = args.manager === "npm" ? `npm install ${pkgs}` : `pip install --user ${pkgs}`;
      return { ok: true, normalised: { ...normalised, command }, preview: { type: "install", manager: args.manager, packages: args.packages, command } };
    },
    execute: async (session, callId, _args, prepared) =>
      runInSandbox(session, callId, prepared.normalised.command!, prepared.normalised.cwd ?? "/workspace", undefined),
  },
  http_fetch: {
    prepare: async (session, args, normalised) => {
      const headers = args.headers ?? {};
      const referenced = secretReferences(headers);
      const granted = new Set(grantedSecretNames(session.db, session.runId));
      const missing = referenced.filter((n) => !granted.has(n));
      if (missing.length) {
        return {
          ok: false,
          result: toolError(
            "INVALID_INPUT",
            `The headers use ${missing.map((n) => `\${secret:${n}}`).join(", ")}, but ${missing.length > 1 ? "those secrets are" : "that secret is"} not granted to this run. Ask for ${missing.length > 1 ? "them" : "it"} with request_secret first.`,
          ),
        };
      }
      return {
        ok: true,
        normalised,
        preview: {
          type: "http",
          method: args.method ?? "GET",
          url: args.url,
          headers,
          ...(referenced.length ? { secrets: referenced } : {}),
          hasBody: args.body !== undefined,
        },
      };
    },
    execute: async (session, callId, args) => fetchApproved(session, callId, args),
  },
  request_secret: {
    prepare: async (session, args, normalised) => {
      const run = requireRun(session.db, session.runId);
      const configured = findSecretForRun(session.db, run, args.name) !== null;
      return { ok: true, normalised, preview: { type: "secret", name: args.name, reason: args.reason, configured } };
    },
    execute: async (session, callId, args) => grantRequestedSecret(session, callId, args.name),
  },
  search_docs: {
    execute: async (session, _callId, args) => ({
      ok: true,
      ...(await searchProjectDocs(session.db, session.runId, session.runtime, session.containerId, args.query)),
    }),
  },
  start_service: {
    prepare: async (session, args, normalised) => {
      if (args.cwd) {
        const r = await resolvePath(session, args.cwd, true);
        if (!r.ok) return r;
        normalised.cwd = r.path;
      } else normalised.cwd = "/workspace";
      return { ok: true, normalised, preview: { type: "command", command: args.command, cwd: normalised.cwd, service: args.name } };
    },
    execute: async (session, callId, args, prepared) => {
      try {
        const s = await startService(session.db, session.runtime, session.containerId, session.runId, {
          name: args.name,
          command: args.command,
          cwd: prepared.normalised.cwd ?? "/workspace",
          toolCallId: callId,
        });
        const exited = s.state !== "running";
        return {
          ok: !exited,
          ...(exited
            ? {
                code: "EXECUTION_FAILED",
                message: `The service ${s.name} ended at once (${s.exitCode === null ? s.state : `exit code ${s.exitCode}`}); see its output.`,
              }
            : {}),
          name: s.name,
          state: s.state,
          exit_code: s.exitCode,
          output_tail: s.output.slice(-4096),
          note: exited
            ? undefined
            : "The service keeps running between commands (reach it on localhost from your commands) until you stop it with stop_service or the run ends.",
        } as ToolResult;
      } catch (err) {
        if (err instanceof DomainError) return toolError(err.code === "CONFLICT" ? "LIMIT_EXCEEDED" : "INVALID_INPUT", err.message);
        throw err;
      }
    },
  },
  stop_service: {
    execute: async (session, _callId, args) => {
      const row = runningServiceByName(session.db, session.runId, args.name);
      if (!row) {
        const names = listServices(session.db, session.runId)
          .filter((s) => s.state === "running")
          .map((s) => s.name);
        return toolError(
          "INVALID_INPUT",
          `No running service is named ${args.name}. ${names.length ? `Running: ${names.join(", ")}.` : "None is running."} list_services shows them all.`,
        );
      }
      const s = await stopService(session.db, session.runtime, row.id, agentAuditActor(session.runId), "agent");
      return { ok: true, name: s.name, state: s.state, output_tail: s.output.slice(-4096) };
    },
  },
  list_services: { execute: async (session) => ({ ok: true, services: servicesForAgent(session.db, session.runId) }) },
  submit_plan: { execute: async (session, callId, args) => session.control.submitPlan(callId, args) },
  complete_step: { execute: async (session, callId, args) => session.control.completeStep(callId, args) },
  finish: { execute: async (session, _callId, args) => session.control.finish(args) },
};

async function resolvePath(
  session: ExecutionSession,
  raw: string,
  mustExist: boolean,
): Promise<{ ok: true; path: string } | { ok: false; result: ToolResult }> {
  const lexical = normaliseWorkspacePath(raw);
  if (!lexical.ok) return { ok: false, result: toolError("OUT_OF_WORKSPACE", lexical.message) };
  try {
    const resolved = await realpathInWorkspace(session.runtime, session.containerId, lexical.path);
    if (mustExist && !resolved.exists)
      return { ok: false, result: toolError("INVALID_INPUT", `${raw} does not exist in the workspace. Use list_files to see what is there.`) };
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
export async function prepareTool(session: ExecutionSession, call: ValidatedCall): Promise<Prepared> {
  try {
    const prepared = await prepareWith(session, call.tool, call.args);
    // A diff preview shows file contents to reviewers (and to the model on a dry run): granted secrets' values are redacted there too.
    if (prepared.ok && prepared.preview) {
      const { redactor } = secretsForRun(session.db, session.runId);
      return { ...prepared, preview: redactor.redactDeep(prepared.preview) };
    }
    return prepared;
  } catch (err) {
    if (err instanceof SandboxFileError) return { ok: false, result: toolError("INVALID_INPUT", err.message) };
    if (err instanceof OutOfWorkspaceError) return { ok: false, result: toolError("OUT_OF_WORKSPACE", err.message) };
    throw err;
  }
}

async function prepareWith<K extends ToolName>(session: ExecutionSession, tool: K, args: ToolArgs<K>): Promise<Prepared> {
  const handler: ToolHandler<K> = TOOL_HANDLERS[tool];
  const normalised: Normalised = { ...args };
  if (handler.path) {
    const raw = handler.path.of(args) ?? ".";
    const r = await resolvePath(session, raw, handler.path.mustExist);
    if (!r.ok) return r;
    normalised.path = r.path;
  }
  return handler.prepare ? handler.prepare(session, args, normalised) : { ok: true, normalised, preview: null };
}

/**
 * Executes an allowed or approved call. The one choke point for secrets: the
 * result leaves here (to the model, the tool_calls row, events and audit) with
 * every granted secret's value redacted; live output is redacted as it streams.
 */
export async function executeTool(session: ExecutionSession, callId: string, call: ValidatedCall, prepared: PreparedOk): Promise<ToolResult> {
  const result = await executeWith(session, callId, call.tool, call.args, prepared);
  const { redactor } = secretsForRun(session.db, session.runId);
  return redactor.redactDeep(result);
}

function executeWith<K extends ToolName>(session: ExecutionSession, callId: string, tool: K, args: ToolArgs<K>, prepared: PreparedOk): Promise<ToolResult> {
  const handler: ToolHandler<K> = TOOL_HANDLERS[tool];
  return handler.execute(session, callId, args, prepared);
}

/** write_file/edit_file: writes the content prepared (and judged, and perhaps approved) for the call. */
async function writePrepared(session: ExecutionSession, prepared: PreparedOk): Promise<ToolResult> {
  const path = prepared.normalised.path;
  const over = await writeWouldExceedQuota(session, Buffer.byteLength(prepared.newContent!));
  if (over) return over;
  await writeFile(session.runtime, session.containerId, path!, prepared.newContent!);
  return { ok: true, path, bytes: Buffer.byteLength(prepared.newContent!), status: (prepared.preview as { status?: string } | null)?.status ?? "written" };
}

async function runInSandbox(session: ExecutionSession, callId: string, command: string, cwd: string, timeoutS: number | undefined): Promise<ToolResult> {
  const run = requireRun(session.db, session.runId);
  const limit = Math.min(timeoutS ?? run.limits.commandTimeoutS, run.limits.commandTimeoutS);
  const buffer = new OutputBuffer((chunk, stream) => publishRunEvent(session.db, session.runId, "output", { toolCallId: callId, stream, text: chunk }));
  // Granted secrets go into this exec's environment only (never the container's, never a file).
  const { env, redactor } = secretsForRun(session.db, session.runId);
  // A run granted network access: the proxy variables (empty otherwise; the sandbox has no network then).
  const proxyEnv = await egressExecEnv(session.db, session.runId, session.containerId);
  const live = { stdout: redactor.stream(), stderr: redactor.stream() };
  // The workspace quota: no file may outgrow it (RLIMIT_FSIZE), and the
  // whole workspace is measured while the command runs; growing past the
  // quota kills it.
  const quota = workspaceQuotaBytes();
  // The watch compares with the size before the command (a cleanup in a workspace already over the quota must run).
  if (run.workspaceDir && !lastWorkspaceSize(session.runId)) await measureWorkspace(session.runId, run.workspaceDir).catch(() => null);
  const quotaStop = new AbortController();
  let overQuota: WorkspaceSize | null = null;
  const stopWatching = run.workspaceDir
    ? watchWorkspaceQuota(session.runId, run.workspaceDir, (size) => {
        overQuota = size;
        quotaStop.abort();
      })
    : () => undefined;
  let result;
  try {
    result = await session.runtime.exec(session.containerId, {
      // bash's own ulimit (1024-byte blocks), then the command exactly as judged, in a bash of its own (exec: same process).
      cmd: ["bash", "-c", `ulimit -f ${Math.floor(quota / 1024)} && exec bash -c "$1"`, "bash", command],
      cwd,
      env: { ...env, ...proxyEnv },
      timeoutS: limit,
      onOutput: (chunk, stream) => {
        failpoint("after-exec-start");
        const safe = live[stream].push(chunk);
        if (safe) buffer.push(safe, stream);
      },
      signal: AbortSignal.any([session.signal, quotaStop.signal]),
    });
  } finally {
    stopWatching();
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = live[stream].end();
      if (rest) buffer.push(rest, stream);
    }
    buffer.flush();
  }
  // Redacted before capping, so a cut can never leave half a value showing.
  const combined = redactor.redact(result.stdout + (result.stderr ? (result.stdout ? "\n" : "") + result.stderr : ""));
  const shown = capForModel(combined, result.totalBytes, result.truncated);
  if (result.aborted && session.signal.aborted) return toolError("RUN_STOPPED", "The run was stopped while the command ran; it was killed.");
  const outputFields = { output: shown.text, output_truncated: shown.truncated, total_bytes: result.totalBytes };
  // Issue 17: on a remote engine the host has only a mirror; it is brought up to date first (under the workspace lock: a checkpoint may be reading it).
  if (run.workspaceDir && onRemoteEngine({ engine: run.engine, containerId: session.containerId })) {
    const { workspaceDir } = run;
    const place = { id: session.runId, engine: run.engine, containerId: session.containerId };
    await withWorkspaceLock(session.runId, async () =>
      pullRunWorkspace(session.runtime, place, workspaceDir, await sandboxListing(session.runtime, place)),
    ).catch((err: unknown) => console.error(`airlock: the workspace of run ${session.runId} could not be copied from its engine:`, err));
  }
  const after = run.workspaceDir ? await measureWorkspace(session.runId, run.workspaceDir).catch(() => null) : null;
  const killedForQuota = overQuota as WorkspaceSize | null;
  if (killedForQuota || (after && after.bytes > after.quotaBytes)) {
    const size = after ?? killedForQuota!;
    return toolError("LIMIT_EXCEEDED", quotaExceededMessage(size, killedForQuota !== null), {
      workspace_bytes: size.bytes,
      workspace_quota_bytes: size.quotaBytes,
      exit_code: killedForQuota ? null : result.exitCode,
      ...outputFields,
    });
  }
  // The run's caps: a plain answer, never a raw runtime error reported as success.
  const capHit = sandboxCapAnswer(result, run.limits);
  // oom_killed / pids_exhausted: what the run page's badges key on (components/runs/tool-call-card.tsx).
  if (capHit)
    return toolError("LIMIT_EXCEEDED", capHit, {
      exit_code: result.exitCode,
      ...(result.pidsExhausted ? { pids_exhausted: true } : { oom_killed: true }),
      ...outputFields,
    });
  if (result.timedOut) {
    // The runtime verified the kill with the engine's own process listing; when it could not, it stopped the sandbox.
    const killed = result.sandboxStopped
      ? "some of its processes could not be killed one by one, so the whole sandbox was stopped"
      : "was killed with all its processes";
    return { ok: false, code: "TIMEOUT", message: `The command ran longer than ${limit} s and ${killed}.`, ...outputFields };
  }
  // The sandbox stopped under the command (not the run's stop, which ends above): how it ended is unknown, so never "ok".
  if (result.sandboxStopped && result.exitCode === null) {
    return toolError("RUN_STOPPED", "The sandbox stopped while the command ran, so it was cut off; what it did before is unknown.", outputFields);
  }
  return {
    ok: true,
    exit_code: result.exitCode,
    signal: result.signal,
    oom_killed: result.oomKilled,
    ...(result.signal === "SIGXFSZ"
      ? { note: `A file reached the workspace quota of ${formatBytes(quota)} (the largest a file may be); the command was stopped by SIGXFSZ.` }
      : {}),
    ...outputFields,
    duration_ms: result.durationMs,
  };
}

/**
 * What the agent and the reviewer are told when a command ran into the run's
 * pids or memory cap; null when it did not. The runtime has already killed
 * every process the command left behind, so the next command starts clean.
 */
export function sandboxCapAnswer(
  result: Pick<ExecResult, "pidsExhausted" | "oomKilled" | "leftBehind">,
  limits: Pick<RunLimits, "pids" | "memoryMb">,
): string | null {
  if (result.pidsExhausted) {
    const limit = result.pidsExhausted.limit || limits.pids;
    const cleaned =
      result.leftBehind > 0
        ? `Airlock stopped every process the command left behind (${result.leftBehind}), so the next command starts clean.`
        : "Airlock stopped every process the command left behind, so the next command starts clean.";
    return `The sandbox ran out of processes: ${limit} of ${limit} (the run's limit). ${cleaned} Run fewer processes at once (for example fewer parallel jobs).`;
  }
  if (result.oomKilled) {
    return `The command was killed for using more than the run's ${limits.memoryMb} MB memory limit. Airlock stopped every process it left behind, so the next command starts clean. Use less memory (for example smaller inputs or fewer parallel jobs).`;
  }
  return null;
}

/** write_file/edit_file: refused (nothing written) when the workspace, as last measured, plus the new content would be over the quota. */
async function writeWouldExceedQuota(session: ExecutionSession, bytes: number): Promise<ToolResult | null> {
  const run = requireRun(session.db, session.runId);
  if (!run.workspaceDir) return null;
  const size = lastWorkspaceSize(session.runId) ?? (await measureWorkspace(session.runId, run.workspaceDir).catch(() => null));
  if (!size || size.bytes + bytes <= size.quotaBytes) return null;
  const after = { bytes: size.bytes + bytes, quotaBytes: size.quotaBytes };
  return toolError(
    "LIMIT_EXCEEDED",
    `Nothing was written. ${quotaExceededMessage(after, false).replace("Workspace quota exceeded: the workspace holds", "Workspace quota exceeded: with this file the workspace would hold")}`,
    {
      workspace_bytes: size.bytes,
      workspace_quota_bytes: size.quotaBytes,
    },
  );
}

/** How much of a fetched body the model gets (the fetch itself reads up to RESPONSE_BODY_CAP). */
export const FETCH_MODEL_CAP = 64 * 1024;

/** The longest prefix of `text` within `maxBytes` UTF-8 bytes, never splitting a character. */
function capText(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text).subarray(0, maxBytes).toString("utf8");
  return cut.endsWith("\uFFFD") ? cut.slice(0, -1) : cut;
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

// ---------------------------------------------------------------- secrets and egress

const SECRET_REF = /\$\{secret:([A-Za-z_][A-Za-z0-9_]{0,63})\}/g;

/** The secret names a call's headers refer to as ${secret:NAME}. */
export function secretReferences(headers: Record<string, string>): string[] {
  const names = new Set<string>();
  for (const v of Object.values(headers)) for (const m of v.matchAll(SECRET_REF)) names.add(m[1]!);
  return [...names];
}

function agentActorOf(runId: string) {
  return { userId: null, label: `agent:${runId.slice(0, 8)}` };
}

async function grantRequestedSecret(session: ExecutionSession, callId: string, name: string): Promise<ToolResult> {
  const { db, runId } = session;
  const secret = findSecretForRun(db, requireRun(db, runId), name);
  if (!secret) {
    return toolError("NOT_AVAILABLE", `No secret named ${name} is configured for this run; ask an admin to add it, or continue without it.`);
  }
  const approvalId = db.select({ approvalId: toolCalls.approvalId }).from(toolCalls).where(eq(toolCalls.id, callId)).get()?.approvalId ?? null;
  const decidedBy = approvalId
    ? (db.select({ decidedBy: approvals.decidedBy }).from(approvals).where(eq(approvals.id, approvalId)).get()?.decidedBy ?? null)
    : null;
  grantSecret(db, agentActorOf(runId), { runId, secret, toolCallId: callId, approvalId, grantedBy: decidedBy });
  return {
    ok: true,
    granted: true,
    env: name,
    note: `$${name} is set in the environment of your run_command and run_tests commands from now on, and http_fetch headers may use \${secret:${name}}. You never see the value: output that contains it shows ${secretMarker(name)} instead.`,
  };
}

/** A redirect is judged like a new http_fetch: denied → refused; "ask" only within the origin a reviewer approved. */
function judgeRedirect(db: Db, run: Run, url: string, method: string, sameOrigin: boolean): HopVerdict {
  const { decision } = judgeToolCall("http_fetch", { url, method }, { stepMode: run.stepMode, policy: policyForRun(db, run).policy });
  if (decision.verdict === "allow") return { follow: true };
  if (decision.verdict === "deny") return { follow: false, reason: `policy rule ${decision.rule} denies it (${decision.reason})` };
  if (sameOrigin) return { follow: true };
  return {
    follow: false,
    reason: `it is another host, which needs its own approval (policy rule ${decision.rule}); call http_fetch with that URL if you need it.`,
  };
}

async function fetchApproved(session: ExecutionSession, callId: string, args: ToolArgs<"http_fetch">): Promise<ToolResult> {
  const { db, runId } = session;
  const run = requireRun(db, runId);
  const { values, redactor } = secretsForRun(db, runId);
  const granted = new Map(values.map((v) => [v.name, v.value]));
  const headers: Record<string, string> = {};
  const secretHeaders = new Set<string>();
  for (const [k, v] of Object.entries(args.headers ?? {})) {
    let missing: string | null = null;
    headers[k] = v.replace(SECRET_REF, (_m, name: string) => {
      const value = granted.get(name);
      if (value === undefined) missing ??= name;
      secretHeaders.add(k.toLowerCase());
      return value ?? "";
    });
    if (missing)
      return toolError(
        "INVALID_INPUT",
        `The header ${k} uses \${secret:${missing}}, which is not granted to this run (any more). Ask for it with request_secret.`,
      );
  }
  let allowance;
  try {
    allowance = readEgressAllowance();
  } catch (err) {
    return toolError("EXECUTION_FAILED", `Airlock's egress settings are invalid, so nothing was fetched: ${(err as Error).message}`);
  }
  const method: EgressRequest["method"] = args.method ?? "GET";
  const outcome = await fetchForAgent(
    { url: args.url, method, headers, secretHeaders, body: args.body },
    { allowance, signal: session.signal, judgeRedirect: (url, m, sameOrigin) => judgeRedirect(db, run, url, m, sameOrigin) },
  );
  recordFetch(session, callId, method, args.url, outcome, redactor.redactDeep.bind(redactor));
  const redirects = outcome.hops.slice(0, outcome.ok ? -1 : undefined).map((h) => ({ url: h.url, status: h.status }));
  if (!outcome.ok) return toolError(outcome.code, outcome.message, redirects.length ? { redirects } : {});
  const fullText = method === "HEAD" ? "" : bodyAsText(outcome.body, outcome.contentType, outcome.truncated);
  const total = outcome.totalIsLowerBound ? `more than ${outcome.totalBytes}` : String(outcome.totalBytes);
  // What reaches the model is capped like command output (a 1 MiB page would
  // swamp its context and token budget); the audit keeps the size.
  const text = fullText === null ? null : capText(fullText, FETCH_MODEL_CAP);
  const binary = fullText === null ? outcome.body.subarray(0, Math.floor((FETCH_MODEL_CAP * 3) / 4)) : null;
  const cutForModel = (text !== null && text.length < fullText!.length) || (binary !== null && binary.length < outcome.body.length);
  const shownBytes = text !== null ? Buffer.byteLength(text) : (binary?.length ?? 0);
  return {
    ok: true,
    status: outcome.status,
    status_text: outcome.statusText,
    url: outcome.url,
    ...(redirects.length ? { redirects } : {}),
    headers: outcome.headers,
    encoding: text === null ? "base64" : "text",
    ...(text === null ? { body_base64: redactor.redactBytes(binary!).toString("base64") } : { body: text }),
    body_truncated: outcome.truncated || cutForModel,
    total_bytes: outcome.totalBytes,
    ...(outcome.truncated || cutForModel
      ? {
          note: `The response was truncated: ${total} bytes in total; the first ${shownBytes} bytes are shown. Fetch something more specific (an API endpoint, a raw file) to see less at a time.`,
        }
      : {}),
    ...(text === null && method !== "HEAD"
      ? { note_binary: `The body is not UTF-8 text (${outcome.contentType ?? "no content type"}), so it is given as base64.` }
      : {}),
  };
}

/** Every request Airlock made for the agent, in the audit trail: where, what came back, how big. */
function recordFetch(session: ExecutionSession, callId: string, method: string, url: string, outcome: EgressOutcome, redact: <T>(v: T) => T) {
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return null;
    }
  })();
  const details = redact({
    runId: session.runId,
    method,
    url,
    host,
    hops: outcome.hops,
    ...(outcome.ok ? { status: outcome.status, bytes: outcome.totalBytes, truncated: outcome.truncated } : { code: outcome.code, message: outcome.message }),
  });
  session.db.transaction(
    (tx) =>
      appendAudit(tx, agentActorOf(session.runId), {
        action: outcome.ok ? "egress.fetch" : "egress.refused",
        targetType: "tool_call",
        targetId: callId,
        details,
      }),
    { behavior: "immediate" },
  );
}
