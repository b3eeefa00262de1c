"use client";
// Secrets (admins): values agents may ask for with request_secret. A value is
// typed once, encrypted at rest, and never shown again — only rotated or deleted.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { ConfirmDialog } from "@/components/ui/dialog";
import { SelectField, TextField } from "@/components/ui/field";
import { LockIcon } from "@/components/ui/icons";
import { rt } from "@/components/ui/responsive-table";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { LocalTime } from "@/components/ui/local-time";

type Secret = inferRouterOutputs<AppRouter>["secrets"]["list"]["items"][number];

const NAME_PATTERN = "[A-Za-z_][A-Za-z0-9_]{0,63}";

export function SecretsSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const secrets = useQuery(trpc.secrets.list.queryOptions());
  const projects = useQuery(trpc.projects.list.queryOptions());
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.secrets.list.queryKey() });

  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [description, setDescription] = useState("");
  const [projectId, setProjectId] = useState("");
  const create = useMutation(
    trpc.secrets.create.mutationOptions({
      onSuccess: () => {
        setName("");
        setValue("");
        setDescription("");
      },
      onSettled: invalidate,
    }),
  );

  const [rotating, setRotating] = useState<Secret | null>(null);
  const [newValue, setNewValue] = useState("");
  const rotate = useMutation(
    trpc.secrets.update.mutationOptions({
      onSuccess: () => {
        setRotating(null);
        setNewValue("");
      },
      onSettled: invalidate,
    }),
  );

  const [deleting, setDeleting] = useState<Secret | null>(null);
  const remove = useMutation(trpc.secrets.delete.mutationOptions({ onSuccess: () => setDeleting(null), onSettled: invalidate }));

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({ name: name.trim(), value, description: description.trim() || undefined, projectId: projectId || undefined });
  }

  return (
    <Card aria-labelledby="secrets-title">
      <CardHeader
        titleId="secrets-title"
        title="Secrets"
        icon={<LockIcon size={18} />}
        description="Values an agent may ask for with request_secret (API tokens, registry credentials). A reviewer other than the run's operator decides; a granted secret becomes an environment variable of the run's commands and is redacted from everything the agent and the run page see."
      />
      <CardBody className="space-y-5">
        <form onSubmit={submit} aria-label="Add secret" className="grid gap-3 sm:grid-cols-2">
          <TextField
            label="Name"
            placeholder="NPM_TOKEN"
            required
            pattern={NAME_PATTERN}
            title="Letters, digits and _, not starting with a digit"
            maxLength={64}
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            hint="The environment variable the agent's commands get."
          />
          <TextField
            label="Value"
            type="password"
            required
            minLength={8}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            autoComplete="new-password"
            hint="Encrypted at rest; never shown again."
          />
          <TextField
            label="Description (optional)"
            maxLength={500}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
            autoComplete="off"
            hint="Helps reviewers judge a request."
          />
          <SelectField
            label="Available to"
            value={projectId}
            onChange={(e) => setProjectId(e.target.value)}
            hint="A project's own secret wins over one of the same name for all projects."
          >
            <option value="">All projects</option>
            {(projects.data?.items ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </SelectField>
          <div className="sm:col-span-2">
            <Button type="submit" loading={create.isPending}>
              Add secret
            </Button>
          </div>
          {create.error ? <InlineAlert className="sm:col-span-2">{errorMessage(create.error)}</InlineAlert> : null}
        </form>

        {secrets.isPending ? (
          <SkeletonRows rows={2} label="Loading secrets…" />
        ) : secrets.isError ? (
          <InlineAlert title="Secrets could not be loaded">{errorMessage(secrets.error)}</InlineAlert>
        ) : secrets.data.items.length === 0 ? (
          <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">
            No secrets yet. Agents that call request_secret are told none is configured.
          </p>
        ) : (
          <div className={rt.wrapper}>
            <table className={rt.table}>
              <caption className="sr-only">Secrets</caption>
              <thead className={rt.thead}>
                <tr>
                  <th scope="col" className={rt.th}>
                    Name
                  </th>
                  <th scope="col" className={rt.th}>
                    Available to
                  </th>
                  <th scope="col" className={rt.th}>
                    Description
                  </th>
                  <th scope="col" className={rt.th}>
                    Granted
                  </th>
                  <th scope="col" className={rt.th}>
                    Value set
                  </th>
                  <th scope="col" className={rt.th}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className={rt.tbody}>
                {secrets.data.items.map((s) => (
                  <tr key={s.id} className={rt.row} data-testid="secret-row">
                    <td className={`${rt.bareCell} font-mono font-medium break-all max-md:text-base`}>{s.name}</td>
                    <td data-label="Available to" className={rt.cell}>
                      {s.projectId ? <Badge tone="accent">{s.projectName ?? s.projectId}</Badge> : <span className="text-fg-muted">All projects</span>}
                    </td>
                    <td data-label="Description" className={`${rt.cell} break-words`}>
                      {s.description || <span className="text-fg-muted">—</span>}
                    </td>
                    <td data-label="Granted" className={rt.cell}>
                      {s.grants} {s.grants === 1 ? "run" : "runs"}
                    </td>
                    <td data-label="Value set" className={`${rt.cell} md:whitespace-nowrap`}>
                      <LocalTime date={s.rotatedAt ?? s.createdAt} format="date" />
                      {s.rotatedAt ? <span className="ml-1 text-xs text-fg-muted">(rotated)</span> : null}
                    </td>
                    <td className={`${rt.bareCell} md:text-right max-md:pt-2`}>
                      <div className="flex gap-2 md:justify-end max-md:flex-col">
                        <Button variant="secondary" size="sm" aria-label={`Rotate secret ${s.name}`} onClick={() => setRotating(s)} className="max-md:w-full">
                          Rotate
                        </Button>
                        <Button
                          variant="danger-outline"
                          size="sm"
                          aria-label={`Delete secret ${s.name}`}
                          onClick={() => setDeleting(s)}
                          className="max-md:w-full"
                        >
                          Delete
                        </Button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </CardBody>

      <ConfirmDialog
        open={rotating !== null}
        onOpenChange={(open) => {
          if (!open) {
            setRotating(null);
            setNewValue("");
            rotate.reset();
          }
        }}
        title={`Rotate ${rotating?.name ?? ""}`}
        description="Runs it is granted to get the new value on their next command."
        confirmLabel="Save new value"
        confirmVariant="primary"
        pending={rotate.isPending}
        error={rotate.error ? errorMessage(rotate.error) : null}
        onConfirm={() => rotating && rotate.mutate({ id: rotating.id, value: newValue })}
      >
        <TextField
          label="New value"
          type="password"
          required
          minLength={8}
          value={newValue}
          onChange={(e) => setNewValue(e.target.value)}
          autoComplete="new-password"
        />
      </ConfirmDialog>

      <ConfirmDialog
        open={deleting !== null}
        onOpenChange={(open) => {
          if (!open) {
            setDeleting(null);
            remove.reset();
          }
        }}
        title={`Delete ${deleting?.name ?? ""}?`}
        description="Runs it was granted to stop getting it on their next command, and their output is no longer checked for it. This cannot be undone."
        confirmLabel="Delete secret"
        pending={remove.isPending}
        error={remove.error ? errorMessage(remove.error) : null}
        onConfirm={() => deleting && remove.mutate({ id: deleting.id })}
      />
    </Card>
  );
}
