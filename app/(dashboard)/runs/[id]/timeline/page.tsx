import type { Metadata } from "next";
import { RunTimelineView } from "@/components/timeline/run-timeline-view";
import { requireIdentity } from "@/lib/server-session";

interface Props {
  params: Promise<{ id: string }>;
}

export const metadata: Metadata = { title: "Timeline" };

export default async function RunTimelinePage({ params }: Props) {
  const [{ id }] = await Promise.all([params, requireIdentity()]);
  return (
    <div className="mx-auto max-w-4xl">
      <RunTimelineView key={id} runId={id} />
    </div>
  );
}
