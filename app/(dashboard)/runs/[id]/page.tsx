import type { Metadata } from "next";
import { db } from "@/db/client";
import { RunView } from "@/components/runs/run-view";
import { RunLogLinks } from "@/components/search/run-log-links";
import { ScrollToHash } from "@/components/search/scroll-to-hash";
import { RunLineage } from "@/components/runs/run-lineage";
import { currentIdentity, requireIdentity, toSessionUser } from "@/lib/server-session";
import { getRunView } from "@/server/runs/runs";

interface Props {
  params: Promise<{ id: string }>;
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { id } = await params;
  // The title is only for signed-in people (the layout redirects everyone else).
  if (!(await currentIdentity())) return { title: "Run" };
  try {
    return { title: getRunView(db(), id).title };
  } catch {
    return { title: "Run" };
  }
}

export default async function RunPage({ params }: Props) {
  const [{ id }, identity] = await Promise.all([params, requireIdentity()]);
  // The client component fetches and streams; keyed so another run starts from a clean timeline.
  return (
    <div className="mx-auto max-w-4xl">
      <RunLogLinks runId={id} />
      <ScrollToHash />
      <RunLineage key={`lineage-${id}`} runId={id} user={toSessionUser(identity)} />
      <RunView key={id} runId={id} user={toSessionUser(identity)} />
    </div>
  );
}
