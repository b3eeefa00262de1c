import type { Metadata } from "next";
import { Suspense } from "react";
import { SearchView } from "@/components/search/search-view";
import { SkeletonRows } from "@/components/ui/skeleton";

export const metadata: Metadata = { title: "Search" };

export default function SearchPage() {
  // Every role (viewer and up) may search, as every role may list runs and read the audit trail; the layout has checked the session.
  return (
    <Suspense fallback={<SkeletonRows rows={5} label="Loading search…" />}>
      <SearchView />
    </Suspense>
  );
}
