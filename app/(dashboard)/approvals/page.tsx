import type { Metadata } from "next";
import { Suspense } from "react";
import { ApprovalsInbox } from "@/components/approvals/approvals-inbox";
import { SkeletonRows } from "@/components/ui/skeleton";
import { requireIdentity, toSessionUser } from "@/lib/server-session";

export const metadata: Metadata = { title: "Approvals" };

export default async function ApprovalsPage() {
  const identity = await requireIdentity();
  return (
    <div className="mx-auto max-w-4xl">
      <Suspense fallback={<SkeletonRows rows={3} label="Loading approvals…" />}>
        <ApprovalsInbox user={toSessionUser(identity)} />
      </Suspense>
    </div>
  );
}
