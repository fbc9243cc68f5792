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
