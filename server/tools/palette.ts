// The tool palette: names, argument schemas and descriptions, the same for
// the built-in agent and MCP clients (docs/ARCHITECTURE.md, "The path of one tool call"). Schemas validate the
// model's arguments; descriptions are what the model reads.
import { z } from "zod";

const relPath = z.string().min(1, "path is required").max(4096, "path is too long (4096 characters at most)");
export const MAX_CONTENT = 1024 * 1024;
/** run_command and start_service: characters of one command. */
export const MAX_COMMAND_CHARS = 16_384;
const serviceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/, "a service name is 1 to 40 letters, digits, dots, dashes or underscores (for example web or api-server)");

export const planStepSchema = z.object({
  title: z.string().trim().min(1).max(200),
  detail: z.string().max(4000).optional(),
  risk: z.enum(["low", "medium", "high"]),
  risk_note: z.string().trim().min(1, "every step needs a risk_note saying what could go wrong").max(2000),
});

export const TOOL_SCHEMAS = {
  submit_plan: z.object({ steps: z.array(planStepSchema).min(1, "a plan needs at least one step").max(50) }).strict(),
  read_file: z.object({ path: relPath, offset: z.number().int().min(0).optional(), limit: z.number().int().min(1).max(MAX_CONTENT).optional() }).strict(),
  list_files: z.object({ path: relPath.optional(), depth: z.number().int().min(1).max(10).optional() }).strict(),
  search_files: z.object({ pattern: z.string().min(1).max(1000), path: relPath.optional(), glob: z.string().max(200).optional() }).strict(),
  write_file: z
    .object({ path: relPath, content: z.string().max(MAX_CONTENT, `content is larger than ${MAX_CONTENT} bytes`), dry_run: z.boolean().optional() })
    .strict(),
  edit_file: z
    .object({
      path: relPath,
      old_string: z.string().min(1, "old_string must not be empty").max(MAX_CONTENT),
      new_string: z.string().max(MAX_CONTENT),
      dry_run: z.boolean().optional(),
    })
    .strict(),
  run_command: z
    .object({
      command: z.string().trim().min(1, "command is empty").max(MAX_COMMAND_CHARS, `command is longer than ${MAX_COMMAND_CHARS} characters`),
      cwd: relPath.optional(),
      timeout_s: z.number().int().min(1).max(3600).optional(),
      dry_run: z.boolean().optional(),
    })
    .strict(),
  run_tests: z.object({ dry_run: z.boolean().optional() }).strict(),
  install_package: z
    .object({
      manager: z.enum(["npm", "pip", "apt"]),
      packages: z
        .array(z.string().regex(/^[A-Za-z0-9@._\/:=<>~^+-]{1,214}$/, "package names may only contain letters, digits and @._/:=<>~^+-"))
        .min(1)
        .max(50),
      dry_run: z.boolean().optional(),
    })
    .strict(),
  http_fetch: z
    .object({
      url: z.string().url().max(4096),
      method: z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]).optional(),
      headers: z.record(z.string(), z.string().max(8192)).optional(),
      body: z.string().max(MAX_CONTENT).optional(),
      dry_run: z.boolean().optional(),
    })
    .strict(),
  request_secret: z
    .object({ name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "secret names look like ENV_VAR_NAMES"), reason: z.string().trim().min(1).max(2000) })
    .strict(),
  search_docs: z.object({ query: z.string().trim().min(1).max(1000) }).strict(),
  start_service: z
    .object({
      name: serviceName,
      command: z.string().trim().min(1, "command is empty").max(MAX_COMMAND_CHARS, `command is longer than ${MAX_COMMAND_CHARS} characters`),
      cwd: relPath.optional(),
    })
    .strict(),
  stop_service: z.object({ name: serviceName }).strict(),
  list_services: z.object({}).strict(),
  complete_step: z.object({ step: z.number().int().min(1), note: z.string().max(4000).optional() }).strict(),
  finish: z.object({ summary: z.string().trim().min(1).max(20_000), status: z.enum(["success", "failure"]) }).strict(),
} as const;

export type ToolName = keyof typeof TOOL_SCHEMAS;
export const TOOL_NAMES = Object.keys(TOOL_SCHEMAS) as ToolName[];
/** Each tool's validated arguments, keyed by tool name (a mapped type, so handlers keyed by tool stay typed). */
export type ToolArgsMap = { [K in ToolName]: z.infer<(typeof TOOL_SCHEMAS)[K]> };
export type ToolArgs<T extends ToolName> = ToolArgsMap[T];
/** A call whose arguments passed its tool's schema: narrowing on `tool` types `args`. */
export type ValidatedCall<K extends ToolName = ToolName> = { [P in K]: { tool: P; args: ToolArgsMap[P] } }[K];

/** Parses `raw` with the tool's schema; the one place the parsed result is tied back to its tool. */
export function parseToolArgs<K extends ToolName>(tool: K, raw: unknown): { success: true; call: ValidatedCall<K> } | { success: false; error: z.ZodError } {
  const parsed = TOOL_SCHEMAS[tool].safeParse(raw);
  if (!parsed.success) return { success: false, error: parsed.error };
  // zod cannot say that TOOL_SCHEMAS[K] parses to ToolArgsMap[K] for a generic K; it does by construction.
  return { success: true, call: { tool, args: parsed.data } as ValidatedCall<K> };
}

/** Tools that change something: they need an approved plan first. */
export const MUTATING_TOOLS: ReadonlySet<ToolName> = new Set([
  "write_file",
  "edit_file",
  "run_command",
  "run_tests",
  "install_package",
  "http_fetch",
  "request_secret",
  "start_service",
  "stop_service",
]);

export const TOOL_DESCRIPTIONS: Record<ToolName, string> = {
  submit_plan:
    "Submit your plan before changing anything: ordered steps, each with a risk (low|medium|high) and a risk_note saying what could go wrong. A reviewer approves, edits or rejects it with feedback. Other changing tools answer PLAN_REQUIRED until a plan is approved.",
  read_file: "Read a text file inside /workspace. offset/limit are in bytes.",
  list_files: "List files and directories under a path inside /workspace (default: the workspace root).",
  search_files: "Search file contents under /workspace for a regular expression (grep -E); glob filters file names.",
  write_file:
    "Create or overwrite a file inside /workspace. A reviewer may need to approve the diff. dry_run returns the decision and the diff without writing.",
  edit_file: "Replace exactly one occurrence of old_string with new_string in a file inside /workspace. old_string must match exactly once.",
  run_command:
    "Run a bash command in /workspace as an unprivileged user with no network. Commands are parsed and judged by policy; risky ones wait for a reviewer. timeout_s defaults to the run's limit.",
  run_tests: "Run the project's configured test command.",
  install_package: "Install packages with npm, pip or apt. Always needs a reviewer's approval.",
  http_fetch:
    "Fetch an http(s) URL (Airlock makes the request; your commands have no network). Allowed only for allow-listed hosts or with a reviewer's approval. A header value may contain ${secret:NAME} for a secret granted to this run; Airlock fills it in without showing it to you.",
  request_secret:
    "Ask for a named secret (for example an API token). If approved it is given to your commands as an environment variable; you never see its value.",
  search_docs: "Search the project's local documentation index.",
  start_service:
    "Start a long-running process that must keep running between commands (for example a dev server your tests call on localhost). Every other process you start is killed when its command ends. The service runs beside your commands with the same workspace and network, as the same user; judged like run_command and asks a reviewer by default. Answers with its state and first output.",
  stop_service: "Stop a service you started with start_service, by name.",
  list_services: "List this run's services with their state, command and the end of their output.",
  complete_step: "Tell the reviewer a plan step is done (step numbers start at 1). In step mode the run pauses here until a reviewer says continue.",
  finish: "End the run with a summary of what you did and status success or failure.",
};

export function toolDefinitions() {
  return TOOL_NAMES.map((name) => ({
    type: "function" as const,
    function: { name, description: TOOL_DESCRIPTIONS[name], parameters: z.toJSONSchema(TOOL_SCHEMAS[name], { target: "draft-7" }) as Record<string, unknown> },
  }));
}

export const TOOL_ERROR_CODES = [
  "INVALID_INPUT",
  "PLAN_REQUIRED",
  "DENIED_BY_POLICY",
  "DENIED_BY_REVIEWER",
  "APPROVAL_EXPIRED",
  "OUT_OF_WORKSPACE",
  "TIMEOUT",
  "LIMIT_EXCEEDED",
  "RUN_STOPPED",
  "EGRESS_DENIED",
] as const;
/** STORAGE_FULL: the disk under Airlock's data directory (the workspace's too) is full (server/errors/storage.ts). */
export type ToolErrorCode = (typeof TOOL_ERROR_CODES)[number] | "NOT_AVAILABLE" | "EXECUTION_FAILED" | "ROLLED_BACK" | "STORAGE_FULL";

export interface ToolError {
  ok: false;
  code: ToolErrorCode;
  message: string;
  rule?: string | null;
  reason?: string | null;
  [extra: string]: unknown;
}

export type ToolResult = ({ ok: true } & Record<string, unknown>) | ToolError;

export function toolError(code: ToolErrorCode, message: string, extra: Partial<ToolError> = {}): ToolError {
  return { ok: false, code, message, ...extra };
}
