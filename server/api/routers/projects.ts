import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import {
  addProjectMember,
  createProject,
  createProjectInput,
  getProjectView,
  listProjects,
  removeProjectMember,
  updateProject,
  updateProjectInput,
} from "@/server/projects/projects";

export const projectsRouter = router({
  list: roleProcedure("viewer").query(({ ctx }) => ({ items: listProjects(ctx.db) })),
  get: roleProcedure("viewer")
    .input(z.object({ id: z.string().min(1).optional() }).optional())
    .query(({ ctx, input }) => getProjectView(ctx.db, input?.id)),
  create: roleProcedure("admin")
    .input(createProjectInput)
    .mutation(({ ctx, input }) => ({ id: createProject(ctx.db, ctx.actor, input).id })),
  update: roleProcedure("admin")
    .input(updateProjectInput)
    .mutation(({ ctx, input }) => {
      const project = updateProject(ctx.db, ctx.actor, input);
      return getProjectView(ctx.db, project.id);
    }),
  addMember: roleProcedure("admin")
    .input(z.object({ projectId: z.string().min(1), email: z.string().trim().min(3).max(320) }))
    .mutation(({ ctx, input }) => addProjectMember(ctx.db, ctx.actor, input)),
  removeMember: roleProcedure("admin")
    .input(z.object({ projectId: z.string().min(1), userId: z.string().min(1) }))
    .mutation(({ ctx, input }) => removeProjectMember(ctx.db, ctx.actor, input)),
});
