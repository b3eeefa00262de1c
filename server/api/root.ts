// The application router: stable procedure names are part of Airlock's contract (DESIGN.md).
import { publicProcedure, router } from "@/server/api/trpc";
import { auditRouter } from "@/server/api/routers/audit";
import { tokensRouter } from "@/server/api/routers/tokens";
import { usersRouter } from "@/server/api/routers/users";
import { checkHealth } from "@/server/health/health";

export const appRouter = router({
  health: publicProcedure.query(({ ctx }) => checkHealth(() => ctx.db)),
  users: usersRouter,
  tokens: tokensRouter,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
