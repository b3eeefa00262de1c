// The built dashboard (`next start`) as a child process of a fault test, and the
// real CLI (bin/airlock) against the same data directory. Needs the build in .next
// (npm test and npm run test:faults build first).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { freePort, requireBuild } from "@/test/faults/airlock-process";

const ROOT = path.resolve(__dirname, "..", "..");
const NEXT_BIN = path.join(ROOT, "node_modules", "next", "dist", "bin", "next");

export interface Dashboard {
  proc: ChildProcess;
  port: number;
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  health(): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Waits until /api/health answers at all (200 or 503); rejects if the process exits first. */
  waitAnswering(timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function dashboardEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    AIRLOCK_DATA_DIR: dataDir,
    AIRLOCK_ADMIN_EMAIL: "admin@faults.test",
    AIRLOCK_ADMIN_PASSWORD: "faults-admin-password-1",
    ...extra,
  };
}

export async function startDashboard(dataDir: string, extraEnv: Record<string, string> = {}): Promise<Dashboard> {
  requireBuild();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [NEXT_BIN, "start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: ROOT,
    env: { ...dashboardEnv(dataDir, extraEnv), PORT: String(port), NEXTAUTH_URL: url, NEXT_MANUAL_SIG_HANDLE: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  void exited.then(() => (done = true));
  const health = async () => {
    const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return {
    proc,
    port,
    url,
    output: () => out,
    exited,
    health,
    async waitAnswering(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (done) throw new Error(`the dashboard exited before answering:\n${out}`);
        try {
          await health();
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`the dashboard did not answer /api/health within ${timeoutMs} ms:\n${out}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (done) return;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const execFileP = promisify(execFile);

/** The real CLI, as a user runs it, against `dataDir`. */
export async function airlockCli(
  dataDir: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP(path.join(ROOT, "bin", "airlock"), args, { cwd: ROOT, env: dashboardEnv(dataDir, extraEnv), timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}
