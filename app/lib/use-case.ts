import type { z } from "zod";
import { AppError } from "./app-error.ts";

/** Helpers every use case (`verbNoun(input, deps)`) shares. */

/** The time a use case acts at: `deps.now()` when a test pins it, else now. */
export const clock = (deps: { now?: () => Date }): Date => (deps.now ? deps.now() : new Date());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed id would make PostgreSQL reject the query (uuid column): callers answer NOT_FOUND instead. */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/**
 * Parse a use case's input with its schema. The transports parse first; this keeps a use case safe
 * (normalised values, bounded sizes) when it is called from anywhere else. BAD_REQUEST with the issues.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new AppError("BAD_REQUEST", result.error.issues[0]?.message ?? "Invalid input", {
      issues: result.error.issues.map((issue) => ({ path: issue.path, message: issue.message })),
    });
  }
  return result.data;
}
