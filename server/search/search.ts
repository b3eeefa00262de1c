// search.query: full-text search over runs (their events, command output and
// the file paths of their checkpoints), the audit trail and the projects'
// documentation, through the FTS5 indexes of the search_fts migration.
// Every signed-in viewer sees every run and the whole audit trail (runs.list
// and audit.list have the same rule), so visibility is the procedure's role;
// the filters here narrow within it and are applied in SQL, outside the
// MATCH expression, so no query text can widen them.
import { z } from "zod";
import type { Db } from "@/db/client";
import { MARK_END, MARK_START } from "@/lib/search-marks";
import { DEFAULT_PROJECT_ID } from "@/server/projects/projects";
import { ftsMatchExpression } from "@/server/search/fts-query";

export const SEARCH_KINDS = ["event", "output", "file", "audit", "doc"] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];

/** Run event types per search kind ("event" is every other indexed type). */
const OUTPUT_TYPES = ["output", "tool_result", "service_output"];
const FILE_TYPES = ["checkpoint"];

export const MAX_SEARCH_RESULTS = 100;
/** Words of context a snippet keeps around the match. */
const SNIPPET_TOKENS = 24;

export const searchQueryInput = z.object({
  q: z.string().trim().min(1, "Type something to search for.").max(500, "A search is at most 500 characters."),
  projectId: z.string().min(1).max(100).optional(),
  runId: z.string().min(1).max(100).optional(),
  /** A tool name (run_command, write_file…): its calls, their output and their audit entries. */
  tool: z.string().min(1).max(100).optional(),
  kinds: z.array(z.enum(SEARCH_KINDS)).min(1).max(SEARCH_KINDS.length).optional(),
  /** Only what happened before this time (and, with `after`, after that one). */
  before: z.coerce.date().optional(),
  after: z.coerce.date().optional(),
  limit: z.number().int().min(1).max(MAX_SEARCH_RESULTS).default(30),
});
export type SearchQueryInput = z.input<typeof searchQueryInput>;

export interface SearchHit {
  kind: SearchKind;
  runId?: string;
  /** The run's title, or the project's name for documentation. */
  title?: string;
  tool?: string;
  at: Date;
  /** The matched text with each match between MARK_START and MARK_END (lib/search-marks.ts). */
  snippet: string;
  href: string;
  /** bm25: lower is a better match. */
  score: number;
}

interface EventRow {
  id: number;
  runId: string;
  type: string;
  at: number;
  title: string;
  snippet: string;
  score: number;
  tool: string | null;
  toolCallId: string | null;
  /** A checkpoint event's number. */
  seq: number | null;
}

interface AuditRow {
  seq: number;
  at: number;
  runId: string | null;
  title: string | null;
  snippet: string;
  score: number;
  tool: string | null;
}

interface DocRow {
  id: number;
  projectId: string;
  slug: string;
  name: string;
  source: string;
  lineStart: number;
  lineEnd: number;
  snippet: string;
  score: number;
}

function eventKind(type: string): SearchKind {
  if (OUTPUT_TYPES.includes(type)) return "output";
  if (FILE_TYPES.includes(type)) return "file";
  return "event";
}

/** SQL for the run event types of the kinds asked for (null: all). */
function eventTypeCondition(kinds: Set<SearchKind>): string | null {
  const want = ["event", "output", "file"].filter((k) => kinds.has(k as SearchKind));
  if (want.length === 3) return null;
  const parts: string[] = [];
  const listed = [...OUTPUT_TYPES, ...FILE_TYPES].map((t) => `'${t}'`).join(", ");
  if (kinds.has("event")) parts.push(`e.type NOT IN (${listed})`);
  if (kinds.has("output")) parts.push(`e.type IN (${OUTPUT_TYPES.map((t) => `'${t}'`).join(", ")})`);
  if (kinds.has("file")) parts.push(`e.type IN (${FILE_TYPES.map((t) => `'${t}'`).join(", ")})`);
  return `(${parts.join(" OR ")})`;
}

function searchEvents(db: Db, match: string, input: z.infer<typeof searchQueryInput>, kinds: Set<SearchKind>): EventRow[] {
  const where = ["search_run_events MATCH @match"];
  const typeCondition = eventTypeCondition(kinds);
  if (typeCondition) where.push(typeCondition);
  if (input.runId) where.push("e.run_id = @runId");
  if (input.projectId) where.push("coalesce(r.project_id, @defaultProject) = @projectId");
  if (input.tool) where.push("coalesce(tc.tool, json_extract(e.payload, '$.tool')) = @tool");
  if (input.before) where.push("e.at < @before");
  if (input.after) where.push("e.at > @after");
  // Ranking first, reading only what the filters need: a common word can match
  // thousands of events, and parsing each one's JSON for the columns shown
  // (or joining its tool call) would cost more than the ranking itself.
  const ranked = db.$client
    .prepare(
      `SELECT e.id AS id, bm25(search_run_events) AS score
       FROM search_run_events
       JOIN run_events e ON e.id = search_run_events.rowid
       ${input.projectId ? "JOIN runs r ON r.id = e.run_id" : ""}
       ${input.tool ? "LEFT JOIN tool_calls tc ON tc.id = json_extract(e.payload, '$.toolCallId')" : ""}
       WHERE ${where.join(" AND ")}
       ORDER BY score
       LIMIT @limit`,
    )
    .all(params(match, input)) as { id: number; score: number }[];
  if (ranked.length === 0) return [];
  const details = db.$client
    .prepare(
      `SELECT e.id AS id, e.run_id AS runId, e.type AS type, e.at AS at, r.title AS title,
         coalesce(tc.tool, json_extract(e.payload, '$.tool')) AS tool,
         json_extract(e.payload, '$.toolCallId') AS toolCallId,
         json_extract(e.payload, '$.seq') AS seq
       FROM run_events e
       JOIN runs r ON r.id = e.run_id
       LEFT JOIN tool_calls tc ON tc.id = json_extract(e.payload, '$.toolCallId')
       WHERE e.id IN (SELECT value FROM json_each(?))`,
    )
    .all(JSON.stringify(ranked.map((r) => r.id))) as Omit<EventRow, "snippet" | "score">[];
  const byId = new Map(details.map((d) => [d.id, d]));
  const rows = ranked.flatMap((r) => {
    const d = byId.get(r.id);
    return d ? [{ ...d, score: r.score }] : [];
  });
  return withSnippets(db, "search_run_events", match, rows, (r) => r.id);
}

/** The run an audit entry is about: its target when that is a run, else the runId its details name. */
const AUDIT_RUN = "CASE WHEN a.target_type = 'run' THEN a.target_id ELSE json_extract(a.details, '$.runId') END";

function searchAudit(db: Db, match: string, input: z.infer<typeof searchQueryInput>): AuditRow[] {
  const where = ["search_audit MATCH @match"];
  if (input.runId) where.push(`${AUDIT_RUN} = @runId`);
  if (input.projectId)
    where.push(
      "(coalesce(r.project_id, CASE WHEN r.id IS NOT NULL THEN @defaultProject END) = @projectId OR (a.target_type = 'project' AND a.target_id = @projectId))",
    );
  if (input.tool) where.push("tc.tool = @tool");
  if (input.before) where.push("a.at < @before");
  if (input.after) where.push("a.at > @after");
  // Ranking first, joining only what the filters need (as for events).
  const ranked = db.$client
    .prepare(
      `SELECT a.seq AS seq, bm25(search_audit) AS score
       FROM search_audit
       JOIN audit_events a ON a.seq = search_audit.rowid
       ${input.projectId ? `LEFT JOIN runs r ON r.id = ${AUDIT_RUN}` : ""}
       ${input.tool ? "LEFT JOIN tool_calls tc ON a.target_type = 'tool_call' AND tc.id = a.target_id" : ""}
       WHERE ${where.join(" AND ")}
       ORDER BY score
       LIMIT @limit`,
    )
    .all(params(match, input)) as { seq: number; score: number }[];
  if (ranked.length === 0) return [];
  const details = db.$client
    .prepare(
      `SELECT a.seq AS seq, a.at AS at, r.id AS runId, r.title AS title, tc.tool AS tool
       FROM audit_events a
       LEFT JOIN runs r ON r.id = ${AUDIT_RUN}
       LEFT JOIN tool_calls tc ON a.target_type = 'tool_call' AND tc.id = a.target_id
       WHERE a.seq IN (SELECT value FROM json_each(?))`,
    )
    .all(JSON.stringify(ranked.map((r) => r.seq))) as Omit<AuditRow, "snippet" | "score">[];
  const bySeq = new Map(details.map((d) => [d.seq, d]));
  const rows = ranked.flatMap((r) => {
    const d = bySeq.get(r.seq);
    return d ? [{ ...d, score: r.score }] : [];
  });
  return withSnippets(db, "search_audit", match, rows, (r) => r.seq);
}

/** The projects' own documentation (text sources); lines found in one run's workspace are that run's, not searched here. */
function searchDocs(db: Db, match: string, input: z.infer<typeof searchQueryInput>): DocRow[] {
  // Documentation belongs to no run and no tool call: a run or tool filter leaves it out.
  if (input.runId || input.tool) return [];
  const where = ["search_doc_passages MATCH @match", "d.run_id IS NULL"];
  if (input.projectId) where.push("d.project_id = @projectId");
  const rows = db.$client
    .prepare(
      `SELECT d.id AS id, d.project_id AS projectId, p.slug AS slug, p.name AS name, d.source AS source,
         d.line_start AS lineStart, d.line_end AS lineEnd,
         bm25(search_doc_passages) AS score
       FROM search_doc_passages
       JOIN doc_passages d ON d.id = search_doc_passages.rowid
       JOIN projects p ON p.id = d.project_id
       WHERE ${where.join(" AND ")}
       ORDER BY score
       LIMIT @limit`,
    )
    .all(params(match, input)) as Omit<DocRow, "snippet">[];
  return withSnippets(db, "search_doc_passages", match, rows, (r) => r.id);
}

/**
 * Adds the snippets of the hits kept. Asked for only once the best `limit`
 * hits are known: in the ranking query SQLite would build a snippet for every
 * match before sorting (a common word in a long run: thousands).
 */
function withSnippets<R>(db: Db, table: string, match: string, rows: R[], rowid: (r: R) => number): (R & { snippet: string })[] {
  if (rows.length === 0) return [];
  const snippets = new Map(
    (
      db.$client
        .prepare(
          `SELECT rowid AS id, snippet(${table}, 0, ?, ?, '…', ${SNIPPET_TOKENS}) AS snippet FROM ${table} WHERE ${table} MATCH ? AND rowid IN (SELECT value FROM json_each(?))`,
        )
        .all(MARK_START, MARK_END, match, JSON.stringify(rows.map(rowid))) as { id: number; snippet: string }[]
    ).map((r) => [r.id, r.snippet]),
  );
  return rows.map((r) => ({ ...r, snippet: snippets.get(rowid(r)) ?? "" }));
}

function params(match: string, input: z.infer<typeof searchQueryInput>) {
  return {
    match,
    limit: input.limit,
    runId: input.runId ?? null,
    projectId: input.projectId ?? null,
    defaultProject: DEFAULT_PROJECT_ID,
    tool: input.tool ?? null,
    before: input.before?.getTime() ?? null,
    after: input.after?.getTime() ?? null,
  };
}

/**
 * The run page's anchor for an event: a tool call's output, result, decision
 * and approval are shown in the call's card, which carries the id of the
 * call's own tool_call event.
 */
function eventAnchor(db: Db, row: EventRow): number {
  if (!row.toolCallId || row.type === "tool_call") return row.id;
  // The call's event comes before its output: walk back from the hit (index on run_id, id), not through the whole run.
  const call = db.$client
    .prepare(
      "SELECT id FROM run_events WHERE run_id = ? AND id <= ? AND type = 'tool_call' AND json_extract(payload, '$.toolCallId') = ? ORDER BY id DESC LIMIT 1",
    )
    .get(row.runId, row.id, row.toolCallId) as { id: number } | undefined;
  return call?.id ?? row.id;
}

export function runEventHref(runId: string, eventId: number): string {
  return `/runs/${encodeURIComponent(runId)}#event-${eventId}`;
}

/** Ranked hits (bm25, best first) across the kinds asked for. */
export function searchAll(db: Db, raw: SearchQueryInput): { items: SearchHit[] } {
  const input = searchQueryInput.parse(raw);
  const match = ftsMatchExpression(input.q);
  if (!match) return { items: [] };
  const kinds = new Set<SearchKind>(input.kinds ?? SEARCH_KINDS);
  const hits: SearchHit[] = [];
  if (kinds.has("event") || kinds.has("output") || kinds.has("file")) {
    for (const row of searchEvents(db, match, input, kinds))
      hits.push({
        kind: eventKind(row.type),
        runId: row.runId,
        title: row.title,
        ...(row.tool ? { tool: row.tool } : {}),
        at: new Date(row.at),
        snippet: row.snippet,
        href:
          row.type === "checkpoint" && row.seq !== null
            ? `/runs/${encodeURIComponent(row.runId)}/checkpoints#checkpoint-${row.seq}`
            : runEventHref(row.runId, eventAnchor(db, row)),
        score: row.score,
      });
  }
  if (kinds.has("audit")) {
    for (const row of searchAudit(db, match, input))
      hits.push({
        kind: "audit",
        ...(row.runId ? { runId: row.runId, title: row.title ?? undefined } : {}),
        ...(row.tool ? { tool: row.tool } : {}),
        at: new Date(row.at),
        snippet: row.snippet,
        href: row.runId ? `/runs/${encodeURIComponent(row.runId)}` : `/audit`,
        score: row.score,
      });
  }
  if (kinds.has("doc")) {
    for (const row of searchDocs(db, match, input))
      hits.push({
        kind: "doc",
        title: `${row.name} · ${row.source} · lines ${row.lineStart}–${row.lineEnd}`,
        // Documentation has no time of its own; what sorts it is its score.
        at: new Date(0),
        snippet: row.snippet,
        href: `/projects/${encodeURIComponent(row.slug)}`,
        score: row.score,
      });
  }
  // The indexes score on the same bm25 scale; merged best first, then newest first among equals.
  hits.sort((a, b) => a.score - b.score || b.at.getTime() - a.at.getTime());
  return { items: hits.slice(0, input.limit) };
}
