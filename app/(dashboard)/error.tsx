"use client";
// A page that failed to render: say so plainly and offer a retry, keep the shell.
import { useEffect } from "react";
import { Button } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { AlertIcon } from "@/components/ui/icons";

export default function DashboardError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  return (
    <EmptyState icon={<AlertIcon size={24} />} title="This page could not be loaded" actions={<Button onClick={reset}>Try again</Button>}>
      <p>{error.message || "The server had a problem answering."}</p>
      {error.digest ? <p className="mt-2 font-mono text-xs">Reference: {error.digest}</p> : null}
    </EmptyState>
  );
}
