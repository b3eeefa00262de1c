// search_docs: documentation search over the sources a project lists, on the
// FTS5 index the rest of search uses (search_doc_passages, migration
// search_fts). Text snippets kept with the project are split into paragraphs
// and indexed once per version of the sources: a hash of them is kept in
// doc_indexes, and a search that finds another hash re-indexes first, so any
// change to the sources — by any code path — is seen by the next search.
// Paths under the run's workspace live in that run's sandbox: the matching
// lines are found there (like search_files) and indexed as that run's
// passages before ranking. Hits are ranked by bm25 and cite their source
// with a line range.
import crypto from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { docIndexes, docPassages, type Project, type ProjectDocSource } from "@/db/schema";
import { projectOfRun } from "@/server/projects/projects";
import { searchFiles } from "@/server/sandbox/files";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { findRun } from "@/server/runs/lookup";
import { ftsAnyOfExpression } from "@/server/search/fts-query";

const MAX_RESULTS = 10;
const MAX_TERMS = 8;
/** Characters of a passage returned to the agent (and indexed). */
const MAX_PASSAGE = 600;
/** Lines found under a project's path sources in one search (the sandbox's search helper stops there). */
const MAX_PATH_MATCHES = 100;

export interface DocHit {
  source: string;
  path?: string;
  /** The first line of the passage (kept from the earlier contract: the line of a path match). */
  line?: number;
  /** The passage's line range in its source (1-based, inclusive). */
  lineStart: number;
  lineEnd: number;
  /** Where the passage is, to cite: "Runbook:3-5", "docs/setup.md:12". */
  citation: string;
  text: string;
  /** Higher is better (bm25, negated and rounded). */
  score: number;
}

export function queryTerms(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}_]{2,}/gu) ?? [];
  return [...new Set(words)].slice(0, MAX_TERMS);
}

interface Paragraph {
  text: string;
  lineStart: number;
  lineEnd: number;
}

/** A text source's paragraphs (blank-line separated) with their line ranges. */
export function paragraphsOf(text: string): Paragraph[] {
  const out: Paragraph[] = [];
  let current: string[] = [];
  let start = 0;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === "") {
      if (current.length) out.push({ text: current.join("\n"), lineStart: start + 1, lineEnd: i });
      current = [];
      return;
    }
    if (!current.length) start = i;
    current.push(line);
  });
  if (current.length) out.push({ text: current.join("\n"), lineStart: start + 1, lineEnd: lines.length });
  return out.map((p) => ({ ...p, text: p.text.trim().slice(0, MAX_PASSAGE) }));
}

function sourcesHash(sources: ProjectDocSource[]): string {
  const text = sources.filter((s) => s.kind === "text").map((s) => [s.title, s.text ?? ""]);
  return crypto.createHash("sha256").update(JSON.stringify(text)).digest("hex");
}

/** Brings the project's indexed text passages up to date with its sources (a no-op when they did not change). */
export function refreshProjectDocIndex(db: Db, project: Pick<Project, "id" | "docSources">): void {
  const hash = sourcesHash(project.docSources);
  const current = db.select().from(docIndexes).where(eq(docIndexes.projectId, project.id)).get();
  if (current?.sourcesHash === hash) return;
  db.transaction(
    (tx) => {
      tx.delete(docPassages)
        .where(and(eq(docPassages.projectId, project.id), isNull(docPassages.runId)))
        .run();
      for (const source of project.docSources) {
        if (source.kind !== "text" || !source.text) continue;
        for (const p of paragraphsOf(source.text))
          tx.insert(docPassages)
            .values({ projectId: project.id, runId: null, source: source.title, lineStart: p.lineStart, lineEnd: p.lineEnd, text: p.text })
            .run();
      }
      tx.insert(docIndexes)
        .values({ projectId: project.id, sourcesHash: hash, indexedAt: new Date() })
        .onConflictDoUpdate({ target: docIndexes.projectId, set: { sourcesHash: hash, indexedAt: new Date() } })
        .run();
    },
    { behavior: "immediate" },
  );
}

interface PathMatch {
  source: string;
  path: string;
  line: number;
  text: string;
}

/** Replaces the run's passages found under path sources with this search's matches. */
function indexRunPassages(db: Db, projectId: string, runId: string, matches: PathMatch[]): void {
  db.transaction(
    (tx) => {
      tx.delete(docPassages)
        .where(and(eq(docPassages.projectId, projectId), eq(docPassages.runId, runId)))
        .run();
      for (const m of matches)
        tx.insert(docPassages)
          .values({ projectId, runId, source: m.source, path: m.path, lineStart: m.line, lineEnd: m.line, text: m.text.slice(0, MAX_PASSAGE) })
          .run();
    },
    { behavior: "immediate" },
  );
}

interface RankedRow {
  source: string;
  path: string | null;
  lineStart: number;
  lineEnd: number;
  text: string;
  score: number;
}

/** The project's passages (and, with a run, that run's) best first. */
export function rankDocPassages(db: Db, projectId: string, runId: string | null, query: string, limit = MAX_RESULTS): DocHit[] {
  const match = ftsAnyOfExpression(queryTerms(query));
  if (!match) return [];
  const rows = db.$client
    .prepare(
      `SELECT d.source AS source, d.path AS path, d.line_start AS lineStart, d.line_end AS lineEnd, d.text AS text, bm25(search_doc_passages) AS score
       FROM search_doc_passages JOIN doc_passages d ON d.id = search_doc_passages.rowid
       WHERE search_doc_passages MATCH ? AND d.project_id = ? AND (d.run_id IS NULL OR d.run_id = ?)
       ORDER BY score LIMIT ?`,
    )
    .all(match, projectId, runId, limit) as RankedRow[];
  return rows.map((r) => {
    const where = r.path ?? r.source;
    const lines = r.lineStart === r.lineEnd ? `${r.lineStart}` : `${r.lineStart}-${r.lineEnd}`;
    return {
      source: r.source,
      ...(r.path ? { path: r.path } : {}),
      line: r.lineStart,
      lineStart: r.lineStart,
      lineEnd: r.lineEnd,
      citation: `${where}:${lines}`,
      text: r.text,
      score: Math.round(-r.score * 1000) / 1000,
    };
  });
}

/** A Python regex (the sandbox's search helper) matching any of the words, case-insensitively. */
function termsPattern(terms: string[]): string {
  return `(?i)(${terms.map((t) => t.replace(/[^\p{L}\p{N}_]/gu, (c) => `\\${c}`)).join("|")})`;
}

export async function searchProjectDocs(
  db: Db,
  runId: string,
  runtime: SandboxRuntime,
  containerId: string,
  query: string,
): Promise<{ results: DocHit[]; sources: number; note?: string }> {
  const run = findRun(db, runId);
  const project = projectOfRun(db, run ?? { projectId: null });
  const sources = project.docSources;
  if (sources.length === 0) return { results: [], sources: 0, note: `No documentation sources are configured for the project ${project.name}.` };
  const terms = queryTerms(query);
  if (terms.length === 0) return { results: [], sources: sources.length, note: "The query has no words to search for." };
  refreshProjectDocIndex(db, project);
  const matches: PathMatch[] = [];
  for (const source of sources) {
    if (source.kind !== "path" || !source.path) continue;
    try {
      const found = await searchFiles(runtime, containerId, termsPattern(terms), source.path, undefined, { maxMatches: MAX_PATH_MATCHES });
      for (const m of found.matches) matches.push({ source: source.title, path: m.path, line: m.line, text: m.text });
    } catch {
      // A documentation path missing from this workspace is not the agent's error.
    }
  }
  if (run) indexRunPassages(db, project.id, run.id, matches);
  return { results: rankDocPassages(db, project.id, run?.id ?? null, query), sources: sources.length };
}
