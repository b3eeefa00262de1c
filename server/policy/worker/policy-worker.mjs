// The policy worker thread (see ../offthread.ts). Plain JavaScript so that it
// runs as is under vitest, tsx and `next start`; the TypeScript it needs is
// loaded through tsx's loader, scoped to this import.
import { parentPort } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

const { POLICY_TASKS } = await tsImport("./tasks.ts", import.meta.url);

parentPort.on("message", ({ id, kind, payload }) => {
  try {
    const task = POLICY_TASKS[kind];
    if (!task) throw new Error(`unknown policy task ${kind}`);
    parentPort.postMessage({ id, ok: true, value: task(payload) });
  } catch (error) {
    parentPort.postMessage({
      id,
      ok: false,
      error: { message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined },
    });
  }
});
parentPort.postMessage({ ready: true });
