// Reading the audit trail: filtered pages and JSONL / CSV exports.
import { and, desc, eq, gte, like, lt, lte, or, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { auditEvents, type AuditEvent } from "@/db/schema";

export const auditFilterInput = z.object({
  actor: z.string().trim().max(254).optional(),
  action: z.string().trim().max(100).optional(),
  target: z.string().trim().max(200).optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
});

/** Audit entries per page of audit.list. */
export const MAX_AUDIT_PAGE = 500;

export const auditListInput = auditFilterInput.extend({
  limit: z.number().int().min(1).max(MAX_AUDIT_PAGE).default(50),
  cursor: z.number().int().positive().optional(),
});

export const auditExportInput = auditFilterInput.extend({ format: z.enum(["jsonl", "csv"]) });

export type AuditFilter = z.infer<typeof auditFilterInput>;

function filterConditions(f: AuditFilter): SQL[] {
  const c: SQL[] = [];
  if (f.actor) c.push(or(eq(auditEvents.actorId, f.actor), like(auditEvents.actorLabel, `%${f.actor}%`))!);
  if (f.action)
    c.push(f.action.endsWith(".") || f.action.endsWith("*") ? like(auditEvents.action, `${f.action.replace(/\*$/, "")}%`) : eq(auditEvents.action, f.action));
  if (f.target) {
    const [type, id] = f.target.includes(":") ? f.target.split(":", 2) : [undefined, f.target];
    c.push(type ? and(eq(auditEvents.targetType, type), eq(auditEvents.targetId, id!))! : or(eq(auditEvents.targetId, id!), eq(auditEvents.targetType, id!))!);
  }
  if (f.from) c.push(gte(auditEvents.at, f.from));
  if (f.to) c.push(lte(auditEvents.at, f.to));
  return c;
}

export interface AuditEventView extends Omit<AuditEvent, "details"> {
  details: Record<string, unknown>;
}

function toView(e: AuditEvent): AuditEventView {
  let details: Record<string, unknown>;
  try {
    details = JSON.parse(e.details) as Record<string, unknown>;
  } catch {
    details = { unreadable: e.details };
  }
  return { ...e, details };
}

/** Newest first; `cursor` is the seq to continue below. */
export function listAuditEvents(db: Db, input: z.infer<typeof auditListInput>) {
  const conds = filterConditions(input);
  if (input.cursor) conds.push(lt(auditEvents.seq, input.cursor));
  const rows = db
    .select()
    .from(auditEvents)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(auditEvents.seq))
    .limit(input.limit + 1)
    .all();
  const more = rows.length > input.limit;
  const items = rows.slice(0, input.limit).map(toView);
  return { items, nextCursor: more ? items.at(-1)?.seq : undefined };
}

const CSV_COLUMNS = [
  "seq",
  "id",
  "at",
  "actorId",
  "actorLabel",
  "action",
  "targetType",
  "targetId",
  "details",
  "sourceIp",
  "tokenId",
  "prevHash",
  "hash",
] as const;

function csvCell(value: unknown): string {
  const text = value instanceof Date ? value.toISOString() : value == null ? "" : String(value);
  // Quote always, and neutralise spreadsheet formulas.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replace(/"/g, '""')}"`;
}

/** Oldest first, everything matching the filter, with hashes so the export can be checked offline. */
export function exportAuditEvents(db: Db, input: z.infer<typeof auditExportInput>): { filename: string; contentType: string; body: string; count: number } {
  const conds = filterConditions(input);
  const rows = db
    .select()
    .from(auditEvents)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(auditEvents.seq)
    .all();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  if (input.format === "jsonl") {
    const body = rows.map((r) => JSON.stringify({ ...toView(r), at: r.at.toISOString() })).join("\n") + (rows.length ? "\n" : "");
    return { filename: `airlock-audit-${stamp}.jsonl`, contentType: "application/x-ndjson", body, count: rows.length };
  }
  const lines = [CSV_COLUMNS.join(","), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell(r[c])).join(","))];
  return { filename: `airlock-audit-${stamp}.csv`, contentType: "text/csv", body: lines.join("\r\n") + "\r\n", count: rows.length };
}
