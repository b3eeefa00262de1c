// search_docs: a small, local documentation search over the sources a
// project lists — text snippets kept with the project, and paths in the
// run's workspace (searched inside the sandbox, like search_files). Results
// are ranked by how many of the query's words a passage contains.
import type { Db } from "@/db/client";
import type { ProjectDocSource } from "@/db/schema";
import { projectOfRun } from "@/server/projects/projects";
import { searchFiles } from "@/server/sandbox/files";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { findRun } from "@/server/runs/lookup";

const MAX_RESULTS = 10;
const MAX_TERMS = 8;
const MAX_PASSAGE = 600;

export interface DocHit {
  source: string;
  path?: string;
  line?: number;
  text: string;
  score: number;
}

export function queryTerms(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}_]{2,}/gu) ?? [];
  return [...new Set(words)].slice(0, MAX_TERMS);
}

function score(text: string, terms: string[]): number {
  const lower = text.toLowerCase();
  return terms.filter((t) => lower.includes(t)).length;
}

/** Paragraphs of text snippets that mention the query's words. */
export function searchTextSources(sources: ProjectDocSource[], query: string): DocHit[] {
  const terms = queryTerms(query);
  if (terms.length === 0) return [];
  const hits: DocHit[] = [];
  for (const source of sources) {
    if (source.kind !== "text" || !source.text) continue;
    for (const paragraph of source.text.split(/\n\s*\n/)) {
      const s = score(paragraph, terms);
      if (s > 0) hits.push({ source: source.title, text: paragraph.trim().slice(0, MAX_PASSAGE), score: s });
    }
  }
  return hits.sort((a, b) => b.score - a.score).slice(0, MAX_RESULTS);
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
  const hits = searchTextSources(sources, query);
  for (const source of sources) {
    if (source.kind !== "path" || !source.path) continue;
    try {
      const found = await searchFiles(runtime, containerId, termsPattern(terms), source.path, undefined, { maxMatches: 100 });
      for (const m of found.matches)
        hits.push({ source: source.title, path: m.path, line: m.line, text: m.text.slice(0, MAX_PASSAGE), score: score(m.text, terms) });
    } catch {
      // A documentation path missing from this workspace is not the agent's error.
    }
  }
  return { results: hits.sort((a, b) => b.score - a.score).slice(0, MAX_RESULTS), sources: sources.length };
}
