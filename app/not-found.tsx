import Link from "next/link";
import { buttonClasses } from "@/components/ui/button";

export default function NotFound() {
  return (
    <main className="grid min-h-dvh place-items-center px-4">
      <div className="text-center">
        <p className="text-sm font-semibold text-accent">404</p>
        <h1 className="mt-1 text-xl font-semibold">Page not found</h1>
        <p className="mt-2 text-sm text-fg-muted">There is nothing at this address.</p>
        <Link href="/runs" className={buttonClasses("primary", "md", "mt-5")}>
          Go to runs
        </Link>
      </div>
    </main>
  );
}
