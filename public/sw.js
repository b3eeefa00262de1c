// Airlock's service worker. It exists so the app can be installed and so a
// phone without a connection shows an offline notice instead of the browser's
// error page. It caches ONLY that notice and the icons: never API answers, never
// pages (they hold run content, and a stale approval screen would mislead).
// Every other request passes straight to the network (no fetch handling).
importScripts("/sw-push.js");

const CACHE = "airlock-offline-v1";
const OFFLINE_URL = "/offline.html";
const PRECACHE = [OFFLINE_URL, "/icons/icon-192.png", "/icons/icon-512.png", "/icons/maskable-512.png", "/icons/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  // Only page navigations get a fallback; everything else (API, assets) is left alone.
  if (request.mode !== "navigate") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  event.respondWith(fetch(request).catch(async () => (await caches.match(OFFLINE_URL, { cacheName: CACHE })) ?? Response.error()));
});
