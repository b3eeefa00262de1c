// Turns raw tool arguments into the normalised call the policy judges, with
// lexical path confinement only (no container). The gateway does the same
// with symlinks resolved in the container; policies.simulate and the
// red-team runner use this directly.
import { normaliseWorkspaceCwd, normaliseWorkspacePath } from "./paths";
import { POLICY_TOOLS, type PolicyToolName, type ToolCallForPolicy } from "./policy";
import { parseCommand } from "./shell";

export type NormalisedCallResult = { ok: true; call: ToolCallForPolicy } | { ok: false; code: "INVALID_INPUT" | "OUT_OF_WORKSPACE"; message: string };

function invalid(message: string): NormalisedCallResult {
  return { ok: false, code: "INVALID_INPUT", message };
}

function text(args: Record<string, unknown>, key: string): string | undefined {
  const value = args[key];
  return typeof value === "string" ? value : undefined;
}

export function normaliseToolCall(tool: string, args: Record<string, unknown>): NormalisedCallResult {
  if (!(POLICY_TOOLS as readonly string[]).includes(tool)) return invalid(`Unknown tool ${tool}.`);
  const name = tool as PolicyToolName;
  switch (name) {
    case "read_file":
    case "write_file":
    case "edit_file":
    case "list_files":
    case "search_files": {
      const raw = text(args, "path");
      if (raw === undefined && (name === "read_file" || name === "write_file" || name === "edit_file")) return invalid(`${name} needs a path.`);
      const resolved = normaliseWorkspacePath(raw ?? ".");
      if (!resolved.ok) return { ok: false, code: resolved.code, message: resolved.message };
      return { ok: true, call: { ...args, tool: name, path: resolved.path } as ToolCallForPolicy };
    }
    case "run_command": {
      const command = text(args, "command");
      if (command === undefined) return invalid("run_command needs a command.");
      const cwd = normaliseWorkspaceCwd(text(args, "cwd"));
      if (!cwd.ok) return { ok: false, code: cwd.code, message: cwd.message };
      return { ok: true, call: { tool: name, cwd: cwd.path, command: parseCommand(command, { cwd: cwd.path }) } };
    }
    case "install_package": {
      const manager = text(args, "manager");
      const packages = args.packages;
      if (!manager || !Array.isArray(packages) || !packages.every((p) => typeof p === "string")) {
        return invalid("install_package needs a manager and a list of packages.");
      }
      return { ok: true, call: { tool: name, manager, packages: packages as string[] } };
    }
    case "http_fetch": {
      const url = text(args, "url");
      if (!url) return invalid("http_fetch needs a url.");
      return { ok: true, call: { tool: name, url, method: text(args, "method") ?? "GET" } };
    }
    case "request_secret": {
      const secret = text(args, "name");
      if (!secret) return invalid("request_secret needs a name.");
      return { ok: true, call: { tool: name, name: secret, reason: text(args, "reason") } };
    }
    default:
      return { ok: true, call: { ...args, tool: name } as ToolCallForPolicy };
  }
}
