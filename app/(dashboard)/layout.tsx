// Every dashboard page sits behind this layout: signed-out visitors (no
// cookie, a stale session, a disabled user) are sent to /login server-side.
import type { ReactNode } from "react";
import { AppShell } from "@/components/shell/app-shell";
import { ServiceWorkerRegistration } from "@/components/shell/service-worker-registration";
import { requireIdentity, toSessionUser } from "@/lib/server-session";

export const dynamic = "force-dynamic";

export default async function DashboardLayout({ children }: { children: ReactNode }) {
  const identity = await requireIdentity();
  return (
    <>
      <ServiceWorkerRegistration />
      <AppShell user={toSessionUser(identity)}>{children}</AppShell>
    </>
  );
}
