import type { Metadata } from "next";
import { Suspense } from "react";
import { RedteamView } from "@/components/redteam/redteam-view";
import { EmptyState } from "@/components/ui/empty-state";
import { PageHeader } from "@/components/ui/page-header";
import { SkeletonRows } from "@/components/ui/skeleton";
import { RedteamIcon } from "@/components/policies/icons";
import { requireIdentity } from "@/lib/server-session";
import { hasRole } from "@/server/users/users";

export const metadata: Metadata = { title: "Red team" };

export default async function RedteamPage() {
  const { user } = await requireIdentity();
  if (!hasRole(user.role, "admin")) {
    return (
      <>
        <PageHeader title="Red team" />
        <EmptyState icon={<RedteamIcon size={26} />} title="Admins run the red team">
          <p>
            The red team attacks the gateway and the sandbox with tool-misuse scenarios; its reports show how each attack was stopped. Ask an admin to run it.
          </p>
        </EmptyState>
      </>
    );
  }
  return (
    <Suspense fallback={<SkeletonRows rows={6} label="Loading the red team…" />}>
      <RedteamView />
    </Suspense>
  );
}
