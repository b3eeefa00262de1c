"use client";
// Light / dark / system switch. The choice is applied before paint by the
// inline script in the root layout; this keeps React's view of it in sync.
import { useEffect, useLayoutEffect, useSyncExternalStore } from "react";
import { cn } from "@/lib/cn";
import { MonitorIcon, MoonIcon, SunIcon } from "@/components/ui/icons";
import { applyTheme, readThemePreference, saveThemePreference, type ThemePreference } from "@/lib/theme";

const OPTIONS: Array<{ value: ThemePreference; label: string; icon: typeof SunIcon }> = [
  { value: "light", label: "Light theme", icon: SunIcon },
  { value: "dark", label: "Dark theme", icon: MoonIcon },
  { value: "system", label: "System theme", icon: MonitorIcon },
];

function subscribe(onChange: () => void) {
  window.addEventListener("airlock-theme-change", onChange);
  window.addEventListener("storage", onChange);
  return () => {
    window.removeEventListener("airlock-theme-change", onChange);
    window.removeEventListener("storage", onChange);
  };
}

export function useThemePreference(): ThemePreference {
  return useSyncExternalStore(subscribe, readThemePreference, () => "system");
}

export function ThemeToggle({ className }: { className?: string }) {
  const preference = useThemePreference();

  // React's dev-mode remount resets <html> attributes; re-apply (no-op in production).
  useLayoutEffect(() => applyTheme(readThemePreference()), []);

  // Follow the OS while on "system", and other tabs' choices (storage event).
  useEffect(() => {
    applyTheme(preference);
    if (preference !== "system") return;
    const media = window.matchMedia("(prefers-color-scheme: dark)");
    const follow = () => applyTheme("system");
    media.addEventListener("change", follow);
    return () => media.removeEventListener("change", follow);
  }, [preference]);

  return (
    <div role="group" aria-label="Theme" className={cn("flex items-center rounded-lg border border-border bg-surface-muted p-0.5", className)}>
      {OPTIONS.map(({ value, label, icon: Icon }) => {
        const active = preference === value;
        return (
          <button
            key={value}
            type="button"
            aria-label={label}
            aria-pressed={active}
            title={label}
            onClick={() => saveThemePreference(value)}
            className={cn(
              "grid size-8 place-items-center rounded-md transition-colors",
              active ? "bg-surface text-fg shadow-sm ring-1 ring-border-strong/60" : "text-fg-muted hover:text-fg",
            )}
          >
            <Icon size={16} />
          </button>
        );
      })}
    </div>
  );
}
