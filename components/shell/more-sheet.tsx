"use client";
// The phone tab bar's last tab: a bottom sheet listing every section the tab
// bar has no room for (built from NAV_ITEMS, so sections added later appear
// here without touching this file). A native <dialog>: focus is trapped,
// Escape and a tap on the backdrop close it.
import Link from "next/link";
import { useEffect, useRef, useState } from "react";
import { cn } from "@/lib/cn";
import { MoreIcon } from "@/components/ui/icons";
import { isActive, type NavItem } from "@/components/shell/nav-items";

export function MoreTab({ items, pathname }: { items: NavItem[]; pathname: string }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDialogElement>(null);
  const active = items.some((i) => isActive(pathname, i.href));

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);

  return (
    <>
      <button
        type="button"
        aria-haspopup="dialog"
        aria-expanded={open}
        onClick={() => setOpen(true)}
        className={cn(
          "flex h-16 w-full flex-col items-center justify-center gap-1 text-[11px] font-medium transition-colors",
          active ? "text-accent" : "text-fg-muted hover:text-fg",
        )}
      >
        <span className={cn("relative grid h-7 w-12 place-items-center rounded-full transition-colors", active && "bg-accent-soft")}>
          <MoreIcon size={20} />
        </span>
        <span className="max-w-full truncate px-0.5">More</span>
      </button>
      <dialog
        ref={ref}
        aria-label="More sections"
        onClose={() => setOpen(false)}
        onClick={(e) => {
          if (e.target === ref.current) setOpen(false);
        }}
        className="mx-0 mt-auto mb-0 w-full max-w-none rounded-t-2xl border border-border bg-surface p-0 pb-[env(safe-area-inset-bottom)] text-fg shadow-2xl"
      >
        {open ? (
          <div className="p-3">
            <div className="mb-2 flex items-center justify-between px-2">
              <h2 className="text-base font-semibold">More</h2>
              <button type="button" onClick={() => setOpen(false)} className="rounded-md px-2 py-1 text-sm text-fg-muted hover:bg-surface-muted">
                Close
              </button>
            </div>
            <ul className="space-y-1">
              {items.map(({ href, label, description, icon: Icon }) => {
                const here = isActive(pathname, href);
                return (
                  <li key={href}>
                    <Link
                      href={href}
                      aria-current={here ? "page" : undefined}
                      onClick={() => setOpen(false)}
                      className={cn(
                        "flex min-h-12 items-center gap-3 rounded-lg px-3 py-2 text-sm",
                        here ? "bg-accent-soft text-accent" : "hover:bg-surface-muted",
                      )}
                    >
                      <Icon size={20} className="shrink-0" />
                      <span className="min-w-0">
                        <span className="block font-medium">{label}</span>
                        <span className="block truncate text-xs text-fg-muted">{description}</span>
                      </span>
                    </Link>
                  </li>
                );
              })}
            </ul>
          </div>
        ) : null}
      </dialog>
    </>
  );
}
