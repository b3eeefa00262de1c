// Web Push for the Airlock service worker (loaded by /sw.js with
// importScripts("/sw-push.js")). Shows what the server sent (the payload
// contract: { type, approvalId?, runId, title, body, url, actions?: [{ action, token? }] })
// and turns the Approve / Deny buttons into POST /api/approvals/act with this
// browser's session. The server decides whether a button may act; an Approve
// without a token (risky or multi-approval requests) opens the approval page.
/* global self */
"use strict";

const ACT_URL = "/api/approvals/act";
const WAITING_TYPES = ["approval.requested", "approval.expiring", "approval.escalated"];

/** Only pages of this dashboard are opened: anything else falls back to the approvals inbox. */
function pageUrl(url) {
  try {
    const target = new URL(url, self.location.origin);
    if (target.origin === self.location.origin) return target.href;
  } catch {
    // not a URL
  }
  return new URL("/approvals", self.location.origin).href;
}

async function openPage(url) {
  const target = pageUrl(url);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const same = windows.find((w) => w.url === target);
  if (same) return same.focus();
  const any = windows.find((w) => new URL(w.url).origin === self.location.origin && "navigate" in w);
  if (any) {
    const navigated = await any.navigate(target).catch(() => null);
    if (navigated) return navigated.focus();
  }
  return self.clients.openWindow(target);
}

function readPayload(event) {
  if (!event.data) return null;
  try {
    const payload = event.data.json();
    return payload && typeof payload.title === "string" ? payload : null;
  } catch {
    return null;
  }
}

self.addEventListener("push", (event) => {
  const payload = readPayload(event);
  if (!payload) return;
  const list = Array.isArray(payload.actions) ? payload.actions : [];
  const approve = list.find((a) => a && a.action === "approve");
  const deny = list.find((a) => a && a.action === "deny" && a.token);
  const actions = [];
  // Without a token, Approve opens the request: say so on the button.
  if (approve) actions.push({ action: "approve", title: approve.token ? "Approve" : "Review to approve" });
  if (deny) actions.push({ action: "deny", title: "Deny" });
  const waiting = WAITING_TYPES.includes(payload.type);
  event.waitUntil(
    self.registration.showNotification(payload.title, {
      body: payload.body,
      data: payload,
      actions,
      tag: payload.approvalId || `run:${payload.runId}`,
      renotify: waiting,
      requireInteraction: waiting,
      icon: "/icon.svg",
    }),
  );
});

async function act(payload, chosen) {
  const tag = payload.approvalId || `run:${payload.runId}`;
  let response;
  try {
    response = await fetch(ACT_URL, {
      method: "POST",
      credentials: "include",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: chosen.token, decision: chosen.action }),
    });
  } catch {
    await self.registration.showNotification("Airlock is not reachable", {
      body: "Nothing was decided. Open the request when you are online.",
      tag,
      data: { url: payload.url },
    });
    return;
  }
  if (response.ok) {
    await self.registration.showNotification(chosen.action === "approve" ? "Approved" : "Denied", {
      body: payload.title,
      tag,
      data: { url: payload.url },
    });
    return;
  }
  // Refused (signed out, already decided, edited, expired…): say why and open the request, where it can be decided.
  const answer = await response.json().catch(() => null);
  const reason = (answer && answer.error && answer.error.message) || `Airlock answered ${response.status}.`;
  await self.registration.showNotification("Not decided", { body: reason, tag, data: { url: payload.url } });
  await openPage(payload.url);
}

self.addEventListener("notificationclick", (event) => {
  const notification = event.notification;
  const payload = notification.data || {};
  notification.close();
  const list = Array.isArray(payload.actions) ? payload.actions : [];
  const chosen = event.action ? list.find((a) => a && a.action === event.action) : null;
  if (chosen && chosen.token) event.waitUntil(act(payload, chosen));
  else event.waitUntil(openPage(payload.url));
});

// The browser replaced this device's subscription (keys rotated, or the push
// service expired it): register the new one so the device keeps getting
// notifications. Needs the browser's session; without it the device shows up
// as removed once the old endpoint answers 410, and Settings can turn it on again.
self.addEventListener("pushsubscriptionchange", (event) => {
  const old = event.oldSubscription;
  const key = old && old.options && old.options.applicationServerKey;
  event.waitUntil(
    (async () => {
      const fresh = event.newSubscription || (key ? await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }) : null);
      if (!fresh) return;
      const json = fresh.toJSON();
      await fetch("/api/trpc/notifications.subscribe", {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ json: { endpoint: fresh.endpoint, keys: json.keys } }),
      }).catch(() => undefined);
    })(),
  );
});
