// One QueryClient per browser tab. Queries are fetched on the client only
// (server components resolve the session themselves), so no dehydration is set up.
import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { isUnauthorized } from "@/lib/errors";
import { hardNavigate } from "@/lib/hard-navigate";

/** A stale or revoked session: send the browser to the sign-in page and come back here afterwards. */
function redirectToLogin() {
  if (typeof window === "undefined" || window.location.pathname.startsWith("/login")) return;
  const back = window.location.pathname + window.location.search;
  hardNavigate(`/login?callbackUrl=${encodeURIComponent(back)}&reason=expired`);
}

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({ onError: (err) => isUnauthorized(err) && redirectToLogin() }),
    mutationCache: new MutationCache({ onError: (err) => isUnauthorized(err) && redirectToLogin() }),
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        refetchOnWindowFocus: true,
        // Don't hammer the server with retries of answers that won't change.
        retry: (failureCount, err) => !isClientError(err) && failureCount < 2,
      },
    },
  });
}

function isClientError(err: unknown): boolean {
  const status = (err as { data?: { httpStatus?: number } } | null)?.data?.httpStatus;
  return typeof status === "number" && status >= 400 && status < 500;
}
