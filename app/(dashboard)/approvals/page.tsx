import type { Metadata } from "next";
import Link from "next/link";
import { buttonClasses } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { ApprovalsIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/page-header";
import { ComingNext } from "@/components/shell/coming-next";

export const metadata: Metadata = { title: "Approvals" };

export default function ApprovalsPage() {
  return (
    <>
      <PageHeader title="Approvals" description="Tool calls that your policy says a person must approve before they run." />
      <EmptyState
        icon={<ApprovalsIcon size={26} />}
        title="Nothing waiting for you"
        actions={
          <Link href="/audit" className={buttonClasses("secondary")}>
            Open the audit trail
          </Link>
        }
      >
        <p>Approval requests arrive with the run engine; there is nothing to review yet.</p>
      </EmptyState>
      <ComingNext
        items={[
          "See each risky call with its arguments, the rule that flagged it and a diff preview.",
          "Approve, edit or deny with a reason, from a desktop or a phone.",
          "Requests that need several reviewers show who has voted.",
        ]}
      />
    </>
  );
}
