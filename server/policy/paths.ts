// Lexical path confinement: every path a tool names is turned into an
// absolute container path under /workspace before any rule looks at it.
// Symlinks are resolved inside the container by the sandbox; the policy
// judges the (already resolved) path it is handed.

import { AGENT_HOME, WORKSPACE_PATH } from "@/server/sandbox/layout";

/** The workspace mount (server/sandbox/layout.ts), under the name the policy has always used. */
export const WORKSPACE_ROOT = WORKSPACE_PATH;
/** Home of the non-root agent user inside every sandbox (server/sandbox/layout.ts). */
export { AGENT_HOME };
export const MAX_PATH_LENGTH = 4096;
export const MAX_SEGMENT_LENGTH = 255;

export type PathRefusalKind = "empty" | "nul-byte" | "control-character" | "too-long" | "segment-too-long" | "outside-workspace";

/** Every refusal maps to the tool error code `OUT_OF_WORKSPACE`; `kind` says why. */
export interface PathRefusal {
  ok: false;
  code: "OUT_OF_WORKSPACE";
  kind: PathRefusalKind;
  input: string;
  message: string;
}

export type WorkspacePathResult = { ok: true; path: string } | PathRefusal;

/**
 * Collapses `//`, `.` and `..` of an absolute path without touching the file
 * system. `..` above the root stays at the root, as the kernel does.
 */
export function normaliseAbsolute(absolute: string): string {
  const out: string[] = [];
  for (const segment of absolute.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  return "/" + out.join("/");
}

/** Joins `p` to `cwd` (when relative) and normalises lexically. */
export function resolveLexically(p: string, cwd: string): string {
  return normaliseAbsolute(p.startsWith("/") ? p : `${cwd}/${p}`);
}

/** True when `p` is `root` itself or below it (both normalised absolute paths). */
export function isWithin(p: string, root: string): boolean {
  if (root === "/") return p.startsWith("/");
  return p === root || p.startsWith(root + "/");
}

function refuse(kind: PathRefusalKind, input: string, message: string): PathRefusal {
  return { ok: false, code: "OUT_OF_WORKSPACE", kind, input, message };
}

function shown(input: string): string {
  const printable = input.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return printable.length > 80 ? `${printable.slice(0, 77)}…` : printable;
}

function screen(input: string): PathRefusal | null {
  if (input.length === 0) return refuse("empty", input, "The path is empty.");
  if (input.includes("\0")) return refuse("nul-byte", input, `The path ${shown(input)} contains a NUL byte.`);
  // Newlines and other control characters in a path are a classic way to fool
  // log readers and reviewers; no honest tool call needs them.
  if (/[\x01-\x1f\x7f]/.test(input)) {
    return refuse("control-character", input, `The path ${shown(input)} contains control characters.`);
  }
  if (Buffer.byteLength(input) > MAX_PATH_LENGTH) {
    return refuse("too-long", input, `The path is longer than ${MAX_PATH_LENGTH} bytes.`);
  }
  for (const segment of input.split("/")) {
    if (Buffer.byteLength(segment) > MAX_SEGMENT_LENGTH) {
      return refuse("segment-too-long", input, `A path segment is longer than ${MAX_SEGMENT_LENGTH} bytes.`);
    }
  }
  return null;
}

/**
 * Normalises a tool's path argument against the workspace: relative paths are
 * joined to `cwd` (itself relative to /workspace unless absolute), `..` is
 * resolved, and anything that ends up outside /workspace is refused.
 */
export function normaliseWorkspacePath(input: string, cwd: string = WORKSPACE_ROOT): WorkspacePathResult {
  const bad = screen(input);
  if (bad) return bad;
  const base = normaliseWorkspaceCwd(cwd);
  if (!base.ok) return base;
  const resolved = resolveLexically(input, base.path);
  if (!isWithin(resolved, WORKSPACE_ROOT)) {
    return refuse("outside-workspace", input, `${shown(input)} resolves to ${resolved}, which is outside ${WORKSPACE_ROOT}.`);
  }
  return { ok: true, path: resolved };
}

/** A working directory for tools and commands: relative means relative to /workspace. */
export function normaliseWorkspaceCwd(cwd: string | undefined): WorkspacePathResult {
  if (cwd === undefined || cwd === "" || cwd === ".") return { ok: true, path: WORKSPACE_ROOT };
  const bad = screen(cwd);
  if (bad) return bad;
  const resolved = resolveLexically(cwd, WORKSPACE_ROOT);
  if (!isWithin(resolved, WORKSPACE_ROOT)) {
    return refuse("outside-workspace", cwd, `The working directory ${shown(cwd)} is outside ${WORKSPACE_ROOT}.`);
  }
  return { ok: true, path: resolved };
}

/**
 * Expands a leading `~` the way the shell does for the agent user. `~user`
 * for other users points at their home; `~root` at /root; `~+`/`~-` at the cwd.
 */
export function expandTilde(value: string, cwd: string = WORKSPACE_ROOT): string {
  if (!value.startsWith("~")) return value;
  const slash = value.indexOf("/");
  const user = slash === -1 ? value.slice(1) : value.slice(1, slash);
  const rest = slash === -1 ? "" : value.slice(slash);
  if (user === "" || user === "agent") return AGENT_HOME + rest;
  if (user === "root") return "/root" + rest;
  if (user === "+" || user === "-") return cwd + rest; // $PWD / $OLDPWD: the best guess is the cwd
  if (!/^[a-z_][a-z0-9_-]*$/i.test(user)) return value;
  return `/home/${user}${rest}`;
}
