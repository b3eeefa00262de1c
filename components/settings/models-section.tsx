"use client";
// Model endpoints (admins): register an OpenAI-compatible endpoint; the API key is encrypted and never shown again.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
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

export function ModelsSection() {
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

        {models.isPending ? (
          <SkeletonRows rows={2} label="Loading model endpoints…" />
        ) : models.isError ? (
          <InlineAlert title="Model endpoints could not be loaded">{errorMessage(models.error)}</InlineAlert>
        ) : models.data.items.length === 0 ? (
          <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">
            No model endpoints yet. Add one above so operators can start runs.
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
                    Added
                  </th>
                </tr>
              </thead>
              <tbody className={rt.tbody}>
                {models.data.items.map((m) => (
                  <tr key={m.id} className={rt.row} data-testid="model-row">
                    <td className={`${rt.bareCell} font-medium break-all max-md:text-base`}>{m.name}</td>
                    <td data-label="Base URL" className={`${rt.cell} break-all`}>
                      <code className="font-mono text-xs">{m.baseUrl}</code>
                    </td>
                    <td data-label="Model" className={`${rt.cell} break-all`}>
                      {m.model}
                    </td>
                    <td data-label="API key" className={rt.cell}>
                      {m.hasApiKey ? <Badge tone="success">Set</Badge> : <span className="text-fg-muted">None</span>}
                    </td>
                    <td data-label="Added" className={rt.cell}>
                      <LocalTime date={m.createdAt} format="date" />
                    </td>
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
