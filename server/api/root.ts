// The application router: stable procedure names are part of Airlock's contract (docs/ARCHITECTURE.md, "Stable contracts").
import { publicProcedure, router } from "@/server/api/trpc";
import { auditRouter } from "@/server/api/routers/audit";
import { tokensRouter } from "@/server/api/routers/tokens";
import { usersRouter } from "@/server/api/routers/users";
import { approvalsRouter } from "@/server/api/routers/approvals";
import { modelsRouter } from "@/server/api/routers/models";
import { runsRouter } from "@/server/api/routers/runs";
import { projectsRouter } from "@/server/api/routers/projects";
import { policiesRouter } from "@/server/api/routers/policies";
import { redteamRouter } from "@/server/api/routers/redteam";
import { secretsRouter } from "@/server/api/routers/secrets";
import { notificationsRouter } from "@/server/api/routers/notifications";
import { webhooksRouter } from "@/server/api/routers/webhooks";
import { grantsRouter } from "@/server/api/routers/grants";
import { servicesRouter } from "@/server/api/routers/services";
import { reviewersRouter } from "@/server/api/routers/reviewers";
import { queueRouter } from "@/server/api/routers/queue";
import { searchRouter } from "@/server/api/routers/search";
import { reviewRouter } from "@/server/api/routers/review";
import { checkHealth } from "@/server/health/health";
import { timelineRouter } from "@/server/api/routers/timeline";
import { trendsRouter } from "@/server/api/routers/trends";
import { enginesRouter } from "@/server/api/routers/engines";

export const appRouter = router({
  health: publicProcedure.query(({ ctx }) => checkHealth(() => ctx.db)),
  users: usersRouter,
  tokens: tokensRouter,
  audit: auditRouter,
  models: modelsRouter,
  runs: runsRouter,
  approvals: approvalsRouter,
  projects: projectsRouter,
  policies: policiesRouter,
  redteam: redteamRouter,
  secrets: secretsRouter,
  notifications: notificationsRouter,
  webhooks: webhooksRouter,
  grants: grantsRouter,
  services: servicesRouter,
  reviewers: reviewersRouter,
  queue: queueRouter,
  search: searchRouter,
  timeline: timelineRouter,
  trends: trendsRouter,
  review: reviewRouter,
  engines: enginesRouter,
});

export type AppRouter = typeof appRouter;
