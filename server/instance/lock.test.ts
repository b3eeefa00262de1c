// The instance lock between real processes (a lock is only worth something
// across processes): a second holder is refused with the first one named, and
// a SIGKILLed holder leaves nothing stale behind.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acquireInstanceLock, InstanceLockedError, type InstanceLock } from "@/server/instance/lock";

const ROOT = path.resolve(__dirname, "../..");
const LOCK_MODULE = path.resolve(__dirname, "lock.ts");
const dirs: string[] = [];
let held: InstanceLock | undefined;

afterEach(() => {
  held?.release();
  held = undefined;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-lock-"));
  dirs.push(d);
  return d;
}

/** Another process that takes the lock on `dir`, says "held" (or the refusal) and then waits. */
function otherProcess(dir: string) {
  const script = path.join(dir, "..", `${path.basename(dir)}-holder.ts`);
  fs.writeFileSync(
    script,
    `import { acquireInstanceLock } from ${JSON.stringify(LOCK_MODULE)};
try { acquireInstanceLock(${JSON.stringify(dir)}, "test holder"); console.log("held"); setInterval(() => {}, 1000); }
catch (err) { console.error(String((err as Error).message)); process.exit(3); }`,
  );
  dirs.push(script);
  // tsx as a loader, not its CLI (which runs the script in a child process: a SIGKILL would miss the holder).
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", () => out.includes("held") && resolve());
    void exited.then(() => reject(new Error(`the other process exited: ${out}`)));
  });
  held.catch(() => undefined); // awaited only by the tests that expect it to hold
  return { child, exited, held, output: () => out };
}

describe("the instance lock", () => {
  it("a second process on the same data directory is refused, naming the process that holds it and the directory", async () => {
    const dir = dataDir();
    held = acquireInstanceLock(dir, "dashboard");
    const other = otherProcess(dir);
    expect(await other.exited).toBe(3);
    expect(other.output()).toContain(`Another Airlock is already running on the data directory ${dir}`);
    expect(other.output()).toContain(`process ${process.pid}`);
    expect(other.output()).toContain("(dashboard,");
  });

  it("a SIGKILLed holder leaves no stale lock: the next Airlock takes it at once", async () => {
    const dir = dataDir();
    const other = otherProcess(dir);
    await other.held;
    expect(() => acquireInstanceLock(dir, "dashboard")).toThrow(InstanceLockedError);
    other.child.kill("SIGKILL");
    await other.exited;
    expect(other.output()).toContain("held");
    held = acquireInstanceLock(dir, "dashboard");
    expect(held.owner.pid).toBe(process.pid);
  });
});
