/**
 * Shared by the vitest global setup and the helpers tests use: which PostgreSQL server tests
 * run on, and database-level operations on it (create, drop, template).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { migrate, readMigrations } from "#app/db/migrate.server.ts";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const migrationsDir = path.join(repoRoot, "prisma", "migrations");

/** Template databases: one per distinct set of migrations. */
export const TEMPLATE_PREFIX = "agentry_tpl_";
/** Per-test databases: `agentry_t_<run id>_<random>`. */
export const TEST_DATABASE_PREFIX = "agentry_t_";

/** Serialises template builds across concurrent test runs on one server (any constant will do). */
const TEMPLATE_LOCK_KEY = 0x61677470; // "agtp"

/** `url` with its database name replaced. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

export async function withAdminClient<T>(
  serverUrl: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, application_name: "agentry-test-admin" });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * CREATE DATABASE, optionally from a template. Retries while something is still connected to the
 * template (PostgreSQL refuses to copy a database in use), which happens for a moment after a
 * template is built.
 */
export async function createDatabase(
  serverUrl: string,
  name: string,
  { template }: { template?: string } = {},
): Promise<{ name: string; url: string }> {
  const sql = `CREATE DATABASE ${quote(name)}${template ? ` TEMPLATE ${quote(template)}` : ""}`;
  await withAdminClient(serverUrl, async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(sql);
        return;
      } catch (error) {
        // 55006: source database is being accessed by other users
        if ((error as { code?: string }).code !== "55006" || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  });
  return { name, url: databaseUrl(serverUrl, name) };
}

/** DROP DATABASE ... WITH (FORCE): connections still open are terminated. No error when it is gone. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdminClient(serverUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`),
  );
}

/** Backends connected to `name`, other than our own admin session. */
export async function connectionsTo(
  client: pg.Client,
  name: string,
): Promise<Array<{ pid: number; application_name: string; state: string | null }>> {
  const { rows } = await client.query<{ pid: number; application_name: string; state: string | null }>(
    `SELECT pid, application_name, state FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [name],
  );
  return rows;
}

/** Names of this server's databases starting with `prefix`. */
export async function listDatabases(serverUrl: string, prefix: string): Promise<string[]> {
  return withAdminClient(serverUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname`,
      [prefix],
    );
    return rows.map((r) => r.datname);
  });
}

/**
 * The template name for the current migrations: a hash of every migration's name and checksum and
 * of graphile-worker's version (its migrations are part of the template too). Changing any of
 * them makes a new template; an unchanged tree reuses the one built by an earlier run.
 */
export async function templateName(): Promise<string> {
  const hash = createHash("sha256");
  for (const m of await readMigrations(migrationsDir)) hash.update(`${m.name}:${m.checksum}\n`);
  const require = createRequire(import.meta.url);
  // graphile-worker's "exports" hides its package.json; read it next to its entry point.
  const entry = require.resolve("graphile-worker");
  const manifest = JSON.parse(
    await readFile(path.join(path.dirname(entry), "..", "package.json"), "utf8"),
  ) as {
    version: string;
  };
  hash.update(`graphile-worker:${manifest.version}\n`);
  return `${TEMPLATE_PREFIX}${hash.digest("hex").slice(0, 16)}`;
}

/**
 * Make sure the migrated template database exists: build it under a temporary name, migrate it,
 * then rename it into place, so its existence means it is complete. Concurrent test runs on one
 * server wait for each other on an advisory lock. Old templates (other migration sets) are
 * dropped when nobody is using them.
 */
export async function ensureTemplate(
  serverUrl: string,
): Promise<{ name: string; built: boolean; ms: number }> {
  const started = performance.now();
  const name = await templateName();
  let built = false;
  await withAdminClient(serverUrl, async (client) => {
    await client.query("SELECT pg_advisory_lock($1)", [TEMPLATE_LOCK_KEY]);
    try {
      const { rows } = await client.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`,
        [TEMPLATE_PREFIX],
      );
      for (const { datname } of rows) {
        if (datname === name) continue;
        // Another branch's template, or a build that died halfway. In use = leave it.
        await client
          .query(`ALTER DATABASE ${quote(datname)} WITH IS_TEMPLATE false`)
          .then(() => client.query(`DROP DATABASE ${quote(datname)}`))
          .catch(() => {});
      }
      if (rows.some((r) => r.datname === name)) return;

      const building = `${name}_b${randomBytes(3).toString("hex")}`;
      await client.query(`CREATE DATABASE ${quote(building)}`);
      try {
        await migrate({ connectionString: databaseUrl(serverUrl, building), migrationsDir });
        await client.query(`ALTER DATABASE ${quote(building)} RENAME TO ${quote(name)}`);
      } catch (error) {
        await client.query(`DROP DATABASE IF EXISTS ${quote(building)} WITH (FORCE)`).catch(() => {});
        throw error;
      }
      // Nobody may connect to the template: a connection would make every CREATE ... TEMPLATE fail.
      await client.query(`ALTER DATABASE ${quote(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
      built = true;
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [TEMPLATE_LOCK_KEY]).catch(() => {});
    }
  });
  return { name, built, ms: Math.round(performance.now() - started) };
}

/**
 * The server tests run on: TEST_DATABASE_URL, else DATABASE_URL, else the embedded PostgreSQL in
 * `.data-test/` (started if needed; a concurrent run attaches to it). Not under `.data/`: that
 * directory is private (0700, it holds the app's secrets), and when we run as root PostgreSQL runs
 * as the `postgres` user, which must be able to reach its data directory.
 */
export async function resolveTestServer(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ url: string; source: string; stop(): Promise<void> }> {
  if (env.TEST_DATABASE_URL)
    return { url: env.TEST_DATABASE_URL, source: "TEST_DATABASE_URL", stop: async () => {} };
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, source: "DATABASE_URL", stop: async () => {} };
  const { ensureEmbeddedPostgres } = await import("#app/db/embedded-postgres.server.ts");
  const embedded = await ensureEmbeddedPostgres({
    dataDir: path.join(repoRoot, ".data-test"),
    database: "postgres",
    ifRunning: "attach",
  });
  return { url: embedded.url, source: "embedded", stop: () => embedded.stop() };
}
