// What the login page says for an `error` it is sent back with: next-auth's
// own codes (a provider that is down, a refused or broken callback) and the
// single sign-on refusals of server/auth/oidc.ts.
export type SignInErrorCode = "OidcDisabled" | "OidcEmailUnverified" | "OidcEmailTaken" | "OidcNoEmail" | "OidcIssuer";

export function signInErrorMessage(code: string, opts: { ssoName: string; passwordAllowed: boolean }): string {
  const fallback = opts.passwordAllowed
    ? " Meanwhile you can sign in with your password."
    : " Meanwhile only break-glass accounts can sign in (with a password).";
  switch (code) {
    case "OidcDisabled":
      return "This account is disabled. Ask an admin to enable it.";
    case "OidcEmailUnverified":
      return `An Airlock account with your email already exists, but ${opts.ssoName} did not confirm that the email is yours, so it was not linked. Ask an admin.`;
    case "OidcEmailTaken":
      return "The Airlock account with your email is linked to another single sign-on identity. Ask an admin.";
    case "OidcNoEmail":
      return `${opts.ssoName} did not send an email address, which Airlock needs to create your account. Ask the provider's admin to release the email claim.`;
    case "OidcIssuer":
      return `${opts.ssoName} answered as a different issuer than Airlock is configured for. Ask an admin to check AIRLOCK_OIDC_ISSUER.`;
    case "OAuthSignin":
      return `Can't reach ${opts.ssoName} to start signing in. Try again in a moment.${fallback}`;
    case "OAuthCallback":
      return `${opts.ssoName} did not complete the sign-in (it refused it, or its answer could not be verified). Try again.${fallback}`;
    case "AccessDenied":
      return "Sign-in was refused.";
    case "SessionRequired":
      return "Sign in to continue.";
    default:
      return "Sign-in failed. Try again; if it keeps failing, ask an admin.";
  }
}
