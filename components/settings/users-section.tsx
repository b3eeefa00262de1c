"use client";
// Admin only (the server enforces it too): create users, change roles,
// disable / enable, set a password.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import type { Role } from "@/db/schema";
import { describeRoleSource, ROLE_HELP, ROLE_OPTIONS as ROLES } from "@/lib/roles";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { ConfirmDialog } from "@/components/ui/dialog";
import { controlClasses, SelectField, TextField } from "@/components/ui/field";
import { UsersIcon } from "@/components/ui/icons";
import { rt } from "@/components/ui/responsive-table";
import { SkeletonRows } from "@/components/ui/skeleton";
import { Spinner } from "@/components/ui/spinner";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { LocalTime } from "@/components/ui/local-time";

type User = inferRouterOutputs<AppRouter>["users"]["list"]["items"][number];

export function UsersSection({ currentUserId, minPasswordLength }: { currentUserId: string; minPasswordLength: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const users = useQuery(trpc.users.list.queryOptions());
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });

  return (
    <Card aria-labelledby="users-title">
      <CardHeader
        titleId="users-title"
        title="Users"
        icon={<UsersIcon size={18} />}
        description="Who can sign in, and what their role lets them do. Only admins see this section."
      />
      <CardBody className="space-y-5">
        <CreateUserForm minPasswordLength={minPasswordLength} onCreated={invalidate} />
        {users.isPending ? (
          <SkeletonRows rows={3} label="Loading users…" />
        ) : users.isError ? (
          <InlineAlert title="Users could not be loaded">
            {errorMessage(users.error)}{" "}
            <Button variant="secondary" size="sm" className="mt-2" onClick={() => users.refetch()}>
              Try again
            </Button>
          </InlineAlert>
        ) : (
          <UsersTable users={users.data.items} currentUserId={currentUserId} minPasswordLength={minPasswordLength} onChanged={invalidate} />
        )}
      </CardBody>
    </Card>
  );
}

function CreateUserForm({ minPasswordLength, onCreated }: { minPasswordLength: number; onCreated: () => void }) {
  const trpc = useTRPC();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [password, setPassword] = useState("");
  const [createdMessage, setCreatedMessage] = useState<string | null>(null);
  const create = useMutation(trpc.users.create.mutationOptions({ onSuccess: onCreated }));

  function submit(e: FormEvent) {
    e.preventDefault();
    setCreatedMessage(null);
    create.mutate(
      { email, role, ...(password ? { password } : {}) },
      {
        onSuccess: (user) => {
          setCreatedMessage(`Created ${user.email} as ${user.role}.${password ? "" : " They can sign in once you set a password for them."}`);
          setEmail("");
          setPassword("");
          setRole("viewer");
        },
      },
    );
  }

  return (
    <form onSubmit={submit} aria-label="Create user" className="space-y-3 rounded-xl border border-border bg-surface-muted/50 p-3 sm:p-4">
      <h3 className="text-sm font-semibold">Add a user</h3>
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-[minmax(0,1.4fr)_minmax(0,1fr)_minmax(0,1.2fr)_auto] lg:items-start">
        <TextField
          label="Email"
          type="email"
          required
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)} hint={ROLE_HELP[role]}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </SelectField>
        <TextField
          label="Password (optional)"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          hint={`At least ${minPasswordLength} characters, or leave empty and set it later.`}
        />
        <Button type="submit" loading={create.isPending} className="lg:mt-[1.625rem]">
          Create user
        </Button>
      </div>
      {create.error ? <InlineAlert>{errorMessage(create.error)}</InlineAlert> : null}
      {createdMessage ? <InlineAlert tone="success">{createdMessage}</InlineAlert> : null}
    </form>
  );
}

type PendingAction = { kind: "disable" | "enable" | "password"; user: User };

function UsersTable({
  users,
  currentUserId,
  minPasswordLength,
  onChanged,
}: {
  users: User[];
  currentUserId: string;
  minPasswordLength: number;
  onChanged: () => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // Show the server's answer at once instead of waiting for the list to refetch.
  const replaceUser = (user: User) =>
    queryClient.setQueryData(trpc.users.list.queryKey(), (old) => (old ? { items: old.items.map((u) => (u.id === user.id ? user : u)) } : old));
  const [rowError, setRowError] = useState<{ id: string; message: string } | null>(null);
  const [savedId, setSavedId] = useState<string | null>(null);
  const setRole = useMutation(
    trpc.users.setRole.mutationOptions({
      onMutate: () => {
        setRowError(null);
        setSavedId(null);
      },
      onSuccess: (user) => {
        replaceUser(user);
        setSavedId(user.id);
      },
      onError: (err, vars) => setRowError({ id: vars.id, message: errorMessage(err) }),
      onSettled: onChanged,
    }),
  );

  const [pending, setPending] = useState<PendingAction | null>(null);
  const [newPassword, setNewPassword] = useState("");
  const close = () => {
    setPending(null);
    setNewPassword("");
    setDisabled.reset();
    resetPassword.reset();
  };
  const setDisabled = useMutation(
    trpc.users.setDisabled.mutationOptions({
      onSuccess: (user) => {
        replaceUser(user);
        close();
      },
      onSettled: onChanged,
    }),
  );
  const resetPassword = useMutation(trpc.users.resetPassword.mutationOptions({ onSuccess: close }));

  const dialog = pending
    ? pending.kind === "disable"
      ? {
          title: `Disable ${pending.user.email}?`,
          description: "They are signed out at once, cannot sign in, and their API tokens are revoked (they create new ones once enabled again).",
          confirmLabel: "Disable user",
          variant: "danger" as const,
        }
      : pending.kind === "enable"
        ? {
            title: `Enable ${pending.user.email}?`,
            description: "They can sign in again with their password. Their old API tokens stay revoked; they create new ones.",
            confirmLabel: "Enable user",
            variant: "primary" as const,
          }
        : {
            title: `Set a password for ${pending.user.email}`,
            description: "Their current sessions end and their API tokens are revoked. Tell them the new password over a channel you trust.",
            confirmLabel: "Set password",
            variant: "primary" as const,
          }
    : null;
  const dialogMutation = pending?.kind === "password" ? resetPassword : setDisabled;

  return (
    <>
      <p className="text-xs text-fg-muted">
        A new role, a disabled account or a new password ends that user&apos;s sessions at once; they sign in again to continue.
      </p>
      <div className={rt.wrapper}>
        <table className={rt.table}>
          <caption className="sr-only">Users</caption>
          <thead className={rt.thead}>
            <tr>
              <th scope="col" className={rt.th}>
                Email
              </th>
              <th scope="col" className={rt.th}>
                Role
              </th>
              <th scope="col" className={rt.th}>
                Status
              </th>
              <th scope="col" className={rt.th}>
                Added
              </th>
              <th scope="col" className={rt.th}>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody className={rt.tbody}>
            {users.map((u) => {
              const isSelf = u.id === currentUserId;
              const saving = setRole.isPending && setRole.variables?.id === u.id;
              return (
                <tr key={u.id} className={rt.row} data-testid="user-row">
                  <td className={`${rt.bareCell} min-w-0`}>
                    <span className="font-medium break-all">{u.email}</span>
                    {isSelf ? (
                      <Badge tone="accent" className="ml-2">
                        you
                      </Badge>
                    ) : null}
                    {rowError?.id === u.id ? (
                      <p role="alert" className="mt-1 text-xs font-medium text-danger">
                        {rowError.message}
                      </p>
                    ) : null}
                  </td>
                  <td data-label="Role" className={rt.cell}>
                    <div className="flex items-center gap-2">
                      <select
                        aria-label={`Role for ${u.email}`}
                        value={saving && setRole.variables ? setRole.variables.role : u.role}
                        disabled={isSelf || saving}
                        title={isSelf ? "You can't change your own role; ask another admin." : undefined}
                        onChange={(e) => setRole.mutate({ id: u.id, role: e.target.value as Role })}
                        className={controlClasses("h-9 w-36 pr-8 capitalize")}
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </select>
                      {saving ? (
                        <Spinner label="Saving role" />
                      ) : savedId === u.id ? (
                        <span role="status" className="text-xs text-success">
                          Saved
                        </span>
                      ) : null}
                    </div>
                    <p className="mt-1 text-xs text-fg-muted" data-testid="role-source">
                      {u.sso ? "Signs in with single sign-on · " : ""}Role: {describeRoleSource(u.roleSource)}
                    </p>
                  </td>
                  <td data-label="Status" className={rt.cell}>
                    {u.disabled ? <Badge tone="danger">Disabled</Badge> : <Badge tone="success">Active</Badge>}
                  </td>
                  <td data-label="Added" className={`${rt.cell} md:whitespace-nowrap`}>
                    <LocalTime date={u.createdAt} format="date" />
                  </td>
                  <td className={`${rt.bareCell} max-md:pt-2`}>
                    <div className="flex gap-2 md:justify-end">
                      {isSelf ? (
                        <span className="text-xs text-fg-muted">Change your own password under Your account.</span>
                      ) : (
                        <Button
                          variant="secondary"
                          size="sm"
                          aria-label={`Set password for ${u.email}`}
                          onClick={() => setPending({ kind: "password", user: u })}
                          className="max-md:flex-1"
                        >
                          Set password
                        </Button>
                      )}
                      {isSelf ? null : u.disabled ? (
                        <Button
                          variant="secondary"
                          size="sm"
                          aria-label={`Enable ${u.email}`}
                          onClick={() => setPending({ kind: "enable", user: u })}
                          className="max-md:flex-1"
                        >
                          Enable
                        </Button>
                      ) : (
                        <Button
                          variant="danger-outline"
                          size="sm"
                          aria-label={`Disable ${u.email}`}
                          onClick={() => setPending({ kind: "disable", user: u })}
                          className="max-md:flex-1"
                        >
                          Disable
                        </Button>
                      )}
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>

      <ConfirmDialog
        open={pending !== null}
        onOpenChange={(open) => !open && close()}
        title={dialog?.title ?? ""}
        description={dialog?.description}
        confirmLabel={dialog?.confirmLabel ?? "Confirm"}
        confirmVariant={dialog?.variant}
        pending={dialogMutation.isPending}
        error={dialogMutation.error ? errorMessage(dialogMutation.error) : null}
        onConfirm={() => {
          if (!pending) return;
          if (pending.kind === "password") resetPassword.mutate({ id: pending.user.id, password: newPassword });
          else setDisabled.mutate({ id: pending.user.id, disabled: pending.kind === "disable" });
        }}
      >
        {pending?.kind === "password" ? (
          <TextField
            label="New password"
            type="password"
            autoComplete="new-password"
            required
            minLength={minPasswordLength}
            value={newPassword}
            onChange={(e) => setNewPassword(e.target.value)}
            hint={`At least ${minPasswordLength} characters.`}
            autoFocus
          />
        ) : null}
      </ConfirmDialog>
    </>
  );
}
