// The search page's state lives in the URL (shareable, back button works):
// q, kinds, project, run, tool, after, before.
import type { SearchKind } from "@/server/search/search";

export const KIND_OPTIONS: { value: SearchKind; label: string }[] = [
  { value: "event", label: "Events" },
  { value: "output", label: "Output" },
  { value: "file", label: "Files" },
  { value: "audit", label: "Audit" },
  { value: "doc", label: "Docs" },
];

export interface SearchValues {
  q: string;
  kinds: SearchKind[];
  project: string;
  run: string;
  tool: string;
  /** ISO times, or "". */
  after: string;
  before: string;
}

export const EMPTY_SEARCH: SearchValues = { q: "", kinds: [], project: "", run: "", tool: "", after: "", before: "" };

const isKind = (k: string): k is SearchKind => KIND_OPTIONS.some((o) => o.value === k);

export function searchFromParams(p: URLSearchParams): SearchValues {
  return {
    q: p.get("q") ?? "",
    kinds: (p.get("kinds") ?? "").split(",").filter(isKind),
    project: p.get("project") ?? "",
    run: p.get("run") ?? "",
    tool: p.get("tool") ?? "",
    after: p.get("after") ?? "",
    before: p.get("before") ?? "",
  };
}

export function searchToParams(v: SearchValues): URLSearchParams {
  const p = new URLSearchParams();
  if (v.q.trim()) p.set("q", v.q.trim());
  if (v.kinds.length) p.set("kinds", v.kinds.join(","));
  for (const key of ["project", "run", "tool", "after", "before"] as const) if (v[key].trim()) p.set(key, v[key].trim());
  return p;
}

const validDate = (s: string) => (s && !Number.isNaN(new Date(s).getTime()) ? new Date(s) : undefined);

/** search.query's input for the page's values. */
export function searchToInput(v: SearchValues) {
  return {
    q: v.q.trim(),
    ...(v.kinds.length ? { kinds: v.kinds } : {}),
    ...(v.project ? { projectId: v.project } : {}),
    ...(v.run.trim() ? { runId: v.run.trim() } : {}),
    ...(v.tool.trim() ? { tool: v.tool.trim() } : {}),
    ...(validDate(v.after) ? { after: validDate(v.after) } : {}),
    ...(validDate(v.before) ? { before: validDate(v.before) } : {}),
    limit: 50,
  };
}
