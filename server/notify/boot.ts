// Starts notifications once per process (from the supervisor's boot): the
// email channel is registered here; the push and webhook channels register
// themselves beside it; the dispatcher then listens to run events.
import type { Db } from "@/db/client";
import { startDispatcher, type DispatcherOptions } from "@/server/notify/dispatcher";
import { emailChannel } from "@/server/notify/email";
import { registerNotifyChannel } from "@/server/notify/registry";

export function startNotifications(db: Db, opts: DispatcherOptions = {}): void {
  registerNotifyChannel(emailChannel);
  startDispatcher(db, opts);
}
