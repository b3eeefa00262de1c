// Turning errors from the API into text people can act on. The server already
// writes clear messages; show them verbatim and only explain transport failures.
import { TRPCClientError } from "@trpc/client";

export function isUnauthorized(err: unknown): boolean {
  return err instanceof TRPCClientError && (err.data as { code?: string } | undefined)?.code === "UNAUTHORIZED";
}

export function errorMessage(err: unknown): string {
  if (err instanceof TRPCClientError) {
    // No `data` means the request never got a tRPC answer (network down, proxy error page…).
    if (!err.data && /fetch|network|load failed/i.test(err.message)) {
      return "Can't reach the Airlock server. Check your connection and try again.";
    }
    return err.message;
  }
  if (err instanceof Error) return err.message;
  return "Something went wrong. Try again.";
}
