import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^#app\/(.*)$/, replacement: `${root}app/$1` },
      { find: /^#worker\/(.*)$/, replacement: `${root}worker/$1` },
      { find: /^#tests\/(.*)$/, replacement: `${root}tests/$1` },
      { find: /^#prisma\/(.*)$/, replacement: `${root}prisma/$1` },
    ],
  },
  test: {
    include: [
      "app/**/*.test.{ts,tsx}",
      "worker/**/*.test.ts",
      "tests/**/*.test.ts",
      "scripts/**/*.test.ts",
      "cli/**/*.test.ts",
    ],
    exclude: ["tests/e2e/**", "node_modules/**", "build/**"],
    globalSetup: ["tests/setup/global-setup.ts"],
    setupFiles: ["tests/setup/vitest-setup.ts"],
    environment: "node",
    // Integration tests hit a real PostgreSQL; each file gets its own database,
    // so files can run in parallel across the two cores we have.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    restoreMocks: true,
  },
});
