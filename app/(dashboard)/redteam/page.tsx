import type { Metadata } from "next";
import { Suspense } from "react";
import { RedteamView } from "@/components/redteam/redteam-view";
import { SkeletonRows } from "@/components/ui/skeleton";
import { requireIdentity } from "@/lib/server-session";
import { mayManage } from "@/lib/permissions";

export const metadata: Metadata = { title: "Red team" };

// Every role reads the reports (issue 16); starting one stays with admins (redteam.start checks it).
export default async function RedteamPage() {
  const { user } = await requireIdentity();
  return (
    <Suspense fallback={<SkeletonRows rows={6} label="Loading the red team…" />}>
      <RedteamView canStart={mayManage(user.role, "redteam")} />
    </Suspense>
  );
}
