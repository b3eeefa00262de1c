// next/constants' PHASE_DEVELOPMENT_SERVER (the config is loaded before anything can be imported).
const PHASE_DEVELOPMENT_SERVER = "phase-development-server";

/**
 * Security headers on every response: pages, /login, /api/* and static files
 * (M3). `frame-ancestors 'none'` and X-Frame-Options stop other pages from
 * framing the dashboard (clickjacking an approval button).
 *
 * script-src allows 'unsafe-inline' because the App Router streams its data as
 * inline <script> tags and the root layout has an inline theme script; nonces
 * would need proxy.ts on every route and would make every page dynamic. The
 * policy still refuses scripts from any other origin, plugins, <base> changes
 * and framing. The dev server additionally needs eval and a websocket for
 * hot reload.
 */
function securityHeaders(dev) {
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${dev ? " ws: wss:" : ""}`,
    "worker-src 'self' blob:", // public/sw.js (installable app, offline notice, push)
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-src 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return [
    { key: "Content-Security-Policy", value: csp },
    { key: "X-Frame-Options", value: "DENY" },
    { key: "X-Content-Type-Options", value: "nosniff" },
    { key: "Referrer-Policy", value: "same-origin" },
    { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), browsing-topics=()" },
    { key: "Cross-Origin-Opener-Policy", value: "same-origin" },
  ];
}

/** @type {(phase: string) => import('next').NextConfig} */
module.exports = (phase) => ({
  // Native or socket-owning packages must not be bundled: each Next entry would
  // otherwise get its own copy (see docs/ARCHITECTURE.md, "Processes and singletons").
  serverExternalPackages: [
    "dockerode",
    "ssh2",
    "better-sqlite3",
    "@node-rs/argon2",
    "cpu-features",
    "mvdan-sh",
    "prom-client",
    "@opentelemetry/sdk-logs",
    "@opentelemetry/exporter-logs-otlp-http",
  ],
  poweredByHeader: false,
  reactStrictMode: true,
  typescript: { ignoreBuildErrors: true }, // `npm test` runs tsc itself; don't type-check twice
  async headers() {
    return [{ source: "/:path*", headers: securityHeaders(phase === PHASE_DEVELOPMENT_SERVER) }];
  },
});
module.exports.securityHeaders = securityHeaders;
