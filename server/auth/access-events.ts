// "This user's access changed" on the event bus: disabled, role or password
// changed, sessions or tokens revoked. Open streams listen and re-check their
// caller (server/auth/access-watch.ts). Announce after the change commits.
import { emitSignal, onSignal } from "@/server/events/bus";

const ACCESS_CHANGED = "access:changed";

export function announceAccessChange(userId: string): void {
  emitSignal(ACCESS_CHANGED, { userId });
}

export function onAccessChange(listener: (userId: string) => void): () => void {
  return onSignal(ACCESS_CHANGED, (payload) => {
    const userId = (payload as { userId?: unknown } | null)?.userId;
    if (typeof userId === "string") listener(userId);
  });
}
