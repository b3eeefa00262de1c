"use client";
import { useMutation } from "@tanstack/react-query";
import { signOut } from "next-auth/react";
import { useState, type FormEvent } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { TextField } from "@/components/ui/field";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { hardNavigate } from "@/lib/hard-navigate";

export function ChangePasswordForm({ minPasswordLength }: { minPasswordLength: number }) {
  const trpc = useTRPC();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [localError, setLocalError] = useState<string | null>(null);
  const change = useMutation(
    trpc.users.changePassword.mutationOptions({
      // A new password ends every session, this one included (the session version changes).
      onSuccess: async () => {
        await signOut({ redirect: false }).catch(() => undefined);
        hardNavigate("/login?reason=password-changed");
      },
    }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    if (next !== confirm) {
      setLocalError("The new passwords don't match.");
      return;
    }
    setLocalError(null);
    change.mutate({ currentPassword: current, newPassword: next });
  }

  const error = localError ?? (change.error ? errorMessage(change.error) : null);
  return (
    <form onSubmit={submit} aria-label="Change password" className="max-w-md space-y-3">
      <TextField
        label="Current password"
        type="password"
        autoComplete="current-password"
        required
        value={current}
        onChange={(e) => setCurrent(e.target.value)}
      />
      <TextField
        label="New password"
        type="password"
        autoComplete="new-password"
        required
        minLength={minPasswordLength}
        value={next}
        onChange={(e) => setNext(e.target.value)}
        hint={`At least ${minPasswordLength} characters.`}
      />
      <TextField
        label="Confirm new password"
        type="password"
        autoComplete="new-password"
        required
        value={confirm}
        onChange={(e) => setConfirm(e.target.value)}
      />
      {error ? <InlineAlert>{error}</InlineAlert> : null}
      {change.isSuccess ? <InlineAlert tone="success">Password changed. Signing you out…</InlineAlert> : null}
      <div className="flex flex-wrap items-center gap-3">
        <Button type="submit" loading={change.isPending || change.isSuccess}>
          Change password
        </Button>
        <p className="text-xs text-fg-muted">You will be signed out everywhere, here too, and your API tokens are revoked.</p>
      </div>
    </form>
  );
}
