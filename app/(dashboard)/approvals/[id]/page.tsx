import type { Metadata } from "next";
import { ApprovalPage } from "@/components/approvals/approval-page";
import { requireIdentity, toSessionUser } from "@/lib/server-session";

export const metadata: Metadata = { title: "Approval request" };

interface Props {
  params: Promise<{ id: string }>;
}

// The deep link of every notification and email: a signed-out visitor signs in and comes back here (proxy.ts, requireIdentity).
export default async function ApprovalRequestPage({ params }: Props) {
  const [{ id }, identity] = await Promise.all([params, requireIdentity()]);
  return <ApprovalPage key={id} approvalId={id} user={toSessionUser(identity)} />;
}
