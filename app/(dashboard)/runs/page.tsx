import type { Metadata } from "next";
import { Suspense } from "react";
import { RunsList } from "@/components/runs/runs-list";
import { SkeletonRows } from "@/components/ui/skeleton";
import { requireIdentity, toSessionUser } from "@/lib/server-session";

export const metadata: Metadata = { title: "Runs" };

export default async function RunsPage() {
  const identity = await requireIdentity();
  return (
    <Suspense fallback={<SkeletonRows rows={5} label="Loading runs…" />}>
      <RunsList user={toSessionUser(identity)} />
    </Suspense>
  );
}
