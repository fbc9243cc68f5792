/** Helpers for tests that drive provider streams (contract and retry suites). */
import type { StreamEvent } from "../ai.types.ts";
import { ProviderError } from "./types.server.ts";

/** Every event of a stream that must succeed. */
export async function collect(iterable: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of iterable) out.push(event);
  return out;
}

/** The ProviderError a stream must end with; events seen before it go into `seen`. */
export async function failure(
  iterable: AsyncIterable<StreamEvent>,
  seen: StreamEvent[] = [],
): Promise<ProviderError> {
  try {
    for await (const event of iterable) seen.push(event);
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error(`expected the stream to fail; it gave ${JSON.stringify(seen)}`);
}
