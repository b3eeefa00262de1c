import type { Metadata } from "next";
import Link from "next/link";
import { RunCompare } from "@/components/runs/run-compare";
import { EmptyState } from "@/components/ui/empty-state";
import { PageHeader } from "@/components/ui/page-header";
import { buttonClasses } from "@/components/ui/button";
import { requireIdentity, toSessionUser } from "@/lib/server-session";

export const metadata: Metadata = { title: "Compare runs" };

interface Props {
  searchParams: Promise<{ a?: string | string[]; b?: string | string[] }>;
}

export default async function CompareRunsPage({ searchParams }: Props) {
  const [params, identity] = await Promise.all([searchParams, requireIdentity()]);
  const a = typeof params.a === "string" ? params.a : "";
  const b = typeof params.b === "string" ? params.b : "";
  return (
    <div className="mx-auto max-w-6xl">
      <PageHeader title="Compare runs" description="Two runs side by side: how they ended, what they cost, and how their results differ." />
      {a && b ? (
        <RunCompare key={`${a}:${b}`} a={a} b={b} user={toSessionUser(identity)} />
      ) : (
        <EmptyState
          title="Pick two runs"
          actions={
            <Link href="/runs?view=all" className={buttonClasses("secondary")}>
              Go to the runs
            </Link>
          }
        >
          <p>Tick two runs in the runs list, then choose Compare.</p>
        </EmptyState>
      )}
    </div>
  );
}
