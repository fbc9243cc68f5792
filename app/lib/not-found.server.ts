import { isAppError } from "./app-error.ts";

/**
 * `promise`, with a NOT_FOUND AppError turned into a 404 Response for the page's error boundary. Someone
 * else's thing and a missing one answer the same, so ids cannot be probed from the pages either.
 */
export function or404<T>(promise: Promise<T>, message: string): Promise<T> {
  return promise.catch((error: unknown) => {
    if (isAppError(error) && error.code === "NOT_FOUND") throw new Response(message, { status: 404 });
    throw error;
  });
}
