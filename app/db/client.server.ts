import { createHash } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { Prisma, PrismaClient } from "#app/generated/prisma/client.ts";

export * from "#app/generated/prisma/enums.ts";
export { Prisma, PrismaClient };

/** The database handle use cases take as their injectable `db` argument. */
export type Db = PrismaClient;
/** The client inside `db.$transaction(async (tx) => ...)`: pass it where a use case must join the transaction. */
export type DbTx = Prisma.TransactionClient;
/** Either of the above: for functions that work inside or outside a transaction. */
export type DbOrTx = Db | DbTx;

export type CreatePrismaClientOptions = {
  /** PostgreSQL URL (`postgresql://user:password@host:port/db`). */
  connectionString: string;
  /** Maximum connections in this client's pool. Default 10. */
  max?: number;
  /**
   * Prisma log levels written to stdout/stderr. Default: none (errors are thrown, not logged;
   * the caller logs them with context).
   */
  log?: Prisma.LogLevel[];
  /** Shown in pg_stat_activity, to tell web, worker and scripts apart. Default "agentry". */
  applicationName?: string;
  /** How long to wait for a free connection or a new one before failing. Default 10 000 ms. */
  connectionTimeoutMillis?: number;
  /** Idle connections are closed after this. Default 30 000 ms. */
  idleTimeoutMillis?: number;
};

/**
 * Raw SQL that starts with this comment (`db.$queryRaw\`/* prepared *\/ SELECT …\``) runs as a named
 * prepared statement: each connection parses it once, and PostgreSQL may keep its plan (a generic plan after
 * five executions), instead of parsing and planning it on every call. For the hot, fixed-shape statements of
 * the run pipeline only: each distinct text stays prepared on every pooled connection for its lifetime.
 */
export const PREPARED = "/* prepared */";

const statementNames = new Map<string, string>();
/** The prepared statement name of `sql` (from its text), or "" (unnamed: parsed each time). */
function statementName(sql: string): string {
  if (!sql.startsWith(PREPARED)) return "";
  let name = statementNames.get(sql);
  if (!name) {
    name = `agentry_${createHash("sha1").update(sql).digest("hex").slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return name;
}

/**
 * A Prisma client on its own `pg` pool, through `@prisma/adapter-pg` (Prisma 7 has no built-in
 * driver). Call `$disconnect()` to close the pool.
 *
 * Every connection runs with `TimeZone = UTC`: Prisma's `DateTime` columns are `timestamp(3)`
 * *without* time zone and Prisma reads and writes them as UTC, so raw SQL comparing them with
 * `now()` (heartbeats, expiry) is only right when the session time zone is UTC too.
 */
export function createPrismaClient({
  connectionString,
  max = 10,
  log,
  applicationName = "agentry",
  connectionTimeoutMillis = 10_000,
  idleTimeoutMillis = 30_000,
}: CreatePrismaClientOptions): Db {
  const pool = new pg.Pool({
    connectionString,
    max,
    application_name: applicationName,
    connectionTimeoutMillis,
    idleTimeoutMillis,
    // Awaited by the pool before the connection is handed out; a failure fails that checkout.
    onConnect: async (client) => {
      await client.query("SET TIME ZONE 'UTC'");
    },
  });
  // An idle connection dropped by the server (restart, idle timeout) must not crash the process;
  // the pool discards it and the next query opens a new one.
  pool.on("error", () => {});
  const adapter = new PrismaPg(pool, {
    disposeExternalPool: true,
    statementNameGenerator: (query) => statementName(query.sql),
  });
  return new PrismaClient({ adapter, log });
}
