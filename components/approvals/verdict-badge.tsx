import { Badge } from "@/components/ui/badge";

const TONE = { allow: "success", ask: "warning", deny: "danger" } as const;
const LABEL = { allow: "Allowed", ask: "Asks a reviewer", deny: "Denied" } as const;

/** A policy verdict: allow / ask / deny. */
export function VerdictBadge({ verdict, short = false }: { verdict: string; short?: boolean }) {
  const key = verdict as keyof typeof TONE;
  return <Badge tone={TONE[key] ?? "neutral"}>{short ? verdict : (LABEL[key] ?? verdict)}</Badge>;
}

/** The rule id and its reason, always shown together. */
export function RuleAndReason({ rule, reason, prefix = "Rule" }: { rule: string | null; reason: string; prefix?: string }) {
  return (
    <p className="min-w-0 text-sm text-fg">
      <span className="text-fg-muted">{prefix} </span>
      <code className="rounded bg-surface-muted px-1 py-0.5 font-mono text-[12px] break-all text-fg">{rule ?? "default"}</code>
      <span className="text-fg-muted">: </span>
      <span className="break-words">{reason}</span>
    </p>
  );
}
