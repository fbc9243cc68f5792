/**
 * A PostgreSQL server of a test's own (the embedded one `npm start` uses), for tests that must stop and
 * restart the database: the machine's shared test server stays untouched. Its data directory is a fresh
 * temporary directory (below os.tmpdir(), which the `postgres` OS user can reach when we run as root),
 * removed by destroy().
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { type EmbeddedPostgres, ensureEmbeddedPostgres } from "#app/db/embedded-postgres.server.ts";
import { migrate } from "#app/db/migrate.server.ts";
import { migrationsDir } from "#tests/setup/database-server.ts";

export type DedicatedPostgres = {
  /** postgresql://… of the migrated database (contains the generated password). */
  readonly url: string;
  readonly port: number;
  /** Stop the server (fast shutdown: every connection is cut) and start it again on the same port. */
  restart(): Promise<{ stopMs: number; startMs: number }>;
  /** One query on a short-lived connection (survives restarts, holds nothing open). */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Stop the server and delete its data directory. Idempotent, never throws. */
  destroy(): Promise<void>;
};

const DATABASE = "agentry";

/** Start a dedicated PostgreSQL on a free port and apply the app's migrations to its `agentry` database. */
export async function startDedicatedPostgres(prefix = "agentry-it-"): Promise<DedicatedPostgres> {
  const dataDir = await mkdtemp(path.join(tmpdir(), prefix));
  let server: EmbeddedPostgres | undefined;
  try {
    server = await ensureEmbeddedPostgres({ dataDir, database: DATABASE });
    await migrate({ connectionString: server.url, migrationsDir });
  } catch (error) {
    await server?.stop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  let current: EmbeddedPostgres | undefined = server;
  const { url, port } = server;
  let destroyed: Promise<void> | undefined;

  return {
    url,
    port,
    async restart() {
      if (!current) throw new Error("the dedicated PostgreSQL is not running");
      const t0 = performance.now();
      await current.stop();
      current = undefined;
      const t1 = performance.now();
      current = await ensureEmbeddedPostgres({ dataDir, database: DATABASE, port });
      return { stopMs: Math.round(t1 - t0), startMs: Math.round(performance.now() - t1) };
    },
    async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      const client = new pg.Client({ connectionString: url, application_name: "agentry-it-check" });
      client.on("error", () => {});
      await client.connect();
      try {
        return (await client.query<R>(sql, params)).rows;
      } finally {
        await client.end().catch(() => {});
      }
    },
    destroy() {
      destroyed ??= (async () => {
        await current?.stop().catch(() => {});
        current = undefined;
        await rm(dataDir, { recursive: true, force: true }).catch(() => {});
      })();
      return destroyed;
    },
  };
}
