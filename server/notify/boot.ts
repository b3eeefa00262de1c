// Starts notifications once per process (from the supervisor's boot): the
// channels (push, email, webhooks) are registered, deliveries a previous
// process left unfinished are closed, and the dispatcher listens to run events.
import type { Db } from "@/db/client";
import { startDispatcher, type DispatcherOptions } from "@/server/notify/dispatcher";
import { emailChannel } from "@/server/notify/email";
import { pushChannel } from "@/server/notify/push";
import { registerNotifyChannel } from "@/server/notify/registry";
import { abandonInterruptedDeliveries, onWebhookDisabled, webhookChannel } from "@/server/notify/webhooks";

const g = globalThis as unknown as { __airlockNotifyBooted?: boolean };

export function startNotifications(db: Db, opts: DispatcherOptions = {}): void {
  registerNotifyChannel(emailChannel);
  registerNotifyChannel(pushChannel);
  registerNotifyChannel(webhookChannel);
  if (!g.__airlockNotifyBooted) {
    g.__airlockNotifyBooted = true;
    abandonInterruptedDeliveries(db);
    // The audit event and the notice in Settings → Webhooks are written by the webhook queue; the log says it too.
    onWebhookDisabled((notice) => console.warn(`airlock: webhook ${notice.url} was disabled after repeated failures: ${notice.reason}`));
  }
  startDispatcher(db, opts);
}
