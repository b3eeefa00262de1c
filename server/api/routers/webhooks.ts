// Webhooks (admins): endpoints that receive notify events. The signing secret
// leaves the server once, in create's answer.
import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import {
  createWebhook,
  createWebhookInput,
  deleteWebhook,
  listWebhookDeliveries,
  listWebhooks,
  testWebhook,
  updateWebhook,
  updateWebhookInput,
  webhookIdInput,
} from "@/server/notify/webhook-endpoints";

export const webhooksRouter = router({
  create: roleProcedure("admin")
    .input(createWebhookInput)
    .output(z.object({ id: z.string(), secret: z.string() }))
    .mutation(({ ctx, input }) => createWebhook(ctx.db, ctx.actor, input)),
  list: roleProcedure("admin").query(({ ctx }) => ({ items: listWebhooks(ctx.db) })),
  deliveries: roleProcedure("admin")
    .input(webhookIdInput)
    .query(({ ctx, input }) => listWebhookDeliveries(ctx.db, input.id)),
  update: roleProcedure("admin")
    .input(updateWebhookInput)
    .mutation(({ ctx, input }) => updateWebhook(ctx.db, ctx.actor, input)),
  delete: roleProcedure("admin")
    .input(webhookIdInput)
    .mutation(({ ctx, input }) => deleteWebhook(ctx.db, ctx.actor, input.id)),
  test: roleProcedure("admin")
    .input(webhookIdInput)
    .mutation(({ ctx, input }) => testWebhook(ctx.db, { ...ctx.actor, userId: ctx.user.id }, input.id)),
});
