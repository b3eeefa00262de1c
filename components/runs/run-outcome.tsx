// A run's outcome told honestly: the agent's claim of success next to the
// calls that were denied on the way, and plan progress counted only from the
// steps the agent reported done.
import { InlineAlert } from "@/components/ui/alert";
import { outcomeMeta } from "@/components/runs/run-state";

export { planProgress } from "@/components/runs/run-state";

export function SuccessWithDenialsBanner({ summary, deniedCalls }: { summary: string | null; deniedCalls: number }) {
  const meta = outcomeMeta("succeeded", deniedCalls);
  return (
    <InlineAlert tone="warning" title={meta.label}>
      <p>{meta.help}</p>
      {summary ? <p className="mt-1 break-words whitespace-pre-wrap">{summary}</p> : null}
    </InlineAlert>
  );
}
