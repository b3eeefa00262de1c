"use client";
// The signed-in user's email and role, with sign out. On phones the button
// shrinks to an avatar; the panel uses the native popover (light dismiss, Escape).
import Link from "next/link";
import { signOut } from "next-auth/react";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ChevronDownIcon, SettingsIcon, SignOutIcon } from "@/components/ui/icons";
import type { SessionUser } from "@/lib/session-user";
import { RoleBadge } from "@/components/shell/role-badge";
import { hardNavigate } from "@/lib/hard-navigate";

const POPOVER_ID = "user-menu";

export function UserMenu({ user }: { user: SessionUser }) {
  const [signingOut, setSigningOut] = useState(false);
  const initial = (user.name || user.email).trim().charAt(0).toUpperCase();

  async function handleSignOut() {
    setSigningOut(true);
    try {
      await signOut({ redirect: false });
    } finally {
      hardNavigate("/login?reason=signed-out");
    }
  }

  return (
    <>
      <button
        type="button"
        popoverTarget={POPOVER_ID}
        aria-label={`Account: ${user.email} (${user.role})`}
        className="flex min-w-0 items-center gap-2 rounded-lg p-1 text-left hover:bg-surface-muted sm:pr-2"
      >
        <span aria-hidden="true" className="grid size-8 shrink-0 place-items-center rounded-full bg-accent-soft text-sm font-semibold text-accent">
          {initial}
        </span>
        <span className="hidden min-w-0 flex-col leading-tight sm:flex">
          <span className="max-w-[14rem] truncate text-sm font-medium text-fg">{user.email}</span>
          <span className="text-xs text-fg-muted capitalize">{user.role}</span>
        </span>
        <ChevronDownIcon size={14} className="hidden text-fg-muted sm:block" />
      </button>
      <div
        id={POPOVER_ID}
        popover="auto"
        aria-label="Account"
        className="fixed inset-auto top-14 right-2 m-0 w-[min(20rem,calc(100vw-1rem))] rounded-xl border border-border bg-surface p-0 text-fg shadow-xl sm:right-4"
      >
        <div className="border-b border-border px-4 py-3">
          <p className="text-xs text-fg-muted">Signed in as</p>
          <p className="truncate text-sm font-medium" title={user.email}>
            {user.email}
          </p>
          <div className="mt-1.5 flex items-center gap-1.5 text-xs text-fg-muted">
            Role <RoleBadge role={user.role} />
          </div>
        </div>
        <div className="p-1.5">
          <Link
            href="/settings"
            onClick={() => document.getElementById(POPOVER_ID)?.hidePopover()}
            className="flex items-center gap-2 rounded-lg px-2.5 py-2 text-sm text-fg hover:bg-surface-muted"
          >
            <SettingsIcon size={16} className="text-fg-muted" /> Account settings
          </Link>
          <Button variant="ghost" className="w-full justify-start px-2.5 text-fg" onClick={handleSignOut} loading={signingOut}>
            {signingOut ? null : <SignOutIcon size={16} className="text-fg-muted" />}
            Sign out
          </Button>
        </div>
      </div>
    </>
  );
}
