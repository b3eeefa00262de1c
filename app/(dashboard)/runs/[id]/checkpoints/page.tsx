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
    <div className="mx-auto max-w-4xl">
      <ScrollToHash />
      <CheckpointsView key={id} runId={id} user={toSessionUser(identity)} />
    </div>
  );
}
