// The web app manifest (served at /manifest.webmanifest; Next links it from every page):
// installing Airlock on a phone opens the runs list in its own window.
import type { MetadataRoute } from "next";

export default function manifest(): MetadataRoute.Manifest {
  return {
    id: "/runs",
    name: "Airlock",
    short_name: "Airlock",
    description: "Supervise LLM agents working in locked-down containers: approve or deny their requests from anywhere.",
    start_url: "/runs",
    scope: "/",
    display: "standalone",
    orientation: "any",
    // The manifest takes one colour each; the light theme's. The dark theme's
    // colour comes from the theme-color <meta> for prefers-color-scheme: dark (app/layout.tsx).
    background_color: "#fafafb",
    theme_color: "#fafafb",
    icons: [
      { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
      { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
      { src: "/icons/maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
      { src: "/icons/icon.svg", sizes: "any", type: "image/svg+xml", purpose: "any" },
    ],
  };
}
