// The real, built dashboard as a child process, for the fault suite: set up a
// data directory the way scripts/e2e.sh does (`airlock setup`), start `next
// start` on a fixed port, wait for GET /api/health, SIGKILL its whole process
// group at any moment, and start it again on the same data directory.
//
//   const airlock = await AirlockProcess.create({ env: { AIRLOCK_MAX_CONCURRENT_RUNS: "8" } });
//   await airlock.start({ AIRLOCK_FAILPOINTS: "mid-checkpoint" }); // overrides for this start only
//   await airlock.waitForExit(60_000);                            // the failpoint fired
//   await airlock.restart();                                      // same data dir, same port
//   airlock.url; airlock.dataDir; airlock.logTail(80); await airlock.cli(["audit", "verify"]);
//   await airlock.dispose();                                      // stops it; removes the data dir unless kept
//
// Every start appends to one log (<dataDir>/server.log) with a header line, so a
// failure message can show what each incarnation said before it died.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");

export interface AirlockProcessOptions {
  /** An existing data directory to use; default a fresh one under the OS temp dir. */
  dataDir?: string;
  /** Extra environment for every start (and the CLI), e.g. AIRLOCK_MAX_CONCURRENT_RUNS. */
  env?: Record<string, string>;
  adminEmail?: string;
  adminPassword?: string;
  /** How long a start may take to answer /api/health (default 120 s: the machine is shared). */
  startTimeoutMs?: number;
}

/** Fails (CI) or explains (locally) when the dashboard was never built; `npm test` builds before this phase. */
export function requireBuild(): void {
  if (fs.existsSync(path.join(ROOT, ".next", "BUILD_ID"))) return;
  throw new Error("The fault suite runs the built dashboard, and .next has no build: run bash scripts/build.sh first (npm run test:faults does).");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export class AirlockProcess {
  readonly url: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private generation = 0;
  private readonly logPath: string;

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    readonly env: Record<string, string>,
    private readonly ownsDataDir: boolean,
    private readonly startTimeoutMs: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.logPath = path.join(dataDir, "server.log");
  }

  /** A data directory set up with `airlock setup` (database, keys, first admin) and a free port; not started yet. */
  static async create(opts: AirlockProcessOptions = {}): Promise<AirlockProcess> {
    requireBuild();
    const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "airlock-fault-"));
    const port = await freePort();
    const env: Record<string, string> = {
      AIRLOCK_DATA_DIR: dataDir,
      PORT: String(port),
      NEXTAUTH_URL: `http://127.0.0.1:${port}`,
      AIRLOCK_ADMIN_EMAIL: opts.adminEmail ?? "admin@faults.test",
      AIRLOCK_ADMIN_PASSWORD: opts.adminPassword ?? "faults-admin-password",
      AIRLOCK_MAX_CONCURRENT_RUNS: "20",
      AIRLOCK_NOTIFY_ALLOW_HOSTS: "127.0.0.1",
      NEXT_TELEMETRY_DISABLED: "1",
      ...opts.env,
    };
    const p = new AirlockProcess(dataDir, port, env, !opts.dataDir, opts.startTimeoutMs ?? 120_000);
    await p.cli(["setup"]);
    return p;
  }

  get adminEmail(): string {
    return this.env.AIRLOCK_ADMIN_EMAIL!;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Runs bin/airlock with this instance's environment; resolves with stdout, rejects with stdout+stderr on a non-zero exit. */
  async cli(args: string[], opts: { allowFailure?: boolean } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await execFileAsync(path.join(ROOT, "bin", "airlock"), args, {
        cwd: ROOT,
        env: { ...process.env, ...this.env, AIRLOCK_FAILPOINTS: "" },
        maxBuffer: 16 * 1024 * 1024,
      });
      return { stdout, stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number };
      if (opts.allowFailure) return { stdout: e.stdout ?? "", stderr: e.stderr ?? "", code: typeof e.code === "number" ? e.code : 1 };
      throw new Error(`airlock ${args.join(" ")} failed (exit ${String(e.code)}):\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  }

  /** Starts `next start` (its own process group) with the base environment plus `overrides`, and waits for /api/health. */
  async start(overrides: Record<string, string> = {}): Promise<void> {
    if (this.running) throw new Error("the dashboard is already running; kill() or stop() it first");
    this.generation += 1;
    const log = fs.openSync(this.logPath, "a");
    fs.writeSync(log, `\n===== start #${this.generation} ${new Date().toISOString()} ${JSON.stringify(overrides)} =====\n`);
    const child = spawn(path.join(ROOT, "node_modules", ".bin", "next"), ["start", "-p", String(this.port)], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, NEXT_MANUAL_SIG_HANDLE: "true", AIRLOCK_FAILPOINTS: "", ...overrides },
      stdio: ["ignore", log, log],
      detached: true, // its own process group: kill() reaches every worker next start forks
    });
    fs.closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`the dashboard exited before answering /api/health:\n${this.logTail(60)}`);
      try {
        const res = await fetch(`${this.url}/api/health`, { signal: AbortSignal.timeout(5000) });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the dashboard did not answer /api/health within ${this.startTimeoutMs / 1000} s:\n${this.logTail(60)}`);
  }

  /** SIGKILL to the whole process group (no clean-up runs), then waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
    await this.exited;
    this.child = null;
  }

  /** SIGTERM (the supervisor stops cleanly), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    const graceful = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
    if (!graceful) await this.kill();
    this.child = null;
  }

  /**
   * Waits for the process to die by itself (a failpoint fired), then kills
   * what is left of its group. false when it was still alive at the timeout.
   */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    const died = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
    if (died) await this.kill();
    return died;
  }

  /** kill(), then start() again on the same data directory and port. */
  async restart(overrides: Record<string, string> = {}): Promise<void> {
    await this.kill();
    await this.start(overrides);
  }

  /** Everything every start wrote. */
  log(): string {
    try {
      return fs.readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  logTail(lines = 80): string {
    return this.log().split("\n").slice(-lines).join("\n");
  }

  /** Stops the dashboard and, unless `keep`, removes the data directory it created. */
  async dispose(opts: { keep?: boolean } = {}): Promise<void> {
    await this.kill();
    if (this.ownsDataDir && !opts.keep) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
