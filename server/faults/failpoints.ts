// Kill points for the fault suite (test/faults/): AIRLOCK_FAILPOINTS names
// places where this process SIGKILLs itself, so a test can prove that a crash
// at exactly that moment loses nothing and runs nothing twice. Test-only;
// unset in production, where a failpoint costs one Map lookup.
import { config } from "@/server/config/env";

export { FAILPOINTS, parseFailpoints, type Failpoint, type FailpointSetting } from "./points";
import type { Failpoint } from "./points";

// On globalThis: Next.js bundles route handlers and instrumentation.ts apart, and a hit counted in one must count in all.
const g = globalThis as unknown as { __airlockFailpoints?: { armed: Map<Failpoint, number>; hits: Map<Failpoint, number> } };

function state() {
  if (!g.__airlockFailpoints) {
    const armed = new Map<Failpoint, number>();
    for (const s of config().failpoints) armed.set(s.point, s.hit);
    g.__airlockFailpoints = { armed, hits: new Map() };
  }
  return g.__airlockFailpoints;
}

/** Kills this process (SIGKILL: no clean-up, no flush) when AIRLOCK_FAILPOINTS arms this point for this hit. */
export function failpoint(point: Failpoint): void {
  const s = state();
  const hit = s.armed.get(point);
  if (hit === undefined) return;
  const n = (s.hits.get(point) ?? 0) + 1;
  s.hits.set(point, n);
  if (n !== hit) return;
  // Written synchronously so the test's log shows which point fired.
  process.stderr.write(`airlock: failpoint ${point} (hit ${n}) fired: SIGKILL\n`);
  process.kill(process.pid, "SIGKILL");
}
