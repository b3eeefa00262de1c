"use client";
// Registers public/sw.js (installable app, offline notice, push handlers).
// Browsers only allow service workers in a secure context: https, or http on
// localhost; elsewhere (plain http on a LAN address) this does nothing.
import { useEffect } from "react";

export function ServiceWorkerRegistration() {
  useEffect(() => {
    if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((err: unknown) => {
      // The dashboard works without it; say why in the console for whoever debugs installability.
      console.warn("Airlock: the service worker could not be registered:", err);
    });
  }, []);
  return null;
}
