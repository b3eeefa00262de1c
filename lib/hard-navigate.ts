/**
 * A full page load rather than a client-side navigation. Used when the session
 * changes (sign-in, sign-out, password change, expired session): it drops every
 * cached query and router payload of the previous user, and the server layout
 * re-reads the session cookie.
 */
export function hardNavigate(path: string): void {
  window.location.assign(path);
}
