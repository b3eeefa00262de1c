import type { Metadata } from "next";
import { EmptyState } from "@/components/ui/empty-state";
import { RunsIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/page-header";
import { ComingNext } from "@/components/shell/coming-next";

export const metadata: Metadata = { title: "Runs" };

export default function RunsPage() {
  return (
    <>
      <PageHeader title="Runs" description="Agents working on tasks inside sealed containers, with their plans, diffs and live logs." />
      <EmptyState icon={<RunsIcon size={26} />} title="No runs yet">
        <p>Supervised runs arrive with the run engine; nothing to show yet.</p>
        <p className="mt-2">When it lands, each run will show its state, its plan, the files it changed and every tool call it made.</p>
      </EmptyState>
      <ComingNext
        items={[
          "Start a run from a task and a model, or connect an external agent over MCP.",
          "Follow the agent's plan, commands and diffs live.",
          "Stop or roll back a run at any moment.",
        ]}
      />
    </>
  );
}
