"use client";
// Personal API tokens: create (shown once), list, revoke.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { CopyField } from "@/components/ui/copy-field";
import { ConfirmDialog } from "@/components/ui/dialog";
import { TextField } from "@/components/ui/field";
import { KeyIcon } from "@/components/ui/icons";
import { rt } from "@/components/ui/responsive-table";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { LocalTime } from "@/components/ui/local-time";

type Token = inferRouterOutputs<AppRouter>["tokens"]["list"]["items"][number];

function tokenStatus(t: Token): { label: string; tone: "success" | "danger" | "warning" } {
  if (t.revokedAt) return { label: "Revoked", tone: "danger" };
  if (t.expiresAt && t.expiresAt.getTime() <= Date.now()) return { label: "Expired", tone: "warning" };
  return { label: "Active", tone: "success" };
}

function When({ date, empty }: { date: Date | null; empty: string }) {
  if (!date) return <span className="text-fg-muted">{empty}</span>;
  return (
    <span>
      <LocalTime date={date} format="date" />
      <span className="ml-1 text-xs text-fg-muted">
        (<LocalTime date={date} format="relative" />)
      </span>
    </span>
  );
}

export function ApiTokensSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.tokens.list.queryOptions());
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.tokens.list.queryKey() });

  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [metricsScope, setMetricsScope] = useState(false);
  const [created, setCreated] = useState<{ token: string; name: string; expiresAt: Date | null } | null>(null);
  const create = useMutation(trpc.tokens.create.mutationOptions({ onSettled: invalidate }));

  const [revoking, setRevoking] = useState<Token | null>(null);
  const revoke = useMutation(
    trpc.tokens.revoke.mutationOptions({
      onSuccess: (token) => {
        queryClient.setQueryData(trpc.tokens.list.queryKey(), (old) => (old ? { items: old.items.map((t) => (t.id === token.id ? token : t)) } : old));
        setRevoking(null);
      },
      onSettled: invalidate,
    }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    const trimmedDays = days.trim();
    const expiresInDays = trimmedDays ? Number(trimmedDays) : null;
    create.mutate(
      { name, expiresInDays, ...(metricsScope ? { scopes: ["metrics" as const] } : {}) },
      {
        onSuccess: (result) => {
          setCreated({ token: result.token, name: name.trim(), expiresAt: result.expiresAt });
          setName("");
          setDays("");
          setMetricsScope(false);
        },
      },
    );
  }

  return (
    <Card aria-labelledby="tokens-title">
      <CardHeader
        titleId="tokens-title"
        title="API tokens"
        icon={<KeyIcon size={18} />}
        description="Tokens let scripts and the airlock CLI call the API as you, with your role. Send them as Authorization: Bearer <token>."
      />
      <CardBody className="space-y-5">
        {created ? (
          <div className="space-y-3 rounded-xl border border-warning/50 bg-warning-soft p-4" data-testid="new-token">
            <div>
              <p className="text-sm font-semibold text-fg">Copy your new token “{created.name}” now</p>
              <p className="mt-0.5 text-sm text-fg-muted">
                This is the only time Airlock shows it: only a hash is stored. If you lose it, revoke it and create another.
                {created.expiresAt ? (
                  <>
                    {" "}
                    It expires <LocalTime date={created.expiresAt} />.
                  </>
                ) : (
                  " It never expires."
                )}
              </p>
            </div>
            <CopyField label="New API token" value={created.token} copyLabel="Copy token" />
            <Button variant="secondary" size="sm" onClick={() => setCreated(null)}>
              I have copied it
            </Button>
          </div>
        ) : null}

        <form onSubmit={submit} aria-label="Create API token" className="grid gap-3 sm:grid-cols-[minmax(0,1fr)_12rem_auto] sm:items-start">
          <TextField
            label="Token name"
            placeholder="ci, laptop, deploy-bot"
            required
            maxLength={100}
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete="off"
          />
          <TextField
            label="Expires in (days)"
            type="number"
            inputMode="numeric"
            min={1}
            max={3650}
            step={1}
            placeholder="Never"
            value={days}
            onChange={(e) => setDays(e.target.value)}
            hint="Empty: never expires"
          />
          <Button type="submit" loading={create.isPending} className="sm:mt-[1.625rem]">
            Create token
          </Button>
          <label className="flex items-start gap-2 text-sm text-fg sm:col-span-3">
            <input type="checkbox" className="mt-0.5" checked={metricsScope} onChange={(e) => setMetricsScope(e.target.checked)} />
            <span>
              May read /metrics
              <span className="block text-xs text-fg-muted">For a Prometheus scraper: this token may read GET /metrics whatever your role.</span>
            </span>
          </label>
          {create.error ? <InlineAlert className="sm:col-span-3">{errorMessage(create.error)}</InlineAlert> : null}
        </form>

        {tokens.isPending ? (
          <SkeletonRows rows={2} label="Loading tokens…" />
        ) : tokens.isError ? (
          <InlineAlert title="Tokens could not be loaded">
            {errorMessage(tokens.error)}{" "}
            <Button variant="secondary" size="sm" className="mt-2" onClick={() => tokens.refetch()}>
              Try again
            </Button>
          </InlineAlert>
        ) : tokens.data.items.length === 0 ? (
          <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">You have no API tokens yet.</p>
        ) : (
          <div className={rt.wrapper}>
            <table className={rt.table}>
              <caption className="sr-only">Your API tokens</caption>
              <thead className={rt.thead}>
                <tr>
                  <th scope="col" className={rt.th}>
                    Name
                  </th>
                  <th scope="col" className={rt.th}>
                    Token
                  </th>
                  <th scope="col" className={rt.th}>
                    Created
                  </th>
                  <th scope="col" className={rt.th}>
                    Expires
                  </th>
                  <th scope="col" className={rt.th}>
                    Last used
                  </th>
                  <th scope="col" className={rt.th}>
                    Status
                  </th>
                  <th scope="col" className={rt.th}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className={rt.tbody}>
                {tokens.data.items.map((t) => {
                  const status = tokenStatus(t);
                  return (
                    <tr key={t.id} className={rt.row} data-testid="token-row">
                      <td className={`${rt.bareCell} font-medium break-all max-md:text-base`}>
                        {t.name}
                        {t.scopes.includes("metrics") ? (
                          <Badge tone="neutral" className="ml-2">
                            may read /metrics
                          </Badge>
                        ) : null}
                      </td>
                      <td data-label="Token" className={rt.cell}>
                        <code className="font-mono text-xs">{t.prefix}…</code>
                      </td>
                      <td data-label="Created" className={`${rt.cell} md:whitespace-nowrap`}>
                        <When date={t.createdAt} empty="—" />
                      </td>
                      <td data-label="Expires" className={`${rt.cell} md:whitespace-nowrap`}>
                        <When date={t.expiresAt} empty="Never" />
                      </td>
                      <td data-label="Last used" className={`${rt.cell} md:whitespace-nowrap`}>
                        <When date={t.lastUsedAt} empty="Never used" />
                      </td>
                      <td data-label="Status" className={rt.cell}>
                        <Badge tone={status.tone}>{status.label}</Badge>
                      </td>
                      <td className={`${rt.bareCell} md:text-right max-md:pt-2`}>
                        {t.revokedAt ? null : (
                          <Button
                            variant="danger-outline"
                            size="sm"
                            aria-label={`Revoke token ${t.name}`}
                            onClick={() => setRevoking(t)}
                            className="max-md:w-full"
                          >
                            Revoke
                          </Button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </CardBody>

      <ConfirmDialog
        open={revoking !== null}
        onOpenChange={(open) => {
          if (!open) {
            setRevoking(null);
            revoke.reset();
          }
        }}
        title={`Revoke token “${revoking?.name ?? ""}”?`}
        description="Scripts and agents using it stop working at once. This cannot be undone."
        confirmLabel="Revoke token"
        pending={revoke.isPending}
        error={revoke.error ? errorMessage(revoke.error) : null}
        onConfirm={() => revoking && revoke.mutate({ id: revoking.id })}
      />
    </Card>
  );
}
