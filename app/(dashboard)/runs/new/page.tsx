import type { Metadata } from "next";
import { NewRunForm } from "@/components/runs/new-run-form";
import { PageHeader } from "@/components/ui/page-header";
import { requireIdentity } from "@/lib/server-session";
import { hasRole } from "@/server/users/users";

export const metadata: Metadata = { title: "New run" };

export default async function NewRunPage() {
  // Operators and up start runs; others are sent back to the list.
  const { user } = await requireIdentity("operator");
  return (
    <div className="mx-auto max-w-3xl">
      <PageHeader
        title="New run"
        description="The agent works in a fresh, locked-down container with no network. It submits a plan first; nothing changes until a reviewer approves it."
      />
      <NewRunForm isAdmin={hasRole(user.role, "admin")} user={{ id: user.id, role: user.role }} />
    </div>
  );
}
