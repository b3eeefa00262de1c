import type { Metadata } from "next";
import { Suspense } from "react";
import { PoliciesView } from "@/components/policies/policies-view";
import { SkeletonRows } from "@/components/ui/skeleton";
import { requireIdentity, toSessionUser } from "@/lib/server-session";

export const metadata: Metadata = { title: "Policies" };

export default async function PoliciesPage() {
  // Every role may read policies and simulate; only admins save (the API enforces it).
  const identity = await requireIdentity();
  return (
    <Suspense fallback={<SkeletonRows rows={6} label="Loading policies…" />}>
      <PoliciesView user={toSessionUser(identity)} />
    </Suspense>
  );
}
