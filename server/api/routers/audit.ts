import { roleProcedure, router } from "@/server/api/trpc";
import { verifyAuditChain } from "@/server/audit/chain";
import { auditExportInput, auditListInput, exportAuditEvents, listAuditEvents } from "@/server/audit/query";

export const auditRouter = router({
  list: roleProcedure("viewer")
    .input(auditListInput)
    .query(({ ctx, input }) => listAuditEvents(ctx.db, input)),
  verify: roleProcedure("viewer").query(({ ctx }) => verifyAuditChain(ctx.db)),
  export: roleProcedure("viewer")
    .input(auditExportInput)
    .query(({ ctx, input }) => exportAuditEvents(ctx.db, input)),
});
