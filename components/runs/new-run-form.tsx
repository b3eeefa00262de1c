"use client";
// Starting a run: the task, the agent (the built-in one with a model endpoint,
// or an external agent over MCP), step mode, an optional test command and
// limits that can only be lowered. The server's own words are shown when it
// refuses; on success the run page opens, or for an external run the MCP
// URL and run token are shown once.
import { useMutation, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useId, useState, type FormEvent } from "react";
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

export function NewRunForm({ isAdmin }: { isAdmin: boolean }) {
  const trpc = useTRPC();
  const router = useRouter();
  const models = useQuery(trpc.models.list.queryOptions());
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
  const modelItems = models.data?.items ?? [];
  // Until someone picks, the first endpoint is preselected.
  const modelId = modelChoice ?? modelItems[0]?.id ?? "";

  function submit(e: FormEvent) {
    e.preventDefault();
    const chosen: Partial<Record<LimitKey, number>> = {};
    for (const f of LIMIT_FIELDS) {
      const raw = limits[f.key].trim();
      if (raw !== "") chosen[f.key] = Number(raw);
    }
    create.mutate({
      title,
      task,
      agent,
      modelId: agent === "builtin" ? modelId || undefined : undefined,
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
        <form onSubmit={submit} aria-label="New run" className="space-y-5">
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
              hint="The model the built-in agent talks to."
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
            placeholder="npm test"
            spellCheck={false}
            autoCapitalize="none"
            className="font-mono"
            hint="What run_tests runs inside the sandbox."
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
                <span className="ml-2 font-normal text-fg-muted">1024 MB · 1 CPU · 256 pids · 120 s per command · 3600 s per run</span>
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
                    placeholder={String(f.max)}
                    value={limits[f.key]}
                    onChange={(e) => setLimits((l) => ({ ...l, [f.key]: e.target.value }))}
                    hint={`Default ${f.max}; at least ${f.min}.`}
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
            <Button type="submit" loading={create.isPending || create.isSuccess} disabled={noModels && !external}>
              Start run
            </Button>
          </div>
        </form>
      </CardBody>
    </Card>
  );
}
