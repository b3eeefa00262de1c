import type { Metadata } from "next";
import { TrendsView } from "@/components/trends/trends-view";
import { requireIdentity } from "@/lib/server-session";

export const metadata: Metadata = { title: "Trends" };

export default async function TrendsPage() {
  await requireIdentity();
  return (
    <div className="mx-auto max-w-5xl">
      <TrendsView />
    </div>
  );
}
