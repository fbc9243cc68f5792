/**
 * The typed API client: `@trpc/client` on the server's AppRouter (superjson, `/api/trpc`), authenticated with
 * `Authorization: Bearer <key>`, plus plain fetch for the non-tRPC routes (project export, run events).
 */
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import superjson from "superjson";
import type { AppRouter } from "#app/trpc/router.server.ts";
import { apiError, CliError } from "./errors.ts";

export const USER_AGENT = "agentry-cli";

export type Api = {
  url: string;
  trpc: ReturnType<typeof createTRPCClient<AppRouter>>;
  /** fetch `/api/v1<path>` with the key; a non-2xx answer throws the API's error as a CliError. */
  rest(path: string, init?: RequestInit): Promise<Response>;
};

/**
 * Errors the HTTP layer answers before tRPC sees the request (a bad key → 401 `{error:{code,message}}`)
 * are not tRPC responses: turn them into CliErrors here, where the status is known.
 */
async function checkNonTrpcError(res: Response, url: string): Promise<void> {
  if (res.ok || res.status < 400) return;
  const text = await res.clone().text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(`The server answered ${res.status} ${res.statusText} (not the Agentry API?)`);
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  if (error && typeof error.code === "string" && typeof error.message === "string") {
    throw apiError(error.code, error.message, url);
  }
}

export function createApi({ url, key }: { url: string; key: string }): Api {
  const headers = { authorization: `Bearer ${key}`, "user-agent": USER_AGENT };
  const trpc = createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${url}/api/trpc`,
        transformer: superjson,
        headers,
        // Saves during a push go in parallel; a batch keeps them to few requests.
        maxItems: 10,
        fetch: async (input, init) => {
          const res = await fetch(input as string, init as RequestInit);
          await checkNonTrpcError(res, url);
          return res;
        },
      }),
    ],
  });
  return {
    url,
    trpc,
    async rest(path, init = {}) {
      const res = await fetch(`${url}/api/v1${path}`, {
        ...init,
        headers: { ...headers, ...(init.headers as Record<string, string> | undefined) },
      });
      if (!res.ok) {
        await checkNonTrpcError(res, url);
        throw new CliError(`The server answered ${res.status} ${res.statusText}`);
      }
      return res;
    },
  };
}
