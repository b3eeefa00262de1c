import type { Metadata } from "next";
import { EmptyState } from "@/components/ui/empty-state";
import { PoliciesIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/page-header";
import { ComingNext } from "@/components/shell/coming-next";

export const metadata: Metadata = { title: "Policies" };

export default function PoliciesPage() {
  return (
    <>
      <PageHeader title="Policies" description="The rules that decide whether an agent's tool call is allowed, needs approval or is denied." />
      <EmptyState icon={<PoliciesIcon size={26} />} title="No policies to edit yet">
        <p>Policy editing arrives with the policy engine; nothing to show yet.</p>
      </EmptyState>
      <ComingNext
        items={[
          "Rules for commands, file paths, packages and network hosts, each with a reason.",
          "A simulator: paste a tool call and see the verdict and the rule behind it.",
          "Every change recorded in the audit trail.",
        ]}
      />
    </>
  );
}
