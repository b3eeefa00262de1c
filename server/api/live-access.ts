// Subscriptions outlive the request that opened them: wraps a stream so it
// ends as soon as its caller's access changes (see server/auth/access-watch.ts),
// with an UNAUTHORIZED error the client shows instead of a silent stop.
import { TRPCError } from "@trpc/server";
import type { Db } from "@/db/client";
import { ACCESS_CHANGED_MESSAGE, watchAccess } from "@/server/auth/access-watch";
import type { Identity } from "@/server/auth/identity";

export async function* whileAccessHolds<T>(
  ctx: { db: Db; identity: Identity },
  signal: AbortSignal | undefined,
  source: (signal: AbortSignal) => AsyncIterable<T>,
): AsyncGenerator<T> {
  const watch = watchAccess(ctx.db, ctx.identity, signal);
  try {
    yield* source(watch.signal);
  } finally {
    watch.stop();
  }
  if (watch.lost()) throw new TRPCError({ code: "UNAUTHORIZED", message: ACCESS_CHANGED_MESSAGE });
}
