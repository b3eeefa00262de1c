"use client";
// Sign-in: single sign-on first when it is configured, then email + password
// through next-auth's credentials provider (behind "Break-glass sign-in" when
// password sign-in is off; the server enforces that, this only mirrors it).
// The server's error text (wrong password, lock-out) is shown as it is.
import { signIn } from "next-auth/react";
import { useEffect, useState, type FormEvent } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { TextField } from "@/components/ui/field";
import { hardNavigate } from "@/lib/hard-navigate";

export interface LoginFormProps {
  callbackUrl: string;
  notice?: string;
  /** Why the server sent the visitor back here (a refused or failed single sign-on). */
  error?: string;
  sso?: { name: string } | null;
  /** Password sign-in is off except for break-glass accounts. */
  breakGlassOnly?: boolean;
}

export function LoginForm({ callbackUrl, notice, error, sso, breakGlassOnly = false }: LoginFormProps) {
  const [starting, setStarting] = useState(false);
  const [ssoError, setSsoError] = useState<string | null>(null);
  useEffect(() => {
    // The page shows the message once; drop ?error= from the address so a reload
    // does not repeat it and a password sign-in (whose default callback is this
    // address) is not read back as failed.
    const url = new URL(window.location.href);
    if (url.searchParams.has("error")) {
      url.searchParams.delete("error");
      window.history.replaceState(window.history.state, "", url);
    }
  }, []);
  if (!sso) return <PasswordForm callbackUrl={callbackUrl} notice={notice} pageError={error} />;

  async function startSso() {
    setStarting(true);
    setSsoError(null);
    try {
      // next-auth sends the browser on to the provider (or back here with ?error=…).
      await signIn("oidc", { callbackUrl });
    } catch {
      setSsoError("Can't reach the Airlock server. Check your connection and try again.");
      setStarting(false);
    }
  }

  return (
    <div className="space-y-4">
      {notice && !error ? <InlineAlert tone="info">{notice}</InlineAlert> : null}
      {error || ssoError ? <InlineAlert>{ssoError ?? error}</InlineAlert> : null}
      <Button className="w-full" loading={starting} onClick={startSso}>
        {starting ? "Redirecting…" : `Sign in with ${sso.name}`}
      </Button>
      {breakGlassOnly ? (
        <details className="group rounded-lg border border-border px-3 py-2 text-sm">
          <summary className="cursor-pointer font-medium text-fg-muted select-none">Break-glass sign-in</summary>
          <p className="mt-2 mb-3 text-xs text-fg-muted">
            Password sign-in is off. Only the emergency accounts an operator named may use it, for example while {sso.name} is down.
          </p>
          <PasswordForm callbackUrl={callbackUrl} />
        </details>
      ) : (
        <>
          <div className="flex items-center gap-3 text-xs text-fg-muted" aria-hidden="true">
            <span className="h-px flex-1 bg-border" />
            or with your password
            <span className="h-px flex-1 bg-border" />
          </div>
          <PasswordForm callbackUrl={callbackUrl} />
        </>
      )}
    </div>
  );
}

function PasswordForm({ callbackUrl, notice, pageError }: { callbackUrl: string; notice?: string; pageError?: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setSubmitting(true);
    setError(null);
    try {
      const result = await signIn("credentials", { redirect: false, email, password });
      if (!result || result.error || !result.ok) {
        setError(result?.error && result.error !== "CredentialsSignin" ? result.error : "Sign-in failed. Check your email and password.");
        setSubmitting(false);
        return;
      }
      // A full page load, so the server layout sees the new session cookie.
      hardNavigate(callbackUrl);
    } catch {
      setError("Can't reach the Airlock server. Check your connection and try again.");
      setSubmitting(false);
    }
  }

  return (
    <form onSubmit={onSubmit} aria-label="Sign in" className="space-y-4" noValidate>
      {notice && !error && !pageError ? <InlineAlert tone="info">{notice}</InlineAlert> : null}
      {pageError && !error ? <InlineAlert>{pageError}</InlineAlert> : null}
      <TextField
        label="Email"
        type="email"
        name="email"
        autoComplete="username"
        inputMode="email"
        autoCapitalize="none"
        spellCheck={false}
        required
        autoFocus={!pageError}
        value={email}
        onChange={(e) => setEmail(e.target.value)}
      />
      <TextField
        label="Password"
        type="password"
        name="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      {error ? <InlineAlert>{error}</InlineAlert> : null}
      <Button type="submit" className="w-full" loading={submitting}>
        {submitting ? "Signing in…" : "Sign in"}
      </Button>
    </form>
  );
}
