import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { LoginForm } from "@/components/auth/login-form";
import { ThemeToggle } from "@/components/shell/theme-toggle";
import { LogoIcon } from "@/components/ui/icons";
import { currentIdentity } from "@/lib/server-session";
import { safeCallbackPath } from "@/server/auth/callback-url";
import { signInErrorMessage } from "@/lib/sign-in-errors";
import { config } from "@/server/config/env";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

const NOTICES: Record<string, string> = {
  expired: "Your session ended. Sign in again to continue.",
  "signed-out": "You are signed out.",
  "password-changed": "Password changed. Sign in with your new password.",
};

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

export default async function LoginPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const callbackUrl = safeCallbackPath(first(params.callbackUrl));
  if (await currentIdentity()) redirect(callbackUrl);
  const reason = first(params.reason);
  const notice = reason ? NOTICES[reason] : undefined;
  const { oidc, localLogin } = config();
  const sso = oidc ? { name: oidc.name } : null;
  const errorCode = first(params.error);
  const error = errorCode ? signInErrorMessage(errorCode, { ssoName: oidc?.name ?? "The identity provider", passwordAllowed: localLogin }) : undefined;

  return (
    <main className="relative flex min-h-dvh flex-col items-center justify-center px-4 py-10">
      <div className="absolute top-3 right-3">
        <ThemeToggle />
      </div>
      <div className="w-full max-w-sm">
        <div className="mb-6 flex flex-col items-center text-center">
          <span className="grid size-11 place-items-center rounded-xl bg-accent text-accent-fg shadow-sm">
            <LogoIcon size={24} />
          </span>
          <h1 className="mt-4 text-xl font-semibold tracking-tight">Sign in to Airlock</h1>
          <p className="mt-1 text-sm text-fg-muted">Supervise agents working in sealed containers.</p>
        </div>
        <div className="rounded-xl border border-border bg-surface p-5 shadow-sm sm:p-6">
          <LoginForm callbackUrl={callbackUrl} notice={notice} error={error} sso={sso} breakGlassOnly={!localLogin} />
        </div>
        <p className="mt-5 text-center text-xs text-fg-muted">
          {sso
            ? `Your account is created the first time you sign in with ${sso.name}.`
            : "Accounts are created by an admin. Forgot your password? Ask an admin to reset it."}
        </p>
      </div>
    </main>
  );
}
