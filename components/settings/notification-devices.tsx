"use client";
// Settings → Notifications, devices: turn Web Push on for this browser, see
// the devices that get notifications (name, last use) and remove one. The
// server judges every endpoint and owns the list; this only drives the
// browser's Push API and mirrors what the server says.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import { useState, useSyncExternalStore } from "react";
import { describeUserAgent } from "@/components/settings/sessions-list";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { formatDateTime, formatRelative } from "@/lib/format";
import { useTRPC } from "@/lib/trpc/client";

/** Which device of the list is this browser: the id the server gave it when it subscribed. */
const THIS_DEVICE_KEY = "airlock.pushDeviceId";

/** "" when this browser can get Web Push, else why not (what to do instead). */
function pushUnsupportedReason(): string {
  const ios = /iPhone|iPad|iPod/.test(navigator.userAgent);
  const standalone = window.matchMedia?.("(display-mode: standalone)").matches || (navigator as { standalone?: boolean }).standalone === true;
  if (!window.isSecureContext) return "Notifications need a secure connection: open Airlock over https:// (or on localhost).";
  if (ios && !standalone && !("PushManager" in window)) {
    return "On iPhone and iPad, add Airlock to the Home Screen first (Share → Add to Home Screen), open it from there, then turn notifications on.";
  }
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    return "This browser has no Web Push, so it cannot get Airlock notifications. Use a current Chrome, Edge, Firefox or Safari.";
  }
  return "";
}

// Browser capabilities and this browser's device id exist only after hydration (null on the server).
const noSubscription = () => () => undefined;
const THIS_DEVICE_EVENT = "airlock:push-device";
function subscribeThisDevice(onChange: () => void): () => void {
  window.addEventListener(THIS_DEVICE_EVENT, onChange);
  window.addEventListener("storage", onChange);
  return () => {
    window.removeEventListener(THIS_DEVICE_EVENT, onChange);
    window.removeEventListener("storage", onChange);
  };
}
function rememberThisDevice(id: string | null): void {
  if (id) window.localStorage.setItem(THIS_DEVICE_KEY, id);
  else window.localStorage.removeItem(THIS_DEVICE_KEY);
  window.dispatchEvent(new Event(THIS_DEVICE_EVENT));
}

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  const raw = atob(base64);
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

function sameKey(subscription: PushSubscription, key: Uint8Array): boolean {
  const current = subscription.options.applicationServerKey;
  if (!current) return false;
  const bytes = new Uint8Array(current);
  return bytes.length === key.length && bytes.every((b, i) => b === key[i]);
}

const isConflict = (err: unknown) => err instanceof TRPCClientError && (err.data as { domainCode?: string } | undefined)?.domainCode === "CONFLICT";

function BellIcon() {
  return (
    <svg
      width={18}
      height={18}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth={1.8}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
    >
      <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.94 1.94 0 0 0 3.4 0" />
    </svg>
  );
}

export function NotificationDevices() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const unsupported = useSyncExternalStore(noSubscription, pushUnsupportedReason, () => null);
  const thisDevice = useSyncExternalStore(
    subscribeThisDevice,
    () => window.localStorage.getItem(THIS_DEVICE_KEY),
    () => null,
  );
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const devices = useQuery(trpc.notifications.devices.queryOptions());
  const subscribe = useMutation(trpc.notifications.subscribe.mutationOptions());
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.notifications.devices.queryKey() });
  const remove = useMutation(trpc.notifications.unsubscribe.mutationOptions({ onSettled: invalidate }));

  async function turnOn() {
    setBusy(true);
    setProblem(null);
    setDone(false);
    try {
      const { publicKey } = await queryClient.fetchQuery(trpc.notifications.vapidPublicKey.queryOptions());
      const key = keyBytes(publicKey);
      const registration = (await navigator.serviceWorker.getRegistration("/")) ?? (await navigator.serviceWorker.register("/sw.js", { scope: "/" }));
      await navigator.serviceWorker.ready;
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        setProblem(
          permission === "denied"
            ? "Notifications are blocked for this site. Allow them in the browser's site settings (the icon left of the address), then try again."
            : "Notifications were not allowed. Try again and choose Allow.",
        );
        return;
      }
      let subscription = await registration.pushManager.getSubscription();
      // A subscription made for another key (a restored data directory) cannot be sent to: replace it.
      if (subscription && !sameKey(subscription, key)) {
        await subscription.unsubscribe();
        subscription = null;
      }
      const fresh = () => registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
      subscription ??= await fresh();
      const label = describeUserAgent(navigator.userAgent);
      const send = (s: PushSubscription) => {
        const json = s.toJSON();
        return subscribe.mutateAsync({ endpoint: s.endpoint, keys: { p256dh: json.keys?.p256dh ?? "", auth: json.keys?.auth ?? "" }, label });
      };
      let result: { id: string };
      try {
        result = await send(subscription);
      } catch (err) {
        // Another account registered this browser's subscription (a shared computer): get a new one of our own.
        if (!isConflict(err)) throw err;
        await subscription.unsubscribe();
        result = await send(await fresh());
      }
      rememberThisDevice(result.id);
      setDone(true);
      await invalidate();
    } catch (err) {
      setProblem(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function removeDevice(id: string) {
    try {
      await remove.mutateAsync({ id });
    } catch {
      return; // shown from remove.error; the browser keeps its subscription
    }
    if (id === thisDevice) {
      const registration = await navigator.serviceWorker?.getRegistration("/");
      await (await registration?.pushManager.getSubscription())?.unsubscribe();
      rememberThisDevice(null);
    }
  }

  const items = devices.data?.items ?? [];
  const onHere = Boolean(thisDevice && items.some((d) => d.id === thisDevice));

  return (
    <Card aria-labelledby="push-devices-title" id="push-devices">
      <CardHeader
        titleId="push-devices-title"
        title="Push notifications"
        icon={<BellIcon />}
        description="Get a notification on this device when a request waits for your decision, is about to expire or was escalated, and when your runs end."
      />
      <CardBody className="space-y-4">
        {unsupported === null ? null : unsupported === "" ? (
          <div className="flex flex-wrap items-center gap-3">
            <Button onClick={() => void turnOn()} loading={busy} disabled={busy} variant={onHere ? "secondary" : "primary"}>
              {onHere ? "Refresh notifications for this device" : "Turn on notifications for this device"}
            </Button>
            <p className="text-sm text-fg-muted">Approve and Deny work from the notification where the device shows buttons; risky requests open here.</p>
          </div>
        ) : (
          <InlineAlert tone="info" title="Notifications are not available in this browser">
            {unsupported}
          </InlineAlert>
        )}
        {problem ? <InlineAlert title="Notifications were not turned on">{problem}</InlineAlert> : null}
        {done ? <InlineAlert tone="success">This device gets notifications now.</InlineAlert> : null}
        {remove.error ? <InlineAlert title="The device was not removed">{errorMessage(remove.error)}</InlineAlert> : null}

        <div>
          <h3 className="mb-2 text-sm font-semibold">Your devices</h3>
          {devices.isPending ? (
            <SkeletonRows rows={2} label="Loading your devices…" />
          ) : devices.error ? (
            <InlineAlert title="Your devices could not be loaded">{errorMessage(devices.error)}</InlineAlert>
          ) : items.length === 0 ? (
            <p className="text-sm text-fg-muted">No device gets notifications yet.</p>
          ) : (
            <ul className="divide-y divide-border rounded-lg border border-border" data-testid="push-devices">
              {items.map((d) => (
                <li key={d.id} className="flex flex-wrap items-center justify-between gap-2 px-3 py-2.5" data-testid="push-device">
                  <div className="min-w-0 text-sm">
                    <div className="flex flex-wrap items-center gap-2">
                      <span className="font-medium break-words">{d.label}</span>
                      {d.id === thisDevice ? <Badge tone="success">This device</Badge> : null}
                    </div>
                    <p className="text-xs text-fg-muted">
                      added{" "}
                      <time dateTime={d.createdAt.toISOString()} title={formatDateTime(d.createdAt)}>
                        {formatRelative(d.createdAt)}
                      </time>{" "}
                      ·{" "}
                      {d.lastUsedAt ? (
                        <>
                          last notified{" "}
                          <time dateTime={d.lastUsedAt.toISOString()} title={formatDateTime(d.lastUsedAt)}>
                            {formatRelative(d.lastUsedAt)}
                          </time>
                        </>
                      ) : (
                        "not notified yet"
                      )}
                    </p>
                  </div>
                  <Button
                    size="sm"
                    variant="danger-outline"
                    disabled={remove.isPending}
                    onClick={() => void removeDevice(d.id)}
                    aria-label={`Remove ${d.label}`}
                  >
                    Remove
                  </Button>
                </li>
              ))}
            </ul>
          )}
        </div>
      </CardBody>
    </Card>
  );
}
