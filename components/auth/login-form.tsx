"use client";
// Email + password sign-in through next-auth's credentials provider. The
// server's error text (wrong password, lock-out) is shown as it is.
import { signIn } from "next-auth/react";
import { useState, type FormEvent } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { TextField } from "@/components/ui/field";
import { hardNavigate } from "@/lib/hard-navigate";

export function LoginForm({ callbackUrl, notice }: { callbackUrl: string; notice?: string }) {
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
      {notice && !error ? <InlineAlert tone="info">{notice}</InlineAlert> : null}
      <TextField
        label="Email"
        type="email"
        name="email"
        autoComplete="username"
        inputMode="email"
        autoCapitalize="none"
        spellCheck={false}
        required
        autoFocus
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
