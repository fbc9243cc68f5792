/**
 * Request limits kept in PostgreSQL (rate-limiter-flexible's RateLimiterPostgres), so every web
 * process counts against the same numbers. Fixed one-minute windows per key: the row's `points`
 * count the requests of the window that ends at `expire` (ms since the epoch).
 *
 * The "RateLimit" table is created by a migration (model RateLimit in schema.prisma), never by the
 * library at the first request: `tableCreated: true`.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";
import { AppError } from "#app/lib/app-error.ts";

/** The table of model RateLimit; columns (key, points, expire) are the library's, in its order. */
export const RATE_LIMIT_TABLE = "RateLimit";
const WINDOW_SECONDS = 60;
/** Rows of windows that ended longer ago than this are deleted by the sweeper. */
const SWEEP_AFTER_MS = 60 * 60 * 1000;
const SWEEP_EVERY_MS = 5 * 60 * 1000;

export type RateLimitOptions = {
  /** A pool on the application database. Not closed by close(): it is the caller's. */
  pool: pg.Pool;
  /** Sign-in, sign-up and refresh attempts per minute, per client IP and per account. Default 10. */
  authPerMinute?: number;
  /** API requests per minute per API key (unless the key sets its own). Default 600. */
  apiPerMinute?: number;
  /** API requests per minute per user, across their keys and sessions. Default `apiPerMinute`. */
  apiUserPerMinute?: number;
  /** Delete long-expired rows every 5 minutes. Default true; at most one process needs it. */
  sweep?: boolean;
};

export type RateLimits = {
  /** One auth attempt from this client address. */
  authIp(ip: string): Promise<void>;
  /** One auth attempt naming this account (the email is normalised and hashed, never stored). */
  authAccount(email: string): Promise<void>;
  /** One API request with this key; `limit` is the key's own per-minute limit when it has one. */
  apiKey(apiKeyId: string, limit?: number | null): Promise<void>;
  /** One API request by this user. */
  apiUser(userId: string): Promise<void>;
  /** Stop the sweeper. The pool stays open (it is the caller's). */
  close(): Promise<void>;
};

/** Keys are varchar(255) and may come from headers: long or free-form values are hashed. */
function storeKey(value: string): string {
  return /^[\w.:@-]{1,100}$/.test(value) ? value : `h:${createHash("sha256").update(value).digest("hex")}`;
}

/**
 * Create the limiters. Each method resolves when the request may proceed and otherwise throws
 * AppError TOO_MANY_REQUESTS with `details.retryAfterSeconds` (whole seconds, ≥ 1). A database
 * failure is thrown as is: the request fails rather than going unlimited.
 */
export function createRateLimits({
  pool,
  authPerMinute = 10,
  apiPerMinute = 600,
  apiUserPerMinute = apiPerMinute,
  sweep = true,
}: RateLimitOptions): RateLimits {
  const limiter = (keyPrefix: string, points: number) =>
    new RateLimiterPostgres({
      storeClient: pool,
      storeType: "pool",
      tableName: RATE_LIMIT_TABLE,
      tableCreated: true,
      // One sweeper for all limiters (below), which close() can stop.
      clearExpiredByTimeout: false,
      keyPrefix,
      points,
      duration: WINDOW_SECONDS,
      // Once a key is over its limit this process answers from memory until the window ends:
      // a flood of rejected requests does not become a flood of writes.
      inMemoryBlockOnConsumed: points + 1,
    });

  const authIp = limiter("auth-ip", authPerMinute);
  const authAccount = limiter("auth-account", authPerMinute);
  const apiUser = limiter("api-user", apiUserPerMinute);
  // Keys may carry their own limit. Limiters with one prefix share their rows (a row counts
  // requests; each limiter compares that count with its own limit), so one per distinct limit.
  const apiKeyLimiters = new Map<number, RateLimiterPostgres>();
  const apiKeyLimiter = (limit: number) => {
    let found = apiKeyLimiters.get(limit);
    if (!found) {
      found = limiter("api-key", limit);
      apiKeyLimiters.set(limit, found);
    }
    return found;
  };

  async function consume(rl: RateLimiterPostgres, key: string, what: string): Promise<void> {
    try {
      await rl.consume(storeKey(key));
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        const retryAfterSeconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
        throw new AppError("TOO_MANY_REQUESTS", `Too many ${what}. Try again in ${retryAfterSeconds} s.`, {
          retryAfterSeconds,
        });
      }
      throw error;
    }
  }

  let sweeper: NodeJS.Timeout | undefined;
  if (sweep) {
    sweeper = setInterval(() => {
      pool
        .query(`DELETE FROM "${RATE_LIMIT_TABLE}" WHERE expire < $1`, [Date.now() - SWEEP_AFTER_MS])
        // Housekeeping only: the next sweep tries again.
        .catch(() => {});
    }, SWEEP_EVERY_MS);
    sweeper.unref();
  }

  return {
    authIp: (ip) => consume(authIp, ip, "sign-in attempts"),
    authAccount: (email) =>
      consume(
        authAccount,
        createHash("sha256").update(email.trim().toLowerCase()).digest("hex"),
        "sign-in attempts",
      ),
    apiKey: (apiKeyId, limit) => {
      const points = limit && limit > 0 ? limit : apiPerMinute;
      return consume(apiKeyLimiter(points), apiKeyId, "requests");
    },
    apiUser: (userId) => consume(apiUser, userId, "requests"),
    async close() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
    },
  };
}
