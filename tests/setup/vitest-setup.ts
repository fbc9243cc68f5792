import { afterEach, beforeEach, vi } from "vitest";

/**
 * Any console.error during a unit test fails it: an error logged is an error
 * someone will miss in production. Tests that expect one must spy on
 * console.error themselves (vi.spyOn(console, "error").mockImplementation(...)).
 */
let errors: unknown[][] = [];

beforeEach(() => {
  errors = [];
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    errors.push(args);
  });
});

afterEach(() => {
  const spy = console.error as unknown as { mock?: { calls: unknown[][] } };
  const logged = errors;
  errors = [];
  // A test that replaced the spy with its own expectation owns the outcome.
  if (spy.mock && logged.length > 0) {
    throw new Error(
      `console.error was called during the test:\n${logged.map((a) => a.map(String).join(" ")).join("\n")}`,
    );
  }
});
