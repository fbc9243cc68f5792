import { QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, loggerLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import superjson from "superjson";
import type { AppRouter } from "./router.server.ts";

/** React bindings for the typed API: `const trpc = useTRPC(); useQuery(trpc.system.status.queryOptions())`. */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Loaders already give fresh data on navigation; avoid an immediate refetch after hydration.
        staleTime: 10_000,
        retry: (failures, error) => failures < 2 && !String((error as Error)?.message).includes("NOT_FOUND"),
      },
    },
  });
}

export function makeTrpcClient() {
  return createTRPCClient<AppRouter>({
    links: [
      loggerLink({
        enabled: (op) => import.meta.env.DEV && op.direction === "down" && op.result instanceof Error,
      }),
      httpBatchLink({ url: "/api/trpc", transformer: superjson }),
    ],
  });
}
