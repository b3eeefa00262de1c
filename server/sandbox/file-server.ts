// The file tools' server inside a sandbox (as E2B's envd): one long-lived
// python process per sandbox, started by Airlock as the agent with the
// helpers' isolation (runtime.ts startResident: HELPER_PYTHON, HELPER_ENV,
// working directory "/"), running files.ts's FILE_OPS_SCRIPT in "--serve"
// mode. Airlock talks to it over the one `docker exec` that started it:
// newline-delimited JSON with request ids on its stdin and stdout, so a file
// operation costs a round trip through the engine's open stream instead of
// a new exec (~100 ms or more). The host still never opens a path the agent
// controls: the server resolves and confines paths inside the container,
// exactly as the one-shot helper does (same code).
//
// Its life: started on the first file operation; closed before any reap
// that kills (the agent left processes behind, and always under gVisor) and
// when the sandbox stops; killed when an operation hangs; restarted on the
// next operation. The agent runs as the same uid and may kill or stop it;
// an operation in flight then gets an answer from a fresh server or, failing
// that, from the one-shot helper exec (files.ts), never a wrong one.
import type { ResidentHelper, SandboxRuntime } from "./runtime";
import { HELPER_PYTHON } from "./runtime";

/** What a call gave: the script's answer; a failure to report (timeout,
 * oversized answer); or no server to ask (use the one-shot helper). */
export type FileServerOutcome = { kind: "answer"; answer: unknown } | { kind: "failed"; message: string } | { kind: "unavailable" };

/** How long a server may take to start and say it is ready. */
const READY_TIMEOUT_MS = 15_000;
/** After a failed start, the one-shot helper serves for this long before the next try. */
const RETRY_START_AFTER_MS = 10_000;
/** The longest answer line kept (a read's 8 MiB window in base64 plus room); beyond it the channel is reset. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

interface Pending {
  maxBytes: number;
  settle: (outcome: FileServerOutcome | { kind: "closed" }) => void;
}

class FileServer {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private parts: Buffer[] = [];
  private partBytes = 0;
  private readyWaiter: ((ready: { pid: number; start: string } | null) => void) | null = null;
  dead = false;
  /** Its pid inside the sandbox, once it said it is ready. */
  pid: number | null = null;

  constructor(
    readonly helper: ResidentHelper,
    private readonly onDead: () => void,
  ) {
    helper.output.on("data", (chunk: Buffer) => this.receive(chunk));
    void helper.exited.then(() => this.die());
  }

  /** Waits for its first line ({"ready", "pid", "start"}); false when it never comes. */
  async ready(): Promise<boolean> {
    const ready = await new Promise<{ pid: number; start: string } | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), READY_TIMEOUT_MS);
      this.readyWaiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      if (this.dead) this.readyWaiter(null);
    });
    this.readyWaiter = null;
    if (!ready) {
      await this.retire();
      return false;
    }
    this.pid = ready.pid;
    await this.helper.identify(ready.pid, ready.start);
    return true;
  }

  call(request: Record<string, unknown>, data: Buffer | undefined, timeoutS: number, maxBytes: number): Promise<FileServerOutcome | { kind: "closed" }> {
    // As a helper: a reap waits for the answer (and closes the server only after).
    return this.helper.shared(
      () =>
        new Promise((resolve) => {
          if (this.dead) return resolve({ kind: "closed" });
          const id = this.nextId++;
          const timer = setTimeout(() => {
            if (!this.pending.delete(id)) return;
            resolve({ kind: "failed", message: `${String(request.op)} ${String(request.path)} did not finish within ${timeoutS} s` });
            // Hung (or stopped by the agent): the next operation gets a fresh server.
            void this.retire();
          }, timeoutS * 1000);
          this.pending.set(id, {
            maxBytes,
            settle: (outcome) => {
              clearTimeout(timer);
              resolve(outcome);
            },
          });
          this.helper.input.write(`${JSON.stringify({ id, req: request, data: data ? data.toString("base64") : null })}\n`);
        }),
    );
  }

  /** Closes it (killed when it does not exit); pending calls get "closed". */
  async retire(): Promise<void> {
    this.die();
    await this.helper.close();
  }

  private die(): void {
    if (this.dead) return;
    this.dead = true;
    this.onDead();
    this.readyWaiter?.(null);
    for (const p of this.pending.values()) p.settle({ kind: "closed" });
    this.pending.clear();
    this.parts = [];
    this.helper.output.removeAllListeners("data");
  }

  private receive(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const line = this.partBytes ? Buffer.concat([...this.parts, chunk.subarray(start, nl)]) : chunk.subarray(start, nl);
      this.parts = [];
      this.partBytes = 0;
      start = nl + 1;
      this.answer(line);
    }
    if (start < chunk.length) {
      this.parts.push(chunk.subarray(start));
      this.partBytes += chunk.length - start;
      if (this.partBytes > MAX_LINE_BYTES) void this.retire();
    }
  }

  private answer(line: Buffer): void {
    let message: { id?: number; res?: unknown; ready?: boolean; pid?: number; start?: string };
    try {
      message = JSON.parse(line.toString("utf8")) as typeof message;
    } catch {
      return; // not ours to answer: the calls waiting time out
    }
    if (message.ready && this.readyWaiter) {
      if (typeof message.pid === "number" && typeof message.start === "string") this.readyWaiter({ pid: message.pid, start: message.start });
      return;
    }
    const pending = typeof message.id === "number" ? this.pending.get(message.id) : undefined;
    if (!pending) return;
    this.pending.delete(message.id!);
    if (line.length > pending.maxBytes) pending.settle({ kind: "failed", message: `the answer exceeded ${pending.maxBytes} bytes` });
    else pending.settle({ kind: "answer", answer: message.res });
  }
}

/** Per runtime, per container: the server (or its start under way), or when the last start failed. */
const servers = new WeakMap<SandboxRuntime, Map<string, Promise<FileServer | null> | { failedAt: number }>>();

async function fileServer(runtime: SandboxRuntime, containerId: string, script: string): Promise<FileServer | null> {
  if (!runtime.startResident) return null;
  let perRuntime = servers.get(runtime);
  if (!perRuntime) servers.set(runtime, (perRuntime = new Map()));
  const known = perRuntime.get(containerId);
  if (known && "failedAt" in known) {
    if (Date.now() - known.failedAt < RETRY_START_AFTER_MS) return null;
  } else if (known) {
    const server = await known;
    if (server && !server.dead) return server;
    if (perRuntime.get(containerId) !== known) return fileServer(runtime, containerId, script);
  }
  const table = perRuntime;
  const starting = (async () => {
    let helper: ResidentHelper;
    try {
      helper = await runtime.startResident!(containerId, [...HELPER_PYTHON, "-c", script, "--serve"]);
    } catch {
      return null;
    }
    const server = new FileServer(helper, () => {
      if (table.get(containerId) === starting) table.delete(containerId);
    });
    return (await server.ready()) ? server : null;
  })();
  table.set(containerId, starting);
  const server = await starting;
  if (!server && (table.get(containerId) === starting || !table.has(containerId))) table.set(containerId, { failedAt: Date.now() });
  return server;
}

/**
 * One file operation through the sandbox's file server, starting it when
 * none runs. A call whose server dies under it (killed by the agent, closed
 * by a reap) is asked again of a fresh one once; "unavailable" when there
 * is still none (the caller then runs the one-shot helper).
 */
export async function callFileServer(
  runtime: SandboxRuntime,
  containerId: string,
  script: string,
  request: Record<string, unknown>,
  opts: { data?: Buffer; timeoutS: number; maxBytes: number },
): Promise<FileServerOutcome> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const server = await fileServer(runtime, containerId, script);
    if (!server) return { kind: "unavailable" };
    const outcome = await server.call(request, opts.data, opts.timeoutS, opts.maxBytes);
    if (outcome.kind !== "closed") return outcome;
  }
  return { kind: "unavailable" };
}

/** The pid inside the sandbox of its running file server, or null: Airlock's
 * own process, which a check for what the agent left running leaves out. */
export async function fileServerPid(runtime: SandboxRuntime, containerId: string): Promise<number | null> {
  const known = servers.get(runtime)?.get(containerId);
  if (!known || "failedAt" in known) return null;
  const server = await known;
  return server && !server.dead ? server.pid : null;
}

/** Closes the sandbox's file server, if one runs (tests; removing a sandbox closes it anyway). */
export async function closeFileServer(runtime: SandboxRuntime, containerId: string): Promise<void> {
  const known = servers.get(runtime)?.get(containerId);
  if (!known || "failedAt" in known) return;
  await (await known)?.retire();
}
