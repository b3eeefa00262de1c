// Isolation tiers: which container runtimes the engine offers (runc, and
// gVisor's runsc when scripts/ensure-gvisor.sh registered it), whether gVisor
// actually starts a hardened sandbox here, and which runtime a run gets.
// The decision (chooseRuntime) is a pure function of the AIRLOCK_RUNTIME
// setting, the project's requirement and the probe's result; a run that
// requires gVisor fails with a plain reason instead of falling back to runc.
import crypto from "node:crypto";
import type Docker from "dockerode";
import type { SandboxRuntimeName } from "@/db/schema";
import type { RuntimeSetting } from "@/server/config/env";
import { docker } from "./docker";
import { AGENT_USER } from "./layout";

/** What the probe learned about gVisor on this engine. */
export interface GvisorStatus {
  /** The engine lists a runtime named runsc (`docker info` Runtimes). */
  offered: boolean;
  /** A container of the sandbox image, hardened like a sandbox, started and exited 0 under runsc. */
  works: boolean;
  /** Why gVisor is not usable, in words an operator can act on; null when it works. */
  problem: string | null;
  /**
   * gVisor starts, but breaks tools an agent uses all the time (null: none
   * found). Debian's 2022 runsc answers statx() with AT_NO_AUTOMOUNT with
   * EINVAL, so coreutils' `ls -l`, `stat` and `tar` fail inside. auto then
   * keeps runs on runc; a run that requires gVisor still gets it.
   */
  toolsProblem?: string | null;
  /** /proc/version as seen inside the probe container (gVisor reports its own kernel, "Linux version 4.4.0"). */
  kernel: string | null;
  /** Every runtime the engine offers, by name. */
  engineRuntimes: string[];
  checkedAt: Date;
  durationMs: number;
}

/** Who asks for a run's isolation: the instance setting and the run's project. */
export interface RuntimeRequest {
  setting: RuntimeSetting;
  /** The run's project: `runtime: "runsc"` means it requires gVisor. null for runs outside projects (the red-team lab). */
  project: { name: string; runtime: "runsc" | null } | null;
}

export type RuntimeDecision =
  | { ok: true; runtime: SandboxRuntimeName; /** Why this runtime, for the audit trail and doctor. */ why: string }
  | { ok: false; /** A plain reason naming who requires gVisor and what to do. */ reason: string };

export const GVISOR_RUNTIME = "runsc";
/** A failed probe is repeated no more often than this (a working one is kept for the process). */
export const PROBE_RETRY_MS = 60_000;
const PROBE_TIMEOUT_MS = 30_000;
const PROBE_LABEL = "airlock.gvisor-probe";
const TOOLS_OK = "airlock-probe:stat-works";
const TOOLS_BROKEN = "airlock-probe:stat-fails";
/** What auto avoids: an agent's `ls -l` failing in every run. */
export const GVISOR_STATX_PROBLEM =
  "this gVisor build breaks common tools (coreutils' stat, ls -l and tar fail with 'Invalid argument': statx with AT_NO_AUTOMOUNT)";

/** Who requires gVisor for this run, in words; null when nobody does. */
export function gvisorRequiredBy(req: RuntimeRequest): string | null {
  if (req.project?.runtime === "runsc") return `project ${req.project.name} requires it`;
  if (req.setting === "runsc") return "AIRLOCK_RUNTIME=runsc requires it";
  return null;
}

/** Whether the decision depends on the probe at all (AIRLOCK_RUNTIME=runc without a project requirement never starts a gVisor container). */
export function needsGvisorProbe(req: RuntimeRequest): boolean {
  return req.setting !== "runc" || gvisorRequiredBy(req) !== null;
}

/**
 * The runtime a run gets. auto: gVisor when the probe says it works, else
 * runc. runc: runc, unless the project requires gVisor. runsc, or a project
 * that requires gVisor: gVisor, and when it is not offered or does not work
 * the decision is a refusal with the reason, never runc. `gvisor` null means
 * "not probed", which only an unrequired runc setting may leave it.
 */
export function chooseRuntime(req: RuntimeRequest, gvisor: GvisorStatus | null): RuntimeDecision {
  const requiredBy = gvisorRequiredBy(req);
  if (requiredBy === null && req.setting === "runc") return { ok: true, runtime: "runc", why: "AIRLOCK_RUNTIME=runc" };
  if (gvisor?.works && requiredBy !== null) {
    const caveat = gvisor.toolsProblem ? ` (note: ${gvisor.toolsProblem})` : "";
    return { ok: true, runtime: "runsc", why: `gVisor: ${requiredBy}${caveat}` };
  }
  if (gvisor?.works && !gvisor.toolsProblem) return { ok: true, runtime: "runsc", why: "AIRLOCK_RUNTIME=auto and gVisor works on this engine" };
  if (gvisor?.works && gvisor.toolsProblem && requiredBy === null) {
    return { ok: true, runtime: "runc", why: `AIRLOCK_RUNTIME=auto and gVisor starts but ${gvisor.toolsProblem}; set AIRLOCK_RUNTIME=runsc to use it anyway` };
  }
  const problem = gvisor?.problem ?? "gVisor could not be checked on this engine";
  if (requiredBy === null) return { ok: true, runtime: "runc", why: `AIRLOCK_RUNTIME=auto and gVisor is not usable here (${problem})` };
  const fixes = [
    gvisor && !gvisor.offered
      ? "run scripts/ensure-gvisor.sh as root (npm start does it) to install runsc and register it with the engine"
      : "run `airlock doctor` to see why gVisor fails",
    req.project?.runtime === "runsc" ? `or an admin lifts the gVisor requirement of project ${req.project.name} on the Projects page` : null,
    req.setting === "runsc" ? "or set AIRLOCK_RUNTIME=auto to let runs use runc where gVisor does not work" : null,
  ].filter(Boolean);
  const what = gvisor && !gvisor.offered ? "the Docker engine does not offer the runsc runtime" : problem;
  return { ok: false, reason: `This run requires gVisor (${requiredBy}) but ${what}: ${fixes.join(", ")}.` };
}

// ---------------------------------------------------------------- the engine

/** The runtimes the engine offers, by name (`docker info` Runtimes). */
export async function listEngineRuntimes(client: Docker = docker()): Promise<string[]> {
  const info = (await client.info()) as { Runtimes?: Record<string, unknown> };
  return Object.keys(info.Runtimes ?? {}).sort();
}

/** Docker multiplexes a non-TTY container's output in 8-byte-framed chunks; keeps stdout. */
function stdoutOf(buf: Buffer): string {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const size = buf.readUInt32BE(at + 4);
    if (buf[at] === 1) out.push(buf.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(out).toString("utf8");
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function firstLine(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return String(e.json?.message ?? e.message ?? err)
    .split("\n")[0]!
    .trim()
    .slice(0, 400);
}

/**
 * Starts one tiny container of the sandbox image under runsc with the
 * sandbox's hardening (read-only root, every capability dropped,
 * no-new-privileges, no network, non-root, memory and pids limits, an init),
 * through the engine API (create, start, wait), reads /proc/version from it
 * and removes it. Uncached: see probeGvisor.
 */
export async function runGvisorProbe(image: string, client: Docker = docker()): Promise<GvisorStatus> {
  const started = Date.now();
  const status = (s: Omit<GvisorStatus, "checkedAt" | "durationMs">): GvisorStatus => ({ ...s, checkedAt: new Date(), durationMs: Date.now() - started });
  let engineRuntimes: string[];
  try {
    engineRuntimes = await withDeadline(listEngineRuntimes(client), 5000, "docker info");
  } catch (err) {
    return status({ offered: false, works: false, problem: `the Docker engine does not answer (${firstLine(err)})`, kernel: null, engineRuntimes: [] });
  }
  if (!engineRuntimes.includes(GVISOR_RUNTIME)) {
    return status({ offered: false, works: false, problem: "the Docker engine does not offer the runsc runtime", kernel: null, engineRuntimes });
  }
  let container: Docker.Container | undefined;
  try {
    container = await client.createContainer({
      name: `airlock-gvisor-probe-${crypto.randomBytes(6).toString("hex")}`,
      Image: image,
      // The kernel it reports, then whether coreutils' stat (statx with
      // AT_NO_AUTOMOUNT, as ls -l and tar use it) works there.
      Entrypoint: ["/bin/sh", "-c", `cat /proc/version; if stat / >/dev/null 2>&1; then echo ${TOOLS_OK}; else echo ${TOOLS_BROKEN}; fi`],
      Cmd: [],
      User: AGENT_USER,
      WorkingDir: "/",
      Labels: { [PROBE_LABEL]: "true" },
      HostConfig: {
        Runtime: GVISOR_RUNTIME,
        Init: true,
        ReadonlyRootfs: true,
        Tmpfs: { "/tmp": "rw,nosuid,nodev,size=16m" },
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        Privileged: false,
        NetworkMode: "none",
        IpcMode: "private",
        Memory: 128 * 1024 * 1024,
        MemorySwap: 128 * 1024 * 1024,
        NanoCpus: 500_000_000,
        // Under runsc the sandbox kernel's own threads count against the pids cgroup: at 32 the start hangs or dies ("StartRoot failed: EOF").
        PidsLimit: 128,
        // Its output is read back once, so it goes to the json-file log, not "none" as a sandbox's.
        LogConfig: { Type: "json-file", Config: {} },
        RestartPolicy: { Name: "no" },
        AutoRemove: false,
      },
    });
    const ran = await withDeadline(
      (async () => {
        await container!.start();
        return (await container!.wait()) as { StatusCode: number };
      })(),
      PROBE_TIMEOUT_MS,
      "the gVisor probe container",
    );
    const lines = stdoutOf((await container.logs({ stdout: true, stderr: false, follow: false })) as unknown as Buffer)
      .trim()
      .split("\n");
    const toolsProblem = lines.includes(TOOLS_BROKEN) ? GVISOR_STATX_PROBLEM : null;
    const output = lines
      .filter((l) => l !== TOOLS_OK && l !== TOOLS_BROKEN)
      .join("\n")
      .trim();
    if (ran.StatusCode !== 0) {
      return status({
        offered: true,
        works: false,
        problem: `a gVisor (runsc) sandbox exited with status ${ran.StatusCode} on start`,
        kernel: output || null,
        engineRuntimes,
      });
    }
    return status({ offered: true, works: true, problem: null, toolsProblem, kernel: output || null, engineRuntimes });
  } catch (err) {
    return status({ offered: true, works: false, problem: `a gVisor (runsc) sandbox does not start: ${firstLine(err)}`, kernel: null, engineRuntimes });
  } finally {
    // Bounded too: a runsc start that hangs can make the engine's remove hang with it.
    if (container) await withDeadline(container.remove({ force: true, v: true }), 15_000, "removing the gVisor probe container").catch(() => undefined);
  }
}

interface ProbeCache {
  result?: GvisorStatus;
  at: number;
  pending?: Promise<GvisorStatus>;
}

// On globalThis: Next.js compiles route handlers and instrumentation as separate entries.
const g = globalThis as unknown as { __airlockGvisorProbe?: Map<string, ProbeCache> };

/**
 * runGvisorProbe, cached for the process per image: a working gVisor stays
 * working; a failure is probed again at most once a minute (PROBE_RETRY_MS).
 * Concurrent callers share one probe.
 */
export function probeGvisor(image: string, client?: Docker): Promise<GvisorStatus> {
  g.__airlockGvisorProbe ??= new Map();
  const caches = g.__airlockGvisorProbe;
  const cache = caches.get(image) ?? { at: 0 };
  caches.set(image, cache);
  if (cache.pending) return cache.pending;
  if (cache.result && (cache.result.works || Date.now() - cache.at < PROBE_RETRY_MS)) return Promise.resolve(cache.result);
  cache.pending = runGvisorProbe(image, client)
    .then((result) => {
      cache.result = result;
      cache.at = Date.now();
      return result;
    })
    .finally(() => {
      cache.pending = undefined;
    });
  return cache.pending;
}

/** The last probe's result for the image, without probing (null: not probed in this process yet). */
export function cachedGvisorStatus(image: string): GvisorStatus | null {
  return g.__airlockGvisorProbe?.get(image)?.result ?? null;
}

/** chooseRuntime with the probe run only when the decision needs it. */
export async function decideRuntime(req: RuntimeRequest, probe: () => Promise<GvisorStatus>): Promise<RuntimeDecision> {
  return chooseRuntime(req, needsGvisorProbe(req) ? await probe() : null);
}

/** How the run page and the CLI name a runtime. */
export function describeRuntime(runtime: SandboxRuntimeName): string {
  return runtime === "runsc" ? "gVisor (runsc): its own kernel between the agent and the host" : "runc: shares the host kernel";
}
