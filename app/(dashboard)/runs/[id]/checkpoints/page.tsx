import type { Metadata } from "next";
import { CheckpointsView } from "@/components/checkpoints/checkpoints-view";
import { ScrollToHash } from "@/components/search/scroll-to-hash";
import { requireIdentity, toSessionUser } from "@/lib/server-session";

interface Props {
  params: Promise<{ id: string }>;
}

export const metadata: Metadata = { title: "Checkpoints" };

export default async function RunCheckpointsPage({ params }: Props) {
  const [{ id }, identity] = await Promise.all([params, requireIdentity()]);
  return (
    // Wide: the diffs use the screen (the shell lifts its cap on this page); text blocks keep their own measure.
    <div className="mx-auto max-w-[120rem]">
      <ScrollToHash />
      <CheckpointsView key={id} runId={id} user={toSessionUser(identity)} />
    </div>
  );
}
