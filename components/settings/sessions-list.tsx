"use client";
// Where you are signed in: each browser or device with its address and last
// activity; sign one out (a lost phone), or every one but this. Revoking is
// checked on the server at the next request of that browser.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/dialog";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { LocalTime } from "@/components/ui/local-time";

/** "Chrome on Linux", "Safari on iPhone"… good enough to tell devices apart. */
export function describeUserAgent(ua: string | null): string {
  if (!ua) return "Unknown browser";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /(Chrome|Chromium)\//.test(ua)
        ? "Chrome"
        : /Safari\//.test(ua)
          ? "Safari"
          : /curl|node|undici|Playwright/i.test(ua)
            ? "Script"
            : "Browser";
  const os = /iPhone|iPad/.test(ua)
    ? "iOS"
    : /Android/.test(ua)
      ? "Android"
      : /Mac OS X/.test(ua)
        ? "macOS"
        : /Windows/.test(ua)
          ? "Windows"
          : /Linux/.test(ua)
            ? "Linux"
            : null;
  return os ? `${browser} on ${os}` : browser;
}

export function SessionsList() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const sessions = useQuery(trpc.users.sessions.queryOptions());
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.users.sessions.queryKey() });
  const [confirmOthers, setConfirmOthers] = useState(false);
  const revoke = useMutation(trpc.users.revokeSession.mutationOptions({ onSettled: invalidate }));
  const revokeOthers = useMutation(trpc.users.revokeOtherSessions.mutationOptions({ onSuccess: () => setConfirmOthers(false), onSettled: invalidate }));

  if (sessions.isPending) return <SkeletonRows rows={2} label="Loading your sessions…" />;
  if (sessions.error) return <InlineAlert title="Your sessions could not be loaded">{errorMessage(sessions.error)}</InlineAlert>;
  const items = sessions.data.items;
  const others = items.filter((s) => !s.current).length;

  return (
    <div className="space-y-3">
      {revoke.error ? <InlineAlert title="The session was not signed out">{errorMessage(revoke.error)}</InlineAlert> : null}
      <ul className="divide-y divide-border rounded-lg border border-border" data-testid="sessions">
        {items.map((s) => (
          <li key={s.id} className="flex flex-wrap items-center justify-between gap-2 px-3 py-2.5" data-testid="session">
            <div className="min-w-0 text-sm">
              <div className="flex flex-wrap items-center gap-2">
                <span className="font-medium">{describeUserAgent(s.userAgent)}</span>
                {s.current ? <Badge tone="success">This browser</Badge> : null}
              </div>
              <p className="text-xs text-fg-muted">
                {s.sourceIp ?? "unknown address"} · signed in <LocalTime date={s.createdAt} format="relative" />
                {s.lastSeenAt ? (
                  <>
                    {" "}
                    · last active <LocalTime date={s.lastSeenAt} format="relative" />
                  </>
                ) : null}
              </p>
            </div>
            {s.current ? null : (
              <Button
                size="sm"
                variant="danger-outline"
                disabled={revoke.isPending}
                onClick={() => revoke.mutate({ id: s.id })}
                aria-label={`Sign out ${describeUserAgent(s.userAgent)} (${s.sourceIp ?? "unknown address"})`}
              >
                Sign out
              </Button>
            )}
          </li>
        ))}
      </ul>
      {others > 0 ? (
        <Button size="sm" variant="secondary" onClick={() => (revokeOthers.reset(), setConfirmOthers(true))}>
          Sign out all other sessions
        </Button>
      ) : (
        <p className="text-sm text-fg-muted">You are signed in only here.</p>
      )}
      <ConfirmDialog
        open={confirmOthers}
        onOpenChange={setConfirmOthers}
        title={`Sign out ${others} other session${others === 1 ? "" : "s"}?`}
        description="Every other browser and device signed in as you is signed out at its next request. API tokens are not affected (revoke them below)."
        confirmLabel="Sign out others"
        pending={revokeOthers.isPending}
        error={revokeOthers.error ? errorMessage(revokeOthers.error) : null}
        onConfirm={() => revokeOthers.mutate()}
      />
    </div>
  );
}
