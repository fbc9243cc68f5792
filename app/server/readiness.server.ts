import type { Db } from "#app/db/client.server.ts";

export type ReadinessCheck = {
  db: Db;
  /** Names of migrations present in the code but not applied to the database. */
  pendingMigrations: () => Promise<string[]>;
  /** How long the database may take to answer before we call it down. */
  timeoutMs?: number;
};

export type Readiness = { ok: true } | { ok: false; reason: string; pendingMigrations?: string[] };

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Ready = the database answers and every migration in the code has been applied. */
export async function checkReadiness({
  db,
  pendingMigrations,
  timeoutMs = 2000,
}: ReadinessCheck): Promise<Readiness> {
  try {
    await withTimeout(db.$queryRaw`SELECT 1`, timeoutMs, "database");
  } catch (error) {
    return { ok: false, reason: `database unavailable: ${(error as Error).message}` };
  }
  try {
    const pending = await withTimeout(pendingMigrations(), timeoutMs, "migration check");
    if (pending.length > 0) {
      return { ok: false, reason: `${pending.length} migration(s) not applied`, pendingMigrations: pending };
    }
  } catch (error) {
    return { ok: false, reason: `migration check failed: ${(error as Error).message}` };
  }
  return { ok: true };
}
