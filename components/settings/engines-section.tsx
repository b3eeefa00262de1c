"use client";
// Settings → Engines (admins; the server refuses everyone else): the Docker
// engines runs are placed on, with what the last health check saw (reachable,
// API version, runtimes, the sandbox image), capacity, live runs, labels and
// the drain switch; forms to add and edit one. TLS material and ssh keys are
// write-only: the list says "stored", never shows them.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { ConfirmDialog } from "@/components/ui/dialog";
import { TextField } from "@/components/ui/field";
import { MonitorIcon } from "@/components/ui/icons";
import { LocalTime } from "@/components/ui/local-time";
import { SkeletonRows } from "@/components/ui/skeleton";
import { Switch } from "@/components/ui/switch";
import { TextAreaField } from "@/components/ui/textarea-field";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";

type Engine = inferRouterOutputs<AppRouter>["engines"]["list"]["items"][number];

const NAME_PATTERN = "[a-z0-9][a-z0-9\\-]{0,39}";
const gib = (mb: number) => `${Number((mb / 1024).toFixed(1))} GiB`;

function StatusBadge({ engine }: { engine: Engine }) {
  if (engine.healthy) return <Badge tone="success">Up</Badge>;
  if (engine.downSince) return <Badge tone="danger">Down</Badge>;
  if (engine.image.loading) return <Badge tone="warning">Loading image</Badge>;
  if (!engine.checkedAt) return <Badge>Not checked</Badge>;
  return <Badge tone="warning">Not ready</Badge>;
}

function imageText(engine: Engine): string {
  if (engine.image.loading) return "loading from the local engine…";
  if (engine.image.error && /has digest/.test(engine.image.error)) return "digest mismatch";
  if (engine.image.present) return engine.local ? "present" : "present, digest verified";
  if (engine.image.error) return "missing";
  return engine.checkedAt ? "missing" : "not checked yet";
}

function capacityText(engine: Engine): string {
  const c = engine.capacity;
  const parts = [
    c.runs !== null ? `${c.runs} runs` : "runs: derived",
    c.cpus !== null ? `${c.cpus} CPUs` : engine.ncpu !== null ? `${engine.ncpu} CPUs (all)` : "CPUs: derived",
    c.memoryMb !== null ? gib(c.memoryMb) : engine.memTotalMb !== null ? `${gib(engine.memTotalMb)} on the engine` : "memory: derived",
  ];
  return parts.join(" · ");
}

interface Draft {
  name: string;
  endpoint: string;
  labels: string;
  runs: string;
  cpus: string;
  memoryMb: string;
  ca: string;
  cert: string;
  key: string;
  privateKey: string;
  clearCredentials: boolean;
}

const EMPTY: Draft = {
  name: "",
  endpoint: "",
  labels: "",
  runs: "",
  cpus: "",
  memoryMb: "",
  ca: "",
  cert: "",
  key: "",
  privateKey: "",
  clearCredentials: false,
};

function draftOf(e: Engine): Draft {
  return {
    ...EMPTY,
    name: e.name,
    endpoint: e.endpoint,
    labels: e.labels.join(", "),
    runs: e.capacity.runs?.toString() ?? "",
    cpus: e.capacity.cpus?.toString() ?? "",
    memoryMb: e.capacity.memoryMb?.toString() ?? "",
  };
}

/** "" → null (derived from the engine); otherwise the number (NaN is refused by the server with its message). */
const numberOrNull = (text: string) => (text.trim() === "" ? null : Number(text.trim()));

function EngineForm({ editing, onDone }: { editing: Engine | null; onDone: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [d, setD] = useState<Draft>(editing ? draftOf(editing) : EMPTY);
  const set = (k: keyof Draft) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => setD({ ...d, [k]: e.target.value });
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.engines.list.queryKey() });
  const create = useMutation(trpc.engines.create.mutationOptions({ onSuccess: onDone, onSettled: invalidate }));
  const update = useMutation(trpc.engines.update.mutationOptions({ onSuccess: onDone, onSettled: invalidate }));
  const pending = create.isPending || update.isPending;
  const error = create.error ?? update.error;
  const local = editing?.local ?? false;
  const scheme = /^(tcp|ssh|unix):\/\//.exec(d.endpoint.trim())?.[1] ?? null;
  const stored = editing?.hasCredentials ? (editing.credentialsKind === "ssh" ? "An ssh key is stored." : "TLS material is stored.") : null;

  function submit(e: FormEvent) {
    e.preventDefault();
    const labels = d.labels
      .split(/[\s,]+/)
      .map((l) => l.trim())
      .filter(Boolean);
    const capacity = { runs: numberOrNull(d.runs), cpus: numberOrNull(d.cpus), memoryMb: numberOrNull(d.memoryMb) };
    const tls = scheme === "tcp" && (d.ca || d.cert || d.key) ? { ca: d.ca, cert: d.cert, key: d.key } : undefined;
    const ssh = scheme === "ssh" && d.privateKey ? { privateKey: d.privateKey } : undefined;
    if (editing) {
      update.mutate({
        name: editing.name,
        labels,
        capacity,
        ...(local ? {} : { endpoint: d.endpoint.trim(), tls, ssh, clearCredentials: d.clearCredentials || undefined }),
      });
    } else {
      create.mutate({ name: d.name.trim(), endpoint: d.endpoint.trim(), labels, capacity, tls, ssh });
    }
  }

  return (
    <form
      onSubmit={submit}
      aria-label={editing ? `Edit engine ${editing.name}` : "Add engine"}
      className="grid gap-3 rounded-lg border border-border p-3 sm:grid-cols-2 sm:p-4"
    >
      <h3 className="text-sm font-semibold sm:col-span-2">{editing ? `Edit ${editing.name}` : "Add an engine"}</h3>
      <TextField
        label="Name"
        required
        disabled={Boolean(editing)}
        pattern={NAME_PATTERN}
        title="Lower-case letters, digits and dashes"
        maxLength={40}
        value={d.name}
        onChange={set("name")}
        placeholder="gpu-1"
        autoComplete="off"
        spellCheck={false}
      />
      <TextField
        label="Endpoint"
        required
        disabled={local}
        maxLength={500}
        value={d.endpoint}
        onChange={set("endpoint")}
        placeholder="tcp://10.0.0.5:2376"
        autoComplete="off"
        spellCheck={false}
        hint="tcp://host:port with TLS client certificates, ssh://user@host, or unix:///path/to/docker.sock."
      />
      <TextField
        label="Labels"
        maxLength={500}
        value={d.labels}
        onChange={set("labels")}
        placeholder="gpu, big-memory"
        autoComplete="off"
        spellCheck={false}
        hint="Projects that require labels run only on engines that have them all."
        fieldClassName="sm:col-span-2"
      />
      <fieldset className="grid gap-3 sm:col-span-2 sm:grid-cols-3">
        <legend className="mb-1 text-sm font-medium">Capacity (empty: derived from the engine)</legend>
        <TextField label="Runs at once" inputMode="numeric" value={d.runs} onChange={set("runs")} maxLength={5} autoComplete="off" />
        <TextField label="CPUs" inputMode="decimal" value={d.cpus} onChange={set("cpus")} maxLength={8} autoComplete="off" />
        <TextField label="Memory (MB)" inputMode="numeric" value={d.memoryMb} onChange={set("memoryMb")} maxLength={9} autoComplete="off" />
      </fieldset>
      {!local && scheme === "tcp" ? (
        <fieldset className="grid gap-3 sm:col-span-2">
          <legend className="mb-1 text-sm font-medium">TLS client certificates (PEM)</legend>
          {stored ? <p className="text-sm text-fg-muted">{stored} Leave these empty to keep it; paste all three to replace it.</p> : null}
          <TextAreaField
            label="CA certificate"
            rows={3}
            value={d.ca}
            onChange={set("ca")}
            maxLength={65536}
            spellCheck={false}
            placeholder="-----BEGIN CERTIFICATE-----"
          />
          <TextAreaField
            label="Client certificate"
            rows={3}
            value={d.cert}
            onChange={set("cert")}
            maxLength={65536}
            spellCheck={false}
            placeholder="-----BEGIN CERTIFICATE-----"
          />
          <TextAreaField
            label="Client key"
            rows={3}
            value={d.key}
            onChange={set("key")}
            maxLength={65536}
            spellCheck={false}
            placeholder="-----BEGIN PRIVATE KEY-----"
            hint="Encrypted at rest; never shown again."
          />
        </fieldset>
      ) : null}
      {!local && scheme === "ssh" ? (
        <fieldset className="grid gap-3 sm:col-span-2">
          <legend className="mb-1 text-sm font-medium">ssh key</legend>
          {stored ? <p className="text-sm text-fg-muted">{stored} Leave it empty to keep it.</p> : null}
          <TextAreaField
            label="Private key"
            rows={4}
            value={d.privateKey}
            onChange={set("privateKey")}
            maxLength={65536}
            spellCheck={false}
            placeholder="-----BEGIN OPENSSH PRIVATE KEY-----"
            hint="Without a passphrase; encrypted at rest, never shown again."
          />
        </fieldset>
      ) : null}
      {editing && !local && editing.hasCredentials ? (
        <label className="flex items-center gap-2 text-sm sm:col-span-2">
          <input type="checkbox" checked={d.clearCredentials} onChange={(e) => setD({ ...d, clearCredentials: e.target.checked })} />
          Remove the stored credentials
        </label>
      ) : null}
      <div className="flex flex-wrap gap-2 sm:col-span-2">
        <Button type="submit" loading={pending}>
          {editing ? "Save engine" : "Add engine"}
        </Button>
        <Button type="button" variant="ghost" onClick={onDone}>
          Cancel
        </Button>
      </div>
      {error ? <InlineAlert className="sm:col-span-2">{errorMessage(error)}</InlineAlert> : null}
    </form>
  );
}

function EngineItem({ engine, onEdit, onDelete }: { engine: Engine; onEdit: () => void; onDelete: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // The switch follows the click at once; the list catches up (or the switch goes back, with the server's reason).
  const [draining, setDraining] = useState<boolean | null>(null);
  const drain = useMutation(
    trpc.engines.drain.mutationOptions({
      onSettled: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.engines.list.queryKey() });
        setDraining(null);
      },
    }),
  );
  const fromFile = engine.source === "file";
  return (
    <li className="rounded-lg border border-border p-3 sm:p-4" data-testid="engine-row" aria-labelledby={`engine-${engine.name}`}>
      <div className="flex flex-wrap items-center gap-2">
        <h3 id={`engine-${engine.name}`} className="font-mono text-sm font-semibold break-all">
          {engine.name}
        </h3>
        <StatusBadge engine={engine} />
        {(draining ?? engine.draining) ? <Badge tone="warning">Draining</Badge> : null}
        {engine.local ? <Badge tone="accent">Local</Badge> : null}
        {fromFile ? <Badge>From AIRLOCK_ENGINES</Badge> : null}
      </div>
      <p className="mt-1 font-mono text-xs break-all text-fg-muted">{engine.endpoint}</p>
      {engine.downSince ? (
        <p className="mt-2 text-sm text-danger" data-testid="engine-down">
          Unreachable since <LocalTime date={new Date(engine.downSince)} />
          {engine.error ? `: ${engine.error}` : null}
        </p>
      ) : !engine.healthy && engine.error ? (
        <p className="mt-2 text-sm text-warning" data-testid="engine-problem">
          {engine.error}
        </p>
      ) : null}
      <dl className="mt-3 grid gap-x-6 gap-y-1 text-sm sm:grid-cols-[9rem_1fr]">
        <dt className="text-fg-muted">API version</dt>
        <dd>{engine.apiVersion ?? "—"}</dd>
        <dt className="text-fg-muted">Runtimes</dt>
        <dd className="break-words">{engine.runtimes.length ? engine.runtimes.join(", ") : "—"}</dd>
        <dt className="text-fg-muted">Sandbox image</dt>
        <dd data-testid="engine-image">{imageText(engine)}</dd>
        <dt className="text-fg-muted">Capacity</dt>
        <dd>{capacityText(engine)}</dd>
        <dt className="text-fg-muted">Running runs</dt>
        <dd className="tabular-nums">{engine.running}</dd>
        <dt className="text-fg-muted">Labels</dt>
        <dd className="flex flex-wrap gap-1">
          {engine.labels.length ? engine.labels.map((l) => <Badge key={l}>{l}</Badge>) : <span className="text-fg-muted">none</span>}
        </dd>
        {!engine.local ? (
          <>
            <dt className="text-fg-muted">Credentials</dt>
            <dd>{engine.hasCredentials ? (engine.credentialsKind === "ssh" ? "ssh key stored" : "TLS stored") : "none"}</dd>
          </>
        ) : null}
        {engine.checkedAt ? (
          <>
            <dt className="text-fg-muted">Checked</dt>
            <dd>
              <LocalTime date={new Date(engine.checkedAt)} format="relative" />
            </dd>
          </>
        ) : null}
      </dl>
      <div className="mt-3 flex flex-wrap items-center gap-3 border-t border-border pt-3 max-sm:flex-col max-sm:items-stretch">
        <Switch
          label="Drain"
          description="Runs here finish; new runs go elsewhere."
          checked={draining ?? engine.draining}
          disabled={drain.isPending}
          onCheckedChange={(value) => {
            setDraining(value);
            drain.mutate({ name: engine.name, draining: value });
          }}
          className="sm:mr-auto"
        />
        {!fromFile ? (
          <Button variant="secondary" size="sm" aria-label={`Edit engine ${engine.name}`} onClick={onEdit}>
            Edit
          </Button>
        ) : (
          <span className="text-xs text-fg-muted">Edit it in the AIRLOCK_ENGINES file.</span>
        )}
        {!engine.local && !fromFile ? (
          <Button variant="danger-outline" size="sm" aria-label={`Delete engine ${engine.name}`} onClick={onDelete}>
            Delete
          </Button>
        ) : null}
      </div>
      {drain.error ? <InlineAlert className="mt-2">{errorMessage(drain.error)}</InlineAlert> : null}
    </li>
  );
}

export function EnginesSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery({ ...trpc.engines.list.queryOptions(), refetchInterval: 10_000 });
  const [form, setForm] = useState<{ editing: Engine | null } | null>(null);
  const [deleting, setDeleting] = useState<Engine | null>(null);
  const remove = useMutation(
    trpc.engines.delete.mutationOptions({
      onSuccess: () => setDeleting(null),
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.engines.list.queryKey() }),
    }),
  );

  return (
    <Card aria-labelledby="engines-title">
      <CardHeader
        titleId="engines-title"
        title="Engines"
        icon={<MonitorIcon size={18} />}
        description="The Docker engines runs are placed on. Airlock checks each one every few seconds, loads the sandbox image onto engines that lack it and verifies it by digest."
        actions={
          form ? null : (
            <Button size="sm" onClick={() => setForm({ editing: null })}>
              Add engine
            </Button>
          )
        }
      />
      <CardBody className="space-y-4">
        {form ? <EngineForm key={form.editing?.name ?? "new"} editing={form.editing} onDone={() => setForm(null)} /> : null}
        {list.isPending ? (
          <SkeletonRows rows={2} label="Loading engines…" />
        ) : list.isError ? (
          <InlineAlert title="Engines could not be loaded">{errorMessage(list.error)}</InlineAlert>
        ) : (
          <ul className="space-y-3" aria-label="Engines">
            {list.data.items.map((e) => (
              <EngineItem key={e.name} engine={e} onEdit={() => setForm({ editing: e })} onDelete={() => setDeleting(e)} />
            ))}
          </ul>
        )}
        {list.data && list.data.items.length === 1 ? (
          <p className="text-sm text-fg-muted">
            Only the local engine so far. Add one here or list them in the file AIRLOCK_ENGINES names (README, “Engines”).
          </p>
        ) : null}
      </CardBody>
      <ConfirmDialog
        open={deleting !== null}
        onOpenChange={(open) => {
          if (!open) {
            setDeleting(null);
            remove.reset();
          }
        }}
        title={`Delete engine ${deleting?.name ?? ""}?`}
        description="No run will be placed on it again and its stored credentials are removed. An engine with live runs cannot be deleted: drain it first."
        confirmLabel="Delete engine"
        pending={remove.isPending}
        error={remove.error ? errorMessage(remove.error) : null}
        onConfirm={() => deleting && remove.mutate({ name: deleting.name })}
      />
    </Card>
  );
}
