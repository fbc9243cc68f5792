/**
 * Vitest global setup: one PostgreSQL server and one migrated template database per run.
 * Each test file then clones the template (tests/setup/database.ts), which takes tens of
 * milliseconds instead of replaying every migration.
 */
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import {
  dropDatabase,
  ensureTemplate,
  listDatabases,
  resolveTestServer,
  TEST_DATABASE_PREFIX,
} from "./database-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of the test server (its maintenance database); never run tests in it. */
    dbServerUrl: string;
    /** Migrated template database to clone. */
    dbTemplate: string;
    /** Prefix of this run's test databases, so teardown can find the ones left behind. */
    dbRunPrefix: string;
  }
}

export default async function setup(project: TestProject) {
  const server = await resolveTestServer();
  let template: Awaited<ReturnType<typeof ensureTemplate>>;
  try {
    template = await ensureTemplate(server.url);
  } catch (error) {
    await server.stop();
    throw error;
  }
  if (template.built)
    console.info(`[db] built template ${template.name} in ${template.ms} ms (${server.source})`);
  const runPrefix = `${TEST_DATABASE_PREFIX}${randomBytes(4).toString("hex")}_`;
  project.provide("dbServerUrl", server.url);
  project.provide("dbTemplate", template.name);
  project.provide("dbRunPrefix", runPrefix);

  return async () => {
    try {
      // A test database still here was never closed: its test file forgot close() or crashed.
      const leftovers = await listDatabases(server.url, runPrefix);
      for (const name of leftovers) await dropDatabase(server.url, name);
      if (leftovers.length > 0) {
        throw new Error(
          `${leftovers.length} test database(s) were never closed (dropped now): ${leftovers.join(", ")}. Call close() in afterAll, or use setupTestDatabase().`,
        );
      }
    } finally {
      await server.stop();
    }
  };
}
