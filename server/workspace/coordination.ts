// Per-run coordination between the tool gateway and the workspace: one
// workspace operation (checkpoint, restore) at a time, and a gate that holds
// new tool calls back while a rollback is in progress. Kept on globalThis
// because route handlers (rollback requests) and the supervisor (tool calls)
// are compiled as separate entries by Next.js.

interface RunCoordination {
  /** Tail of the chain of workspace operations. */
  tail: Promise<void>;
  /** Set while a rollback runs, from its request to its end. */
  rollback: Promise<void> | null;
  /** Set while files are being restored (after the run went quiet). */
  restoring: Promise<void> | null;
  /** Bumped when a rollback starts: a tool call that saw another value was interrupted by one. */
  generation: number;
}

const g = globalThis as unknown as { __airlockWorkspaceCoordination?: Map<string, RunCoordination> };

function state(runId: string): RunCoordination {
  g.__airlockWorkspaceCoordination ??= new Map();
  let s = g.__airlockWorkspaceCoordination.get(runId);
  if (!s) {
    s = { tail: Promise.resolve(), rollback: null, restoring: null, generation: 0 };
    g.__airlockWorkspaceCoordination.set(runId, s);
  }
  return s;
}

/** Runs `fn` after every workspace operation of the run queued before it. */
export function withWorkspaceLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
  const s = state(runId);
  const result = s.tail.then(fn, fn);
  s.tail = result.then(
    () => undefined,
    () => undefined,
  );
  return result;
}

export function rollbackGeneration(runId: string): number {
  return state(runId).generation;
}

export function isRollingBack(runId: string): boolean {
  return state(runId).rollback !== null;
}

/** Resolves once no rollback of the run is in progress. */
export async function waitForRollback(runId: string): Promise<void> {
  for (let p = state(runId).rollback; p; p = state(runId).rollback) await p;
}

/** Resolves once no restore of the run is in progress. */
export async function waitForRestore(runId: string): Promise<void> {
  for (let p = state(runId).restoring; p; p = state(runId).restoring) await p;
}

/** Marks a rollback in progress for the duration of `fn`; refuses a second one at the same time. */
export async function asRollback<T>(runId: string, fn: (markRestoring: () => () => void) => Promise<T>): Promise<T> {
  const s = state(runId);
  if (s.rollback) throw new Error("another rollback of this run is in progress");
  let done!: () => void;
  s.rollback = new Promise<void>((resolve) => (done = resolve));
  s.generation++;
  let endRestoring: (() => void) | null = null;
  const markRestoring = () => {
    let finished!: () => void;
    s.restoring = new Promise<void>((resolve) => (finished = resolve));
    endRestoring = () => {
      s.restoring = null;
      finished();
    };
    return endRestoring;
  };
  try {
    return await fn(markRestoring);
  } finally {
    (endRestoring as (() => void) | null)?.();
    s.rollback = null;
    done();
  }
}
