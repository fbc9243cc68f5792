import type { Db } from "#app/db/client.server.ts";

/** Facts about the database for the status page, read in one round trip. */
export async function getDatabaseInfo(db: Db) {
  const [row] = await db.$queryRaw<[{ server_version: string; database: string; applied: bigint }]>`
    SELECT current_setting('server_version') AS server_version,
           current_database() AS database,
           (SELECT count(*) FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL) AS applied`;
  return {
    serverVersion: row.server_version,
    database: row.database,
    migrationsApplied: Number(row.applied),
  };
}
