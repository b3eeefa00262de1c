import type { Metadata } from "next";
import { Suspense } from "react";
import { ApprovalsInbox } from "@/components/approvals/approvals-inbox";
import { ClientOnly } from "@/components/ui/client-only";
import { SkeletonRows } from "@/components/ui/skeleton";
import { requireIdentity, toSessionUser } from "@/lib/server-session";

export const metadata: Metadata = { title: "Approvals" };

export default async function ApprovalsPage() {
  const identity = await requireIdentity();
  return (
    <div className="mx-auto max-w-4xl">
      <Suspense fallback={<SkeletonRows rows={3} label="Loading approvals…" />}>
        {/* The inbox shares the navigation badge's query, which may have answered before this part hydrates. */}
        <ClientOnly fallback={<SkeletonRows rows={3} label="Loading approvals…" />}>
          <ApprovalsInbox user={toSessionUser(identity)} />
        </ClientOnly>
      </Suspense>
    </div>
  );
}
