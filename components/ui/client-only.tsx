"use client";
// Renders its children only once the page runs in the browser; the server and
// the hydrating client render `fallback`. For client components whose first
// render depends on the query cache: the shell's queries (the approvals badge)
// can fill the cache before a streamed page hydrates, and a first render with
// data would not match the server's loading state (React #418).
import type { ReactNode } from "react";
import { useMounted } from "@/components/ui/local-time";

export function ClientOnly({ children, fallback }: { children: ReactNode; fallback: ReactNode }) {
  return useMounted() ? children : fallback;
}
