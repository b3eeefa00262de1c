"use client";
// Model endpoints: admins register, test, edit and delete (or retire) OpenAI-compatible
// endpoints; the API key is encrypted and never shown again. Everyone else sees the
// list as text and who may change it.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useState, type FormEvent } from "react";
import type { AppRouter } from "@/server/api/root";
import { ConfirmDialog } from "@/components/ui/dialog";
import { ReadOnlyNote } from "@/components/ui/read-only-note";
import { whoMayChange } from "@/lib/permissions";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { SelectField, TextField } from "@/components/ui/field";
import { RunsIcon } from "@/components/ui/icons";
import { rt } from "@/components/ui/responsive-table";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { LocalTime } from "@/components/ui/local-time";

const PRESETS: Record<string, { baseUrl: string; model: string; note: string }> = {
  ollama: { baseUrl: "http://localhost:11434/v1", model: "llama3.1:8b", note: "Ollama needs the /v1 suffix." },
  vllm: { baseUrl: "http://localhost:8000/v1", model: "", note: "Start vLLM with --enable-auto-tool-choice and a --tool-call-parser." },
  llamacpp: { baseUrl: "http://localhost:8080/v1", model: "local", note: "Start llama-server with --jinja so it emits tool calls." },
  lmstudio: { baseUrl: "http://localhost:1234/v1", model: "", note: "Use the loaded model's id." },
  openai: { baseUrl: "https://api.openai.com/v1", model: "gpt-4o-mini", note: "Paste your API key; it is encrypted at rest." },
};

type ModelItem = inferRouterOutputs<AppRouter>["models"]["list"]["items"][number];

export function ModelsSection({ canManage }: { canManage: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const models = useQuery(trpc.models.list.queryOptions());
  const [preset, setPreset] = useState("ollama");
  const [name, setName] = useState("");
  const [baseUrl, setBaseUrl] = useState(PRESETS.ollama!.baseUrl);
  const [model, setModel] = useState(PRESETS.ollama!.model);
  const [apiKey, setApiKey] = useState("");
  const create = useMutation(
    trpc.models.create.mutationOptions({
      onSuccess: () => {
        setName("");
        setApiKey("");
      },
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.models.list.queryKey() }),
    }),
  );

  function choose(p: string) {
    setPreset(p);
    const chosen = PRESETS[p];
    if (chosen) {
      setBaseUrl(chosen.baseUrl);
      setModel(chosen.model);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({ name, baseUrl, model, apiKey: apiKey || undefined });
  }

  return (
    <Card aria-labelledby="models-title">
      <CardHeader
        titleId="models-title"
        title="Model endpoints"
        icon={<RunsIcon size={18} />}
        description="OpenAI-compatible chat-completions endpoints with tool calling (Ollama, vLLM, llama.cpp, LM Studio, OpenAI). Operators pick one when they start a run."
      />
      <CardBody className="space-y-5">
        {canManage ? null : <ReadOnlyNote>{whoMayChange("models")}</ReadOnlyNote>}
        {canManage ? (
          <form onSubmit={submit} aria-label="Add model endpoint" className="grid gap-3 sm:grid-cols-2">
            <SelectField label="Server kind" value={preset} onChange={(e) => choose(e.target.value)} hint={PRESETS[preset]?.note}>
              <option value="ollama">Ollama</option>
              <option value="vllm">vLLM</option>
              <option value="llamacpp">llama.cpp server</option>
              <option value="lmstudio">LM Studio</option>
              <option value="openai">OpenAI</option>
            </SelectField>
            <TextField
              label="Endpoint name"
              placeholder="local llama"
              required
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.target.value)}
              autoComplete="off"
            />
            <TextField label="Base URL" required value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} autoComplete="off" inputMode="url" />
            <TextField label="Model" required value={model} onChange={(e) => setModel(e.target.value)} autoComplete="off" />
            <TextField
              label="API key (optional)"
              type="password"
              value={apiKey}
              onChange={(e) => setApiKey(e.target.value)}
              autoComplete="new-password"
              hint="Stored encrypted; never shown again."
            />
            <div className="sm:col-span-2">
              <Button type="submit" loading={create.isPending}>
                Add endpoint
              </Button>
            </div>
            {create.error ? <InlineAlert className="sm:col-span-2">{errorMessage(create.error)}</InlineAlert> : null}
          </form>
        ) : null}

        {models.isPending ? (
          <SkeletonRows rows={2} label="Loading model endpoints…" />
        ) : models.isError ? (
          <InlineAlert title="Model endpoints could not be loaded">{errorMessage(models.error)}</InlineAlert>
        ) : models.data.items.length === 0 ? (
          <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">
            {canManage ? "No model endpoints yet. Add one above so operators can start runs." : "No model endpoints yet."}
          </p>
        ) : (
          <div className={rt.wrapper}>
            <table className={rt.table}>
              <caption className="sr-only">Model endpoints</caption>
              <thead className={rt.thead}>
                <tr>
                  <th scope="col" className={rt.th}>
                    Name
                  </th>
                  <th scope="col" className={rt.th}>
                    Base URL
                  </th>
                  <th scope="col" className={rt.th}>
                    Model
                  </th>
                  <th scope="col" className={rt.th}>
                    API key
                  </th>
                  <th scope="col" className={rt.th}>
                    Used
                  </th>
                  {canManage ? (
                    <th scope="col" className={rt.th}>
                      <span className="sr-only">Actions</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody className={rt.tbody}>
                {models.data.items.map((m) => (
                  <tr key={m.id} className={rt.row} data-testid="model-row">
                    <td className={`${rt.bareCell} font-medium break-all max-md:text-base`}>
                      {m.name}
                      {m.retired ? (
                        <Badge tone="neutral" className="ml-2 align-middle">
                          Retired
                        </Badge>
                      ) : null}
                    </td>
                    <td data-label="Base URL" className={`${rt.cell} break-all`}>
                      <code className="font-mono text-xs">{m.baseUrl}</code>
                    </td>
                    <td data-label="Model" className={`${rt.cell} break-all`}>
                      {m.model}
                    </td>
                    <td data-label="API key" className={rt.cell}>
                      {m.hasApiKey ? <Badge tone="success">Set</Badge> : <span className="text-fg-muted">None</span>}
                    </td>
                    <td data-label="Used" className={rt.cell}>
                      {m.runCount === 0 ? (
                        <span className="text-fg-muted">
                          Never · added <LocalTime date={m.createdAt} format="date" />
                        </span>
                      ) : (
                        <span>
                          {m.runCount} run{m.runCount === 1 ? "" : "s"}
                          {m.lastUsedAt ? (
                            <span className="text-fg-muted">
                              {" "}
                              · last <LocalTime date={m.lastUsedAt} format="date" />
                            </span>
                          ) : null}
                        </span>
                      )}
                    </td>
                    {canManage ? (
                      <td className={rt.cell}>
                        <EndpointActions model={m} />
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </CardBody>
    </Card>
  );
}

type TestResult = inferRouterOutputs<AppRouter>["models"]["test"];

/** What a connection test found, in words: the models listed and the latency, or what to check. */
function TestOutcome({ result, model }: { result: TestResult; model: string }) {
  if (result.ok) {
    const shown = result.models.slice(0, 8);
    return (
      <InlineAlert tone="success" title={`Connected in ${result.latencyMs} ms`}>
        <p>
          {result.totalModels === 0
            ? "The endpoint lists no models."
            : `${result.totalModels} model${result.totalModels === 1 ? "" : "s"} listed: ${shown.join(", ")}${result.totalModels > shown.length ? ", …" : ""}.`}
        </p>
        {result.totalModels > 0 && !result.modelListed ? (
          <p className="mt-1 text-warning">{model ? `"${model}" is not among them: check the model name.` : "Choose one of them as the model."}</p>
        ) : null}
      </InlineAlert>
    );
  }
  const title: Record<typeof result.problem, string> = {
    invalid_url: "The base URL is not valid",
    unreachable: "Unreachable",
    timeout: "Timed out",
    unauthorized: "The API key was refused",
    http: result.status ? `HTTP ${result.status}` : "The endpoint answered with an error",
    not_openai: "Not an OpenAI-compatible API",
  };
  return <InlineAlert title={title[result.problem]}>{result.message}</InlineAlert>;
}

function EndpointActions({ model }: { model: ModelItem }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.models.list.queryKey() });
  const test = useMutation(trpc.models.test.mutationOptions());
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [name, setName] = useState(model.name);
  const [baseUrl, setBaseUrl] = useState(model.baseUrl);
  const [modelName, setModelName] = useState(model.model);
  const [keyChoice, setKeyChoice] = useState<"keep" | "replace" | "remove">("keep");
  const [newKey, setNewKey] = useState("");
  const editTest = useMutation(trpc.models.test.mutationOptions());
  const update = useMutation(
    trpc.models.update.mutationOptions({
      onSuccess: () => {
        setEditing(false);
        // An earlier result was about the old settings.
        test.reset();
      },
      onSettled: refresh,
    }),
  );
  const remove = useMutation(
    trpc.models.delete.mutationOptions({
      onSuccess: () => setDeleting(false),
      onSettled: refresh,
    }),
  );

  function openEdit() {
    setName(model.name);
    setBaseUrl(model.baseUrl);
    setModelName(model.model);
    setKeyChoice("keep");
    setNewKey("");
    update.reset();
    editTest.reset();
    setEditing(true);
  }

  function save() {
    update.mutate({
      id: model.id,
      name,
      baseUrl,
      model: modelName,
      ...(keyChoice === "replace" && newKey ? { apiKey: newKey } : {}),
      ...(keyChoice === "remove" ? { clearApiKey: true } : {}),
    });
  }

  return (
    <div className="space-y-2">
      <div className="flex flex-wrap gap-2 md:justify-end">
        <Button size="sm" variant="secondary" loading={test.isPending} onClick={() => test.mutate({ id: model.id })}>
          Test connection
        </Button>
        <Button size="sm" variant="secondary" onClick={openEdit}>
          Edit
        </Button>
        {model.retired ? null : (
          <Button
            size="sm"
            variant="danger-outline"
            onClick={() => {
              remove.reset();
              setDeleting(true);
            }}
          >
            {model.runCount > 0 ? "Retire" : "Delete"}
          </Button>
        )}
      </div>
      <div aria-live="polite" data-testid="model-test-result" className="md:text-left">
        {test.data ? <TestOutcome result={test.data} model={model.model} /> : null}
        {test.error ? <InlineAlert>{errorMessage(test.error)}</InlineAlert> : null}
        {remove.data?.outcome === "retired" ? (
          <InlineAlert tone="info">
            Retired: {remove.data.runCount} run{remove.data.runCount === 1 ? "" : "s"} used it, so it stays for their history; new runs cannot choose it.
          </InlineAlert>
        ) : null}
      </div>

      {/* Mounted only while open: a long list of endpoints keeps one dialog, not two per row. */}
      {editing ? (
        <ConfirmDialog
          open={editing}
          onOpenChange={setEditing}
          title={`Edit ${model.name}`}
          description="Runs started from now on use the new values."
          confirmLabel="Save"
          confirmVariant="primary"
          pending={update.isPending}
          error={update.error ? errorMessage(update.error) : null}
          onConfirm={save}
        >
          <div className="space-y-3">
            <TextField label="Endpoint name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
            <TextField label="Base URL" required value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} autoComplete="off" inputMode="url" />
            <TextField label="Model" required value={modelName} onChange={(e) => setModelName(e.target.value)} autoComplete="off" />
            <SelectField
              label="API key"
              value={keyChoice}
              onChange={(e) => setKeyChoice(e.target.value as typeof keyChoice)}
              hint={model.hasApiKey ? "A key is stored (never shown)." : "No key is stored."}
            >
              <option value="keep">{model.hasApiKey ? "Keep the stored key" : "No key"}</option>
              <option value="replace">Replace with a new key</option>
              {model.hasApiKey ? <option value="remove">Remove the key</option> : null}
            </SelectField>
            {keyChoice === "replace" ? (
              <TextField label="New API key" type="password" required value={newKey} onChange={(e) => setNewKey(e.target.value)} autoComplete="new-password" />
            ) : null}
            <div className="space-y-2">
              <Button
                size="sm"
                variant="secondary"
                loading={editTest.isPending}
                onClick={() =>
                  editTest.mutate({
                    id: model.id,
                    baseUrl,
                    model: modelName,
                    ...(keyChoice === "replace" && newKey ? { apiKey: newKey } : {}),
                  })
                }
              >
                Test these settings
              </Button>
              <div aria-live="polite">
                {editTest.data ? <TestOutcome result={editTest.data} model={modelName} /> : null}
                {editTest.error ? <InlineAlert>{errorMessage(editTest.error)}</InlineAlert> : null}
              </div>
            </div>
          </div>
        </ConfirmDialog>
      ) : null}

      {deleting ? (
        <ConfirmDialog
          open={deleting}
          onOpenChange={setDeleting}
          title={model.runCount > 0 ? `Retire ${model.name}?` : `Delete ${model.name}?`}
          description={
            model.runCount > 0
              ? `${model.runCount} run${model.runCount === 1 ? "" : "s"} used this endpoint, so it is retired rather than deleted: new runs cannot choose it, and those runs keep their history and its name.`
              : "No run used this endpoint; it is deleted with its stored key."
          }
          confirmLabel={model.runCount > 0 ? "Retire" : "Delete"}
          pending={remove.isPending}
          error={remove.error ? errorMessage(remove.error) : null}
          onConfirm={() => remove.mutate({ id: model.id })}
        />
      ) : null}
    </div>
  );
}
