"use client";
// Search across runs (events, command output, changed files), the audit trail
// and project docs. The form edits a draft; the URL (and the query) changes on
// submit. Snippets come with delimiter characters around each match, turned
// into <mark> elements here as React text: a hit can never inject markup.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useId, useState, type FormEvent } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/empty-state";
import { SelectField, TextField } from "@/components/ui/field";
import { FilterIcon, SearchIcon } from "@/components/ui/icons";
import { LocalTime } from "@/components/ui/local-time";
import { PageHeader } from "@/components/ui/page-header";
import { SkeletonRows } from "@/components/ui/skeleton";
import { EMPTY_SEARCH, KIND_OPTIONS, searchFromParams, searchToInput, searchToParams, type SearchValues } from "@/components/search/params";
import { cn } from "@/lib/cn";
import { errorMessage } from "@/lib/errors";
import { parseIsoDate, toDateTimeLocal } from "@/lib/format";
import { snippetParts } from "@/lib/search-marks";
import { useTRPC } from "@/lib/trpc/client";

const KIND_LABEL: Record<string, string> = Object.fromEntries(KIND_OPTIONS.map((o) => [o.value, o.label.replace(/s$/, "")]));

const TOOLS = [
  "run_command",
  "read_file",
  "write_file",
  "edit_file",
  "list_files",
  "search_files",
  "run_tests",
  "install_package",
  "http_fetch",
  "search_docs",
  "request_secret",
  "start_service",
  "finish",
];

export function SearchView() {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const applied = searchFromParams(new URLSearchParams(params.toString()));
  const appliedKey = searchToParams(applied).toString();
  const input = searchToInput(applied);

  const results = useQuery({ ...trpc.search.query.queryOptions(input), enabled: input.q.length > 0 });

  function navigate(next: SearchValues) {
    const qs = searchToParams(next).toString();
    router.push(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  }

  return (
    <>
      <PageHeader
        title="Search"
        description="Find what happened in any run: model messages, tool calls, command output, changed files, the audit trail and project docs."
      />
      {/* Re-mounted when the URL changes so the form shows what is applied. */}
      <SearchForm key={appliedKey} value={applied} onApply={navigate} />

      <section aria-label="Results" aria-live="polite" className="mt-4">
        {!input.q ? (
          <EmptyState icon={<SearchIcon size={24} />} title="Search runs, output, files and the audit trail">
            <p>Words match whole; the last one also matches as the start of a word. Quotes, operators and punctuation are searched as plain text.</p>
          </EmptyState>
        ) : results.isPending ? (
          <SkeletonRows rows={5} label="Searching…" />
        ) : results.error ? (
          <InlineAlert title="The search failed">
            <p>{errorMessage(results.error)}</p>
          </InlineAlert>
        ) : results.data.items.length === 0 ? (
          <EmptyState icon={<SearchIcon size={24} />} title="No matches">
            <p>Try fewer or other words, or remove a filter.</p>
          </EmptyState>
        ) : (
          <>
            <p className="mb-2 text-sm text-fg-muted">
              {results.data.items.length} match{results.data.items.length === 1 ? "" : "es"}, best first
            </p>
            <ol className="space-y-2" data-testid="search-results">
              {results.data.items.map((hit, i) => (
                <li key={`${hit.href}-${i}`}>
                  <Link
                    href={hit.href}
                    className="block rounded-xl border border-border bg-surface px-3 py-2.5 shadow-xs hover:border-border-strong focus-visible:outline-2 focus-visible:outline-accent sm:px-4"
                    data-testid="search-hit"
                  >
                    <span className="flex flex-wrap items-center gap-x-2 gap-y-1 text-xs text-fg-muted">
                      <Badge>{KIND_LABEL[hit.kind] ?? hit.kind}</Badge>
                      {hit.title ? <span className="min-w-0 truncate font-medium text-fg">{hit.title}</span> : null}
                      {hit.tool ? <code className="text-[11px]">{hit.tool}</code> : null}
                      {hit.kind !== "doc" ? <LocalTime date={new Date(hit.at)} format="relative" className="ml-auto" /> : null}
                    </span>
                    <Snippet text={hit.snippet} />
                  </Link>
                </li>
              ))}
            </ol>
          </>
        )}
      </section>
    </>
  );
}

function Snippet({ text }: { text: string }) {
  return (
    <span className="mt-1 block font-mono text-xs break-words whitespace-pre-wrap text-fg">
      {snippetParts(text).map((part, i) =>
        part.marked ? (
          <mark key={i} className="rounded-sm bg-accent-soft px-0.5 text-fg">
            {part.text}
          </mark>
        ) : (
          <span key={i}>{part.text}</span>
        ),
      )}
    </span>
  );
}

interface Draft extends SearchValues {
  afterLocal: string;
  beforeLocal: string;
}

function SearchForm({ value, onApply }: { value: SearchValues; onApply: (v: SearchValues) => void }) {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const toolsId = useId();
  const local = (iso: string) => {
    const d = parseIsoDate(iso);
    return d ? toDateTimeLocal(d) : "";
  };
  const [draft, setDraft] = useState<Draft>(() => ({ ...value, afterLocal: local(value.after), beforeLocal: local(value.before) }));
  const activeFilters = [value.project, value.run, value.tool, value.after, value.before].filter(Boolean).length + (value.kinds.length ? 1 : 0);
  const [filtersOpen, setFiltersOpen] = useState(activeFilters > 0);
  const [error, setError] = useState<string | null>(null);
  const set = (key: keyof Draft) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setDraft((d) => ({ ...d, [key]: e.target.value }));

  function submit(e: FormEvent) {
    e.preventDefault();
    const iso = (v: string) => (v && !Number.isNaN(new Date(v).getTime()) ? new Date(v).toISOString() : "");
    const next: SearchValues = { ...draft, after: iso(draft.afterLocal), before: iso(draft.beforeLocal) };
    if (!next.q.trim()) {
      setError("Type something to search for.");
      return;
    }
    if (next.after && next.before && next.after >= next.before) {
      setError("“After” must be earlier than “Before”.");
      return;
    }
    setError(null);
    onApply(next);
  }

  function toggleKind(kind: SearchValues["kinds"][number]) {
    setDraft((d) => ({ ...d, kinds: d.kinds.includes(kind) ? d.kinds.filter((k) => k !== kind) : [...d.kinds, kind] }));
  }

  return (
    <form onSubmit={submit} role="search" aria-label="Search" className="rounded-xl border border-border bg-surface p-3 sm:p-4">
      <div className="flex gap-2">
        <TextField
          label="Search for"
          type="search"
          name="q"
          placeholder="a command, an error, a file name…"
          value={draft.q}
          onChange={set("q")}
          error={error ?? undefined}
          fieldClassName="min-w-0 flex-1"
          autoCapitalize="none"
          spellCheck={false}
          maxLength={500}
        />
        <div className="flex items-start pt-6">
          <Button type="submit">
            <SearchIcon size={16} />
            Search
          </Button>
        </div>
      </div>
      <fieldset className="mt-3">
        <legend className="mb-1.5 text-sm font-medium text-fg">Look in</legend>
        <div className="flex flex-wrap gap-2">
          {KIND_OPTIONS.map((o) => {
            const on = draft.kinds.includes(o.value);
            return (
              <button
                key={o.value}
                type="button"
                aria-pressed={on}
                onClick={() => toggleKind(o.value)}
                className={cn(
                  "min-h-9 rounded-full border px-3 text-sm",
                  on ? "border-accent bg-accent-soft text-fg" : "border-border bg-surface text-fg-muted hover:text-fg",
                )}
              >
                {o.label}
              </button>
            );
          })}
          <span className="self-center text-xs text-fg-muted">{draft.kinds.length ? "" : "(everything)"}</span>
        </div>
      </fieldset>
      <Button
        variant="ghost"
        size="sm"
        className="mt-2 text-fg"
        aria-expanded={filtersOpen}
        aria-controls="search-filters"
        onClick={() => setFiltersOpen((o) => !o)}
      >
        <FilterIcon size={16} />
        Filters
        {activeFilters ? <span className="rounded-full bg-accent px-1.5 text-[11px] text-accent-fg">{activeFilters}</span> : null}
      </Button>
      <div id="search-filters" hidden={!filtersOpen} className="mt-2 grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
        <SelectField label="Project" value={draft.project} onChange={set("project")}>
          <option value="">All projects</option>
          {(projects.data?.items ?? []).map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </SelectField>
        <TextField label="Run id" value={draft.run} onChange={set("run")} placeholder="Any run" autoCapitalize="none" spellCheck={false} />
        <TextField label="Tool" value={draft.tool} onChange={set("tool")} placeholder="Any tool" list={toolsId} autoCapitalize="none" spellCheck={false} />
        <datalist id={toolsId}>
          {TOOLS.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <TextField label="After" type="datetime-local" value={draft.afterLocal} onChange={set("afterLocal")} />
        <TextField label="Before" type="datetime-local" value={draft.beforeLocal} onChange={set("beforeLocal")} />
        <div className="flex items-end">
          <Button
            variant="secondary"
            onClick={() => {
              setDraft({ ...EMPTY_SEARCH, q: draft.q, afterLocal: "", beforeLocal: "" });
              onApply({ ...EMPTY_SEARCH, q: draft.q });
            }}
          >
            Clear filters
          </Button>
        </div>
      </div>
    </form>
  );
}
