// A command as reviewers judge it: the full command line, where it runs, and
// each part of a compound command with its own verdict and rule.
import { VerdictBadge } from "@/components/approvals/verdict-badge";
import type { CommandPart } from "@/components/approvals/types";

export function CommandBlock({ command, cwd }: { command: string; cwd?: string | null }) {
  return (
    <div className="overflow-hidden rounded-lg border border-zinc-800 bg-zinc-950 text-zinc-100">
      {cwd ? <div className="border-b border-zinc-800 px-3 py-1 font-mono text-[11px] text-zinc-400">in {cwd}</div> : null}
      <pre className="overflow-x-auto px-3 py-2.5 font-mono text-[13px] leading-5 break-all whitespace-pre-wrap" aria-label="Command">
        <span aria-hidden="true" className="text-zinc-500 select-none">
          ${" "}
        </span>
        <code>{command}</code>
      </pre>
    </div>
  );
}

export function CommandParts({ parts }: { parts: CommandPart[] }) {
  if (parts.length === 0) return null;
  return (
    <div>
      <h4 className="mb-1.5 text-xs font-medium tracking-wide text-fg-muted uppercase">How the policy read it</h4>
      <ul className="divide-y divide-border rounded-lg border border-border" aria-label="Command parts">
        {parts.map((part, i) => (
          <li key={i} className="space-y-1 px-3 py-2">
            <div className="flex flex-wrap items-center gap-2">
              <code className="min-w-0 font-mono text-[12px] break-all text-fg">{part.command || "(part)"}</code>
              <VerdictBadge verdict={part.verdict} short />
            </div>
            <p className="text-xs text-fg-muted">
              <code className="font-mono">{part.rule}</code>: {part.reason}
            </p>
          </li>
        ))}
      </ul>
    </div>
  );
}
