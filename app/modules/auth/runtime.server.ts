import pg from "pg";
import type { Db } from "#app/db/client.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { createAccessTokens } from "./access-token.server.ts";
import { createGitHubAuthenticator } from "./github.server.ts";
import { createRateLimits } from "./rate-limit.server.ts";

export type AuthConfig = {
  jwtSecret: string;
  /** Public base URL (for OAuth callbacks), when known ahead of requests. */
  publicUrl?: string;
  authPerMinute: number;
  apiPerMinute: number;
  github?: { clientId: string; clientSecret: string; webBaseUrl: string; apiBaseUrl: string };
  /**
   * Two tabs (or a page and its data request) may present the same refresh cookie at once; the second
   * one within this window gets a new access token instead of tripping reuse detection.
   */
  refreshReuseLeewayMs?: number;
};

/** Everything authentication needs at request time, built once per web process. */
export type AuthRuntime = ReturnType<typeof createAuthRuntime>;

export function createAuthRuntime({
  db,
  connectionString,
  config,
  logger,
}: {
  db: Db;
  connectionString: string;
  config: AuthConfig;
  logger: Logger;
}) {
  // The rate limiter keeps its counters in PostgreSQL so every web process shares them.
  const pool = new pg.Pool({ connectionString, max: 3, application_name: "agentry-ratelimit" });
  pool.on("error", (error) => logger.warn({ err: error }, "rate limiter pool error"));
  const tokens = createAccessTokens({ secret: config.jwtSecret });
  const rateLimits = createRateLimits({
    pool,
    authPerMinute: config.authPerMinute,
    apiPerMinute: config.apiPerMinute,
  });

  /** GitHub sign-in, when configured; the callback URL is derived from the request when PUBLIC_URL is unset. */
  const github = config.github
    ? (origin: string) =>
        createGitHubAuthenticator(
          {
            clientId: config.github!.clientId,
            clientSecret: config.github!.clientSecret,
            redirectURI: `${config.publicUrl ?? origin}/auth/github/callback`,
            webBaseUrl: config.github!.webBaseUrl,
            apiBaseUrl: config.github!.apiBaseUrl,
            cookieSecure: !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(
              config.publicUrl ?? origin,
            ),
          },
          { db, logger },
        )
    : null;

  return {
    db,
    tokens,
    rateLimits,
    github,
    publicUrl: config.publicUrl,
    refreshReuseLeewayMs: config.refreshReuseLeewayMs ?? 10_000,
    close: async () => {
      await rateLimits.close();
      await pool.end();
    },
  };
}
