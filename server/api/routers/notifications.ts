import { notificationPreferenceProcedures } from "@/server/api/routers/notification-preferences";
// Web Push devices: the key browsers subscribe with, and each user's own
// devices (any signed-in role: a viewer's run events reach them too; there is
// simply nothing for them to decide). Domain: server/notify/.
import { z } from "zod";
import { authedProcedure, router } from "@/server/api/trpc";
import { listDevices, subscribePush, unsubscribePush } from "@/server/notify/push-subscriptions";
import { vapidKeys } from "@/server/notify/vapid";

export const notificationsRouter = router({
  ...notificationPreferenceProcedures,
  /** The VAPID public key to pass to pushManager.subscribe as applicationServerKey. */
  vapidPublicKey: authedProcedure.output(z.object({ publicKey: z.string() })).query(() => ({ publicKey: vapidKeys().publicKey })),
  /** Turns notifications on for this browser (or refreshes its keys); the endpoint must be one Airlock may reach. */
  subscribe: authedProcedure
    .input(
      z.object({
        endpoint: z.string().min(1).max(2048),
        keys: z.object({ p256dh: z.string().min(1).max(200), auth: z.string().min(1).max(100) }),
        label: z.string().max(100).optional(),
      }),
    )
    .output(z.object({ id: z.string() }))
    .mutation(({ ctx, input }) => subscribePush(ctx.db, { ...ctx.actor, userId: ctx.user.id }, { ...input, userAgent: ctx.userAgent ?? null })),
  /** Removes a device: your own (admins: anyone's). */
  unsubscribe: authedProcedure
    .input(z.object({ id: z.string().min(1).max(100) }))
    .mutation(({ ctx, input }) => unsubscribePush(ctx.db, { ...ctx.actor, userId: ctx.user.id }, ctx.user.role, input.id)),
  /** Your devices with notifications on. */
  devices: authedProcedure
    .output(z.object({ items: z.array(z.object({ id: z.string(), label: z.string(), createdAt: z.date(), lastUsedAt: z.date().nullable() })) }))
    .query(({ ctx }) => ({ items: listDevices(ctx.db, ctx.user.id) })),
});
