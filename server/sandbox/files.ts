// File operations on a run's workspace, executed INSIDE its container by
// python3 running as the agent, isolated from everything the agent wrote
// (runtime.ts HELPER_ENV): the sandbox's long-lived file server
// (file-server.ts), or a one-shot helper exec when none can be had. The host never opens a workspace path itself,
// so it can never follow a symlink the agent planted towards a host file; and
// every path is confined to /workspace after resolving symlinks (including
// those of a not-yet-existing file's parents).
//
// Confinement here is tool semantics (what read_file may touch), not the
// security boundary: the container is. A command running at the same time
// could swap a checked directory for a symlink before the open, and would
// then reach only what the agent could reach with run_command anyway.
import path from "node:path";
import { HELPER_PYTHON, type ExecResult, type SandboxRuntime } from "./runtime";
import { WORKSPACE_PATH } from "./layout";
import { callFileServer } from "./file-server";

export class OutOfWorkspaceError extends Error {
  readonly code = "OUT_OF_WORKSPACE" as const;
  constructor(
    readonly requestedPath: string,
    readonly resolvedPath?: string,
  ) {
    super(
      resolvedPath && resolvedPath !== requestedPath
        ? `${requestedPath} resolves to ${resolvedPath}, which is outside ${WORKSPACE_PATH}`
        : `${requestedPath} is outside ${WORKSPACE_PATH}`,
    );
    this.name = "OutOfWorkspaceError";
  }
}

export type SandboxFileErrorCode = "INVALID_INPUT" | "IS_A_DIRECTORY" | "NOT_A_FILE" | "NOT_A_DIRECTORY" | "PERMISSION_DENIED" | "FILE_OP_FAILED";

export class SandboxFileError extends Error {
  constructor(
    readonly code: SandboxFileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SandboxFileError";
  }
}

export interface ResolvedPath {
  /** The real path inside the container (symlinks resolved). */
  path: string;
  exists: boolean;
}

export interface PathStat extends ResolvedPath {
  type: "file" | "dir" | "symlink" | "other" | null;
  size: number;
  mode: number;
  mtimeMs: number;
  /** The requested path itself is a symlink (resolved to `path`). */
  isSymlink: boolean;
}

export interface ReadFileOptions {
  /** Byte offset, default 0. */
  offset?: number;
  /** Bytes to read, default 1 MiB, at most 8 MiB. */
  limit?: number;
  /** "utf8" (default): text as a string; a binary file gives content "".
   * "base64": the exact bytes of the window, base64-encoded. */
  encoding?: "utf8" | "base64";
}

export interface ReadFileResult extends ResolvedPath {
  /** Size of the whole file in bytes. */
  size: number;
  offset: number;
  /** Bytes of the file covered by content. For text, a window that would end
   * inside a multi-byte character ends before it; continue at offset+bytesRead. */
  bytesRead: number;
  /** The window reaches the end of the file. */
  eof: boolean;
  /** A NUL byte in the first 8000 bytes (git's rule) or invalid UTF-8. */
  binary: boolean;
  encoding: "utf8" | "base64";
  content: string;
}

export interface WriteFileResult {
  path: string;
  bytes: number;
  created: boolean;
}

export interface FileEntry {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  size?: number;
  /** For symlinks: where they point (not followed). */
  target?: string;
  /** A directory whose contents were not listed (.git, node_modules, depth). */
  notListed?: boolean;
}

export interface ListFilesResult extends ResolvedPath {
  entries: FileEntry[];
  truncated: boolean;
}

export interface SearchMatch {
  path: string;
  line: number;
  text: string;
}

export interface SearchFilesResult extends ResolvedPath {
  matches: SearchMatch[];
  truncated: boolean;
  filesSearched: number;
}

export const DEFAULT_READ_BYTES = 1024 * 1024;
export const MAX_READ_BYTES = 8 * 1024 * 1024;
export const MAX_LIST_DEPTH = 10;
export const DEFAULT_MAX_ENTRIES = 2000;
export const DEFAULT_MAX_MATCHES = 200;
const FILE_OP_TIMEOUT_S = 30;
const SEARCH_TIMEOUT_S = 60;

/**
 * One python program, two ways to run it. One operation per run (argv[1] is
 * the JSON request, stdin carries written content; prints one JSON object:
 * the result, or {"error": code, "message": ...}); or, with argv[1]
 * "--serve", the file server (see file-server.ts): one request per line on
 * stdin ({"id", "req", "data": base64 written content}), one answer per line
 * on stdout ({"id", "res"}), in any order, up to four at once.
 */
export const FILE_OPS_SCRIPT = String.raw`
import base64, fnmatch, json, os, re, stat, sys
ROOT = ${JSON.stringify(WORKSPACE_PATH)}
SKIP_DIRS = {".git", "node_modules"}

class Done(Exception):
    def __init__(self, obj):
        self.obj = obj

def done(obj):
    raise Done(obj)

def fail(code, message, **extra):
    done(dict(error=code, message=message, **extra))

def inside(p):
    return p == ROOT or p.startswith(ROOT + "/")

def resolve(raw):
    if "\0" in raw:
        fail("INVALID_INPUT", "path contains a NUL byte")
    real = os.path.realpath(os.path.join(ROOT, raw))
    if not inside(real):
        fail("OUT_OF_WORKSPACE", "outside", resolved=real)
    return real

def kind(mode):
    if stat.S_ISREG(mode): return "file"
    if stat.S_ISDIR(mode): return "dir"
    if stat.S_ISLNK(mode): return "symlink"
    return "other"

def os_fail(e, real):
    if isinstance(e, PermissionError):
        fail("PERMISSION_DENIED", "%s: permission denied" % real)
    if isinstance(e, IsADirectoryError):
        fail("IS_A_DIRECTORY", "%s is a directory" % real)
    if isinstance(e, NotADirectoryError):
        fail("NOT_A_DIRECTORY", "a parent of %s is not a directory" % real)
    fail("FILE_OP_FAILED", "%s: %s" % (real, e.strerror or e))

def sniff_binary(fd):
    return b"\0" in os.pread(fd, 8000, 0)

def op_realpath(req, data):
    real = resolve(req["path"])
    done({"path": real, "exists": os.path.exists(real)})

def op_stat(req, data):
    raw = req["path"]
    real = resolve(raw)
    try:
        is_link = os.path.islink(os.path.join(ROOT, raw))
        st = os.stat(real)
    except FileNotFoundError:
        done({"path": real, "exists": False, "type": None, "size": 0, "mode": 0, "mtimeMs": 0, "isSymlink": False})
    except OSError as e:
        os_fail(e, real)
    done({"path": real, "exists": True, "type": kind(st.st_mode), "size": st.st_size,
          "mode": stat.S_IMODE(st.st_mode), "mtimeMs": int(st.st_mtime * 1000), "isSymlink": is_link})

def op_read(req, data):
    real = resolve(req["path"])
    offset, limit = req["offset"], req["limit"]
    fd = -1
    try:
        st = os.stat(real)
        if stat.S_ISDIR(st.st_mode):
            fail("IS_A_DIRECTORY", "%s is a directory; use list_files" % real)
        if not stat.S_ISREG(st.st_mode):
            fail("NOT_A_FILE", "%s is not a regular file" % real)
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        size = os.fstat(fd).st_size
        binary = sniff_binary(fd)
        data = os.pread(fd, limit, offset) if limit > 0 else b""
    except FileNotFoundError:
        done({"path": real, "exists": False})
    except OSError as e:
        os_fail(e, real)
    finally:
        if fd >= 0:
            os.close(fd)
    eof = offset + len(data) >= size
    if not binary:
        # Invalid UTF-8 inside the window means binary; a character cut by
        # the window's end is not (trim it), nor one cut by its start.
        body = data
        lead = 0
        while offset > 0 and lead < 3 and lead < len(body) and (body[lead] & 0xC0) == 0x80:
            lead += 1
        try:
            body[lead:].decode("utf-8")
        except UnicodeDecodeError as e:
            if not eof and e.reason == "unexpected end of data" and e.start + lead >= len(data) - 3:
                data = data[:e.start + lead]
            else:
                binary = True
    done({"path": real, "exists": True, "size": size, "offset": offset, "bytesRead": len(data),
          "eof": offset + len(data) >= size, "binary": binary, "data": base64.b64encode(data).decode()})

def op_write(req, data):
    real = resolve(req["path"])
    parent = os.path.dirname(real)
    try:
        if os.path.isdir(real):
            fail("IS_A_DIRECTORY", "%s is a directory" % real)
        os.makedirs(parent, exist_ok=True)
        if not inside(os.path.realpath(parent)):
            fail("OUT_OF_WORKSPACE", "outside", resolved=os.path.realpath(parent))
        try:
            st = os.stat(real)
            created = False
            mode = stat.S_IMODE(st.st_mode)
        except FileNotFoundError:
            created = True
            mode = 0o644
        if req.get("mode") is not None:
            mode = req["mode"]
        tmp = os.path.join(parent, ".airlock-write-%d-%s" % (os.getpid(), os.urandom(4).hex()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        try:
            os.replace(tmp, real)
        except OSError:
            os.unlink(tmp)
            raise
    except OSError as e:
        os_fail(e, real)
    done({"path": real, "bytes": len(data), "created": created})

def op_list(req, data):
    real = resolve(req["path"])
    depth, cap = req["depth"], req["maxEntries"]
    try:
        st = os.stat(real)
    except FileNotFoundError:
        done({"path": real, "exists": False, "entries": [], "truncated": False})
    except OSError as e:
        os_fail(e, real)
    if not stat.S_ISDIR(st.st_mode):
        done({"path": real, "exists": True, "entries": [{"path": real, "type": kind(st.st_mode), "size": st.st_size}], "truncated": False})
    entries = []
    truncated = False
    def walk(d, level):
        nonlocal truncated
        try:
            with os.scandir(d) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for e in items:
            if len(entries) >= cap:
                truncated = True
                return
            try:
                lst = e.stat(follow_symlinks=False)
            except OSError:
                continue
            t = kind(lst.st_mode)
            entry = {"path": e.path, "type": t}
            if t == "file":
                entry["size"] = lst.st_size
            elif t == "symlink":
                try:
                    entry["target"] = os.readlink(e.path)
                except OSError:
                    pass
            elif t == "dir":
                if e.name in SKIP_DIRS or level >= depth:
                    entry["notListed"] = True
            entries.append(entry)
            if t == "dir" and not entry.get("notListed"):
                walk(e.path, level + 1)
            if truncated:
                return
    walk(real, 1)
    done({"path": real, "exists": True, "entries": entries, "truncated": truncated})

def op_search(req, data):
    real = resolve(req["path"])
    glob, cap = req.get("glob"), req["maxMatches"]
    try:
        rx = re.compile(req["pattern"])
    except re.error as e:
        fail("INVALID_INPUT", "invalid regular expression: %s" % e)
    if not os.path.exists(real):
        done({"path": real, "exists": False, "matches": [], "truncated": False, "filesSearched": 0})
    matches = []
    searched = 0
    def files():
        if not os.path.isdir(real):
            yield real
            return
        for d, dirs, names in os.walk(real):
            dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
            for n in sorted(names):
                yield os.path.join(d, n)
    for f in files():
        rel = os.path.relpath(f, real)
        if glob and not (fnmatch.fnmatch(os.path.basename(f), glob) or fnmatch.fnmatch(rel, glob)):
            continue
        try:
            st = os.lstat(f)
            if not stat.S_ISREG(st.st_mode) or st.st_size > 10 * 1024 * 1024:
                continue
            with open(f, "rb") as fh:
                if b"\0" in fh.read(8000):
                    continue
                fh.seek(0)
                searched += 1
                for no, line in enumerate(fh, 1):
                    text = line.decode("utf-8", "replace").rstrip("\r\n")
                    if rx.search(text):
                        if len(matches) >= cap:
                            done({"path": real, "exists": True, "matches": matches, "truncated": True, "filesSearched": searched})
                        matches.append({"path": f, "line": no, "text": text[:500]})
        except OSError:
            continue
    done({"path": real, "exists": True, "matches": matches, "truncated": False, "filesSearched": searched})

OPS = {"realpath": op_realpath, "stat": op_stat, "read": op_read, "write": op_write,
       "list": op_list, "search": op_search}

def run(req, data):
    try:
        OPS[req["op"]](req, data)
    except Done as d:
        return d.obj
    return {"error": "FILE_OP_FAILED", "message": "no answer"}

def serve():
    # The agent runs as this uid: not dumpable, so it cannot ptrace this
    # process, read or write its memory, or open its stdin/stdout through
    # /proc/PID/fd (the channel to Airlock).
    import ctypes, threading, queue
    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
        sys.stderr.write("airlock file server: prctl(PR_SET_DUMPABLE) failed (errno %d)\n" % ctypes.get_errno())
        sys.exit(1)
    out, lock, jobs = sys.stdout.buffer, threading.Lock(), queue.Queue()
    pool = {"idle": 0, "workers": 0}
    pool_lock = threading.Lock()
    def reply(obj):
        line = json.dumps(obj).encode() + b"\n"
        with lock:
            out.write(line)
            out.flush()
    def work():
        while True:
            msg = jobs.get()
            with pool_lock:
                pool["idle"] -= 1
            try:
                data = base64.b64decode(msg["data"]) if msg.get("data") is not None else None
                res = run(msg["req"], data)
            except Exception as e:
                res = {"error": "FILE_OP_FAILED", "message": "the file server failed: %r" % e}
            reply({"id": msg.get("id"), "res": res})
            with pool_lock:
                pool["idle"] += 1
    with open("/proc/self/stat", "rb") as f:
        raw = f.read()
    reply({"ready": True, "pid": os.getpid(), "start": raw[raw.rindex(b")") + 2:].split()[19].decode()})
    for line in sys.stdin.buffer:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        # Up to four at once (threads count against the run's pids cap): a
        # long search does not hold up a read.
        with pool_lock:
            if pool["idle"] <= jobs.qsize() and pool["workers"] < 4:
                pool["workers"] += 1
                pool["idle"] += 1
                threading.Thread(target=work, daemon=True).start()
        jobs.put(msg)
    # stdin closed: Airlock is done with this server (daemon workers end with it).
    os._exit(0)

if sys.argv[1] == "--serve":
    serve()
else:
    req = json.loads(sys.argv[1])
    sys.stdout.write(json.dumps(run(req, sys.stdin.buffer.read() if req.get("op") == "write" else None)))
    sys.stdout.flush()
`;

/** Lexical pre-check on the host: obvious escapes fail without a round trip.
 * The check that counts is the one inside the container, after symlinks. */
function lexicalPath(raw: string): string {
  if (typeof raw !== "string" || raw === "") throw new SandboxFileError("INVALID_INPUT", "path must be a non-empty string");
  if (raw.includes("\0")) throw new SandboxFileError("INVALID_INPUT", "path contains a NUL byte");
  const resolved = path.posix.resolve(WORKSPACE_PATH, raw);
  if (resolved !== WORKSPACE_PATH && !resolved.startsWith(`${WORKSPACE_PATH}/`)) throw new OutOfWorkspaceError(raw, resolved);
  return resolved;
}

interface FileOpError {
  error: string;
  message: string;
  resolved?: string;
}

async function runFileOp<T>(
  runtime: SandboxRuntime,
  containerId: string,
  request: Record<string, unknown> & { op: string; path: string },
  options: { stdin?: Buffer; timeoutS?: number; maxStoredBytes?: number } = {},
): Promise<T> {
  const requested = request.path;
  const lexical = lexicalPath(requested);
  const maxStoredBytes = options.maxStoredBytes ?? 4 * 1024 * 1024;
  const timeoutS = options.timeoutS ?? FILE_OP_TIMEOUT_S;
  const served = await callFileServer(
    runtime,
    containerId,
    FILE_OPS_SCRIPT,
    { ...request, path: lexical },
    { data: options.stdin, timeoutS, maxBytes: maxStoredBytes },
  );
  if (served.kind === "failed") throw new SandboxFileError("FILE_OP_FAILED", `${request.op} ${requested}: ${served.message}`);
  const answer =
    served.kind === "answer"
      ? (served.answer as T | FileOpError)
      : await runFileOpExec<T>(runtime, containerId, { ...request, path: lexical }, requested, { ...options, timeoutS, maxStoredBytes });
  if (answer && typeof answer === "object" && "error" in answer) {
    const failure = answer as FileOpError;
    if (failure.error === "OUT_OF_WORKSPACE") throw new OutOfWorkspaceError(requested, failure.resolved);
    const code =
      (["INVALID_INPUT", "IS_A_DIRECTORY", "NOT_A_FILE", "NOT_A_DIRECTORY", "PERMISSION_DENIED"] as const).find((c) => c === failure.error) ?? "FILE_OP_FAILED";
    throw new SandboxFileError(code, failure.message);
  }
  return answer as T;
}

/** The same operation through a one-shot helper exec: when no file server can be had. */
async function runFileOpExec<T>(
  runtime: SandboxRuntime,
  containerId: string,
  request: Record<string, unknown> & { op: string; path: string },
  requested: string,
  options: { stdin?: Buffer; timeoutS: number; maxStoredBytes: number },
): Promise<T | FileOpError> {
  const result: ExecResult = await runtime.exec(containerId, {
    // Isolated: a json.py in /workspace or a .pth in the agent's home must not
    // run inside Airlock's own file tools (they run with no approval).
    cmd: [...HELPER_PYTHON, "-c", FILE_OPS_SCRIPT, JSON.stringify(request)],
    helper: true,
    stdin: options.stdin,
    timeoutS: options.timeoutS,
    maxStoredBytes: options.maxStoredBytes,
  });
  if (result.timedOut) throw new SandboxFileError("FILE_OP_FAILED", `${request.op} ${requested} did not finish within ${options.timeoutS} s`);
  if (result.truncated) throw new SandboxFileError("FILE_OP_FAILED", `${request.op} ${requested}: the answer exceeded ${options.maxStoredBytes} bytes`);
  try {
    return JSON.parse(result.stdout) as T | FileOpError;
  } catch {
    const why = result.stderr.trim().split("\n").slice(-3).join(" ") || `exit code ${result.exitCode}`;
    throw new SandboxFileError("FILE_OP_FAILED", `${request.op} ${requested} failed inside the sandbox: ${why}`);
  }
}

function wholeNumber(value: number | undefined, fallback: number, name: string, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new SandboxFileError("INVALID_INPUT", `${name} must be a non-negative whole number, got ${String(value)}`);
  return Math.min(value, max);
}

/** Resolves symlinks inside the container; refuses a path that ends up outside. */
export async function realpathInWorkspace(runtime: SandboxRuntime, containerId: string, filePath: string): Promise<ResolvedPath> {
  return runFileOp<ResolvedPath>(runtime, containerId, { op: "realpath", path: filePath });
}

export async function statPath(runtime: SandboxRuntime, containerId: string, filePath: string): Promise<PathStat> {
  return runFileOp<PathStat>(runtime, containerId, { op: "stat", path: filePath });
}

/** A missing file is `exists: false`, not an error: write_file previews need it. */
export async function readFile(runtime: SandboxRuntime, containerId: string, filePath: string, options: ReadFileOptions = {}): Promise<ReadFileResult> {
  const offset = wholeNumber(options.offset, 0, "offset", Number.MAX_SAFE_INTEGER);
  const limit = wholeNumber(options.limit, DEFAULT_READ_BYTES, "limit", MAX_READ_BYTES);
  const encoding = options.encoding ?? "utf8";
  const raw = await runFileOp<Omit<ReadFileResult, "content" | "encoding"> & { data?: string }>(
    runtime,
    containerId,
    { op: "read", path: filePath, offset, limit },
    { maxStoredBytes: Math.ceil((limit * 4) / 3) + 64 * 1024 },
  );
  if (!raw.exists) {
    return { path: raw.path, exists: false, size: 0, offset, bytesRead: 0, eof: true, binary: false, encoding, content: "" };
  }
  const bytes = Buffer.from(raw.data ?? "", "base64");
  const content = encoding === "base64" ? bytes.toString("base64") : raw.binary ? "" : bytes.toString("utf8");
  return {
    path: raw.path,
    exists: true,
    size: raw.size,
    offset: raw.offset,
    bytesRead: raw.bytesRead,
    eof: raw.eof,
    binary: raw.binary,
    encoding,
    content,
  };
}

/** Creates missing parent directories; replaces the file atomically (a
 * reader never sees half of it), keeping an existing file's mode unless
 * `mode` is given. */
export async function writeFile(
  runtime: SandboxRuntime,
  containerId: string,
  filePath: string,
  content: string | Buffer,
  options: { mode?: number } = {},
): Promise<WriteFileResult> {
  if (options.mode !== undefined && (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o777)) {
    throw new SandboxFileError("INVALID_INPUT", `mode must be between 0 and 0o777, got ${options.mode}`);
  }
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, "utf8");
  return runFileOp<WriteFileResult>(runtime, containerId, { op: "write", path: filePath, mode: options.mode ?? null }, { stdin: bytes });
}

/** Lists a directory to `depth` levels (1 = direct children), not following
 * symlinks, not descending into .git or node_modules; at most maxEntries. */
export async function listFiles(
  runtime: SandboxRuntime,
  containerId: string,
  dirPath: string = WORKSPACE_PATH,
  depth = 2,
  options: { maxEntries?: number } = {},
): Promise<ListFilesResult> {
  const levels = Math.max(1, wholeNumber(depth, 2, "depth", MAX_LIST_DEPTH));
  const maxEntries = Math.max(1, wholeNumber(options.maxEntries, DEFAULT_MAX_ENTRIES, "maxEntries", 20_000));
  return runFileOp<ListFilesResult>(runtime, containerId, { op: "list", path: dirPath, depth: levels, maxEntries });
}

/** grep -rn with Python regular expressions: line matches with their numbers,
 * skipping binary files, files over 10 MiB, .git and node_modules. `glob`
 * (fnmatch, e.g. "*.ts") matches a file's name or its path below `dirPath`. */
export async function searchFiles(
  runtime: SandboxRuntime,
  containerId: string,
  pattern: string,
  dirPath: string = WORKSPACE_PATH,
  glob?: string,
  options: { maxMatches?: number } = {},
): Promise<SearchFilesResult> {
  if (typeof pattern !== "string" || pattern === "") throw new SandboxFileError("INVALID_INPUT", "pattern must be a non-empty string");
  const maxMatches = Math.max(1, wholeNumber(options.maxMatches, DEFAULT_MAX_MATCHES, "maxMatches", 5000));
  return runFileOp<SearchFilesResult>(
    runtime,
    containerId,
    { op: "search", path: dirPath, pattern, glob: glob ?? null, maxMatches },
    { timeoutS: SEARCH_TIMEOUT_S },
  );
}
