import type { Metadata } from "next";
import { Suspense } from "react";
import { AuditView } from "@/components/audit/audit-view";
import { SkeletonRows } from "@/components/ui/skeleton";

export const metadata: Metadata = { title: "Audit" };

export default function AuditPage() {
  // Every role (viewer and up) may read the trail; the layout has checked the session.
  return (
    <Suspense fallback={<SkeletonRows rows={6} label="Loading audit events…" />}>
      <AuditView />
    </Suspense>
  );
}
