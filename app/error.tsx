"use client";
// Errors outside a page's own boundary (e.g. the dashboard layout could not
// read the session because the database is unavailable).
import { Button } from "@/components/ui/button";
import { AlertIcon } from "@/components/ui/icons";

export default function AppError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <main className="grid min-h-dvh place-items-center px-4">
      <div className="max-w-md text-center">
        <div className="mx-auto mb-4 grid size-12 place-items-center rounded-2xl bg-danger-soft text-danger">
          <AlertIcon size={24} />
        </div>
        <h1 className="text-lg font-semibold">Airlock could not load this page</h1>
        <p className="mt-2 text-sm text-fg-muted">
          The server had a problem answering. If it keeps happening, check the server log and <code className="font-mono text-xs">GET /api/health</code>.
        </p>
        {error.digest ? <p className="mt-2 font-mono text-xs text-fg-muted">Reference: {error.digest}</p> : null}
        <Button className="mt-5" onClick={reset}>
          Try again
        </Button>
      </div>
    </main>
  );
}
