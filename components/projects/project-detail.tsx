"use client";
// One project: its settings (limits, test command, documentation sources)
// and members. Admins edit; everyone else reads.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState, type FormEvent } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button, buttonClasses } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { SelectField, TextField } from "@/components/ui/field";
import { UsersIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/page-header";
import { SkeletonRows } from "@/components/ui/skeleton";
import { Switch } from "@/components/ui/switch";
import { TextAreaField } from "@/components/ui/textarea-field";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { ProjectsIcon } from "@/components/policies/icons";
import { ReadOnlyNote } from "@/components/ui/read-only-note";
import { whoMayChange } from "@/lib/permissions";

type Project = inferRouterOutputs<AppRouter>["projects"]["get"];
type DocSource = Project["docSources"][number];

const LIMITS = [
  { key: "memoryMb", label: "Memory (MB)" },
  { key: "cpus", label: "CPUs" },
  { key: "pids", label: "Processes" },
  { key: "commandTimeoutS", label: "Command timeout (s)" },
  { key: "runTimeoutS", label: "Run timeout (s)" },
  { key: "maxToolCalls", label: "Tool calls per run" },
] as const;

export function ProjectDetail({ slug, isAdmin }: { slug: string; isAdmin: boolean }) {
  const trpc = useTRPC();
  const project = useQuery(trpc.projects.get.queryOptions({ id: slug }));
  if (project.isPending) return <SkeletonRows rows={5} label="Loading the project…" />;
  if (project.isError) return <InlineAlert title="The project could not be loaded">{errorMessage(project.error)}</InlineAlert>;
  const p = project.data;
  return (
    <>
      <PageHeader
        title={p.name}
        description={p.description || "No description."}
        actions={
          <Link href={p.isDefault ? "/policies" : `/policies?project=${p.slug}`} className={buttonClasses("secondary")}>
            Policy (version {p.policyVersion})
          </Link>
        }
      />
      <div className="space-y-6">
        {isAdmin ? <SettingsCard project={p} /> : <SettingsReadOnly project={p} />}
        <MembersCard project={p} isAdmin={isAdmin} />
      </div>
    </>
  );
}

const SETTINGS_DESCRIPTION = "What a new run in this project starts with. A run may still lower its own limits or name its own test command.";

/** Below admin: the settings as text and who may change them (issue 16), not greyed-out inputs. */
function SettingsReadOnly({ project: p }: { project: Project }) {
  const limits = LIMITS.filter((l) => p.defaultLimits[l.key] !== undefined);
  const rows: [string, string][] = [
    ["Test command (run_tests)", p.testCommand ?? "None (a run may name its own)"],
    ["Runs at once", p.maxConcurrentRuns === null ? "No project limit" : String(p.maxConcurrentRuns)],
    ["Default limits", limits.length ? limits.map((l) => `${l.label}: ${p.defaultLimits[l.key]}`).join(" · ") : "Airlock's defaults"],
    [
      "Escalation",
      p.escalateAfterMinutes === null
        ? "Off: a request waits for its usual reviewers until it expires."
        : `After ${p.escalateAfterMinutes} minute${p.escalateAfterMinutes === 1 ? "" : "s"} to ${p.escalateTo === "admins" ? "every admin" : "every reviewer and admin"}`,
    ],
    ["Isolation", p.runtime === "runsc" ? "gVisor required" : "AIRLOCK_RUNTIME decides"],
    ["Engine labels", p.engineLabels.length ? p.engineLabels.join(", ") : "None: runs may go to any engine"],
  ];
  return (
    <Card aria-labelledby="settings-title">
      <CardHeader titleId="settings-title" title="Settings" icon={<ProjectsIcon size={18} />} description={SETTINGS_DESCRIPTION} />
      <CardBody className="space-y-4">
        <ReadOnlyNote>{whoMayChange("projects")}</ReadOnlyNote>
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[12rem_1fr]" data-testid="project-settings-read-only">
          {rows.map(([label, value]) => (
            <div key={label} className="contents">
              <dt className="text-fg-muted">{label}</dt>
              <dd className="break-words">{value}</dd>
            </div>
          ))}
          <dt className="text-fg-muted">Documentation for search_docs</dt>
          <dd>
            {p.docSources.length === 0 ? (
              "None"
            ) : (
              <ul className="space-y-1">
                {p.docSources.map((s, i) => (
                  <li key={i} className="break-words">
                    <Badge>{s.kind}</Badge> <span className="font-medium">{s.title}</span>{" "}
                    <span className="text-fg-muted">
                      {s.kind === "path" ? s.path : `${(s.text ?? "").slice(0, 80)}${(s.text ?? "").length > 80 ? "…" : ""}`}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </dd>
        </dl>
      </CardBody>
    </Card>
  );
}

function SettingsCard({ project: p }: { project: Project }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState(p.name);
  const [description, setDescription] = useState(p.description);
  const [testCommand, setTestCommand] = useState(p.testCommand ?? "");
  const [limits, setLimits] = useState<Record<string, string>>(Object.fromEntries(LIMITS.map((l) => [l.key, String(p.defaultLimits[l.key] ?? "")])));
  const [sources, setSources] = useState<DocSource[]>(p.docSources);
  const [escalateAfter, setEscalateAfter] = useState(p.escalateAfterMinutes === null ? "" : String(p.escalateAfterMinutes));
  const [escalateTo, setEscalateTo] = useState<"admins" | "reviewers">(p.escalateTo);
  const [maxRuns, setMaxRuns] = useState(p.maxConcurrentRuns === null ? "" : String(p.maxConcurrentRuns));
  const [requireGvisor, setRequireGvisor] = useState(p.runtime === "runsc");
  const [engineLabels, setEngineLabels] = useState(p.engineLabels.join(", "));
  const [saved, setSaved] = useState(false);
  const update = useMutation(
    trpc.projects.update.mutationOptions({
      onSuccess: () => {
        setSaved(true);
        void queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() });
      },
    }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    setSaved(false);
    const defaultLimits = Object.fromEntries(
      Object.entries(limits)
        .filter(([, v]) => v.trim() !== "")
        .map(([k, v]) => [k, Number(v)]),
    );
    update.mutate({
      id: p.id,
      name,
      description,
      testCommand: testCommand || null,
      defaultLimits,
      docSources: sources,
      // Empty turns escalation off; the server says what is wrong with any other value.
      escalateAfterMinutes: escalateAfter.trim() === "" ? null : Number(escalateAfter),
      escalateTo,
      // Empty: no project limit (the instance's and users' limits still apply).
      maxConcurrentRuns: maxRuns.trim() === "" ? null : Number(maxRuns),
      runtime: requireGvisor ? "runsc" : null,
      // Comma- or space-separated; the server checks each label.
      engineLabels: engineLabels
        .split(/[\s,]+/)
        .map((l) => l.trim())
        .filter(Boolean),
    });
  }

  return (
    <Card aria-labelledby="settings-title">
      <CardHeader titleId="settings-title" title="Settings" icon={<ProjectsIcon size={18} />} description={SETTINGS_DESCRIPTION} />
      <CardBody>
        <form onSubmit={submit} className="space-y-5" aria-label="Project settings">
          <fieldset className="grid gap-3 sm:grid-cols-2">
            <TextField label="Name" required value={name} onChange={(e) => setName(e.target.value)} />
            <TextField label="Test command (run_tests)" placeholder="npm test" value={testCommand} onChange={(e) => setTestCommand(e.target.value)} />
            <TextAreaField label="Description" rows={2} value={description} onChange={(e) => setDescription(e.target.value)} fieldClassName="sm:col-span-2" />
            <TextField
              label="Runs at once"
              inputMode="numeric"
              placeholder="No project limit"
              hint="At most this many of the project's runs execute at once; the others wait in the queue. Empty: no project limit."
              value={maxRuns}
              onChange={(e) => setMaxRuns(e.target.value)}
            />
          </fieldset>
          <fieldset>
            <legend className="mb-2 text-sm font-semibold">Default limits (empty: Airlock&apos;s defaults)</legend>
            <div className="grid grid-cols-2 gap-3 md:grid-cols-3">
              {LIMITS.map((l) => (
                <TextField
                  key={l.key}
                  label={l.label}
                  inputMode="decimal"
                  value={limits[l.key] ?? ""}
                  onChange={(e) => setLimits((x) => ({ ...x, [l.key]: e.target.value }))}
                />
              ))}
            </div>
          </fieldset>
          <fieldset className="space-y-2">
            <legend className="text-sm font-semibold">Escalation</legend>
            <p className="text-sm text-fg-muted">
              {p.escalateAfterMinutes === null
                ? "Off: a request waits for its usual reviewers until it expires."
                : `A request still undecided after ${p.escalateAfterMinutes} minute${p.escalateAfterMinutes === 1 ? "" : "s"} is also sent to ${p.escalateTo === "admins" ? "every admin" : "every reviewer and admin"}, and marked escalated. It still expires as before.`}
            </p>
            <div className="grid gap-3 sm:grid-cols-2">
              <TextField
                label="Escalate after (minutes)"
                inputMode="numeric"
                placeholder="Off"
                hint="Empty: never escalate."
                value={escalateAfter}
                onChange={(e) => setEscalateAfter(e.target.value)}
              />
              <SelectField label="Escalate to" value={escalateTo} onChange={(e) => setEscalateTo(e.target.value as "admins" | "reviewers")}>
                <option value="admins">Admins</option>
                <option value="reviewers">Every reviewer and admin</option>
              </SelectField>
            </div>
          </fieldset>
          <fieldset className="space-y-2">
            <legend className="text-sm font-semibold">Isolation</legend>
            <Switch
              label="Require gVisor"
              checked={requireGvisor}
              onCheckedChange={setRequireGvisor}
              description="Runs of this project get their own kernel (gVisor, runsc) between the agent and the host. Where gVisor is not available they fail at start with the reason; they never fall back to runc. Off: AIRLOCK_RUNTIME decides (auto uses gVisor wherever it works)."
            />
          </fieldset>
          <fieldset className="space-y-2">
            <legend className="text-sm font-semibold">Placement</legend>
            <TextField
              label="Engine labels"
              placeholder="None: any engine"
              hint="A run of this project goes only to an engine carrying every one of these labels (comma-separated, e.g. gpu, big-memory). Until one has room, the run waits in the queue and says why."
              value={engineLabels}
              onChange={(e) => setEngineLabels(e.target.value)}
            />
          </fieldset>
          <DocSources sources={sources} onChange={setSources} />
          {update.error ? <InlineAlert>{errorMessage(update.error)}</InlineAlert> : null}
          {saved ? <InlineAlert tone="success">Saved.</InlineAlert> : null}
          <Button type="submit" loading={update.isPending}>
            Save settings
          </Button>
        </form>
      </CardBody>
    </Card>
  );
}

function DocSources({ sources, onChange }: { sources: DocSource[]; onChange: (s: DocSource[]) => void }) {
  const [kind, setKind] = useState<"path" | "text">("path");
  const [title, setTitle] = useState("");
  const [value, setValue] = useState("");
  function add() {
    if (!title.trim() || !value.trim()) return;
    onChange([...sources, kind === "path" ? { kind, title, path: value } : { kind, title, text: value }]);
    setTitle("");
    setValue("");
  }
  return (
    <fieldset className="space-y-2">
      <legend className="text-sm font-semibold">Documentation for search_docs</legend>
      {sources.length === 0 ? <p className="text-sm text-fg-muted">None yet: search_docs answers that no documentation is configured.</p> : null}
      <ul className="space-y-1.5">
        {sources.map((s, i) => (
          <li key={i} className="flex items-start justify-between gap-2 rounded-lg border border-border px-3 py-2 text-sm">
            <span className="min-w-0 break-words">
              <Badge>{s.kind}</Badge> <span className="font-medium">{s.title}</span>{" "}
              <span className="text-fg-muted">{s.kind === "path" ? s.path : `${(s.text ?? "").slice(0, 80)}${(s.text ?? "").length > 80 ? "…" : ""}`}</span>
            </span>
            <Button size="sm" variant="ghost" onClick={() => onChange(sources.filter((_, j) => j !== i))} aria-label={`Remove ${s.title}`}>
              Remove
            </Button>
          </li>
        ))}
      </ul>
      <div className="grid gap-2 sm:grid-cols-[9rem_1fr_2fr_auto] sm:items-end">
        <SelectField label="Kind" value={kind} onChange={(e) => setKind(e.target.value as "path" | "text")}>
          <option value="path">Workspace path</option>
          <option value="text">Text snippet</option>
        </SelectField>
        <TextField label="Title" value={title} onChange={(e) => setTitle(e.target.value)} />
        <TextField
          label={kind === "path" ? "Path under the workspace" : "Text"}
          placeholder={kind === "path" ? "docs/" : "How to run the tests…"}
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <Button variant="secondary" onClick={add}>
          Add
        </Button>
      </div>
    </fieldset>
  );
}

function MembersCard({ project: p, isAdmin }: { project: Project; isAdmin: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState("");
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() });
  const add = useMutation(trpc.projects.addMember.mutationOptions({ onSuccess: () => (setEmail(""), refresh()) }));
  const remove = useMutation(trpc.projects.removeMember.mutationOptions({ onSuccess: refresh }));
  return (
    <Card aria-labelledby="members-title">
      <CardHeader
        titleId="members-title"
        title="Members"
        icon={<UsersIcon size={18} />}
        description={
          p.members.length
            ? "Only these users (and admins) may start runs in this project."
            : "No members listed: every operator may start runs in this project."
        }
      />
      <CardBody className="space-y-3">
        <ul className="space-y-1.5">
          {p.members.map((m) => (
            <li key={m.userId} className="flex items-center justify-between gap-2 text-sm" data-testid="project-member">
              <span className="min-w-0 break-all">
                {m.email} <Badge>{m.role}</Badge>
              </span>
              {isAdmin ? (
                <Button
                  size="sm"
                  variant="ghost"
                  loading={remove.isPending && remove.variables?.userId === m.userId}
                  onClick={() => remove.mutate({ projectId: p.id, userId: m.userId })}
                >
                  Remove
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
        {isAdmin ? (
          <form
            className="flex flex-wrap items-end gap-2"
            onSubmit={(e) => {
              e.preventDefault();
              add.mutate({ projectId: p.id, email });
            }}
          >
            <TextField
              label="Add a member by email"
              type="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              fieldClassName="min-w-56 flex-1"
            />
            <Button type="submit" variant="secondary" loading={add.isPending}>
              Add
            </Button>
          </form>
        ) : (
          <ReadOnlyNote>{whoMayChange("projects")}</ReadOnlyNote>
        )}
        {add.error ? <InlineAlert>{errorMessage(add.error)}</InlineAlert> : null}
        {remove.error ? <InlineAlert>{errorMessage(remove.error)}</InlineAlert> : null}
      </CardBody>
    </Card>
  );
}
