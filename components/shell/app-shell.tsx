"use client";
// The dashboard frame: top bar, a sidebar on wide screens and a bottom tab bar
// on phones (thumb reach; reviewers approve from phones).
import Link from "next/link";
import { usePathname } from "next/navigation";
import type { ReactNode } from "react";
import { cn } from "@/lib/cn";
import type { SessionUser } from "@/lib/session-user";
import { LogoIcon } from "@/components/ui/icons";
import { NAV_ITEMS, isActive, phoneNav } from "@/components/shell/nav-items";
import { MoreTab } from "@/components/shell/more-sheet";
import { ThemeToggle } from "@/components/shell/theme-toggle";
import { UserMenu } from "@/components/shell/user-menu";
import { ApprovalsLiveUpdates, PendingApprovalsBadge } from "@/components/approvals/live";

export function AppShell({ user, children }: { user: SessionUser; children: ReactNode }) {
  const pathname = usePathname() ?? "";
  // One approval request (the link every notification opens) uses the whole width, so its diff can too;
  // so do a run's Files changed and Checkpoints pages (side-by-side diffs), issue 16.
  const fullWidth = /^\/approvals\/[^/]+$/.test(pathname) || /^\/runs\/[^/]+\/(files|checkpoints)$/.test(pathname);
  // Phones: five tabs and "More", which lists every other section (issue 16: all pages reachable).
  const phone = phoneNav();

  return (
    <div className="flex min-h-dvh flex-col">
      <ApprovalsLiveUpdates />
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:fixed focus:top-2 focus:left-2 focus:z-50 focus:rounded-md focus:bg-surface focus:px-3 focus:py-2 focus:shadow"
      >
        Skip to content
      </a>
      <header className="sticky top-0 z-30 border-b border-border bg-surface/85 pt-[env(safe-area-inset-top)] backdrop-blur supports-[backdrop-filter]:bg-surface/70">
        <div className="flex h-14 items-center gap-3 px-3 sm:px-5">
          <Link href="/runs" className="flex items-center gap-2 rounded-md font-semibold tracking-tight text-fg">
            <span className="grid size-8 place-items-center rounded-lg bg-accent text-accent-fg">
              <LogoIcon size={18} />
            </span>
            <span className="text-[15px]">Airlock</span>
          </Link>
          <div className="flex-1" />
          <ThemeToggle />
          <UserMenu user={user} />
        </div>
      </header>

      <div className="flex flex-1">
        <aside className="sticky top-14 hidden h-[calc(100dvh-3.5rem)] w-60 shrink-0 flex-col border-r border-border bg-surface/50 md:flex">
          <nav aria-label="Main" className="flex flex-col gap-0.5 p-3">
            {NAV_ITEMS.map(({ href, label, icon: Icon }) => {
              const active = isActive(pathname, href);
              return (
                <Link
                  key={href}
                  href={href}
                  aria-current={active ? "page" : undefined}
                  className={cn(
                    "flex items-center gap-3 rounded-lg px-3 py-2 text-sm font-medium transition-colors",
                    active ? "bg-accent-soft text-accent" : "text-fg-muted hover:bg-surface-muted hover:text-fg",
                  )}
                >
                  <Icon size={18} />
                  {label}
                  {href === "/approvals" ? <PendingApprovalsBadge user={user} className="ml-auto" /> : null}
                </Link>
              );
            })}
          </nav>
          <div className="mt-auto border-t border-border p-4 text-xs text-fg-muted">
            Agents work in sealed containers. Every action is recorded in the audit trail.
          </div>
        </aside>

        <main id="main" className="min-w-0 flex-1 px-4 pt-5 pb-[calc(5.5rem+env(safe-area-inset-bottom))] sm:px-6 md:pb-10 lg:px-8">
          <div className={cn("mx-auto w-full", !fullWidth && "max-w-6xl")}>{children}</div>
        </main>
      </div>

      {/* Hidden while a deny reason is being typed (html[data-hide-tab-bar], see use-hide-tab-bar.ts): the keyboard leaves little room. */}
      <nav
        aria-label="Main"
        data-testid="tab-bar"
        className="fixed inset-x-0 bottom-0 z-30 border-t border-border bg-surface/95 pb-[env(safe-area-inset-bottom)] backdrop-blur md:hidden [html[data-hide-tab-bar]_&]:hidden"
      >
        <ul className="grid auto-cols-fr grid-flow-col">
          {phone.tabs.map(({ href, label, icon: Icon }) => {
            const active = isActive(pathname, href);
            return (
              <li key={href} className="min-w-0">
                <Link
                  href={href}
                  aria-current={active ? "page" : undefined}
                  className={cn(
                    "flex h-16 flex-col items-center justify-center gap-1 text-[11px] font-medium transition-colors",
                    active ? "text-accent" : "text-fg-muted hover:text-fg",
                  )}
                >
                  <span className={cn("relative grid h-7 w-12 place-items-center rounded-full transition-colors", active && "bg-accent-soft")}>
                    <Icon size={20} />
                    {href === "/approvals" ? <PendingApprovalsBadge user={user} className="absolute -top-1 right-0" /> : null}
                  </span>
                  <span className="max-w-full truncate px-0.5">{label}</span>
                </Link>
              </li>
            );
          })}
          {phone.more.length > 0 ? (
            <li className="min-w-0">
              <MoreTab items={phone.more} pathname={pathname} />
            </li>
          ) : null}
        </ul>
      </nav>
    </div>
  );
}
