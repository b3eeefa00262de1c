// The typed tRPC hooks for client components: `useTRPC()` gives query/mutation
// option factories for TanStack Query, `useTRPCClient()` the raw client.
import { createTRPCContext } from "@trpc/tanstack-react-query";
import type { AppRouter } from "@/server/api/root";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();
