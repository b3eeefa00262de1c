"use client";
// Starting a run: the task, the project (its policy and defaults), where the
// workspace starts from (empty, a git repository under the allowed roots, or
// an uploaded archive), the agent (the built-in one with a model endpoint —
// the last one used is preselected — or an external agent over MCP), step
// mode, an optional test command and limits that can only be lowered. The server's own words are shown when it
// refuses; on success the run page opens, or for an external run the MCP
// URL and run token are shown once.
import { useMutation, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useId, useState, type FormEvent } from "react";
import type { Role } from "@/db/schema";
import { projectRunDenial } from "@/lib/permissions";
import { formatBytes } from "@/lib/format";
import { InlineAlert } from "@/components/ui/alert";
import { Button, buttonClasses } from "@/components/ui/button";
import { Card, CardBody } from "@/components/ui/card";
import { SelectField, TextField } from "@/components/ui/field";
import { ChevronDownIcon } from "@/components/ui/icons";
import { Segmented } from "@/components/ui/segmented";
import { Skeleton } from "@/components/ui/skeleton";
import { Switch } from "@/components/ui/switch";
import { TextAreaField } from "@/components/ui/textarea-field";
import { cn } from "@/lib/cn";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { ExternalAgentConnect } from "@/components/runs/external-agent-connect";

/** The server's defaults (server/runs/limits.ts); a run may lower them, never raise them. */
export const LIMIT_FIELDS = [
  { key: "memoryMb", label: "Memory (MB)", max: 1024, min: 64, step: 1 },
  { key: "cpus", label: "CPUs", max: 1, min: 0.1, step: 0.1 },
  { key: "pids", label: "Processes (pids)", max: 256, min: 16, step: 1 },
  { key: "commandTimeoutS", label: "Command timeout (s)", max: 120, min: 1, step: 1 },
  { key: "runTimeoutS", label: "Run timeout (s)", max: 3600, min: 10, step: 1 },
] as const;

type LimitKey = (typeof LIMIT_FIELDS)[number]["key"];

type SourceKind = "empty" | "git" | "archive";

/** POST /api/uploads: the archive as the raw body; answers its id or the server's words. */
async function uploadArchive(file: File): Promise<{ id: string }> {
  const res = await fetch(`/api/uploads?name=${encodeURIComponent(file.name)}`, {
    method: "POST",
    body: file,
    headers: { "content-type": "application/octet-stream" },
  });
  const body = (await res.json().catch(() => null)) as { id?: string; error?: { message?: string } } | null;
  if (!res.ok || !body?.id) throw new Error(body?.error?.message ?? `The upload failed (HTTP ${res.status}).`);
  return { id: body.id };
}

export function NewRunForm({ isAdmin, user }: { isAdmin: boolean; user?: { id: string; role: Role } }) {
  const trpc = useTRPC();
  const router = useRouter();
  const models = useQuery(trpc.models.list.queryOptions());
  const projects = useQuery(trpc.projects.list.queryOptions());
  const roots = useQuery(trpc.runs.sourceRoots.queryOptions());
  const [projectChoice, setProjectChoice] = useState<string | null>(null);
  const [sourceKind, setSourceKind] = useState<SourceKind>("empty");
  const [repoPath, setRepoPath] = useState("");
  const [repoRef, setRepoRef] = useState("");
  const [archive, setArchive] = useState<File | null>(null);
  const [uploading, setUploading] = useState(false);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [title, setTitle] = useState("");
  const [task, setTask] = useState("");
  const [agent, setAgent] = useState<"builtin" | "external">("builtin");
  const [modelChoice, setModelChoice] = useState<string | null>(null);
  const [stepMode, setStepMode] = useState(false);
  const [testCommand, setTestCommand] = useState("");
  const [limitsOpen, setLimitsOpen] = useState(false);
  const [limits, setLimits] = useState<Record<LimitKey, string>>({ memoryMb: "", cpus: "", pids: "", commandTimeoutS: "", runTimeoutS: "" });
  const limitsId = useId();

  const create = useMutation(
    trpc.runs.create.mutationOptions({
      // An external run stays here: its token is shown once, below.
      onSuccess: (created) => {
        if (!created.mcpToken) router.push(`/runs/${created.id}`);
      },
    }),
  );
  // Retired endpoints stay listed for the runs that used them, never for a new run.
  const modelItems = (models.data?.items ?? []).filter((m) => !m.retired);
  // Until someone picks: the endpoint of the user's latest run, else the first.
  const lastUsed = models.data?.lastUsedId;
  const modelId = modelChoice ?? (modelItems.find((m) => m.id === lastUsed) ?? modelItems[0])?.id ?? "";

  // Projects the user may start runs in (the server checks again: projectRunDenial).
  const projectItems = (projects.data?.items ?? []).filter(
    (p) => !user || projectRunDenial(user, { name: p.name, memberIds: p.members.map((m) => m.userId) }) === null,
  );
  const project = projectItems.find((p) => p.id === projectChoice) ?? projectItems.find((p) => p.isDefault) ?? projectItems[0];
  const projectDefaults = project?.defaultLimits ?? {};
  const repoRoots = roots.data?.repoRoots ?? [];

  async function submit(e: FormEvent) {
    e.preventDefault();
    setUploadError(null);
    const chosen: Partial<Record<LimitKey, number>> = {};
    for (const f of LIMIT_FIELDS) {
      const raw = limits[f.key].trim();
      if (raw !== "") chosen[f.key] = Number(raw);
    }
    let source: { type: "empty" } | { type: "git"; path: string; ref?: string } | { type: "archive"; uploadId: string } | undefined;
    if (sourceKind === "git") source = { type: "git", path: repoPath.trim(), ...(repoRef.trim() ? { ref: repoRef.trim() } : {}) };
    if (sourceKind === "archive") {
      if (!archive) return setUploadError("Choose an archive (.tar, .tar.gz or .zip) to start the workspace from.");
      setUploading(true);
      try {
        source = { type: "archive", uploadId: (await uploadArchive(archive)).id };
      } catch (err) {
        return setUploadError((err as Error).message);
      } finally {
        setUploading(false);
      }
    }
    create.mutate({
      title,
      task,
      agent,
      modelId: agent === "builtin" ? modelId || undefined : undefined,
      ...(project ? { projectId: project.id } : {}),
      ...(source ? { source } : {}),
      stepMode,
      ...(testCommand.trim() ? { testCommand: testCommand.trim() } : {}),
      ...(Object.keys(chosen).length ? { limits: chosen } : {}),
    });
  }

  const noModels = models.isSuccess && modelItems.length === 0;
  const external = agent === "external";

  if (create.data?.mcpToken && create.data.mcpUrl) {
    return (
      <ExternalAgentConnect runId={create.data.id} mcpUrl={create.data.mcpUrl} mcpToken={create.data.mcpToken} idleTimeoutS={create.data.mcpIdleTimeoutS} />
    );
  }

  return (
    <Card>
      <CardBody>
        <form onSubmit={(e) => void submit(e)} aria-label="New run" className="space-y-5">
          <TextField
            label="Title"
            required
            maxLength={200}
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            placeholder="Fix the failing date parser test"
          />
          <TextAreaField
            label="Task"
            required
            rows={6}
            maxLength={50_000}
            value={task}
            onChange={(e) => setTask(e.target.value)}
            hint="What the agent should do, as you would brief a colleague. It plans first; a reviewer approves the plan before anything changes."
          />

          {projects.isError ? (
            <InlineAlert title="Projects could not be loaded">{errorMessage(projects.error)}</InlineAlert>
          ) : projectItems.length > 1 ? (
            <SelectField
              label="Project"
              value={project?.id ?? ""}
              onChange={(e) => setProjectChoice(e.target.value)}
              hint={project ? projectHint(project) : undefined}
            >
              {projectItems.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </SelectField>
          ) : project ? (
            <p className="text-sm text-fg-muted">
              Project: <span className="font-medium text-fg">{project.name}</span> — {projectHint(project)}
            </p>
          ) : null}

          <fieldset className="space-y-2">
            <legend className="mb-1.5 block text-sm font-medium">Workspace</legend>
            <Segmented
              label="Workspace source"
              value={sourceKind}
              onChange={setSourceKind}
              options={[
                { value: "empty", label: "Empty" },
                { value: "git", label: "Git repository" },
                { value: "archive", label: "Archive" },
              ]}
            />
            {sourceKind === "empty" ? (
              <p className="text-xs text-fg-muted">The agent starts in an empty directory.</p>
            ) : sourceKind === "git" ? (
              <div className="grid gap-3 sm:grid-cols-[1fr_12rem]">
                <TextField
                  label="Repository path"
                  required
                  value={repoPath}
                  onChange={(e) => setRepoPath(e.target.value)}
                  placeholder={repoRoots[0] ? `${repoRoots[0]}/my-repo` : "/srv/repos/my-repo"}
                  spellCheck={false}
                  autoCapitalize="none"
                  className="font-mono"
                  hint={
                    repoRoots.length
                      ? `A repository on the Airlock server under ${repoRoots.join(", ")}. Its files at one commit are copied in; the repository itself is never changed.`
                      : "No repository roots are allowed on this server: an admin sets AIRLOCK_REPO_ROOTS to allow starting from local repositories."
                  }
                />
                <TextField
                  label="Branch, tag or commit"
                  value={repoRef}
                  onChange={(e) => setRepoRef(e.target.value)}
                  placeholder="HEAD"
                  spellCheck={false}
                  autoCapitalize="none"
                  className="font-mono"
                />
              </div>
            ) : (
              <ArchiveInput file={archive} onChange={setArchive} />
            )}
            {uploadError ? <InlineAlert title="The archive was not uploaded">{uploadError}</InlineAlert> : null}
          </fieldset>

          <div className="space-y-1.5">
            <span className="block text-sm font-medium">Agent</span>
            <Segmented
              label="Agent"
              value={agent}
              onChange={setAgent}
              options={[
                { value: "builtin", label: "Built-in (model endpoint)" },
                { value: "external", label: "External agent (MCP)" },
              ]}
            />
            <p className="text-xs text-fg-muted">
              {external
                ? "Bring your own agent (Claude Code or any MCP client): you get a URL and a run token to connect it. Its tools run in this run's sandbox under the same policy and approvals."
                : "Airlock's built-in agent works with an OpenAI-compatible model endpoint."}
            </p>
          </div>

          {external ? null : models.isPending ? (
            <div className="space-y-1.5" role="status">
              <span className="sr-only">Loading model endpoints…</span>
              <Skeleton className="h-4 w-28" />
              <Skeleton className="h-10 w-full" />
            </div>
          ) : models.isError ? (
            <InlineAlert title="Model endpoints could not be loaded">
              {errorMessage(models.error)}{" "}
              <Button size="sm" variant="secondary" className="mt-2" onClick={() => models.refetch()}>
                Try again
              </Button>
            </InlineAlert>
          ) : noModels ? (
            <InlineAlert tone="warning" title="No model endpoint yet">
              <p>A run needs an OpenAI-compatible model endpoint (Ollama, vLLM, llama.cpp, LM Studio, OpenAI…).</p>
              {isAdmin ? (
                <Link href="/settings#models-title" className={cn(buttonClasses("secondary", "sm"), "mt-2")}>
                  Add one in Settings
                </Link>
              ) : (
                <p className="mt-1">Ask an admin to add one in Settings.</p>
              )}
            </InlineAlert>
          ) : (
            <SelectField
              label="Model endpoint"
              required
              value={modelId}
              onChange={(e) => setModelChoice(e.target.value)}
              hint={
                lastUsed && modelId === lastUsed
                  ? "The model the built-in agent talks to; your latest run used this one."
                  : "The model the built-in agent talks to."
              }
            >
              {modelItems.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name} — {m.model}
                </option>
              ))}
            </SelectField>
          )}

          <Switch
            label="Step mode"
            description="Pause after every plan step until a reviewer says continue."
            checked={stepMode}
            onCheckedChange={setStepMode}
          />

          <TextField
            label="Test command (optional)"
            value={testCommand}
            maxLength={2000}
            onChange={(e) => setTestCommand(e.target.value)}
            placeholder={project?.testCommand ?? "npm test"}
            spellCheck={false}
            autoCapitalize="none"
            className="font-mono"
            hint={
              project?.testCommand
                ? `What run_tests runs inside the sandbox; empty: the project's ${project.testCommand}.`
                : "What run_tests runs inside the sandbox."
            }
          />

          <div className="rounded-xl border border-border">
            <button
              type="button"
              aria-expanded={limitsOpen}
              aria-controls={limitsId}
              onClick={() => setLimitsOpen((o) => !o)}
              className="flex w-full items-center justify-between gap-3 rounded-xl px-3 py-2.5 text-left text-sm font-medium hover:bg-surface-muted"
            >
              <span>
                Limits
                <span className="ml-2 font-normal text-fg-muted">{limitsSummary(projectDefaults)}</span>
              </span>
              <ChevronDownIcon size={16} className={cn("shrink-0 transition-transform", limitsOpen && "rotate-180")} />
            </button>
            <div id={limitsId} hidden={!limitsOpen} className="border-t border-border px-3 py-3">
              <p className="mb-3 text-xs text-fg-muted">Leave a field empty to keep its default. Limits can only be lowered, never raised.</p>
              <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
                {LIMIT_FIELDS.map((f) => (
                  <TextField
                    key={f.key}
                    label={f.label}
                    type="number"
                    inputMode="decimal"
                    min={f.min}
                    max={f.max}
                    step={f.step}
                    placeholder={String(projectDefaults[f.key] ?? f.max)}
                    value={limits[f.key]}
                    onChange={(e) => setLimits((l) => ({ ...l, [f.key]: e.target.value }))}
                    hint={`Default ${projectDefaults[f.key] ?? f.max}; at least ${f.min}.`}
                  />
                ))}
              </div>
            </div>
          </div>

          {create.error ? <InlineAlert title="The run was not started">{errorMessage(create.error)}</InlineAlert> : null}

          <div className="flex flex-col-reverse gap-2 sm:flex-row sm:justify-end">
            <Link href="/runs" className={buttonClasses("secondary")}>
              Cancel
            </Link>
            <Button type="submit" loading={uploading || create.isPending || create.isSuccess} disabled={noModels && !external}>
              Start run
            </Button>
          </div>
        </form>
      </CardBody>
    </Card>
  );
}

type ProjectItem = { name: string; testCommand: string | null; defaultLimits: Partial<Record<string, number>>; policyVersion: number };

/** The project's defaults in words: what the run gets unless the form lowers it. */
function projectHint(p: ProjectItem): string {
  const parts = [`policy v${p.policyVersion}`];
  if (p.testCommand) parts.push(`tests: ${p.testCommand}`);
  if (Object.keys(p.defaultLimits).length) parts.push(`limits: ${limitsSummary(p.defaultLimits)}`);
  return `Its policy and defaults apply (${parts.join("; ")}).`;
}

function limitsSummary(d: Partial<Record<string, number>>): string {
  const v = (key: LimitKey) => d[key] ?? LIMIT_FIELDS.find((f) => f.key === key)!.max;
  return `${v("memoryMb")} MB · ${v("cpus")} CPU · ${v("pids")} pids · ${v("commandTimeoutS")} s per command · ${v("runTimeoutS")} s per run`;
}

function ArchiveInput({ file, onChange }: { file: File | null; onChange: (file: File | null) => void }) {
  const id = useId();
  return (
    <div className="space-y-1.5">
      <label htmlFor={id} className="block text-sm font-medium">
        Archive
      </label>
      <input
        id={id}
        type="file"
        accept=".tar,.tar.gz,.tgz,.zip,application/x-tar,application/gzip,application/zip"
        aria-describedby={`${id}-hint`}
        onChange={(e) => onChange(e.target.files?.[0] ?? null)}
        className="block w-full text-sm file:mr-3 file:rounded-lg file:border file:border-border-strong file:bg-surface file:px-3 file:py-2 file:text-sm file:font-medium"
      />
      <p id={`${id}-hint`} className="text-xs text-fg-muted">
        {file
          ? `${file.name} (${formatBytes(file.size)}) is uploaded and checked entry by entry when you start the run.`
          : "A .tar, .tar.gz or .zip; it is checked entry by entry (regular files and folders only, no links or devices) and extracted into the workspace."}
      </p>
    </div>
  );
}
