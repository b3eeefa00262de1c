// The file tools' long-lived server (file-server.ts) against a real sandbox,
// under the runtime under test (runc, and gVisor in integration-runsc): one
// channel instead of an exec per call, recovery when the agent kills or
// stops it, concurrent calls, and no agent process outliving its command.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDocker } from "@/test/helpers/docker";
import { sandboxRuntimeUnderTest, withRuntimeUnderTest } from "@/test/helpers/sandbox-runtime";
import { docker } from "./docker";
import { closeFileServer } from "./file-server";
import { listFiles, OutOfWorkspaceError, readFile, searchFiles, writeFile } from "./files";
import { DEFAULT_LIMITS, dockerRuntime } from "./runtime";
import { prepareWorkspace } from "./workspace";

const image = await requireDocker();
const runtime = withRuntimeUnderTest(dockerRuntime());
const gvisor = (await sandboxRuntimeUnderTest()) === "runsc";
let dataDir = "";
let containerId = "";
let workspaceDir = "";

function sh(script: string) {
  return runtime.exec(containerId, { cmd: ["bash", "-c", script], timeoutS: 30 });
}

/** How many execs the engine created in the container while fn ran (its own event log). */
async function execsDuring(fn: () => Promise<void>): Promise<number> {
  const since = Date.now() / 1000;
  await fn();
  // The engine stamps events in whole seconds' fractions; a moment for the last one to land.
  await new Promise((r) => setTimeout(r, 200));
  const until = Date.now() / 1000;
  const d = docker();
  const stream = (await (d.getEvents as (o: object) => Promise<unknown>).call(d, {
    since: since.toFixed(3),
    until: until.toFixed(3),
    filters: { container: [containerId], event: ["exec_create"] },
  })) as NodeJS.ReadableStream;
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text.split("\n").filter((l) => l.includes("exec_create")).length;
}

/** Shell that sets $pid to the file server's pid inside the sandbox, as the agent sees it: its python's command line (script, then --serve) ends in a line " --serve ". */
const FIND_SERVER = "pid=$(for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | tail -n 1 | grep -qx -- ' --serve ' && echo ${p#/proc/}; done)";

/** The file server's pid, or "" when none runs. (Under gVisor the reap after this very command then closes it.) */
async function serverPid(): Promise<string> {
  return (await sh(`${FIND_SERVER}; echo $pid`)).stdout.trim();
}

/** The server runs under runc only (gVisor's /proc does not guard a
 * non-dumpable process's descriptors; see runtime.ts startResident): these
 * are defined for runc, and under gVisor the test below says so instead. */
const runcIt = gvisor ? ((() => undefined) as unknown as typeof it) : it;

describe(`the file tools' long-lived server (${gvisor ? "runsc" : "runc"})`, () => {
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-file-server-int-"));
    const runId = `fs${randomBytes(4).toString("hex")}`;
    workspaceDir = await prepareWorkspace(dataDir, runId);
    ({ containerId } = await runtime.createSandbox({ runId, image, workspaceDir, limits: { ...DEFAULT_LIMITS, memoryMb: 256 } }));
    await writeFile(runtime, containerId, "small.txt", "hello\n");
  });
  afterAll(async () => {
    if (containerId) await runtime.removeSandbox(containerId);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  runcIt("file tools answer over one long-lived channel: 20 reads, lists, searches and writes start no new exec", async () => {
    await readFile(runtime, containerId, "small.txt"); // the server runs
    const execs = await execsDuring(async () => {
      for (let i = 0; i < 20; i++) {
        expect((await readFile(runtime, containerId, "small.txt")).content).toBe("hello\n");
      }
      expect((await writeFile(runtime, containerId, "dir/out.txt", "written\n")).created).toBe(true);
      expect((await listFiles(runtime, containerId, "/workspace", 2)).entries.map((e) => e.path)).toContain("/workspace/dir/out.txt");
      expect((await searchFiles(runtime, containerId, "writ")).matches).toEqual([{ path: "/workspace/dir/out.txt", line: 1, text: "written" }]);
      await expect(readFile(runtime, containerId, "../../etc/passwd")).rejects.toBeInstanceOf(OutOfWorkspaceError);
    });
    expect(execs).toBe(0);
    expect(fs.readFileSync(path.join(workspaceDir, "dir/out.txt"), "utf8")).toBe("written\n");
  });

  it("the server keeps the workspace confinement: a link planted by the agent towards /etc is refused", async () => {
    expect((await sh("ln -sf /etc/passwd /workspace/pw && ln -sfn /etc /workspace/etc-link")).exitCode).toBe(0);
    const err = await readFile(runtime, containerId, "pw").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutOfWorkspaceError);
    expect((err as OutOfWorkspaceError).message).toContain("/etc/passwd");
    await expect(writeFile(runtime, containerId, "etc-link/evil", "x")).rejects.toBeInstanceOf(OutOfWorkspaceError);
  });

  runcIt("a command that leaves nothing behind keeps the server (reads after it start no exec)", async () => {
    await readFile(runtime, containerId, "small.txt");
    expect((await sh("echo hi > /workspace/cmd.txt")).leftBehind).toBe(0);
    const execs = await execsDuring(async () => {
      for (let i = 0; i < 5; i++) expect((await readFile(runtime, containerId, "cmd.txt")).content).toBe("hi\n");
    });
    expect(execs).toBe(0);
  });

  runcIt("kill the server from an agent command, then read_file still works", async () => {
    await readFile(runtime, containerId, "small.txt");
    const killed = await sh(`${FIND_SERVER}; kill -KILL $pid && echo killed $pid`);
    expect(killed.stdout).toMatch(/^killed \d+\n$/);
    const pid = killed.stdout.trim().split(" ")[1];
    fs.writeFileSync(path.join(workspaceDir, "after-kill.txt"), "fresh\n");
    expect((await readFile(runtime, containerId, "after-kill.txt")).content).toBe("fresh\n");
    const again = await serverPid();
    expect(again).toMatch(/^\d+$/);
    expect(again).not.toBe(pid);
  });

  runcIt("a server the agent stopped (SIGSTOP) is replaced when the command ends, so reads do not hang", async () => {
    await readFile(runtime, containerId, "small.txt");
    const stopped = await sh(`${FIND_SERVER}; kill -STOP $pid && echo stopped $pid`);
    expect(stopped.stdout).toMatch(/^stopped \d+\n$/);
    const pid = stopped.stdout.trim().split(" ")[1];
    const started = Date.now();
    expect((await readFile(runtime, containerId, "small.txt")).content).toBe("hello\n");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await serverPid()).not.toBe(pid);
  });

  runcIt("the agent cannot read the server's memory, environment or channel (it is not dumpable)", async () => {
    await readFile(runtime, containerId, "small.txt");
    const r = await sh(
      `${FIND_SERVER}; test -n "$pid" || echo "no server"; for f in environ mem fd/0 fd/1; do if cat /proc/$pid/$f >/dev/null 2>&1 </dev/null; then echo "$f readable"; else echo "$f denied"; fi; done; ` +
        `echo x > /proc/$pid/fd/1 2>/dev/null && echo "fd1 writable" || echo "fd1 denied"`,
    );
    expect(r.stdout).toBe("environ denied\nmem denied\nfd/0 denied\nfd/1 denied\nfd1 denied\n");
  });

  if (gvisor) {
    it("under gVisor no file server is kept (its /proc would let the agent open the server's channel): each call is one isolated helper exec", async () => {
      const execs = await execsDuring(async () => {
        for (let i = 0; i < 3; i++) expect((await readFile(runtime, containerId, "small.txt")).content).toBe("hello\n");
      });
      expect(execs).toBe(3);
      expect(await serverPid()).toBe("");
    });
  }

  it("concurrent calls get their own answers, matched by id", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `c${i}.txt`);
    await Promise.all(names.map((n, i) => writeFile(runtime, containerId, n, `content ${i}\n`.repeat(i + 1))));
    const [reads, list, search] = await Promise.all([
      Promise.all(names.map((n) => readFile(runtime, containerId, n))),
      listFiles(runtime, containerId, "/workspace", 1),
      searchFiles(runtime, containerId, "^content 7$", "/workspace", "c*.txt"),
    ]);
    reads.forEach((r, i) => expect(r.content).toBe(`content ${i}\n`.repeat(i + 1)));
    expect(list.entries.map((e) => e.path)).toEqual(expect.arrayContaining(names.map((n) => `/workspace/${n}`)));
    expect(search.matches).toHaveLength(8);
  });

  it("no agent process outlives its command, with the server running: a background sleep is reaped and the server restarted", async () => {
    await readFile(runtime, containerId, "small.txt");
    const r = await sh("(sleep 300 &) ; echo started");
    expect(r.stdout).toBe("started\n");
    // (Under gVisor the count is known only for a sandbox's first reap; the listing below is what counts.)
    if (!gvisor) expect(r.leftBehind).toBe(1);
    // Only the server may be left as the agent (its pid answers --serve); nothing else.
    const ps = await sh("ps -eo user=,args=");
    const agents = ps.stdout
      .split("\n")
      .filter((l) => /^agent\s/.test(l))
      .filter((l) => !/ps -eo user=,args=|bash -c/.test(l));
    expect(agents).toEqual([]);
    expect((await readFile(runtime, containerId, "small.txt")).content).toBe("hello\n");
  });

  it("without a file server (a runtime that cannot start one) the one-shot helper gives the same answers", async () => {
    const bare = { ...runtime, startResident: undefined };
    expect((await readFile(bare, containerId, "small.txt")).content).toBe("hello\n");
    expect(await writeFile(bare, containerId, "bare.txt", "b\n")).toEqual({ path: "/workspace/bare.txt", bytes: 2, created: true });
    await expect(readFile(bare, containerId, "pw")).rejects.toBeInstanceOf(OutOfWorkspaceError);
  });

  runcIt("closing the server ends its process in the sandbox", async () => {
    await readFile(runtime, containerId, "small.txt");
    expect(await serverPid()).toMatch(/^\d+$/);
    await closeFileServer(runtime, containerId);
    expect(await serverPid()).toBe("");
  });
});
