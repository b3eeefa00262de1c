// The channels the dispatcher hands events to. Kept on globalThis because
// Next.js bundles route handlers and instrumentation as separate entries.
import type { NotifyChannel, NotifyChannelName } from "@/server/notify/types";

const g = globalThis as unknown as { __airlockNotifyChannels?: Map<NotifyChannelName, NotifyChannel> };

function registry(): Map<NotifyChannelName, NotifyChannel> {
  g.__airlockNotifyChannels ??= new Map();
  return g.__airlockNotifyChannels;
}

/** Registers (or replaces) a channel; idempotent, so boot may run twice. */
export function registerNotifyChannel(channel: NotifyChannel): void {
  registry().set(channel.name, channel);
}

export function notifyChannels(): NotifyChannel[] {
  return [...registry().values()];
}
