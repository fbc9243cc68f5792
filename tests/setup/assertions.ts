import { TRPCError } from "@trpc/server";
import { expect } from "vitest";

/** What a use case rejects with: an AppError (code, message, maybe details), seen from a test. */
export type Rejection = { code: string; message: string; details?: Record<string, unknown> };

/** Awaits `promise` and returns what it rejected with; the test fails if it resolves instead. */
export async function rejection(promise: Promise<unknown>): Promise<Rejection> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "expected a rejection").not.toBeNull();
  return error as Rejection;
}

/** What a procedure called through createCaller rejects with: a TRPCError (fails the test otherwise). */
export async function trpcRejection(promise: Promise<unknown>): Promise<TRPCError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  return error as TRPCError;
}
