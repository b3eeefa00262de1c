// The container runtime: one small interface (SandboxRuntime) that the
// supervisor and the tools use, and its Docker implementation. Everything an
// agent does happens through exec() inside a hardened, disposable container.
import crypto, { randomBytes } from "node:crypto";
import fs from "node:fs";
import { constants as osConstants } from "node:os";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { PassThrough, Writable, type Duplex } from "node:stream";
import type Docker from "dockerode";
import { DomainError } from "@/server/errors/domain-error";
import type { SandboxRuntimeName } from "@/db/schema";
import { AGENT_GID, AGENT_HOME, AGENT_UID, AGENT_USER, WORKSPACE_PATH } from "./layout";
import { docker as processDocker } from "./docker";
import { observeContainerStart } from "@/server/metrics/instruments";
import { packMirror, replaceMirror } from "./workspace-archive";
import { WORKSPACE_MODE } from "./workspace";

// ---------------------------------------------------------------- limits

export interface RunLimits {
  memoryMb: number;
  cpus: number;
  pids: number;
  commandTimeoutS: number;
  runTimeoutS: number;
}

export const DEFAULT_LIMITS: RunLimits = Object.freeze({
  memoryMb: 1024,
  cpus: 1,
  pids: 256,
  commandTimeoutS: 120,
  runTimeoutS: 3600,
});

/** The ceiling a run may ask for. Today it equals the defaults: a run can only
 * lower its limits. It is a separate constant so an operator setting can raise
 * the ceiling later without touching the defaults. */
export const MAX_LIMITS: RunLimits = Object.freeze({ ...DEFAULT_LIMITS });

/** Below these a sandbox cannot do useful work (python alone needs ~10 MB;
 * init, the sentinel, its sleep and one exec need 4 pids before any command). */
const MIN_LIMITS: RunLimits = Object.freeze({
  memoryMb: 64,
  cpus: 0.1,
  pids: 16,
  commandTimeoutS: 1,
  runTimeoutS: 10,
});

const LIMIT_UNITS: Record<keyof RunLimits, string> = {
  memoryMb: "MB",
  cpus: "CPUs",
  pids: "processes",
  commandTimeoutS: "s",
  runTimeoutS: "s",
};
const INTEGER_LIMITS = new Set<keyof RunLimits>(["memoryMb", "pids", "commandTimeoutS", "runTimeoutS"]);

/** Fills a run's requested limits from the defaults. Refuses (INVALID_INPUT)
 * anything above MAX_LIMITS or below a workable minimum, rather than silently
 * clamping: a reviewer should see the run with the limits that were asked for. */
export function resolveLimits(requested: Partial<RunLimits> | undefined = {}): RunLimits {
  const resolved = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof RunLimits)[]) {
    const value = requested?.[key];
    if (value === undefined) continue;
    const unit = LIMIT_UNITS[key];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new DomainError("INVALID_INPUT", `limit ${key} must be a number, got ${String(value)}`);
    }
    if (INTEGER_LIMITS.has(key) && !Number.isInteger(value)) {
      throw new DomainError("INVALID_INPUT", `limit ${key} must be a whole number of ${unit}, got ${value}`);
    }
    if (value > MAX_LIMITS[key]) {
      throw new DomainError(
        "INVALID_INPUT",
        `limit ${key}=${value} ${unit} is above the maximum of ${MAX_LIMITS[key]} ${unit}; a run may only lower its limits`,
      );
    }
    if (value < MIN_LIMITS[key]) {
      throw new DomainError("INVALID_INPUT", `limit ${key}=${value} ${unit} is below the minimum of ${MIN_LIMITS[key]} ${unit}`);
    }
    resolved[key] = value;
  }
  return resolved;
}

// ---------------------------------------------------------------- interface

export interface SandboxSpec {
  runId: string;
  image: string;
  /** Host directory, owned by AGENT_UID, bind-mounted read-write at /workspace. */
  workspaceDir: string;
  limits: RunLimits;
  env?: Record<string, string>;
  /** A red-team lab sandbox is not a run's: labelled apart, so supervisors never reconcile (remove) it. */
  purpose?: "run" | "redteam";
  /** The engine runtime that isolates the container: "runc" (default) or "runsc" (gVisor, registered with the engine by scripts/ensure-gvisor.sh). */
  runtime?: SandboxRuntimeName;
  /** Issue 17: the engine (engines.name) to create it on; default "local". Only the engine pool (server/engines/pooled-runtime.ts) reads it. */
  engine?: string;
}

export interface ExecOptions {
  cmd: string[];
  /** Inside /workspace; relative paths are taken from /workspace. */
  cwd?: string;
  env?: Record<string, string>;
  stdin?: Buffer | string;
  timeoutS: number;
  /** Bytes of output kept in the result (head and tail), default 1 MiB. */
  maxStoredBytes?: number;
  onOutput?: (chunk: string, stream: "stdout" | "stderr") => void;
  signal?: AbortSignal;
  /** Airlock's own helper (the file tools), not the agent's command: runs
   * isolated (working directory "/", the fixed HELPER_ENV instead of the
   * container's environment). `cwd` and `env` must not be given. */
  helper?: boolean;
}

export interface ExecResult {
  /** The status as a shell reports it (128+n when a signal ended the command);
   * null when it could not be learned (the exec never finished reporting). */
  exitCode: number | null;
  /** SIGKILL after a timeout/abort/OOM kill; otherwise inferred from 128+n. */
  signal: string | null;
  timedOut: boolean;
  oomKilled: boolean;
  aborted: boolean;
  stdout: string;
  stderr: string;
  totalBytes: number;
  truncated: boolean;
  durationMs: number;
  /** The command's processes could not be killed one by one (after a
   * timeout or abort), so the whole sandbox was stopped. */
  sandboxStopped: boolean;
  /** Agent processes still running when the command ended (background
   * children, daemons, a fork bomb), all killed before exec returned. */
  leftBehind: number;
  /** The command ran the sandbox out of processes: a fork failed at the
   * run's pids cap (the pids cgroup's "max" event count went up), or the
   * runtime could not even start it. null when it did not. */
  pidsExhausted: { limit: number } | null;
}

export interface ServiceOptions {
  /** Label only (shown in `docker ps`). */
  name: string;
  cmd: string[];
  /** Absolute path inside the container (under /workspace). */
  cwd: string;
  env?: Record<string, string>;
  onOutput?: (chunk: string, stream: "stdout" | "stderr") => void;
}

export interface ServiceHandle {
  containerId: string;
  /** Resolves with the exit code once the service's process ends (null: unknown). */
  exited: Promise<number | null>;
}

export interface SandboxSummary {
  containerId: string;
  runId: string;
  running: boolean;
  /** Frozen (cgroup freezer): only a checkpoint or a rollback freezes a sandbox, for moments; a process that died then left it so. */
  paused: boolean;
}

export interface SandboxState {
  running: boolean;
  oomKilled: boolean;
  exitCode: number | null;
}

export interface SandboxStats {
  memoryBytes: number;
  cpuPercent: number;
  pids: number;
  /** Bytes received and sent over the sandbox's interfaces since it started (null: it has none, network "none"). */
  netRxBytes?: number | null;
  netTxBytes?: number | null;
}

export interface SandboxRuntime {
  /** Creates AND starts the container. */
  createSandbox(spec: SandboxSpec): Promise<{ containerId: string }>;
  /** Runs one command. Commands of a sandbox run one at a time: when one
   * ends, every agent process in the sandbox is killed (see reapProcesses);
   * helper execs (opts.helper) may run alongside and are never killed. */
  exec(containerId: string, opts: ExecOptions): Promise<ExecResult>;
  /** Kills every agent process but the container's own init and sentinel. */
  killProcesses(containerId: string): Promise<void>;
  /** Starts Airlock's one long-lived helper in the sandbox (the file server,
   * see file-server.ts): `cmd` isolated as the agent like every helper, with
   * stdin open. It survives commands whose reap finds nothing else, and is
   * dropped before any reap that kills (which ends it and does not count it)
   * and when the sandbox stops. Replaces one running. Under runc only: under
   * gVisor it throws (see there). */
  startResident?(containerId: string, cmd: string[]): Promise<ResidentHelper>;
  /** Starts a service beside the sandbox (see startService below); its output goes to onOutput until it exits. */
  startService(containerId: string, opts: ServiceOptions): Promise<ServiceHandle>;
  /** Stops and removes a service's container (gone already: nothing to do). */
  stopService(serviceContainerId: string): Promise<void>;
  /** Freezes every process of the container (cgroup freezer), so the host can
   * read or restore its workspace without racing it. false when the container
   * is not running (nothing to freeze). */
  pauseSandbox(containerId: string): Promise<boolean>;
  /** Idempotent; a container that is gone or not paused is fine. */
  unpauseSandbox(containerId: string): Promise<void>;
  /** SIGKILLs the container; completes well within 2 s. */
  stopSandbox(containerId: string): Promise<void>;
  /** Idempotent. */
  removeSandbox(containerId: string): Promise<void>;
  /** null when the container is gone. */
  inspectSandbox(containerId: string): Promise<SandboxState | null>;
  /** Every container labelled airlock.run (and airlock.managed=true), running or not. */
  listSandboxes(): Promise<SandboxSummary[]>;
  /** null when the container is gone or not running. Takes about a second:
   * the engine samples CPU twice. */
  stats(containerId: string): Promise<SandboxStats | null>;
  /** Snapshot of a running sandbox as the image `airlock-snapshot:<tag>`:
   * the sandbox image plus one layer holding the agent's home directory
   * (where user-level installs land: pip --user, npm -g, ~/.local/bin),
   * committed (`docker commit`) from a never-started builder container,
   * labelled airlock.snapshot=true, airlock.run, airlock.checkpoint and
   * airlock.instance, with the sandbox image's own config (user, working
   * dir, entrypoint, env): the sandbox's settings are not baked in. The root
   * filesystem of a sandbox is read-only, so the home is all it can have
   * changed outside /workspace; /workspace (a bind mount) is covered by
   * checkpoints. A sandbox created from the image gets that home back. */
  snapshotSandbox(containerId: string, tag: string, opts?: { checkpointId?: string }): Promise<SnapshotSummary>;
  /** This Airlock's snapshot images (of one run, or all), oldest first. */
  listSnapshots(runId?: string): Promise<SnapshotSummary[]>;
  /** Idempotent; only ever removes airlock-snapshot images. */
  removeSnapshot(image: string): Promise<void>;
  /** Removes this Airlock's snapshot builder containers left by a crash mid-snapshot; returns how many. */
  removeSnapshotLeftovers(): Promise<number>;
  /**
   * Calls onStop for every run sandbox of this Airlock that stops, as the
   * engine reports it (a kill from outside, the kernel's OOM killer ending
   * its init, the sentinel's deadline, our own stopSandbox), until the
   * returned function is called. The engine's event stream is reopened when
   * it breaks (engine restart); onResync is then called, because stops
   * during the gap were missed.
   */
  watchSandboxes(onStop: (stop: SandboxStop) => void, onResync?: () => void): () => void;
  /**
   * Issue 17, remote engines only (a local engine's workspace is the host
   * directory itself, bind-mounted): copy the sandbox's /workspace into the
   * host mirror `hostDir` (checkpoints read it), and the mirror back into the
   * sandbox (seeding, rollback, uploads). Absent on a local engine.
   */
  pullWorkspace?(containerId: string, hostDir: string): Promise<void>;
  pushWorkspace?(containerId: string, hostDir: string): Promise<void>;
  /** Issue 17, remote engines only: removes this instance's workspace volumes whose run is not in `keep`; returns how many. */
  pruneWorkspaceVolumes?(keep: ReadonlySet<string>): Promise<number>;
  /**
   * Issue 17, remote engines only: a digest of every entry of the sandbox's
   * /workspace (type, inode, size, mtime, ctime, mode, owner, path), made by a
   * helper inside; equal digests mean nothing changed (ctime is what no agent
   * can set back). null when it cannot be made (then copy). Not while paused.
   */
  workspaceListing?(containerId: string): Promise<string | null>;
}

/** Airlock's long-lived helper in a sandbox (startResident). */
export interface ResidentHelper {
  /** Its stdin. */
  input: Writable;
  /** Its stdout (stderr is kept apart: see stderrTail). */
  output: PassThrough;
  /** Resolves once its exec's stream has ended (the process exited, was killed, or the channel broke). */
  exited: Promise<void>;
  /** The last few KiB it wrote to stderr (for diagnosis). */
  stderrTail(): string;
  /** Its pid and start time inside the sandbox, as it reports once running: what close() kills when it does not exit. */
  identify(pid: number, startTime: string): Promise<void>;
  /** Runs fn as a helper: a reap waits for it (see HelperGate). */
  shared<T>(fn: () => Promise<T>): Promise<T>;
  /** Ends it: stdin closed, then killed by pid when it has not exited within a moment. Idempotent. */
  close(): Promise<void>;
}

export interface SandboxStop {
  containerId: string;
  runId: string;
  exitCode: number | null;
  /** The engine reported an OOM kill in the container just before it stopped. */
  oomKilled: boolean;
  /** Why this runtime stopped it on its own (not on request), if it did. */
  stoppedBecause: string | null;
  /**
   * Set when the engine itself went away as the container died (a stopped or
   * restarted dockerd stops its containers): what the engine answered, for a
   * reason that names the engine rather than "stopped unexpectedly".
   */
  engineLost?: string | null;
}

export interface SnapshotSummary {
  image: string;
  runId: string;
  checkpointId: string | null;
  createdAt: Date;
  /** What the snapshot adds to the sandbox image. */
  sizeBytes: number;
}

export type SandboxErrorCode = "IMAGE_MISSING" | "SANDBOX_GONE" | "SANDBOX_NOT_RUNNING" | "INVALID_SPEC" | "ENGINE_ERROR";

/** Infrastructure failures (not command outcomes: those are ExecResults). */
export class SandboxError extends Error {
  constructor(
    readonly code: SandboxErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SandboxError";
  }
}

// ---------------------------------------------------------------- constants

/** The sandbox's only DNS server: nowhere (see the HostConfig). Checked again before a sandbox joins the egress network. */
export const SANDBOX_DNS = "0.0.0.0";

/**
 * After a container's unexpected "die": how long the engine must keep answering
 * (pinged every ENGINE_GONE_POLL_MS, each ping given ENGINE_GONE_PING_MS) for
 * the stop to count as the container's own rather than the engine's going away.
 * A stopping dockerd reports its containers' deaths while still shutting down.
 */
const ENGINE_GONE_WINDOW_MS = 2000;
const ENGINE_GONE_POLL_MS = 200;
const ENGINE_GONE_PING_MS = 1000;

export const RUN_LABEL = "airlock.run";
export const MANAGED_LABEL = "airlock.managed";
/** Which Airlock (one per data directory) owns a container: reconciliation after a
 * restart only ever touches its own, so two Airlocks (or test suites) can share an engine. */
export const INSTANCE_LABEL = "airlock.instance";
/** A service's container (start_service) names its sandbox's container id here; not a sandbox, so never listed as one. */
export const SERVICE_OF_LABEL = "airlock.service-of";
/** Issue 17: on a remote engine's workspace volume (`airlock-ws-<runId>`, also labelled with the run, managed and instance labels). */
export const WORKSPACE_VOLUME_LABEL = "airlock.workspace";

/** The Docker volume holding a run's /workspace on a remote engine. */
export function workspaceVolumeName(runId: string): string {
  return `airlock-ws-${runId}`;
}

/**
 * Run by a helper (as the agent, never the agent's code) before the host
 * mirror is pushed into a remote sandbox: empties /workspace and gives its
 * root WORKSPACE_MODE. Directories the agent made unreadable or unwritable
 * are opened first; symlinks are removed, never followed (find -P). The
 * volume's root is the agent's because Docker copies the image's
 * /workspace (the agent's, made by the image recipe) into a new volume.
 */
const CLEAR_WORKSPACE_SCRIPT = [
  `test -O ${WORKSPACE_PATH} || { echo "${WORKSPACE_PATH} does not belong to the agent (uid ${AGENT_UID}); the sandbox image's ${WORKSPACE_PATH} must"; exit 3; }`,
  `chmod -R u+rwX -- ${WORKSPACE_PATH}/. 2>/dev/null`,
  `chmod ${WORKSPACE_MODE.toString(8)} ${WORKSPACE_PATH}`,
  `exec find -P ${WORKSPACE_PATH} -xdev -mindepth 1 -delete`,
].join("; ");

export function instanceIdForDataDir(dataDir: string): string {
  let real = dataDir;
  try {
    real = fs.realpathSync(dataDir);
  } catch {
    // not created yet: the resolved path names it just as well
  }
  return crypto.createHash("sha256").update(path.resolve(real)).digest("hex").slice(0, 16);
}
export const REDTEAM_LABEL = "airlock.redteam";
export const SNAPSHOT_LABEL = "airlock.snapshot";
export const SNAPSHOT_REPO = "airlock-snapshot";
/** On a snapshot image: the checkpoint it was taken at, and the sandbox image it was built on. */
export const SNAPSHOT_CHECKPOINT_LABEL = "airlock.checkpoint";
export const SNAPSHOT_BASE_LABEL = "airlock.base-image";
/** On a snapshot image: where it keeps the agent's home directory (copied into the tmpfs home at start). */
export const HOME_SEED_LABEL = "airlock.home-seed";
export const HOME_SEED_PATH = "/var/lib/airlock/home";
/** On the short-lived (never started) container a snapshot is built in. */
const SNAPSHOT_BUILDER_LABEL = "airlock.snapshot-builder";
/** Where user-level installs land (pip --user, npm -g with the prefix below): inside the home, so snapshots keep them. */
const AGENT_LOCAL_BIN = `${AGENT_HOME}/.local/bin`;
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The environment every sandbox gets on top of its image's: HOME, the
 * image's PATH with ~/.local/bin appended (last, so nothing the agent
 * installs shadows a system command that Airlock's own helpers call), and
 * package managers pointed at the home directory.
 */
export function agentEnvironment(imageEnv: string[]): string[] {
  const imagePath = imageEnv.find((e) => e.startsWith("PATH="))?.slice(5) || DEFAULT_PATH;
  const pathList = imagePath.split(":").includes(AGENT_LOCAL_BIN) ? imagePath : `${imagePath}:${AGENT_LOCAL_BIN}`;
  return [
    `HOME=${AGENT_HOME}`,
    `PATH=${pathList}`,
    // Debian marks its Python "externally managed"; a user install cannot
    // break system packages (no root), so allow it.
    "PIP_BREAK_SYSTEM_PACKAGES=1",
    "PIP_DISABLE_PIP_VERSION_CHECK=1",
    // No second copy of every download in the (size-capped) home.
    "PIP_NO_CACHE_DIR=1",
    `NPM_CONFIG_PREFIX=${AGENT_HOME}/.local`,
  ];
}
/** Every exec carries AIRLOCK_EXEC=<random token> in its environment; the
 * token is how the killer finds the exec's processes, whatever session or
 * process group they moved to. */
const EXEC_MARKER = "AIRLOCK_EXEC";

/**
 * Who the container's own processes (docker-init as PID 1 and the sentinel)
 * run as: root with no capability but CAP_KILL (CapDrop ALL, CapAdd KILL).
 * Not the agent's uid, so nothing the agent runs can signal, stop, ptrace or
 * read the memory of the processes that kill its commands; CAP_KILL lets the
 * sentinel kill every agent process. Agent commands run as AGENT_USER with no
 * effective, permitted or inheritable capability; CAP_KILL stays in their
 * bounding set only, which no-new-privileges makes unreachable.
 */
const INIT_USER = "0:0";

/**
 * Airlock's own helpers (the file tools, the process killer, home seeding)
 * run as the agent but never run the agent's code: `env -i` with this fixed
 * environment (no PYTHONPATH, PYTHONSTARTUP, LD_*, BASH_ENV…, a PATH of
 * read-only system directories, HOME on the read-only root), working
 * directory "/" (not /workspace), absolute program paths, and python3 isolated:
 * -I (no user site, no PYTHON* variables, no script or working directory on
 * sys.path), -S (no site module, so no .pth file anywhere runs), -B (no .pyc
 * written). Everything on its path then lives on the read-only root filesystem.
 */
const HELPER_ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "LANG=C.UTF-8"];
export const HELPER_PYTHON: readonly string[] = Object.freeze(["/usr/bin/python3", "-I", "-S", "-B"]);

function helperCommand(cmd: readonly string[], token?: string): string[] {
  return ["/usr/bin/env", "-i", ...HELPER_ENV, ...(token ? [`${EXEC_MARKER}=${token}`] : []), ...cmd];
}

/**
 * An agent's command starts through a shell that execve()s it. Under gVisor
 * (runsc) the process `docker exec` starts as the agent keeps the container's
 * capabilities (CAP_KILL, meant for the sentinel) in its effective set, where
 * runc clears them for a user other than root; with it the agent could
 * SIGKILL the sentinel and init and end its sandbox. execve() by a user other
 * than root drops them (no file or ambient capabilities) in both kernels, so
 * the agent's own program starts with none. Under runc it changes nothing,
 * so a container known to run under runc gets the command as it is: one
 * process image less per command (the command path's overhead, issue 14).
 * (Helpers start through /usr/bin/env, which execve()s too.)
 */
function agentCommand(cmd: readonly string[], runtime: "runc" | "gvisor" | "unknown"): string[] {
  if (runtime === "gvisor") return [...HELPER_PYTHON, "-c", GVISOR_EXEC_FILTER, ...cmd];
  if (runtime === "runc") return [...cmd];
  return ["/bin/sh", "-c", 'exec "$@"', "airlock-exec", ...cmd];
}

/** x86-64 system calls an agent under gVisor is refused (EPERM): those Docker's default profile keeps from an unprivileged container. */
const GVISOR_DENIED_SYSCALLS = {
  unshare: 272,
  setns: 308,
  mount: 165,
  umount2: 166,
  pivot_root: 155,
  chroot: 161,
  keyctl: 250,
  add_key: 248,
  request_key: 249,
  bpf: 321,
  perf_event_open: 298,
  userfaultfd: 323,
  open_by_handle_at: 304,
  name_to_handle_at: 303,
  syslog: 103,
  acct: 163,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  settimeofday: 164,
  clock_settime: 227,
  quotactl: 179,
  vhangup: 153,
  iopl: 172,
  ioperm: 173,
  kexec_load: 246,
  init_module: 175,
  finit_module: 313,
  delete_module: 176,
} as const;

/**
 * Under gVisor the filter of the container's spec (--oci-seccomp) reaches the
 * container's own process tree, but not the processes `docker exec` starts,
 * and agent commands are those: an agent could make a user namespace inside
 * gVisor (the red team's priv-namespaces-mounts escaped). So an agent command
 * starts through this loader (python3 -I -S, as the helpers), which installs
 * the same deny list as a seccomp filter (classic BPF: other architectures
 * and x32 numbers refused, the listed calls EPERM, clone with any CLONE_NEW*
 * flag EPERM, clone3 ENOSYS so the C library falls back to clone), puts
 * SIGPIPE and SIGXFSZ back to their defaults (Python ignores them) and then
 * execve()s the command, which also drops the effective capabilities (see
 * above). The filter is inherited by every child and cannot be removed.
 */
const GVISOR_EXEC_FILTER = [
  "import ctypes, os, struct, sys",
  "L = ctypes.CDLL(None, use_errno=True)",
  "def I(c, k, t=0, f=0): return struct.pack('HBBI', c, t, f, k)",
  "EPERM, ENOSYS, ALLOW = 0x50001, 0x50026, 0x7fff0000",
  "p = [I(0x20, 4), I(0x15, 0xc000003e, 1, 0), I(6, EPERM), I(0x20, 0), I(0x35, 0x40000000, 0, 1), I(6, EPERM)]",
  `for n in (${Object.values(GVISOR_DENIED_SYSCALLS).join(", ")},): p += [I(0x15, n, 0, 1), I(6, EPERM)]`,
  "p += [I(0x15, 435, 0, 1), I(6, ENOSYS), I(0x15, 56, 0, 3), I(0x20, 16), I(0x45, 0x7e020000, 0, 1), I(6, EPERM), I(6, ALLOW)]",
  "b = ctypes.create_string_buffer(b''.join(p))",
  "class F(ctypes.Structure): _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]",
  "f = F(len(p), ctypes.addressof(b))",
  "if L.prctl(38, 1, 0, 0, 0) != 0 or L.prctl(22, 2, ctypes.byref(f), 0, 0) != 0:",
  "    sys.stderr.write('airlock: could not install the sandbox filter (errno %d)\\n' % ctypes.get_errno()); sys.exit(126)",
  // Python starts with SIGPIPE and SIGXFSZ ignored, and an ignored signal stays ignored across execve: without this, every
  // agent command under gVisor had them ignored (`yes | head` printed "Broken pipe" and counted it as output; a file past
  // RLIMIT_FSIZE got EFBIG instead of the SIGXFSZ it gets under runc).
  "import signal; signal.signal(signal.SIGPIPE, signal.SIG_DFL); signal.signal(signal.SIGXFSZ, signal.SIG_DFL)",
  "try: os.execvp(sys.argv[1], sys.argv[1:])",
  "except OSError as e: sys.stderr.write('%s: %s\\n' % (sys.argv[1], e.strerror)); sys.exit(127 if isinstance(e, FileNotFoundError) else 126)",
].join("\n");

export const DEFAULT_MAX_STORED_BYTES = 1024 * 1024;
const TMP_SIZE_MB = 256;
/** Where user-level installs land (pip --user, npm -g): room for a few real packages. tmpfs pages count against the run's memory limit. */
const HOME_SIZE_MB = 256;
const SHM_SIZE_MB = 64;
/** RLIMIT_FSIZE: a single file can grow to 1 GiB (then SIGXFSZ). */
const MAX_FILE_BYTES = 1024 * 1024 * 1024;
const MAX_OPEN_FILES = 8192;
/** RLIMIT_NPROC counts every process of AGENT_UID on the host kernel, across
 * all sandboxes (no user namespaces), so it cannot be the per-run limit: the
 * pids cgroup is. This is only a backstop that never bites a single run. */
const MAX_UID_PROCESSES = 16384;
/**
 * gVisor (runsc): the container's pids cgroup holds the sandbox's own kernel
 * (the Sentry, a Go program) and its file proxy, not the agent's processes,
 * which are tasks inside that kernel. Those need a few hundred host threads
 * (about 280 measured with 20 agent processes) and die with exit 2 when a
 * thread cannot be made: with the run's pids limit (256 by default) there,
 * a busy sandbox crashed. So under runsc the pids cgroup is this budget of
 * host threads, and the run's pids limit is RLIMIT_NPROC instead, which
 * gVisor's kernel enforces over the agent uid's tasks of this sandbox alone
 * (its own uid space: no other sandbox counts, unlike runc's host-wide count).
 */
const RUNSC_HOST_THREADS = 4096;

/**
 * The seccomp filter gVisor applies inside the sandbox (runsc is registered
 * with --oci-seccomp by scripts/gvisor-daemon-json.mjs). Under runc, Docker's
 * default profile keeps an agent without CAP_SYS_ADMIN from making
 * namespaces; gVisor's own kernel does not consult the host's filter, and the
 * red team's priv-namespaces-mounts scenario escaped there (unshare
 * CLONE_NEWUSER worked). Docker's default profile cannot be used inside this
 * runsc build: its clone rule stops thread creation (python and node fail),
 * so this is a deny list of what the default profile keeps from an
 * unprivileged container: new namespaces (unshare, setns, clone with a
 * CLONE_NEW* flag), mounts, keyrings, bpf, perf, userfaultfd, handles, kernel
 * modules, clocks, reboot and swap. gVisor answers EPERM whatever errno is
 * asked for, so clone3 is not listed: this build does not implement it
 * (ENOSYS, and the C library falls back to clone), while an EPERM would stop
 * every thread from starting (a service's python server failed so).
 */
const GVISOR_SECCOMP_PROFILE = JSON.stringify({
  defaultAction: "SCMP_ACT_ALLOW",
  architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  syscalls: [
    {
      names: [
        "unshare",
        "setns",
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "open_by_handle_at",
        "name_to_handle_at",
        "syslog",
        "acct",
        "swapon",
        "swapoff",
        "reboot",
        "settimeofday",
        "clock_settime",
        "quotactl",
        "vhangup",
        "iopl",
        "ioperm",
        "kexec_load",
        "init_module",
        "finit_module",
        "delete_module",
      ],
      action: "SCMP_ACT_ERRNO",
      errnoRet: 1,
    },
    // CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET: one rule each (a rule's conditions are ANDed).
    ...[0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000].map((flag) => ({
      names: ["clone"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: 1,
      args: [{ index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ" }],
    })),
  ],
});

/** Security options of a sandbox (and its services) under a runtime. */
function securityOptions(runtime: string | undefined): string[] {
  return runtime === "runsc" ? ["no-new-privileges", `seccomp=${GVISOR_SECCOMP_PROFILE}`] : ["no-new-privileges"];
}
/** The sentinel ends the container this long after runTimeoutS, in case the
 * supervisor that should have stopped it is gone. */
const RUN_DEADLINE_GRACE_S = 300;

/**
 * The container's main process (a child of docker-init, PID 1). It idles,
 * and on SIGUSR1 (sent with `docker kill -s USR1`, forwarded by docker-init)
 * it kills every process of the agent with kill(-1): the kernel excludes the
 * caller and PID 1, and the walk is atomic against fork, so even a fork bomb
 * cannot outrun it. Needs no free pid, unlike any `docker exec`. After
 * runTimeoutS + grace it exits, which ends the container.
 * Init and sentinel run as INIT_USER, not as the agent: see there.
 */
const SENTINEL_SCRIPT = `trap 'kill -KILL -1 2>/dev/null' USR1
trap 'exit 0' TERM INT HUP
deadline=$1
while (( SECONDS < deadline )); do
  sleep $(( deadline - SECONDS )) &
  wait $!
done`;

/**
 * Kills the process tree of one exec from inside the container (runs as the
 * agent, which may signal its own processes; needs no capability). Selected:
 *  - every process whose environment carries this exec's token (children
 *    inherit it through fork, setsid, nohup, daemonising),
 *  - every process in a session one of those leads (a child that cleared its
 *    environment but stayed in the session),
 *  - descendants of all of the above,
 *  - orphans (reparented to PID 1) carrying no exec token at all: something
 *    cleared its environment and double-forked to escape; no exec owns it.
 * Session 1 (docker-init, the sentinel and its sleep) is never touched.
 * Everything selected is SIGSTOPped first, rescanning until no new process
 * appears (a stopped process cannot fork), then SIGKILLed; survivors are
 * re-killed for up to 2 s. Prints {"killed": n, "survivors": [pids]}, for
 * diagnosis only: the engine's listing (selectExecProcesses) is what counts.
 * Runs isolated (HELPER_PYTHON, HELPER_ENV), so no file the agent wrote
 * (a .pth, a json.py) runs inside it.
 */
const KILLER_SCRIPT = String.raw`
import json, os, signal, sys, time
token = sys.argv[1]
MARK = b"${EXEC_MARKER}="
mine = MARK + token.encode()
me = os.getpid()

def scan():
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == me or pid == 1:
            continue
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                raw = f.read()
            fields = raw[raw.rindex(b")") + 2:].split()
            state, ppid, sid = fields[0], int(fields[1]), int(fields[3])
        except (OSError, ValueError, IndexError):
            continue
        if state in (b"Z", b"X"):
            continue
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            env = None
        procs[pid] = (ppid, sid, env)
    return procs

def select(procs):
    ours = {p for p, (pp, sid, env) in procs.items() if sid != 1}
    chosen = {p for p in ours if procs[p][2] is not None and mine in procs[p][2]}
    sessions = {procs[p][1] for p in chosen} - {0, 1}
    chosen |= {p for p in ours if procs[p][1] in sessions}
    chosen |= {p for p in ours if procs[p][0] == 1 and not any(e.startswith(MARK) for e in (procs[p][2] or []))}
    children = {}
    for p in ours:
        children.setdefault(procs[p][0], []).append(p)
    stack = list(chosen)
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in chosen:
                chosen.add(c)
                stack.append(c)
    return chosen

def signal_all(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except OSError:
            pass

stopped = set()
for _ in range(100):
    new = select(scan()) - stopped
    if not new:
        break
    signal_all(new, signal.SIGSTOP)
    stopped |= new
signal_all(stopped, signal.SIGKILL)
deadline = time.time() + 2
left = select(scan())
while left and time.time() < deadline:
    signal_all(left, signal.SIGKILL)
    time.sleep(0.02)
    left = select(scan())
print(json.dumps({"killed": len(stopped), "survivors": sorted(left)}))
`;

// The first name wins for aliases (SIGABRT, not SIGIOT).
const SIGNAL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(osConstants.signals)
    .reverse()
    .map(([name, num]) => [num, name]),
);

// ---------------------------------------------------------------- engine process listing

/** One line of the engine's process listing (host pids; see engineProcesses). */
export interface EngineProcess {
  pid: number;
  ppid: number;
  sid: number;
  state: string;
  /** Arguments, then the environment (ps `e`). */
  command: string;
}

/** Parses `docker top` output made with ps_args "-eo pid,ppid,sid,stat,args e". */
export function parseEngineProcesses(listing: { Titles?: string[]; Processes?: string[][] }): EngineProcess[] {
  const titles = listing.Titles ?? [];
  const col = (name: string) => titles.indexOf(name);
  const [pid, ppid, sid, stat, command] = [col("PID"), col("PPID"), col("SID"), col("STAT"), col("COMMAND")];
  if ([pid, ppid, sid, stat, command].some((i) => i < 0)) {
    throw new SandboxError("ENGINE_ERROR", `unexpected process listing from the engine (columns ${titles.join(", ")})`);
  }
  return (listing.Processes ?? []).map((row) => ({
    pid: Number(row[pid]),
    ppid: Number(row[ppid]),
    sid: Number(row[sid]),
    state: row[stat] ?? "",
    command: row.slice(command).join(" "),
  }));
}

/**
 * KILLER_SCRIPT's selection over the engine's listing (host pids; initPid is
 * the container's PID 1, whose session holds docker-init and the sentinel):
 * processes carrying the exec's marker, the sessions they lead, orphans of
 * init without any marker, and all their descendants. With token null: every
 * process outside init's session. Zombies are dead already and not counted.
 */
export function selectExecProcesses(procs: EngineProcess[], initPid: number, token: string | null): EngineProcess[] {
  const ours = procs.filter((p) => p.sid !== initPid && p.pid !== initPid && !/^[ZX]/.test(p.state));
  if (token === null) return ours;
  const hasMarker = (p: EngineProcess, value: string) => p.command.split(" ").some((word) => word.startsWith(`${EXEC_MARKER}=${value}`));
  const mine = ours.filter((p) => p.command.split(" ").includes(`${EXEC_MARKER}=${token}`));
  const sessions = new Set(mine.map((p) => p.sid));
  const chosen = new Set<number>(mine.map((p) => p.pid));
  for (const p of ours) {
    if (sessions.has(p.sid)) chosen.add(p.pid);
    if (p.ppid === initPid && !hasMarker(p, "")) chosen.add(p.pid);
  }
  const children = new Map<number, number[]>();
  for (const p of ours) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const stack = [...chosen];
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()!) ?? []) {
      if (!chosen.has(c)) {
        chosen.add(c);
        stack.push(c);
      }
    }
  }
  return ours.filter((p) => chosen.has(p.pid));
}

/** What a fork refused at the pids cap, or a runtime that could not start an exec, prints. */
const PIDS_EXHAUSTED_TEXT = /Resource temporarily unavailable|OCI runtime exec failed|read init-p|fork: retry/;
/** Left behind by one command: a fork bomb, or close enough to check the pids cgroup. */
const LEFT_BEHIND_SUSPICIOUS = 32;

/** The sentinel's children (its sleep): init's session but neither init nor
 * the sentinel itself. Their death acknowledges a kill(-1) (see reapProcesses). */
export function sentinelChildren(procs: EngineProcess[], initPid: number): EngineProcess[] {
  return procs.filter((p) => p.sid === initPid && p.pid !== initPid && p.ppid !== initPid && !/^[ZX]/.test(p.state));
}

/**
 * Per container: Airlock's own helper execs (file tools, snapshots) in
 * flight, and the reaps that kill every agent process after a command. A
 * helper runs as the agent, so a reap would kill it: a reap waits until no
 * helper runs, and a helper waits for a reap under way.
 */
class HelperGate {
  private helpers = 0;
  private reap: Promise<void> = Promise.resolve();
  private idle: (() => void)[] = [];

  /** Enters as a helper; call the returned function once it has ended. */
  async enter(): Promise<() => void> {
    for (let r = this.reap; ; r = this.reap) {
      await r;
      if (r === this.reap) break;
    }
    this.helpers++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.helpers--;
      if (this.helpers === 0) for (const wake of this.idle.splice(0)) wake();
    };
  }

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    const leave = await this.enter();
    try {
      return await fn();
    } finally {
      leave();
    }
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.reap.then(async () => {
      while (this.helpers > 0) await new Promise<void>((wake) => this.idle.push(wake));
      return fn();
    });
    this.reap = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

const globalForGates = globalThis as unknown as { __airlockHelperGates?: Map<string, HelperGate> };
function helperGate(containerId: string): HelperGate {
  const gates = (globalForGates.__airlockHelperGates ??= new Map());
  let gate = gates.get(containerId);
  if (!gate) gates.set(containerId, (gate = new HelperGate()));
  return gate;
}

/** How the leftovers of a command are found in one container (see leftoverCheck). */
type LeftoverCheck = { kind: "host"; tasksFile: string } | { kind: "gvisor" } | { kind: "engine" };

/** The file listing every task (thread) of the container's pids cgroup on
 * this host, found from its init's host pid; null when this process cannot
 * see it or the cgroup does not name the container (another pid namespace). */
export function hostTasksFile(initPid: number, containerId: string): string | null {
  try {
    const lines = fs.readFileSync(`/proc/${initPid}/cgroup`, "utf8").split("\n");
    const v1 = lines.find((l) => /^\d+:([^:]*,)?pids(,[^:]*)?:/.test(l));
    const file = v1
      ? path.join("/sys/fs/cgroup/pids", v1.slice(v1.indexOf(":", v1.indexOf(":") + 1) + 1), "tasks")
      : (() => {
          const v2 = lines.find((l) => l.startsWith("0::"));
          return v2 ? path.join("/sys/fs/cgroup", v2.slice(3), "cgroup.threads") : null;
        })();
    if (!file || !file.includes(containerId)) return null;
    fs.accessSync(file, fs.constants.R_OK);
    return file;
  } catch {
    return null;
  }
}

/** How many tasks in the container's cgroup belong to anyone but root (the
 * container's own init, sentinel and sleep run as root; the agent never
 * does); any failure to read counts as "some", so the full reap runs. */
export function hostAgentTasks(tasksFile: string, spare?: { pid: number; startTime: string } | null): number {
  try {
    const tids = fs.readFileSync(tasksFile, "utf8").split("\n").filter(Boolean);
    // Airlock's resident helper (its threads too), if it is still the process it was.
    const spared = spare && hostStartTime(spare.pid) === spare.startTime ? String(spare.pid) : null;
    let agent = 0;
    for (const tid of tids) {
      let status: string;
      try {
        status = fs.readFileSync(`/proc/${tid}/status`, "utf8");
      } catch {
        continue; // exited between the two reads
      }
      const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      // Spared only while it can answer: one the agent stopped (SIGSTOP, ptrace) counts, so the reap replaces it.
      if (spared && /^Tgid:\s+(\d+)/m.exec(status)?.[1] === spared && !/^State:\s+[Tt]/m.test(status)) continue;
      if (uid !== "0") agent++;
    }
    return agent;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** A host process's start time (clock ticks after boot, /proc/PID/stat field 22): with the pid, who it is. */
export function hostStartTime(pid: number): string | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return raw.slice(raw.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** Kills argv[1] inside the sandbox if it is still the process that started
 * at argv[2] (its /proc/PID/stat start time): a resident helper that did not
 * exit when asked (hung, or stopped by the agent). */
const KILL_RESIDENT_SCRIPT = String.raw`
import os, signal, sys
pid, start = int(sys.argv[1]), sys.argv[2]
try:
    with open("/proc/%d/stat" % pid, "rb") as f:
        raw = f.read()
    if raw[raw.rindex(b")") + 2:].split()[19].decode() == start:
        os.kill(pid, signal.SIGKILL)
except (OSError, ValueError, IndexError):
    pass
`;

/** Inside a gVisor sandbox (as the agent, isolated): the agent's processes
 * (any uid but root's, this helper and the pids in argv, a resident helper on its way out, excepted) and the sentinel's sleep (root's
 * sleep), as JSON. */
const GVISOR_PS_SCRIPT = String.raw`
import json, os, sys
me = os.getpid()
spare = set(int(a) for a in sys.argv[1:])
agents, sleep = [], []
for name in os.listdir("/proc"):
    if not name.isdigit() or int(name) == me or int(name) in spare:
        continue
    try:
        with open("/proc/%s/status" % name) as f:
            status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    except OSError:
        continue
    if status.get("State", "").strip()[:1] in ("Z", "X"):
        continue
    uid = status.get("Uid", "").split()[0] if status.get("Uid") else ""
    if uid != "0":
        agents.append(int(name))
    elif status.get("Name", "").strip() == "sleep":
        sleep.append(int(name))
print(json.dumps({"agents": agents, "sleep": sleep}))
`;

// ---------------------------------------------------------------- output capture

/**
 * Keeps a bounded view of a command's output: the first half of the budget
 * (shared by both streams, in arrival order) and, per stream, a ring of the
 * most recent bytes, of which the other half of the budget is kept at the end.
 * Head AND tail, because the start says what ran and the end says how it
 * failed (compilers and test runners summarise last). Memory stays bounded by
 * ~1.5x the budget whatever the command prints; totalBytes counts everything.
 */
export class OutputCapture {
  private readonly headBudget: number;
  private headUsed = 0;
  private readonly streams: Record<"stdout" | "stderr", StreamCapture>;

  constructor(
    private readonly maxStoredBytes: number,
    private readonly onOutput?: (chunk: string, stream: "stdout" | "stderr") => void,
  ) {
    this.headBudget = Math.floor(maxStoredBytes / 2);
    const ring = maxStoredBytes - this.headBudget;
    this.streams = { stdout: new StreamCapture(ring), stderr: new StreamCapture(ring) };
  }

  get totalBytes(): number {
    return this.streams.stdout.total + this.streams.stderr.total;
  }

  push(stream: "stdout" | "stderr", chunk: Buffer): void {
    if (chunk.length === 0) return;
    const s = this.streams[stream];
    s.total += chunk.length;
    if (this.onOutput) {
      const text = s.decoder.write(chunk);
      if (text) {
        try {
          this.onOutput(text, stream);
        } catch {
          // A failing listener (a closed SSE client) must not break the command.
        }
      }
    }
    let rest = chunk;
    if (this.headUsed < this.headBudget) {
      const take = Math.min(chunk.length, this.headBudget - this.headUsed);
      s.head.push(Buffer.from(chunk.subarray(0, take)));
      s.headBytes += take;
      this.headUsed += take;
      rest = chunk.subarray(take);
    }
    if (rest.length > 0) s.tail.push(rest);
  }

  /** Flushes a partial multi-byte character left in the live decoders. */
  flush(): void {
    if (!this.onOutput) return;
    for (const stream of ["stdout", "stderr"] as const) {
      const text = this.streams[stream].decoder.end();
      if (text) {
        try {
          this.onOutput(text, stream);
        } catch {
          // see push()
        }
      }
    }
  }

  result(): { stdout: string; stderr: string; totalBytes: number; truncated: boolean } {
    const out = this.streams.stdout;
    const err = this.streams.stderr;
    let budget = this.maxStoredBytes - this.headUsed;
    const wantOut = out.tail.length;
    const wantErr = err.tail.length;
    let keepOut = wantOut;
    let keepErr = wantErr;
    if (wantOut + wantErr > budget) {
      const half = Math.floor(budget / 2);
      keepOut = Math.min(wantOut, half);
      keepErr = Math.min(wantErr, budget - keepOut);
      budget -= keepErr;
      keepOut = Math.min(wantOut, budget);
    }
    const stdout = out.render("stdout", keepOut);
    const stderr = err.render("stderr", keepErr);
    return {
      stdout: stdout.text,
      stderr: stderr.text,
      totalBytes: this.totalBytes,
      truncated: stdout.omitted + stderr.omitted > 0,
    };
  }
}

class StreamCapture {
  total = 0;
  headBytes = 0;
  readonly head: Buffer[] = [];
  readonly tail: TailRing;
  readonly decoder = new StringDecoder("utf8");

  constructor(ringBytes: number) {
    this.tail = new TailRing(ringBytes);
  }

  render(name: string, keepTail: number): { text: string; omitted: number } {
    const omitted = this.total - this.headBytes - keepTail;
    const head = Buffer.concat(this.head);
    let tail = this.tail.last(keepTail);
    if (omitted === 0) return { text: Buffer.concat([head, tail]).toString("utf8"), omitted };
    // Cut on character boundaries: the head drops a partial last character,
    // the tail drops leading continuation bytes.
    let skip = 0;
    while (skip < 3 && skip < tail.length && ((tail[skip] ?? 0) & 0xc0) === 0x80) skip++;
    tail = tail.subarray(skip);
    const headText = new StringDecoder("utf8").write(head);
    const marker = `\n…[airlock: ${omitted + skip} bytes of ${name} omitted, ${this.total} bytes in total]…\n`;
    return { text: headText + marker + tail.toString("utf8"), omitted: omitted + skip };
  }
}

/** The last `capacity` bytes written, in a fixed buffer allocated on first use. */
class TailRing {
  private buf: Buffer | null = null;
  private written = 0;

  constructor(private readonly capacity: number) {}

  get length(): number {
    return Math.min(this.written, this.capacity);
  }

  push(chunk: Buffer): void {
    if (this.capacity === 0) {
      this.written += chunk.length;
      return;
    }
    this.buf ??= Buffer.alloc(this.capacity);
    let data = chunk;
    if (data.length > this.capacity) data = data.subarray(data.length - this.capacity);
    const pos = (this.written + (chunk.length - data.length)) % this.capacity;
    const first = Math.min(data.length, this.capacity - pos);
    data.copy(this.buf, pos, 0, first);
    if (first < data.length) data.copy(this.buf, 0, first);
    this.written += chunk.length;
  }

  last(n: number): Buffer {
    if (!this.buf || n <= 0) return Buffer.alloc(0);
    const count = Math.min(n, this.length);
    const end = this.written % this.capacity;
    const start = (end - count + this.capacity) % this.capacity;
    if (start < end || count === 0) return Buffer.from(this.buf.subarray(start, start + count));
    return Buffer.concat([this.buf.subarray(start), this.buf.subarray(0, end)]);
  }
}

// ---------------------------------------------------------------- helpers

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

/** The errors of a connection to an engine that is not there (stopped, restarting, a wrong DOCKER_HOST), not of a request it refused. */
export function isEngineUnreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string; cause?: unknown } | null;
  if (!e) return false;
  if (["ECONNREFUSED", "ENOENT", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"].includes(e.code ?? "") && statusCode(err) === undefined)
    return true;
  if (/socket hang up|did not answer within/i.test(e.message ?? "")) return true;
  return e.cause !== undefined && e.cause !== err && isEngineUnreachable(e.cause);
}

/** The plain words for an engine that went away: what a run's reason and the agent's error say. */
export function engineUnreachableMessage(detail: string): string {
  return `the Docker engine stopped answering (${detail}); start it again (npm start does it as root) or check DOCKER_HOST`;
}

function engineError(what: string, err: unknown, containerId?: string): SandboxError {
  const code = statusCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (isEngineUnreachable(err)) return new SandboxError("ENGINE_ERROR", `${what}: ${engineUnreachableMessage(detail)}`, { cause: err });
  if (code === 404) return new SandboxError("SANDBOX_GONE", `${what}: sandbox ${containerId ?? ""} does not exist`, { cause: err });
  if (code === 409) return new SandboxError("SANDBOX_NOT_RUNNING", `${what}: sandbox ${containerId ?? ""} is not running (${detail})`, { cause: err });
  return new SandboxError("ENGINE_ERROR", `${what}: ${detail}`, { cause: err });
}

function envList(env: Record<string, string> | undefined, what: string): string[] {
  return Object.entries(env ?? {}).map(([key, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new SandboxError("INVALID_SPEC", `${what}: invalid environment variable name ${JSON.stringify(key)}`);
    if (key === EXEC_MARKER) throw new SandboxError("INVALID_SPEC", `${what}: ${EXEC_MARKER} is reserved`);
    if (typeof value !== "string" || value.includes("\0"))
      throw new SandboxError("INVALID_SPEC", `${what}: environment variable ${key} must be a string without NUL bytes`);
    return `${key}=${value}`;
  });
}

/** Lexical check only: cwd is where a command starts, not a confinement (the
 * command can cd anywhere the container lets it). */
export function resolveCwd(cwd: string | undefined): string {
  if (cwd === undefined || cwd === "") return WORKSPACE_PATH;
  if (cwd.includes("\0")) throw new SandboxError("INVALID_SPEC", "cwd contains a NUL byte");
  const resolved = path.posix.resolve(WORKSPACE_PATH, cwd);
  if (resolved !== WORKSPACE_PATH && !resolved.startsWith(`${WORKSPACE_PATH}/`)) {
    throw new SandboxError("INVALID_SPEC", `cwd ${cwd} is outside ${WORKSPACE_PATH}`);
  }
  return resolved;
}

function containerName(runId: string): string {
  const safe = runId.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 64);
  return `airlock-${safe}-${randomBytes(3).toString("hex")}`;
}

function dockerTimestamp(ms: number): string {
  return (ms / 1000).toFixed(3);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Pauses between looks at an exec's exit code (see finalExitCode): 1.1 s in all, as 20 × 50 ms before. */
const EXIT_CODE_POLL_MS = [5, 10, 20, 40, ...Array<number>(21).fill(50)];
/** How long a command's missing exit code is watched before it is reported as unknown (see settleUnknownExit). */
const UNKNOWN_EXIT_WAIT_MS = 10_000;

// ---------------------------------------------------------------- docker runtime

export interface DockerRuntimeOptions {
  instance?: string;
  /**
   * Issue 17: the engine is not the one next to Airlock (engines.local false):
   * nothing of the host is shared with it. The workspace is a Docker volume
   * on that engine (never a bind mount of a host path), moved through the
   * archive API; nothing reads the host's /proc or cgroups for its containers.
   */
  remote?: { engine: string };
}

export function dockerRuntime(client?: Docker, opts: DockerRuntimeOptions = {}): SandboxRuntime {
  const instanceLabels: Record<string, string> = opts.instance ? { [INSTANCE_LABEL]: opts.instance } : {};
  const engine = () => client ?? processDocker();
  /** Issue 17: the engine is remote (no shared filesystem, no shared /proc). */
  const remote = opts.remote ?? null;
  /** Containers this runtime stopped on its own, and why (for watchSandboxes). */
  const ownStops = new Map<string, string>();
  /** The pids cgroup's "max" event count last seen per container (see pidsCapHit). */
  const pidsEventsSeen = new Map<string, number>();
  /** Per container: how leftovers are found after a command (see leftoverCheck). */
  const leftoverChecks = new Map<string, LeftoverCheck>();
  /** Per gVisor container: the sentinel's sleep (its pid inside gVisor) last seen (see reapInsideGvisor). */
  const gvisorSentinelSleep = new Map<string, number[]>();
  /** Per container: Airlock's resident helper (startResident), and its host pid and start time under runc (what the reap spares). */
  /**
   * Per container: the streams of the execs in flight. Under gVisor a
   * command's stream does not end when its container is stopped (runc's
   * does), so a stop ends them itself (see stopSandbox); `stopped` tells the
   * exec why its stream ended.
   */
  const liveExecs = new Map<string, Set<{ stream: Duplex; stopped: boolean }>>();
  const residents = new Map<string, { helper: ResidentHelper; token: string; pid: () => number | null; spare: { pid: number; startTime: string } | null }>();

  /** Host-side configuration of every sandbox: see docs/ARCHITECTURE.md, "Security boundaries → The sandbox". */
  function containerConfig(spec: SandboxSpec, imageEnv: string[] = []): Docker.ContainerCreateOptions {
    const limits = spec.limits;
    const deadline = limits.runTimeoutS + RUN_DEADLINE_GRACE_S;
    const gvisor = spec.runtime === "runsc";
    return {
      name: containerName(spec.runId),
      Image: spec.image,
      // A clean environment: the sentinel runs as root, and the run's env (given to the container for the agent's commands) is not for it.
      Entrypoint: helperCommand(["/bin/bash", "--norc", "--noprofile", "-c", SENTINEL_SCRIPT, "airlock-sentinel", String(deadline)]),
      Cmd: [],
      User: INIT_USER,
      WorkingDir: WORKSPACE_PATH,
      Hostname: "sandbox",
      // Only what we set: the host's environment never reaches the sandbox.
      // (The image's own ENV still applies underneath, as with any container.)
      Env: [...agentEnvironment(imageEnv), ...envList(spec.env, "sandbox env")],
      Labels: spec.purpose === "redteam" ? { [REDTEAM_LABEL]: spec.runId } : { [RUN_LABEL]: spec.runId, [MANAGED_LABEL]: "true", ...instanceLabels },
      Tty: false,
      OpenStdin: false,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      HostConfig: {
        ...(gvisor ? { Runtime: "runsc" } : {}),
        Init: true,
        // Issue 17: on a remote engine nothing of the host is mounted: the workspace is a volume there (see workspaceVolume).
        Mounts: remote
          ? [{ Type: "volume", Source: workspaceVolumeName(spec.runId), Target: WORKSPACE_PATH, ReadOnly: false, VolumeOptions: { NoCopy: false } }]
          : [
              {
                Type: "bind",
                Source: spec.workspaceDir,
                Target: WORKSPACE_PATH,
                ReadOnly: false,
                BindOptions: { Propagation: "rprivate" },
              },
            ],
        ReadonlyRootfs: true,
        // exec allowed on /tmp (build tools run things there); never setuid or
        // device files. /home/agent: a writable home for git, npm, pip caches.
        Tmpfs: {
          "/tmp": `rw,exec,nosuid,nodev,size=${TMP_SIZE_MB}m,mode=1777`,
          [AGENT_HOME]: `rw,exec,nosuid,nodev,size=${HOME_SIZE_MB}m,mode=0700,uid=${AGENT_UID},gid=${AGENT_GID}`,
        },
        ShmSize: SHM_SIZE_MB * 1024 * 1024,
        CapDrop: ["ALL"],
        // For the sentinel (INIT_USER) only; see there.
        CapAdd: ["KILL"],
        SecurityOpt: securityOptions(spec.runtime),
        Privileged: false,
        NetworkMode: "none",
        // No resolver but the egress proxy's. On the egress network Docker's
        // embedded DNS (127.0.0.11, even on an --internal network) forwards
        // queries to its upstreams from the sandbox's namespace: a channel out
        // around the proxy (DNS exfiltration). 0.0.0.0 as the only upstream
        // keeps those forwards inside the sandbox, where nothing answers; the
        // proxy resolves the names it is asked for. Short timeouts: a lookup
        // fails in about a second instead of hanging tools for 20 s.
        Dns: [SANDBOX_DNS],
        DnsOptions: ["timeout:1", "attempts:1"],
        IpcMode: "private",
        Memory: limits.memoryMb * 1024 * 1024,
        MemorySwap: limits.memoryMb * 1024 * 1024,
        NanoCpus: Math.round(limits.cpus * 1e9),
        PidsLimit: gvisor ? RUNSC_HOST_THREADS : limits.pids,
        Ulimits: [
          { Name: "nofile", Soft: MAX_OPEN_FILES, Hard: MAX_OPEN_FILES },
          { Name: "nproc", Soft: gvisor ? limits.pids : MAX_UID_PROCESSES, Hard: gvisor ? limits.pids : MAX_UID_PROCESSES },
          { Name: "fsize", Soft: MAX_FILE_BYTES, Hard: MAX_FILE_BYTES },
          { Name: "core", Soft: 0, Hard: 0 },
        ],
        // The main process prints nothing; "none" also stops an agent from
        // filling the host's disk by writing to /proc/1/fd/1.
        LogConfig: { Type: "none", Config: {} },
        RestartPolicy: { Name: "no" },
        AutoRemove: false,
        PublishAllPorts: false,
        // Its own cgroup namespace: /proc/self/cgroup shows "/", not the
        // host's hierarchy. (API 1.41; not in @types/dockerode yet.)
        CgroupnsMode: "private",
      } as Docker.HostConfig & { CgroupnsMode: "private" | "host" },
    };
  }

  async function createSandbox(spec: SandboxSpec): Promise<{ containerId: string }> {
    return observeContainerStart(spec.runtime, createSandboxNow(spec));
  }

  async function createSandboxNow(spec: SandboxSpec): Promise<{ containerId: string }> {
    if (!spec.runId) throw new SandboxError("INVALID_SPEC", "runId is required");
    if (!path.isAbsolute(spec.workspaceDir)) throw new SandboxError("INVALID_SPEC", `workspaceDir must be an absolute host path, got ${spec.workspaceDir}`);
    const limits = resolveLimits(spec.limits);
    const missing = (err: unknown) =>
      new SandboxError("IMAGE_MISSING", `sandbox image ${spec.image} is not present; run scripts/sandbox-image.sh`, { cause: err });
    let image: Docker.ImageInspectInfo;
    try {
      image = await engine().getImage(spec.image).inspect();
    } catch (err) {
      if (statusCode(err) === 404) throw missing(err);
      throw engineError("inspecting the sandbox image", err);
    }
    if (remote) await workspaceVolume(spec.runId);
    // A volume made for a sandbox that never came up goes too (one still mounted, by a restart's previous container, stays: 409).
    const dropVolume = () => (remote ? removeVolume(workspaceVolumeName(spec.runId)).catch(() => false) : Promise.resolve(false));
    let container: Docker.Container;
    try {
      container = await engine().createContainer(containerConfig({ ...spec, limits }, image.Config?.Env ?? []));
    } catch (err) {
      await dropVolume();
      if (statusCode(err) === 404) throw missing(err);
      throw engineError("creating the sandbox", err);
    }
    try {
      await container.start();
      // A snapshot image carries the agent's home directory; the tmpfs home
      // hides it, so it is copied in before anything else runs.
      if (image.Config?.Labels?.[HOME_SEED_LABEL] === HOME_SEED_PATH) await seedHome(container.id);
    } catch (err) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      await dropVolume();
      if (err instanceof SandboxError) throw err;
      throw engineError("starting the sandbox", err, container.id);
    }
    return { containerId: container.id };
  }

  /**
   * Issue 17: the run's workspace volume on a remote engine, made when
   * missing (a restart from a snapshot reuses it). Empty until the host
   * mirror is pushed (pushWorkspace); the push makes its root the agent's
   * with WORKSPACE_MODE.
   */
  async function workspaceVolume(runId: string): Promise<void> {
    try {
      await engine().createVolume({
        Name: workspaceVolumeName(runId),
        Labels: { [WORKSPACE_VOLUME_LABEL]: "true", [RUN_LABEL]: runId, [MANAGED_LABEL]: "true", ...instanceLabels },
      });
    } catch (err) {
      throw engineError("creating the workspace volume", err);
    }
  }

  /** Remote engines: the host mirror replaces the sandbox's /workspace (see packMirror). Nothing of the agent's may run meanwhile. */
  async function pushWorkspace(containerId: string, hostDir: string): Promise<void> {
    const { exitCode, stdout } = await runHelper(containerId, ["/bin/bash", "--norc", "--noprofile", "-c", CLEAR_WORKSPACE_SCRIPT], 120_000);
    if (exitCode !== 0) {
      throw new SandboxError(
        "ENGINE_ERROR",
        `emptying the sandbox's /workspace before copying the workspace in failed (exit ${String(exitCode)}): ${stdout.trim().slice(0, 300) || "no output"}`,
      );
    }
    try {
      await engine().getContainer(containerId).putArchive(packMirror(hostDir), { path: WORKSPACE_PATH });
    } catch (err) {
      throw engineError("copying the workspace into the sandbox", err, containerId);
    }
  }

  /** Remote engines: the sandbox's /workspace → the host mirror, extracted safely (see extractWorkspaceArchive). Works on a paused sandbox. */
  async function pullWorkspace(containerId: string, hostDir: string): Promise<void> {
    let archive: NodeJS.ReadableStream;
    try {
      archive = await engine().getContainer(containerId).getArchive({ path: WORKSPACE_PATH });
    } catch (err) {
      throw engineError("copying the workspace out of the sandbox", err, containerId);
    }
    const report = await replaceMirror(hostDir, archive, path.posix.basename(WORKSPACE_PATH));
    if (report.refused.length) {
      console.warn(
        `airlock: ${report.refused.length} entries of sandbox ${containerId}'s workspace were not copied to the host:`,
        report.refused.slice(0, 5).map((r) => `${r.name}: ${r.why}`),
      );
    }
  }

  /** Remote engines: see SandboxRuntime.workspaceListing. An entry find cannot read (a directory the agent closed) makes it null. */
  async function workspaceListing(containerId: string): Promise<string | null> {
    // Hashed inside the sandbox: the listing grows with the agent's file count (a million empty files is ~80 MB),
    // and neither that text nor its hashing should reach the dashboard's memory or event loop; 64 hex digits come back.
    const { exitCode, stdout } = await runHelper(
      containerId,
      [
        "/bin/bash",
        "--norc",
        "--noprofile",
        "-c",
        `set -o pipefail; /usr/bin/find -P ${WORKSPACE_PATH} -xdev -printf '%y %i %s %T@ %C@ %m %U %G %P\\0' | /usr/bin/sha256sum`,
      ],
      60_000,
    ).catch(() => ({ exitCode: null, stdout: "" }));
    const digest = /^[0-9a-f]{64}\b/.exec(stdout)?.[0];
    return exitCode === 0 && digest ? digest : null;
  }

  /** Remote engines: removes this instance's workspace volumes whose run is not in keep (one still mounted stays). */
  async function pruneWorkspaceVolumes(keep: ReadonlySet<string>): Promise<number> {
    const label = [`${WORKSPACE_VOLUME_LABEL}=true`, ...(opts.instance ? [`${INSTANCE_LABEL}=${opts.instance}`] : [])];
    const { Volumes } = await engine().listVolumes({ filters: { label } });
    let removed = 0;
    for (const v of Volumes ?? []) {
      const runId = v.Labels?.[RUN_LABEL];
      if (!runId || keep.has(runId)) continue;
      if (await removeVolume(v.Name)) removed += 1;
    }
    return removed;
  }

  /** true when removed; a volume still in use (409) or gone (404) is left alone. */
  async function removeVolume(name: string): Promise<boolean> {
    try {
      await engine().getVolume(name).remove();
      return true;
    } catch (err) {
      const code = statusCode(err);
      if (code === 404 || code === 409) return false;
      throw engineError(`removing the workspace volume ${name}`, err);
    }
  }

  async function seedHome(containerId: string): Promise<void> {
    const { exitCode, stdout } = await runHelper(containerId, ["/bin/cp", "-a", `${HOME_SEED_PATH}/.`, `${AGENT_HOME}/`], 120_000);
    if (exitCode !== 0) {
      throw new SandboxError(
        "ENGINE_ERROR",
        `restoring the snapshot's home directory failed (exit ${String(exitCode)}): ${stdout.trim().slice(0, 500) || "no output"}. ` +
          `The home directory is a ${HOME_SIZE_MB} MB tmpfs; a snapshot whose home is larger cannot be restored.`,
      );
    }
  }

  /** Runs a short helper command as the agent, isolated (see HELPER_ENV),
   * and returns its stdout (no marker, no timeout kill: helpers are ours and bounded). */
  async function runHelper(
    containerId: string,
    cmd: string[],
    timeoutMs: number,
    as: { user?: string; token?: string } = {},
  ): Promise<{ exitCode: number | null; stdout: string }> {
    return helperGate(containerId).shared(() => runHelperNow(containerId, cmd, timeoutMs, as));
  }

  async function runHelperNow(
    containerId: string,
    cmd: string[],
    timeoutMs: number,
    as: { user?: string; token?: string } = {},
  ): Promise<{ exitCode: number | null; stdout: string }> {
    const exec = await engine()
      .getContainer(containerId)
      .exec({ Cmd: helperCommand(cmd, as.token), User: as.user ?? AGENT_USER, WorkingDir: "/", AttachStdout: true, AttachStderr: true, Tty: false });
    const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    engine().modem.demuxStream(stream, sink, new Writable({ write: (_c, _e, cb) => cb() }));
    stream.on("error", () => undefined);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        stream.destroy();
        resolve();
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      stream.once("end", done);
      stream.once("close", done);
      stream.once("error", done);
    });
    const exitCode = await finalExitCode(exec);
    return { exitCode, stdout: Buffer.concat(chunks).toString("utf8") };
  }

  /** The engine may still report an exec running for a moment after its
   * output ended (the exit travels through containerd): asked again soon at
   * first, then every 50 ms, for about a second in all. */
  async function finalExitCode(exec: Docker.Exec): Promise<number | null> {
    for (const waitMs of EXIT_CODE_POLL_MS) {
      try {
        const info = await exec.inspect();
        if (!info.Running) return typeof info.ExitCode === "number" ? info.ExitCode : null;
      } catch {
        return null;
      }
      await sleep(waitMs);
    }
    return null;
  }

  /**
   * A command whose output ended without an exit code the engine would give
   * (finalExitCode's second or so ran out): watch for up to UNKNOWN_EXIT_WAIT_MS
   * whether the exit code appears, the engine stops answering (it is shutting
   * down: the command was cut off), or the sandbox itself has stopped.
   */
  async function settleUnknownExit(
    containerId: string,
    exec: Docker.Exec,
  ): Promise<{ kind: "exit"; code: number } | { kind: "stopped" } | { kind: "error"; message: string; cause?: unknown }> {
    const cutOff = (err: unknown) => ({
      kind: "error" as const,
      message: `the command was cut off: ${engineUnreachableMessage((err as Error).message)}. What it did before is unknown; check the workspace before running it again`,
      cause: err,
    });
    const deadline = Date.now() + UNKNOWN_EXIT_WAIT_MS;
    let stopped = false;
    for (;;) {
      try {
        const info = await exec.inspect();
        if (!info.Running && typeof info.ExitCode === "number") return { kind: "exit", code: info.ExitCode };
      } catch (err) {
        if (isEngineUnreachable(err)) return cutOff(err);
      }
      try {
        stopped = (await engine().getContainer(containerId).inspect()).State.Running === false;
      } catch (err) {
        if (isEngineUnreachable(err)) return cutOff(err);
        if (statusCode(err) === 404) stopped = true;
      }
      if (Date.now() >= deadline) break;
      await sleep(250);
    }
    if (stopped) return { kind: "stopped" };
    return {
      kind: "error",
      message: `the Docker engine did not report how the command ended (no exit code after ${UNKNOWN_EXIT_WAIT_MS / 1000} s). What it did is unknown; check the workspace before running it again`,
    };
  }

  async function startResident(containerId: string, cmd: string[]): Promise<ResidentHelper> {
    // gVisor does not guard /proc/PID/fd and environ with the dumpable flag:
    // an agent command could open a resident helper's stdin and stdout and
    // forge its answers. There the one-shot helpers serve (the reap after
    // every command would end a resident there anyway).
    if ((await leftoverCheck(containerId)).kind === "gvisor") {
      throw new SandboxError("INVALID_SPEC", "no resident helper under gVisor: its /proc does not protect a non-dumpable process's descriptors");
    }
    // Issue 17: sparing it from the reap needs its host pid on the engine's host, which a remote engine's is not.
    if (remote)
      throw new SandboxError("INVALID_SPEC", `no resident helper on remote engine ${remote.engine}: the reap could not tell it from the agent's processes`);
    await closeResident(containerId);
    const token = randomBytes(12).toString("hex");
    const { dockerExec, stream } = await helperGate(containerId).shared(async () => {
      try {
        const dockerExec = await engine()
          .getContainer(containerId)
          .exec({
            Cmd: helperCommand(cmd, token),
            User: AGENT_USER,
            WorkingDir: "/",
            AttachStdin: true,
            AttachStdout: true,
            AttachStderr: true,
            Tty: false,
          });
        return { dockerExec, stream: (await dockerExec.start({ hijack: true, stdin: true })) as Duplex };
      } catch (err) {
        throw engineError("starting the file server", err, containerId);
      }
    });
    const output = new PassThrough();
    let stderr = "";
    const errSink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        stderr = (stderr + chunk.toString("utf8")).slice(-4096);
        cb();
      },
    });
    engine().modem.demuxStream(stream, output, errSink);
    stream.on("error", () => undefined);
    const exited = new Promise<void>((resolve) => {
      const done = () => {
        output.end();
        resolve();
      };
      stream.once("end", done);
      stream.once("close", done);
      stream.once("error", done);
    });
    let identity: { pid: number; startTime: string } | null = null;
    let closing: Promise<void> | null = null;
    const helper: ResidentHelper = {
      input: stream,
      output,
      exited,
      stderrTail: () => stderr,
      identify: async (pid, startTime) => {
        identity = { pid, startTime };
        // Under runc the host sees its pid (the exec's, known once it runs);
        // the fast reap check (reapAfterCommand) spares exactly that process.
        try {
          const hostPid = (await dockerExec.inspect()).Pid;
          const hostStart = hostPid > 0 ? hostStartTime(hostPid) : null;
          const entry = residents.get(containerId);
          if (hostStart && entry?.helper === helper) entry.spare = { pid: hostPid, startTime: hostStart };
        } catch {
          // not spared: the next command's reap closes it
        }
      },
      shared: (fn) => helperGate(containerId).shared(fn),
      close: () =>
        (closing ??= (async () => {
          if (residents.get(containerId)?.helper === helper) residents.delete(containerId);
          stream.end();
          const gone = await Promise.race([exited.then(() => true), sleep(500).then(() => false)]);
          if (!gone && identity) {
            // Ungated: a reap closes it from inside its exclusive section.
            await runHelperNow(containerId, [...HELPER_PYTHON, "-c", KILL_RESIDENT_SCRIPT, String(identity.pid), identity.startTime], 5000).catch(
              () => undefined,
            );
            await Promise.race([exited, sleep(1000)]);
          }
          stream.destroy();
        })()),
    };
    residents.set(containerId, { helper, token, pid: () => identity?.pid ?? null, spare: null });
    void exited.then(() => {
      if (residents.get(containerId)?.helper === helper) residents.delete(containerId);
    });
    return helper;
  }

  async function closeResident(containerId: string): Promise<void> {
    await residents.get(containerId)?.helper.close();
  }

  /** Before a reap that kills: the resident helper is told to go (stdin
   * closed) and forgotten, not waited for; the reap's kill(-1) ends it if it
   * has not exited, and it is not counted as left behind. Returns its exec
   * marker and its pid inside the sandbox (when known), to leave it out of the count. */
  function dropResident(containerId: string): { token: string | null; pid: number | null } {
    const entry = residents.get(containerId);
    if (!entry) return { token: null, pid: null };
    residents.delete(containerId);
    entry.helper.input.end();
    return { token: entry.token, pid: entry.pid() };
  }

  /**
   * Every live process of the container as the engine sees it: `docker top`
   * runs ps on the engine's host over the container's cgroup (host pids,
   * environments appended to the command lines). Nothing inside the
   * container can hide from this listing or change how it is made, unlike a
   * helper running in there; it is how a kill is verified. null when the
   * container is gone or not running.
   */
  async function engineProcesses(containerId: string): Promise<{ initPid: number; procs: EngineProcess[] } | null> {
    const container = engine().getContainer(containerId);
    let initPid: number;
    let listing: { Titles?: string[]; Processes?: string[][] };
    try {
      const info = await container.inspect();
      if (!info.State.Running) return null;
      if (info.HostConfig?.Runtime === "runsc") return await gvisorProcesses(containerId);
      initPid = info.State.Pid;
      listing = (await container.top({ ps_args: "-eo pid,ppid,sid,stat,args e" })) as typeof listing;
    } catch (err) {
      if (statusCode(err) === 404 || statusCode(err) === 409) return null;
      throw engineError("listing the sandbox's processes", err, containerId);
    }
    const procs = parseEngineProcesses(listing);
    // A service's cgroup nests in the sandbox's (startService), so the listing
    // shows its processes too: they are not the sandbox's (another pid
    // namespace, which nothing in the sandbox can enter).
    const services = await servicePids(containerId);
    return { initPid, procs: services.size ? procs.filter((p) => !services.has(p.pid)) : procs };
  }

  /** Host pids of the running services of a sandbox (the engine's listing of each). */
  async function servicePids(containerId: string): Promise<Set<number>> {
    const pids = new Set<number>();
    const services = await engine()
      .listContainers({ filters: { label: [`${SERVICE_OF_LABEL}=${containerId}`], status: ["running"] } })
      .catch(() => []);
    for (const s of services) {
      const top = (await engine()
        .getContainer(s.Id)
        .top({ ps_args: "-eo pid" })
        .catch(() => null)) as { Titles?: string[]; Processes?: string[][] } | null;
      for (const row of top?.Processes ?? []) pids.add(Number(row[0]));
    }
    return pids;
  }

  /**
   * gVisor (runsc): `docker top` cannot list the sandbox. The engine asks
   * runsc for the container's pids, which are pids of gVisor's own kernel,
   * and then prints the HOST's processes that happen to have those numbers
   * (the host's init, kthreadd…): every kill would look failed. So the
   * listing is made inside, by ps running as INIT_USER (root with CAP_KILL
   * only): the agent cannot ptrace or signal it, and cannot starve it of
   * pids either (the run's process limit is the agent uid's RLIMIT_NPROC
   * there, see RUNSC_HOST_THREADS). PID 1 is docker-init in gVisor's pid
   * namespace; ps's own line is left out by its marker. Up to 15 s: under a
   * fork bomb at its limit ps took 4 s, and a listing that gives up reads as
   * "processes survive", which stops the sandbox.
   */
  async function gvisorProcesses(containerId: string): Promise<{ initPid: number; procs: EngineProcess[] }> {
    const token = randomBytes(12).toString("hex");
    const { exitCode, stdout } = await runHelper(containerId, ["/bin/ps", "-eo", "pid,ppid,sid,stat,args", "e"], 15_000, { user: INIT_USER, token });
    if (exitCode !== 0) throw new SandboxError("ENGINE_ERROR", `listing the sandbox's processes inside gVisor failed (exit ${String(exitCode)})`);
    const [header = "", ...lines] = stdout.split("\n").filter((l) => l.trim());
    const listing = { Titles: header.trim().split(/\s+/), Processes: lines.map((l) => l.trim().split(/\s+/)) };
    const procs = parseEngineProcesses(listing).filter((p) => !p.command.split(" ").includes(`${EXEC_MARKER}=${token}`));
    return { initPid: 1, procs };
  }

  /** The processes of one exec (or, with token null, every agent process)
   * still alive according to the engine; null when the container is not running. */
  async function survivors(containerId: string, token: string | null): Promise<EngineProcess[] | null> {
    const listing = await engineProcesses(containerId);
    return listing && selectExecProcesses(listing.procs, listing.initPid, token);
  }

  /** Polls the engine's listing until nothing selected is left (killed
   * processes take a moment to exit); true when none is. */
  async function noneLeft(containerId: string, token: string | null, waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const left = await survivors(containerId, token);
      if (!left || left.length === 0) return true;
      if (Date.now() >= deadline) return false;
      await sleep(50);
    }
  }

  /** Precise: the exec's own process tree (see KILLER_SCRIPT), killed by an
   * isolated helper. Its own report is not trusted: the engine's listing
   * decides. Falls back to killing every agent process through the sentinel
   * when the helper cannot run (no free pid under a fork bomb) or something
   * survives; throws when even that cannot be verified. */
  async function killExecTree(containerId: string, token: string): Promise<void> {
    // Under gVisor the engine's listing cannot verify anything (see
    // reapInsideGvisor): every agent process goes, checked from inside. Only
    // one command runs at a time, so that is the command's tree and its leftovers.
    if ((await leftoverCheck(containerId).catch(() => null))?.kind === "gvisor") {
      await reapInsideGvisor(containerId);
      return;
    }
    try {
      // Ungated: it may run inside a helper exec that timed out (see HelperGate).
      await runHelperNow(containerId, [...HELPER_PYTHON, "-c", KILLER_SCRIPT, token], 5000);
    } catch {
      // the engine's listing below says whether it worked
    }
    if (await noneLeft(containerId, token, 1000)) return;
    await killProcesses(containerId);
  }

  /** Through the container's own init: SIGUSR1 to the sentinel, which runs as
   * INIT_USER (out of the agent's reach) and kills every agent process with
   * kill(-1). Verified with the engine's listing; throws when processes survive. */
  async function killProcesses(containerId: string): Promise<void> {
    const container = engine().getContainer(containerId);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await container.kill({ signal: "SIGUSR1" });
      } catch (err) {
        // Gone or stopped: no process of the agent is left.
        if (statusCode(err) === 404 || statusCode(err) === 409) return;
        throw engineError("killing the sandbox's processes", err, containerId);
      }
      if (await noneLeft(containerId, null, 100 * (attempt + 1))) return;
    }
    const left = (await survivors(containerId, null)) ?? [];
    throw new SandboxError(
      "ENGINE_ERROR",
      `could not kill every process in sandbox ${containerId}: ${left.length} still running (${left
        .slice(0, 5)
        .map((p) => p.command.split(" ")[0])
        .join(", ")})`,
    );
  }

  /**
   * After every agent command: kills every agent process left in the
   * container and returns how many there were. Commands of a run execute one
   * at a time, so whatever runs as the agent once a command has ended was
   * left behind by it (background children, double forks, setsid, nohup,
   * daemons, a fork bomb). Through the sentinel (killProcesses' path), not a
   * helper exec: kill(-1) walks the process list under the kernel's tasklist
   * lock, which fork also takes, and a process with a pending SIGKILL can no
   * longer fork, so one signal ends even a fork bomb in one round (no
   * SIGSTOP sweep needed), and it needs no free pid, which a bomb leaves none
   * of. The engine's listing (`docker top`, made outside the container) is
   * the check; a listing alone is not, since a process that forks and exits
   * in a loop can slip between its two reads, so the kill is sent every time.
   * Acknowledged: the sentinel's own sleep dies in the same kill(-1), so once
   * the sleep seen before is gone the trap has run, and no late SIGUSR1 can
   * hit the next command. Airlock's own helpers (file tools, snapshots) are
   * waited for first (helperGate), so a reap never kills one. Throws when
   * agent processes survive.
   */
  async function reapProcesses(containerId: string): Promise<number> {
    return helperGate(containerId).exclusive(async () => {
      // The kill(-1) takes Airlock's resident helper too (restarted on demand); it is not the agent's to count.
      const resident = dropResident(containerId);
      const agentOnly = (procs: EngineProcess[]) =>
        resident.token ? procs.filter((p) => !p.command.split(" ").includes(`${EXEC_MARKER}=${resident.token}`)) : procs;
      let before = await engineProcesses(containerId);
      if (!before) return 0;
      // Its sleep is the acknowledgement: a sentinel that has not started one
      // yet (a sandbox just created, or one just reaped) gets a moment to.
      for (let i = 0; i < 50 && sentinelChildren(before.procs, before.initPid).length === 0; i++) {
        await sleep(20);
        before = await engineProcesses(containerId);
        if (!before) return 0;
      }
      const left = agentOnly(selectExecProcesses(before.procs, before.initPid, null)).length;
      const sentinelSleep = new Set(sentinelChildren(before.procs, before.initPid).map((p) => p.pid));
      const container = engine().getContainer(containerId);
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await container.kill({ signal: "SIGUSR1" });
        } catch (err) {
          if (statusCode(err) === 404 || statusCode(err) === 409) return left;
          throw engineError("killing the sandbox's processes", err, containerId);
        }
        const deadline = Date.now() + 250 * (attempt + 1);
        for (;;) {
          const now = await engineProcesses(containerId);
          if (!now) return left;
          const acknowledged = sentinelSleep.size === 0 || !sentinelChildren(now.procs, now.initPid).some((p) => sentinelSleep.has(p.pid));
          if (acknowledged && selectExecProcesses(now.procs, now.initPid, null).length === 0) return left;
          if (Date.now() >= deadline) break;
          await sleep(20);
        }
      }
      const still = (await survivors(containerId, null)) ?? [];
      throw new SandboxError("ENGINE_ERROR", `could not kill the ${still.length} processes left behind in sandbox ${containerId}`);
    });
  }

  /**
   * How the leftovers of a command are found in this container, learnt once:
   * under runc, the kernel's own list of the container's tasks, read on the
   * engine's host (the dashboard shares it: workspaces are bind mounts) from
   * the container's pids cgroup, each task's owner from /proc/<tid>/status. A
   * task of any uid but root's (init, the sentinel and its sleep) is the
   * agent's; nothing inside the container can hide a task from the cgroup.
   * Costs a few file reads instead of an engine listing. Under gVisor the
   * host sees only gVisor's own processes, and when the cgroup cannot be
   * read or does not name the container (the dashboard in another pid
   * namespace), the engine's listing is used.
   */
  async function leftoverCheck(containerId: string): Promise<LeftoverCheck> {
    const known = leftoverChecks.get(containerId);
    if (known) return known;
    const info = await engine().getContainer(containerId).inspect();
    let check: LeftoverCheck = { kind: "engine" };
    if (info.HostConfig?.Runtime === "runsc") check = { kind: "gvisor" };
    // Issue 17: a remote engine's host is not this one: its /proc and cgroups are not ours to read.
    else if (!remote) {
      const tasksFile = hostTasksFile(info.State.Pid, info.Id);
      if (tasksFile) check = { kind: "host", tasksFile };
    }
    leftoverChecks.set(containerId, check);
    return check;
  }

  /** After an agent command: kills what it left behind (see reapProcesses)
   * and returns how many processes that was. The common case, nothing left,
   * costs a few file reads under runc. */
  async function reapAfterCommand(containerId: string): Promise<number> {
    const check = await leftoverCheck(containerId);
    if (check.kind === "gvisor") return reapInsideGvisor(containerId);
    if (check.kind === "host") {
      const agentTasks = hostAgentTasks(check.tasksFile, residents.get(containerId)?.spare);
      if (agentTasks === 0) return 0;
    }
    // Issue 17, remote engines: the engine's own listing (ps over the container's cgroup on its host) says whether
    // anything is left; the kill and its acknowledgement only when something is (a round trip saved per command).
    if (check.kind === "engine" && remote) {
      const listing = await engineProcesses(containerId);
      if (!listing || selectExecProcesses(listing.procs, listing.initPid, null).length === 0) return 0;
    }
    return reapProcesses(containerId);
  }

  /**
   * Under gVisor the engine's listing (`docker top`) does not show the
   * sandbox's processes, and the host sees only gVisor's, so the sentinel's
   * kill is always sent and checked from inside by an isolated helper
   * (GVISOR_PS_SCRIPT): no agent process left, and the sentinel's sleep seen
   * before replaced (the acknowledgement, as in reapProcesses). A leftover
   * that kills or stops the helper only makes the check fail, which ends in
   * stopping the sandbox. Returns how many agent processes the first look saw
   * (0 when it came after the kill).
   */
  async function reapInsideGvisor(containerId: string): Promise<number> {
    return helperGate(containerId).exclusive(async () => {
      // As in reapProcesses: the kill(-1) takes the resident helper, which is not counted (nor waited for after it).
      const resident = dropResident(containerId);
      const spare = resident.pid === null ? [] : [String(resident.pid)];
      const look = async (): Promise<{ agents: number[]; sleep: number[] } | null> => {
        const { exitCode, stdout } = await runHelperNow(containerId, [...HELPER_PYTHON, "-c", GVISOR_PS_SCRIPT, ...spare], 5000).catch(() => ({
          exitCode: null,
          stdout: "",
        }));
        if (exitCode !== 0) return null;
        try {
          return JSON.parse(stdout) as { agents: number[]; sleep: number[] };
        } catch {
          return null;
        }
      };
      let seen = gvisorSentinelSleep.get(containerId);
      let left = 0;
      // The sentinel's sleep is the acknowledgement: seen once per sandbox
      // (then remembered), waiting a moment for a sentinel just started.
      for (let i = 0; i < 10 && !seen?.length; i++) {
        const first = await look();
        if (first) {
          left = first.agents.length;
          seen = first.sleep;
        }
        if (!seen?.length) await sleep(50);
      }
      const container = engine().getContainer(containerId);
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await container.kill({ signal: "SIGUSR1" });
        } catch (err) {
          if (statusCode(err) === 404 || statusCode(err) === 409) return left;
          throw engineError("killing the sandbox's processes", err, containerId);
        }
        const deadline = Date.now() + 500 * (attempt + 1);
        for (;;) {
          const now = await look();
          if (now) {
            const acknowledged = !seen || !now.sleep.some((pid) => seen!.includes(pid));
            if (acknowledged && now.agents.length === 0 && now.sleep.length > 0) {
              gvisorSentinelSleep.set(containerId, now.sleep);
              return left;
            }
          }
          if (Date.now() >= deadline) break;
          await sleep(20);
        }
      }
      throw new SandboxError("ENGINE_ERROR", `could not kill the processes left behind in sandbox ${containerId}`);
    });
  }

  /** How often the run's pids cap refused a fork so far (the pids cgroup's
   * "max" event count), read as the agent through an isolated helper; null
   * when it cannot be read. */
  async function pidsMaxEvents(containerId: string): Promise<{ events: number; limit: number } | null> {
    // cgroup v1 first (this engine), then v2.
    const { exitCode, stdout } = await runHelper(
      containerId,
      [
        "/bin/sh",
        "-c",
        "cat /sys/fs/cgroup/pids/pids.events /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.events /sys/fs/cgroup/pids.max",
      ],
      5000,
    ).catch(() => ({ exitCode: null, stdout: "" }));
    const events = /^max (\d+)$/m.exec(stdout)?.[1];
    const limit = /^(\d+)$/m.exec(stdout)?.[1];
    if (exitCode !== 0 || events === undefined || limit === undefined) return null;
    return { events: Number(events), limit: Number(limit) };
  }

  /** Whether the kernel OOM-killed something in the container during the
   * window. The engine reports every OOM kill in the container's memory
   * cgroup as an "oom" event (cgroup v1 and v2; checked here on v1), before
   * the exec's exit. State.OOMKilled is no help: it only changes when the
   * container itself exits, and then stays set for any earlier OOM. */
  async function oomKilledDuring(containerId: string, sinceMs: number): Promise<boolean> {
    // The oom event has always come before the exec's exit here; one late
    // look covers an engine that reports the two the other way round.
    for (const delayMs of [0, 250]) {
      if (delayMs) await sleep(delayMs);
      if (await oomEventSince(containerId, sinceMs)) return true;
    }
    return false;
  }

  async function oomEventSince(containerId: string, sinceMs: number): Promise<boolean> {
    try {
      const query = {
        // No slack before the exec's start: an OOM of the previous command
        // must not be blamed on this one. (Assumes the engine's clock is
        // ours: true for a local engine.)
        since: dockerTimestamp(sinceMs),
        until: dockerTimestamp(Date.now()),
        filters: { container: [containerId], event: ["oom"] },
      };
      const d = engine();
      // With `until`, the engine sends the past events and closes the stream.
      const stream = (await (d.getEvents as (o: object) => Promise<unknown>).call(d, query)) as NodeJS.ReadableStream;
      let text = "";
      for await (const chunk of stream) text += chunk.toString();
      return text.split("\n").some((line) => line.includes('"oom"'));
    } catch {
      return false;
    }
  }

  async function exec(containerId: string, opts: ExecOptions): Promise<ExecResult> {
    return opts.helper ? helperGate(containerId).shared(() => execNow(containerId, opts)) : execNow(containerId, opts);
  }

  async function execNow(containerId: string, opts: ExecOptions): Promise<ExecResult> {
    const started = Date.now();
    if (!Array.isArray(opts.cmd) || opts.cmd.length === 0 || opts.cmd.some((a) => typeof a !== "string" || a.includes("\0"))) {
      throw new SandboxError("INVALID_SPEC", "cmd must be a non-empty array of strings without NUL bytes");
    }
    if (!(opts.timeoutS > 0) || !Number.isFinite(opts.timeoutS)) {
      throw new SandboxError("INVALID_SPEC", `timeoutS must be a positive number, got ${opts.timeoutS}`);
    }
    const maxStored = opts.maxStoredBytes ?? DEFAULT_MAX_STORED_BYTES;
    if (!Number.isInteger(maxStored) || maxStored < 0) throw new SandboxError("INVALID_SPEC", `maxStoredBytes must be a non-negative integer`);
    if (opts.helper && (opts.cwd !== undefined || opts.env !== undefined)) throw new SandboxError("INVALID_SPEC", "a helper exec takes no cwd and no env");
    const cwd = opts.helper ? "/" : resolveCwd(opts.cwd);
    const token = randomBytes(12).toString("hex");
    const env = [...envList(opts.env, "exec env"), `${EXEC_MARKER}=${token}`];
    // How leftovers are found says which runtime runs the container (learnt once per container; see agentCommand):
    // the host's cgroup lists its tasks only under runc.
    const check = opts.helper ? null : await leftoverCheck(containerId).catch(() => null);
    const agentRuntime = check?.kind === "gvisor" ? "gvisor" : check?.kind === "host" ? "runc" : "unknown";
    const cmd = opts.helper ? helperCommand(opts.cmd, token) : agentCommand(opts.cmd, agentRuntime);
    const capture = new OutputCapture(maxStored, opts.onOutput);
    const result = (over: Partial<ExecResult>): ExecResult => ({
      exitCode: null,
      signal: null,
      timedOut: false,
      oomKilled: false,
      aborted: false,
      sandboxStopped: false,
      leftBehind: 0,
      pidsExhausted: null,
      ...capture.result(),
      durationMs: Date.now() - started,
      ...over,
    });
    if (opts.signal?.aborted) return result({ aborted: true });

    const stdin = opts.stdin === undefined ? undefined : Buffer.isBuffer(opts.stdin) ? opts.stdin : Buffer.from(opts.stdin, "utf8");
    const container = engine().getContainer(containerId);
    let dockerExec: Docker.Exec;
    let stream: Duplex;
    try {
      dockerExec = await container.exec({
        Cmd: cmd,
        User: AGENT_USER,
        WorkingDir: cwd,
        Env: env,
        AttachStdin: stdin !== undefined,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        Privileged: false,
      });
      stream = (await dockerExec.start({ hijack: true, stdin: stdin !== undefined })) as Duplex;
    } catch (err) {
      throw engineError("starting a command", err, containerId);
    }

    const sink = (name: "stdout" | "stderr") =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          capture.push(name, chunk);
          cb();
        },
      });
    engine().modem.demuxStream(stream, sink("stdout"), sink("stderr"));

    // A broken connection ends the command's stream like a normal end; the
    // exit code then says what is known.
    stream.on("error", () => undefined);
    const live = { stream, stopped: false };
    let execsOfContainer = liveExecs.get(containerId);
    if (!execsOfContainer) liveExecs.set(containerId, (execsOfContainer = new Set()));
    execsOfContainer.add(live);
    const ended = new Promise<void>((resolve) => {
      stream.once("end", () => resolve());
      stream.once("close", () => resolve());
      stream.once("error", () => resolve());
    }).finally(() => {
      execsOfContainer.delete(live);
      if (execsOfContainer.size === 0 && liveExecs.get(containerId) === execsOfContainer) liveExecs.delete(containerId);
    });
    // The process sees EOF once the engine gets our half-close.
    if (stdin !== undefined) stream.end(stdin);

    let timedOut = false;
    let aborted = false;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const interrupted = new Promise<"timeout" | "abort">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), opts.timeoutS * 1000);
      if (opts.signal) {
        onAbort = () => resolve("abort");
        opts.signal.addEventListener("abort", onAbort, { once: true });
        // Aborted while the exec was being created: the listener never fires.
        if (opts.signal.aborted) resolve("abort");
      }
    });
    const outcome = await Promise.race([ended.then(() => "ended" as const), interrupted]);
    clearTimeout(timer);
    if (onAbort) opts.signal?.removeEventListener("abort", onAbort);

    // Its stream was ended by a stop of the whole sandbox (stopSandbox).
    let sandboxStopped = outcome === "ended" && live.stopped;
    if (outcome !== "ended") {
      timedOut = outcome === "timeout";
      aborted = outcome === "abort";
      try {
        await killExecTree(containerId, token);
      } catch {
        // Processes the engine still lists (or an engine that could not say):
        // only stopping the container is certain. (A container already gone,
        // the stop button, ends up here too; stopping it again is harmless.)
        ownStops.set(containerId, "a command's processes could not all be killed after its timeout, so the whole sandbox was stopped");
        await stopSandbox(containerId).catch(() => undefined);
        sandboxStopped = (await inspectSandbox(containerId).catch(() => null))?.running === false;
        if (!sandboxStopped) ownStops.delete(containerId);
      }
      // The stream ends once the killed processes' pipes close; never wait long.
      const closed = await Promise.race([ended.then(() => true), sleep(3000).then(() => false)]);
      if (!closed) stream.destroy();
    }
    capture.flush();

    let exitCode = await finalExitCode(dockerExec);
    if (exitCode === null && outcome === "ended" && !sandboxStopped) {
      // The stream ended and the engine did not say how. Either it is going away
      // (stopped or restarted) with the command in flight, which can take it
      // seconds while it stops its containers, or it is slow to record the exit.
      // Look longer; never report that as a clean run.
      const settled = await settleUnknownExit(containerId, dockerExec);
      if (settled.kind === "exit") exitCode = settled.code;
      else if (settled.kind === "stopped") sandboxStopped = true;
      else throw new SandboxError("ENGINE_ERROR", settled.message, settled.cause ? { cause: settled.cause } : undefined);
    }
    let signal: string | null = null;
    if (timedOut || aborted) signal = "SIGKILL";
    else if (exitCode !== null && exitCode > 128 && exitCode < 128 + 65) signal = SIGNAL_NAMES[exitCode - 128] ?? null;
    const oomKilled = !timedOut && !aborted && exitCode === 137 && (await oomKilledDuring(containerId, started));

    // No process outlives its command (helpers are Airlock's own and leave nothing).
    let leftBehind = 0;
    if (!opts.helper && !sandboxStopped) {
      try {
        leftBehind = await reapAfterCommand(containerId);
      } catch {
        ownStops.set(containerId, "the processes a command left behind could not all be killed, so the whole sandbox was stopped");
        await stopSandbox(containerId).catch(() => undefined);
        sandboxStopped = (await inspectSandbox(containerId).catch(() => null))?.running === false;
        if (!sandboxStopped) ownStops.delete(containerId);
      }
    }
    const pidsExhausted = opts.helper || sandboxStopped ? null : await pidsCapHit(containerId, capture.result(), exitCode, leftBehind);
    return result({ exitCode, signal, timedOut, aborted, oomKilled, sandboxStopped, leftBehind, pidsExhausted });
  }

  /**
   * Whether the command ran into the run's pids cap. The pids cgroup's "max"
   * event count is the evidence (it only rises when a fork is refused at the
   * cap); it costs a helper exec, so it is read only when the command looks
   * like it: a fork error in its output, the runtime's own exec failure
   * (exit 126, "OCI runtime exec failed … read init-p"), or many processes
   * left behind. Read after the reap, when a pid is free again.
   */
  async function pidsCapHit(
    containerId: string,
    output: { stdout: string; stderr: string },
    exitCode: number | null,
    leftBehind: number,
  ): Promise<{ limit: number } | null> {
    const text = `${output.stdout.slice(-65_536)}\n${output.stderr.slice(-65_536)}`;
    const suspicious = PIDS_EXHAUSTED_TEXT.test(text) || exitCode === 126 || leftBehind >= LEFT_BEHIND_SUSPICIOUS;
    if (!suspicious) return null;
    const now = await pidsMaxEvents(containerId);
    if (!now) return null;
    const before = pidsEventsSeen.get(containerId) ?? 0;
    pidsEventsSeen.set(containerId, now.events);
    return now.events > before ? { limit: now.limit } : null;
  }

  /**
   * A service (start_service): a long-running process that must outlive the
   * command that started it, which nothing in the sandbox may (the sentinel
   * kills every agent process after each command). So it runs in a container
   * of its own, made from the sandbox's: same image, environment, workspace
   * mount, limits and hardening, as the agent, with no capability at all, in
   * the sandbox's network namespace (the sandbox's commands reach it on
   * localhost; it has the sandbox's network and nothing more). Under runc
   * with cgroupfs its cgroup nests in the sandbox's, so the run's pids and
   * memory caps cover both. A command cannot pass for a service: whatever
   * runs inside the sandbox is reaped, and only Airlock starts these.
   */
  async function startService(containerId: string, opts: ServiceOptions): Promise<ServiceHandle> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await engine().getContainer(containerId).inspect();
    } catch (err) {
      throw engineError("starting a service", err, containerId);
    }
    if (!info.State.Running) throw new SandboxError("SANDBOX_NOT_RUNNING", `starting a service: sandbox ${containerId} is not running`);
    const hc = info.HostConfig;
    const check = await leftoverCheck(containerId);
    // /docker/<id> (cgroupfs): the service's cgroup goes under the sandbox's.
    const nested = check.kind === "host" ? /^\/sys\/fs\/cgroup\/pids(\/docker\/[0-9a-f]{64})\/tasks$/.exec(check.tasksFile)?.[1] : undefined;
    const container = await engine()
      .createContainer({
        Image: info.Image,
        Entrypoint: opts.cmd,
        Cmd: [],
        User: AGENT_USER,
        WorkingDir: resolveCwd(opts.cwd),
        Env: [...(info.Config.Env ?? []), ...envList(opts.env, "service env")],
        Labels: { [SERVICE_OF_LABEL]: containerId, "airlock.service": opts.name.slice(0, 64), ...instanceLabels },
        Tty: false,
        OpenStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: {
          ...(hc.Runtime === "runsc" ? { Runtime: "runsc" } : {}),
          Init: true,
          Mounts: hc.Mounts,
          ReadonlyRootfs: true,
          Tmpfs: hc.Tmpfs,
          ShmSize: hc.ShmSize,
          CapDrop: ["ALL"],
          SecurityOpt: securityOptions(hc.Runtime),
          Privileged: false,
          NetworkMode: `container:${containerId}`,
          IpcMode: "private",
          Memory: hc.Memory,
          MemorySwap: hc.MemorySwap,
          NanoCpus: hc.NanoCpus,
          PidsLimit: hc.PidsLimit,
          Ulimits: hc.Ulimits,
          ...(nested ? { CgroupParent: nested } : {}),
          LogConfig: { Type: "none", Config: {} },
          RestartPolicy: { Name: "no" },
        },
      })
      .catch((err: unknown) => {
        throw engineError("creating a service", err, containerId);
      });
    try {
      const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
      const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
      const sink = (name: "stdout" | "stderr") =>
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            const text = decoders[name].write(chunk);
            if (text) opts.onOutput?.(text, name);
            cb();
          },
        });
      engine().modem.demuxStream(stream, sink("stdout"), sink("stderr"));
      stream.on("error", () => undefined);
      // "next-exit": a container not started yet counts as not running, which the default condition would report at once.
      const exited = container
        .wait({ condition: "next-exit" })
        .then((r: { StatusCode?: number }) => (typeof r.StatusCode === "number" ? r.StatusCode : null))
        .catch(() => null);
      await container.start();
      return { containerId: container.id, exited };
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      throw engineError("starting a service", err, containerId);
    }
  }

  async function stopService(serviceContainerId: string): Promise<void> {
    const container = engine().getContainer(serviceContainerId);
    try {
      await container.stop({ t: 2 });
    } catch (err) {
      const code = statusCode(err);
      if (code !== 304 && code !== 404 && code !== 409) throw engineError("stopping a service", err, serviceContainerId);
    }
    try {
      await container.remove({ force: true, v: true });
    } catch (err) {
      const code = statusCode(err);
      if (code !== 404 && code !== 409) throw engineError("removing a service", err, serviceContainerId);
    }
  }

  async function pauseSandbox(containerId: string): Promise<boolean> {
    try {
      await engine().getContainer(containerId).pause();
      return true;
    } catch (err) {
      const code = statusCode(err);
      // 404: gone; 409: not running (or already paused by someone else: then it is frozen, but not ours to thaw).
      if (code === 404 || code === 409) return false;
      throw engineError("pausing the sandbox", err, containerId);
    }
  }

  async function unpauseSandbox(containerId: string): Promise<void> {
    try {
      await engine().getContainer(containerId).unpause();
    } catch (err) {
      const code = statusCode(err);
      if (code === 404 || code === 409) return;
      throw engineError("unpausing the sandbox", err, containerId);
    }
  }

  /**
   * gVisor: the engine's SIGKILL takes about 3 s to tear a runsc sandbox
   * down (2.9 s measured), over the 2 s a stop promises. SIGTERM reaches the
   * sentinel through docker-init; the sentinel exits, docker-init with it,
   * and gVisor's kernel ends every process of its pid namespace: about 0.5 s.
   * true when the sandbox stopped that way within a second; otherwise the
   * caller SIGKILLs as under runc.
   */
  async function stopGvisorSandbox(containerId: string): Promise<boolean> {
    const container = engine().getContainer(containerId);
    try {
      const info = await container.inspect();
      if (info.HostConfig?.Runtime !== "runsc" || !info.State.Running || info.State.Paused) return false;
      await container.kill({ signal: "SIGTERM" });
    } catch {
      return false;
    }
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      await sleep(50);
      const state = await inspectSandbox(containerId).catch(() => null);
      if (!state?.running) return true;
    }
    return false;
  }

  /** After the sandbox stopped: the streams of its commands still open get a
   * moment to deliver what is in transit, then are ended (under gVisor they
   * would otherwise stay open until each command's timeout). */
  async function endLiveExecs(containerId: string): Promise<void> {
    const execs = [...(liveExecs.get(containerId) ?? [])];
    if (execs.length === 0) return;
    for (const e of execs) e.stopped = true;
    await sleep(250);
    for (const e of execs) if (!e.stream.destroyed) e.stream.destroy();
  }

  async function stopSandbox(containerId: string, retried = false): Promise<void> {
    residents.get(containerId)?.helper.input.destroy();
    if (!retried && (await stopGvisorSandbox(containerId))) {
      void endLiveExecs(containerId);
      return;
    }
    try {
      await engine().getContainer(containerId).kill({ signal: "SIGKILL" });
      void endLiveExecs(containerId);
    } catch (err) {
      const code = statusCode(err);
      // The engine refuses to kill a paused (frozen for a checkpoint) container: thaw it, then kill.
      if (code === 409 && !retried && /paused/i.test(err instanceof Error ? err.message : "")) {
        await unpauseSandbox(containerId);
        return stopSandbox(containerId, true);
      }
      if (code === 404 || code === 409 || code === 304) return;
      throw engineError("stopping the sandbox", err, containerId);
    }
  }

  async function removeSandbox(containerId: string): Promise<void> {
    residents.get(containerId)?.helper.input.destroy();
    // Issue 17: which run's workspace volume goes with it (asked before the container is gone).
    const volume = remote
      ? await engine()
          .getContainer(containerId)
          .inspect()
          .then((info) => (info.Config.Labels?.[RUN_LABEL] ? workspaceVolumeName(info.Config.Labels[RUN_LABEL]) : null))
          .catch(() => null)
      : null;
    // Its services first: they share its network namespace.
    const services = await engine()
      .listContainers({ all: true, filters: { label: [`${SERVICE_OF_LABEL}=${containerId}`] } })
      .catch(() => []);
    await Promise.all(services.map((c) => stopService(c.Id).catch(() => undefined)));
    try {
      await engine().getContainer(containerId).remove({ force: true, v: true });
    } catch (err) {
      const code = statusCode(err);
      // 404: already gone; 409: a removal is already in progress.
      if (code === 404 || code === 409) return;
      throw engineError("removing the sandbox", err, containerId);
    }
    // Still mounted by a newer container of the run (a restart from a snapshot): kept.
    if (volume) await removeVolume(volume);
  }

  async function inspectSandbox(containerId: string): Promise<SandboxState | null> {
    try {
      const info = await engine().getContainer(containerId).inspect();
      return {
        running: info.State.Running,
        oomKilled: info.State.OOMKilled,
        exitCode: info.State.Running ? null : info.State.ExitCode,
      };
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw engineError("inspecting the sandbox", err, containerId);
    }
  }

  async function listSandboxes(): Promise<SandboxSummary[]> {
    const label = [RUN_LABEL, `${MANAGED_LABEL}=true`, ...(opts.instance ? [`${INSTANCE_LABEL}=${opts.instance}`] : [])];
    const containers = await engine().listContainers({ all: true, filters: { label } });
    return containers.map((c) => ({
      containerId: c.Id,
      runId: c.Labels[RUN_LABEL] ?? "",
      running: c.State === "running",
      paused: c.State === "paused",
    }));
  }

  async function stats(containerId: string): Promise<SandboxStats | null> {
    let gvisor = false;
    try {
      const info = await engine().getContainer(containerId).inspect();
      if (!info.State.Running) return null;
      gvisor = info.HostConfig?.Runtime === "runsc";
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw engineError("inspecting the sandbox", err, containerId);
    }
    let raw: Docker.ContainerStats;
    try {
      raw = (await engine().getContainer(containerId).stats({ stream: false })) as Docker.ContainerStats;
    } catch (err) {
      if (statusCode(err) === 404 || statusCode(err) === 409) return null;
      throw engineError("reading the sandbox's stats", err, containerId);
    }
    // Same formulas as `docker stats`: page cache that can be dropped is not
    // the agent's memory.
    const mem = raw.memory_stats;
    const memStats = (mem.stats ?? {}) as Record<string, number | undefined>;
    const inactive = memStats.total_inactive_file ?? memStats.inactive_file ?? 0;
    const usage = mem.usage ?? 0;
    const memoryBytes = inactive < usage ? usage - inactive : usage;
    const cpuDelta = raw.cpu_stats.cpu_usage.total_usage - raw.precpu_stats.cpu_usage.total_usage;
    const systemDelta = (raw.cpu_stats.system_cpu_usage ?? 0) - (raw.precpu_stats.system_cpu_usage ?? 0);
    const cpus = raw.cpu_stats.online_cpus || raw.cpu_stats.cpu_usage.percpu_usage?.length || 1;
    const cpuPercent = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
    // gVisor: the pids cgroup counts the host threads of gVisor's kernel
    // (see RUNSC_HOST_THREADS), not the agent's processes; those are counted
    // inside, all of them, the container's own init and sentinel included
    // (as the cgroup counts them under runc).
    let pids = raw.pids_stats?.current ?? 0;
    if (gvisor) {
      const listing = await gvisorProcesses(containerId).catch(() => null);
      if (!listing) return null;
      pids = listing.procs.filter((p) => !/^[ZX]/.test(p.state)).length;
    }
    // Loopback is not reported; a sandbox on network "none" has no other interface.
    const nets = Object.values(raw.networks ?? {});
    const netRxBytes = nets.length ? nets.reduce((n, x) => n + (x.rx_bytes ?? 0), 0) : null;
    const netTxBytes = nets.length ? nets.reduce((n, x) => n + (x.tx_bytes ?? 0), 0) : null;
    return { memoryBytes, cpuPercent, pids, netRxBytes, netTxBytes };
  }

  /**
   * Streams the agent's home directory out of a running sandbox as a tar
   * whose members live under HOME_SEED_PATH (ready to be extracted at "/"),
   * read by tar running as the agent. `done` settles with tar's exit code
   * once the stream has ended.
   */
  async function streamHome(containerId: string): Promise<{ tar: PassThrough; done: () => Promise<{ exitCode: number | null; stderr: string }> }> {
    const seed = HOME_SEED_PATH.replace(/^\//, "");
    // A helper until its stream has ended: no reap may kill tar meanwhile.
    const leave = await helperGate(containerId).enter();
    let exec: Docker.Exec;
    let raw: Duplex;
    try {
      exec = await engine()
        .getContainer(containerId)
        .exec({
          // S: symlink targets are left alone (a link to ./x must stay ./x).
          Cmd: helperCommand(["/bin/tar", "-C", AGENT_HOME, "--numeric-owner", `--transform=s,^\\.,${seed},S`, "-cf", "-", "."]),
          User: AGENT_USER,
          WorkingDir: "/",
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
        });
      raw = (await exec.start({ hijack: true, stdin: false })) as Duplex;
    } catch (err) {
      leave();
      throw err;
    }
    const tar = new PassThrough();
    const stderr: Buffer[] = [];
    engine().modem.demuxStream(
      raw,
      tar,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          if (stderr.reduce((n, b) => n + b.length, 0) < 16_384) stderr.push(chunk);
          cb();
        },
      }),
    );
    let ended = false;
    const ended$ = new Promise<void>((resolve) => {
      const end = () => {
        if (!ended) {
          ended = true;
          leave();
          tar.end();
        }
        resolve();
      };
      raw.once("end", end);
      raw.once("close", end);
      raw.once("error", (err) => {
        tar.destroy(err);
        end();
      });
    });
    return {
      tar,
      done: async () => {
        await ended$;
        return { exitCode: await finalExitCode(exec), stderr: Buffer.concat(stderr).toString("utf8") };
      },
    };
  }

  async function snapshotSandbox(containerId: string, tag: string, snapshotOpts: { checkpointId?: string } = {}): Promise<SnapshotSummary> {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new SandboxError("INVALID_SPEC", `invalid snapshot tag ${JSON.stringify(tag)}`);
    const container = engine().getContainer(containerId);
    let info: Docker.ContainerInspectInfo;
    let base: Docker.ImageInspectInfo;
    try {
      info = await container.inspect();
      const current = await engine().getImage(info.Image).inspect();
      // A sandbox restarted from a snapshot: build on the original sandbox
      // image again (the old snapshot's only content, its home, is replaced).
      const baseRef = current.Config?.Labels?.[SNAPSHOT_BASE_LABEL];
      base = baseRef ? await engine().getImage(baseRef).inspect() : current;
    } catch (err) {
      throw engineError("inspecting the sandbox for a snapshot", err, containerId);
    }
    const runId = info.Config.Labels?.[RUN_LABEL];
    if (!runId) throw new SandboxError("INVALID_SPEC", `container ${containerId} is not a run's sandbox`);
    if (!info.State?.Running)
      throw new SandboxError("SANDBOX_NOT_RUNNING", `the sandbox ${containerId} is not running; only a running sandbox can be snapshotted`);
    const image = `${SNAPSHOT_REPO}:${tag}`;
    const baseConfig = base.Config;
    // The engine merges the committed container's config into whatever is
    // left unset here, so everything that matters is set explicitly: the
    // sandbox image's own user, working dir, entrypoint, cmd and env.
    // airlock.managed is overridden so a container made from the image for
    // another purpose is never taken for a run's sandbox.
    const wanted = {
      User: baseConfig.User || AGENT_USER,
      WorkingDir: baseConfig.WorkingDir || WORKSPACE_PATH,
      Entrypoint: baseConfig.Entrypoint ?? null,
      Cmd: baseConfig.Cmd ?? null,
      Env: baseConfig.Env ?? [],
      Labels: {
        ...(baseConfig.Labels ?? {}),
        ...instanceLabels,
        [SNAPSHOT_LABEL]: "true",
        [RUN_LABEL]: runId,
        [MANAGED_LABEL]: "false",
        [SNAPSHOT_BASE_LABEL]: base.Id,
        [HOME_SEED_LABEL]: HOME_SEED_PATH,
        ...(snapshotOpts.checkpointId ? { [SNAPSHOT_CHECKPOINT_LABEL]: snapshotOpts.checkpointId } : {}),
      },
    };
    // The sandbox's root filesystem is read-only: what the agent installed
    // lives in its (tmpfs) home. A never-started builder container made from
    // the sandbox image receives that home under HOME_SEED_PATH and is
    // committed: the snapshot is the sandbox image plus one layer.
    let builder: Docker.Container;
    try {
      builder = await engine().createContainer({
        name: `${containerName(runId)}-snapshot`,
        Image: base.Id,
        Entrypoint: ["/bin/true"],
        Cmd: [],
        User: AGENT_USER,
        NetworkDisabled: true,
        Labels: { [SNAPSHOT_BUILDER_LABEL]: runId, ...instanceLabels },
        HostConfig: { NetworkMode: "none", AutoRemove: false, LogConfig: { Type: "none", Config: {} } },
      });
    } catch (err) {
      throw engineError("preparing the snapshot", err);
    }
    try {
      const home = await streamHome(containerId);
      try {
        await builder.putArchive(home.tar, { path: "/" });
      } catch (err) {
        home.tar.destroy();
        await home.done().catch(() => undefined);
        throw engineError("copying the sandbox's home directory into the snapshot", err, containerId);
      }
      const tarred = await home.done();
      // GNU tar: 1 = "some files changed while being read" (a background process wrote); the copy is still usable.
      if (tarred.exitCode !== 0 && tarred.exitCode !== 1) {
        throw new SandboxError(
          "ENGINE_ERROR",
          `reading the sandbox's home directory failed (tar exit ${String(tarred.exitCode)}): ${tarred.stderr.trim().slice(0, 500)}`,
        );
      }
      try {
        await (builder.commit as (o: object) => Promise<unknown>).call(builder, {
          _query: { container: builder.id, repo: SNAPSHOT_REPO, tag, pause: false, comment: `airlock snapshot of run ${runId}` },
          _body: wanted,
        });
      } catch (err) {
        throw engineError("committing the snapshot", err, containerId);
      }
    } finally {
      await builder.remove({ force: true, v: true }).catch(() => undefined);
    }
    // Check what the engine made of it: nothing of the sandbox's own config may leak in.
    const made = await engine().getImage(image).inspect();
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const problems = [
      !same(made.Config.User, wanted.User) && "User",
      !same(made.Config.WorkingDir, wanted.WorkingDir) && "WorkingDir",
      !same(made.Config.Entrypoint, wanted.Entrypoint) && "Entrypoint",
      !same(made.Config.Cmd, wanted.Cmd) && "Cmd",
      !same([...(made.Config.Env ?? [])].sort(), [...wanted.Env].sort()) && "Env",
    ].filter(Boolean);
    if (problems.length > 0) {
      await engine()
        .getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
      throw new SandboxError("ENGINE_ERROR", `the snapshot image's ${problems.join(", ")} differ from the sandbox image's; snapshot discarded`);
    }
    return snapshotSummary(image, made.Config.Labels ?? {}, made.Created, made.Size - base.Size);
  }

  function snapshotSummary(image: string, labels: Record<string, string>, created: string | number, sizeBytes: number): SnapshotSummary {
    return {
      image,
      runId: labels[RUN_LABEL] ?? "",
      checkpointId: labels[SNAPSHOT_CHECKPOINT_LABEL] ?? null,
      createdAt: typeof created === "number" ? new Date(created * 1000) : new Date(created),
      sizeBytes: Math.max(0, sizeBytes),
    };
  }

  async function listSnapshots(runId?: string): Promise<SnapshotSummary[]> {
    const label = [`${SNAPSHOT_LABEL}=true`, ...(runId ? [`${RUN_LABEL}=${runId}`] : []), ...(opts.instance ? [`${INSTANCE_LABEL}=${opts.instance}`] : [])];
    let images: Docker.ImageInfo[];
    try {
      images = await engine().listImages({ filters: { label } });
    } catch (err) {
      throw engineError("listing snapshots", err);
    }
    const out: SnapshotSummary[] = [];
    for (const img of images) {
      const tag = (img.RepoTags ?? []).find((t) => t.startsWith(`${SNAPSHOT_REPO}:`));
      if (!tag) continue;
      const baseId = img.Labels?.[SNAPSHOT_BASE_LABEL];
      let baseSize = 0;
      if (baseId)
        baseSize =
          (
            await engine()
              .getImage(baseId)
              .inspect()
              .catch(() => null)
          )?.Size ?? 0;
      out.push(snapshotSummary(tag, img.Labels ?? {}, img.Created, img.Size - baseSize));
    }
    return out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  async function removeSnapshotLeftovers(): Promise<number> {
    const label = [SNAPSHOT_BUILDER_LABEL, ...(opts.instance ? [`${INSTANCE_LABEL}=${opts.instance}`] : [])];
    const left = await engine().listContainers({ all: true, filters: { label } });
    for (const c of left)
      await engine()
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined);
    return left.length;
  }

  async function removeSnapshot(image: string): Promise<void> {
    if (!image.startsWith(`${SNAPSHOT_REPO}:`)) throw new SandboxError("INVALID_SPEC", `${image} is not a snapshot image`);
    try {
      await engine().getImage(image).remove({ force: true });
    } catch (err) {
      if (statusCode(err) !== 404) throw engineError("removing a snapshot", err);
    }
  }

  function watchSandboxes(onStop: (stop: SandboxStop) => void, onResync?: () => void): () => void {
    const label = [RUN_LABEL, `${MANAGED_LABEL}=true`, ...(opts.instance ? [`${INSTANCE_LABEL}=${opts.instance}`] : [])];
    let closed = false;
    let stream: (NodeJS.ReadableStream & { destroy?: () => void }) | null = null;
    let retry: NodeJS.Timeout | null = null;
    let connections = 0;
    const oomed = new Set<string>();

    const handle = (line: string) => {
      let event: { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return;
      }
      const id = event.Actor?.ID;
      const attributes = event.Actor?.Attributes ?? {};
      if (event.Type !== "container" || !id || !attributes[RUN_LABEL]) return;
      if (event.Action === "oom") {
        oomed.add(id);
        return;
      }
      if (event.Action !== "die") return;
      const code = Number(attributes.exitCode);
      const stoppedBecause = ownStops.get(id) ?? null;
      ownStops.delete(id);
      const stop: SandboxStop = {
        containerId: id,
        runId: attributes[RUN_LABEL],
        exitCode: Number.isInteger(code) ? code : null,
        oomKilled: oomed.delete(id),
        stoppedBecause,
      };
      const deliver = () => {
        try {
          onStop(stop);
        } catch (err) {
          console.error("airlock: handling a stopped sandbox failed:", err);
        }
      };
      if (stoppedBecause) return deliver();
      // A stop nobody asked for: a dockerd being stopped stops its containers
      // first, then goes away. Ask the engine, so the run's reason names it.
      void engineGone().then((lost) => {
        if (closed) return; // the watcher was closed meanwhile (a supervisor shutting down)
        stop.engineLost = lost;
        deliver();
      });
    };

    /**
     * null when the engine keeps answering pings for ENGINE_GONE_WINDOW_MS after
     * the stop; else what failed. A stopping dockerd first stops its containers
     * (their "die" events arrive) and only then closes its API, so one ping
     * right after the event is not enough.
     */
    const engineGone = async (): Promise<string | null> => {
      const until = Date.now() + ENGINE_GONE_WINDOW_MS;
      for (;;) {
        try {
          const d = engine();
          await Promise.race([
            d.ping(),
            new Promise((_, reject) =>
              setTimeout(() => reject(new Error(`the engine did not answer within ${ENGINE_GONE_PING_MS} ms`)), ENGINE_GONE_PING_MS).unref(),
            ),
          ]);
        } catch (err) {
          return err instanceof Error ? err.message : String(err);
        }
        if (Date.now() >= until || closed) return null;
        await sleep(ENGINE_GONE_POLL_MS);
      }
    };

    const reconnect = () => {
      stream = null;
      if (closed || retry) return;
      retry = setTimeout(() => {
        retry = null;
        void connect();
      }, 1000);
      retry.unref();
    };

    const connect = async () => {
      if (closed) return;
      let opened: NodeJS.ReadableStream & { destroy?: () => void };
      try {
        const d = engine();
        opened = (await (d.getEvents as (o: object) => Promise<unknown>).call(d, {
          filters: { type: ["container"], event: ["die", "oom"], label },
        })) as typeof opened;
      } catch {
        reconnect();
        return;
      }
      if (closed) {
        opened.destroy?.();
        return;
      }
      stream = opened;
      if (connections++ > 0 && onResync) onResync();
      let pending = "";
      opened.on("data", (chunk: Buffer | string) => {
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) if (line.trim()) handle(line);
      });
      opened.on("error", () => undefined);
      opened.once("end", reconnect);
      opened.once("close", reconnect);
    };

    void connect();
    return () => {
      closed = true;
      if (retry) clearTimeout(retry);
      stream?.destroy?.();
      stream = null;
    };
  }

  return {
    createSandbox,
    exec,
    killProcesses,
    startResident,
    startService,
    stopService,
    pauseSandbox,
    unpauseSandbox,
    stopSandbox,
    removeSandbox,
    inspectSandbox,
    listSandboxes,
    stats,
    snapshotSandbox,
    listSnapshots,
    removeSnapshot,
    removeSnapshotLeftovers,
    watchSandboxes,
    // Issue 17: only a remote engine's runtime moves workspaces (a local one's is the bind-mounted host directory).
    ...(remote ? { pullWorkspace, pushWorkspace, pruneWorkspaceVolumes, workspaceListing } : {}),
  };
}
