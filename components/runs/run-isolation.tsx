// Which runtime isolates the run's sandbox (issue 13): gVisor puts its own
// kernel between the agent and the host; runc shares the host kernel.
import { Badge } from "@/components/ui/badge";

/** Issue 17: the engine a run was placed on (null: not placed yet). */
function RunEngine({ engine }: { engine: string | null }) {
  if (!engine) return null;
  return (
    <span data-testid="run-engine" className="min-w-0 text-fg-muted">
      {engine === "local" ? (
        "on the local engine"
      ) : (
        <>
          on engine <span className="font-mono text-fg">{engine}</span>
        </>
      )}
    </span>
  );
}

export function RunIsolation({ runtime, terminal, engine = null }: { runtime: "runc" | "runsc" | null; terminal: boolean; engine?: string | null }) {
  if (!runtime) {
    // A run that ended before its sandbox started was never isolated by anything.
    if (terminal) return null;
    return (
      <p data-testid="run-isolation" className="flex flex-wrap items-center gap-x-2 gap-y-1 text-sm text-fg-muted">
        <span>Isolation: chosen when the sandbox starts.</span>
        <RunEngine engine={engine} />
      </p>
    );
  }
  const gvisor = runtime === "runsc";
  return (
    <p data-testid="run-isolation" className="flex flex-wrap items-center gap-x-2 gap-y-1 text-sm">
      <Badge tone={gvisor ? "success" : "neutral"}>{gvisor ? "Isolated by gVisor (runsc)" : "runc"}</Badge>
      <span className="min-w-0 text-fg-muted">{gvisor ? "its own kernel between the agent and the host" : "shares the host kernel"}</span>
      <RunEngine engine={engine} />
    </p>
  );
}
