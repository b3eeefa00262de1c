// Which runtime isolates the run's sandbox (issue 13): gVisor puts its own
// kernel between the agent and the host; runc shares the host kernel.
import { Badge } from "@/components/ui/badge";

export function RunIsolation({ runtime, terminal }: { runtime: "runc" | "runsc" | null; terminal: boolean }) {
  if (!runtime) {
    // A run that ended before its sandbox started was never isolated by anything.
    if (terminal) return null;
    return (
      <p data-testid="run-isolation" className="text-sm text-fg-muted">
        Isolation: chosen when the sandbox starts.
      </p>
    );
  }
  const gvisor = runtime === "runsc";
  return (
    <p data-testid="run-isolation" className="flex flex-wrap items-center gap-x-2 gap-y-1 text-sm">
      <Badge tone={gvisor ? "success" : "neutral"}>{gvisor ? "Isolated by gVisor (runsc)" : "runc"}</Badge>
      <span className="min-w-0 text-fg-muted">{gvisor ? "its own kernel between the agent and the host" : "shares the host kernel"}</span>
    </p>
  );
}
