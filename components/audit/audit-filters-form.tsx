"use client";
// The filter form. It edits a draft; the URL changes (and the list reloads)
// only on "Apply", so typing doesn't fire a request per keystroke.
import { useId, useState, type FormEvent } from "react";
import { Button } from "@/components/ui/button";
import { TextField } from "@/components/ui/field";
import { parseIsoDate, toDateTimeLocal } from "@/lib/format";
import { KNOWN_ACTIONS, type AuditFilterValues } from "@/components/audit/filters";

interface Draft {
  actor: string;
  action: string;
  target: string;
  from: string; // datetime-local value
  to: string;
}

function toDraft(f: AuditFilterValues): Draft {
  const from = parseIsoDate(f.from);
  const to = parseIsoDate(f.to);
  return { actor: f.actor, action: f.action, target: f.target, from: from ? toDateTimeLocal(from) : "", to: to ? toDateTimeLocal(to) : "" };
}

function fromDraft(d: Draft): AuditFilterValues {
  const local = (v: string) => (v ? new Date(v) : null);
  const from = local(d.from);
  const to = local(d.to);
  return {
    actor: d.actor.trim(),
    action: d.action.trim(),
    target: d.target.trim(),
    from: from && !Number.isNaN(from.getTime()) ? from.toISOString() : "",
    // "To 10:05" means up to the end of that minute.
    to: to && !Number.isNaN(to.getTime()) ? new Date(to.getTime() + 59_999).toISOString() : "",
  };
}

export function AuditFiltersForm({ value, onApply, onClear }: { value: AuditFilterValues; onApply: (f: AuditFilterValues) => void; onClear: () => void }) {
  const [draft, setDraft] = useState<Draft>(() => toDraft(value));
  const [rangeError, setRangeError] = useState<string | null>(null);
  const listId = useId();
  const set = (key: keyof Draft) => (e: React.ChangeEvent<HTMLInputElement>) => setDraft((d) => ({ ...d, [key]: e.target.value }));

  function submit(e: FormEvent) {
    e.preventDefault();
    const next = fromDraft(draft);
    if (next.from && next.to && next.from > next.to) {
      setRangeError("The start of the time range is after its end.");
      return;
    }
    setRangeError(null);
    onApply(next);
  }

  return (
    <form onSubmit={submit} aria-label="Audit filters" className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
      <TextField
        label="Actor"
        placeholder="alice@example.com"
        value={draft.actor}
        onChange={set("actor")}
        hint="Email (or part of it) or user id"
        autoCapitalize="none"
        spellCheck={false}
      />
      <TextField
        label="Action"
        placeholder="token.create or user.*"
        value={draft.action}
        onChange={set("action")}
        list={listId}
        hint="Exact action, or a family ending in .*"
        autoCapitalize="none"
        spellCheck={false}
      />
      <datalist id={listId}>
        {KNOWN_ACTIONS.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <TextField
        label="Target"
        placeholder="user:3f2a… or an id"
        value={draft.target}
        onChange={set("target")}
        hint="type:id, or just the id"
        autoCapitalize="none"
        spellCheck={false}
      />
      <TextField label="From" type="datetime-local" value={draft.from} onChange={set("from")} error={rangeError ?? undefined} />
      <TextField label="To" type="datetime-local" value={draft.to} onChange={set("to")} />
      <div className="flex items-end gap-2 sm:col-span-2 lg:col-span-1">
        <Button type="submit" className="flex-1 lg:flex-none">
          Apply filters
        </Button>
        <Button
          variant="secondary"
          onClick={() => {
            setDraft({ actor: "", action: "", target: "", from: "", to: "" });
            setRangeError(null);
            onClear();
          }}
        >
          Clear
        </Button>
      </div>
    </form>
  );
}
