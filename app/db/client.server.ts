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
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  return new PrismaClient({ adapter, log });
}
