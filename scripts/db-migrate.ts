/**
 * `npm run db:migrate`: apply pending migrations (ours, then graphile-worker's) to DATABASE_URL,
 * or, when it is unset, to the embedded PostgreSQL `npm start` uses (AGENTRY_DATA_DIR, default
 * .data; attached to if `npm start` is running, else started for the run and stopped after).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureEmbeddedPostgres } from "#app/db/embedded-postgres.server.ts";
import { migrate } from "#app/db/migrate.server.ts";
import { loadEnv } from "#app/env.server.ts";
import { createLogger, redactDatabaseUrl } from "#app/lib/logger.server.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const env = loadEnv(process.env, root);
const logger = createLogger({ level: env.LOG_LEVEL, name: "db-migrate" });

const embedded = env.DATABASE_URL
  ? undefined
  : await ensureEmbeddedPostgres({ dataDir: env.dataDir, ifRunning: "attach", logger });
const connectionString = env.DATABASE_URL ?? embedded!.url;
try {
  const started = performance.now();
  const { applied } = await migrate({
    connectionString,
    migrationsDir: path.join(root, "prisma", "migrations"),
    logger,
  });
  console.info(
    applied.length > 0
      ? `Applied ${applied.length} migration(s) to ${redactDatabaseUrl(connectionString)} in ${Math.round(performance.now() - started)} ms: ${applied.join(", ")}`
      : `${redactDatabaseUrl(connectionString)} is up to date.`,
  );
} catch (error) {
  console.error(`Migration failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await embedded?.stop();
}
