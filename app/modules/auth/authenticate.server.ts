import { AppError, isAppError } from "#app/lib/app-error.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { authenticateApiKey } from "./api-keys.server.ts";
import { SCOPES, type Scope } from "./auth.types.ts";
import {
  type CookieContext,
  clearedSessionCookies,
  readSessionCookies,
  sessionCookies,
} from "./cookies.server.ts";
import type { AuthRuntime } from "./runtime.server.ts";
import { isSessionActive, rotateRefreshToken } from "./sessions.server.ts";

/** Who is calling. A browser session or a Bearer JWT carries every scope; an API key only its own. */
export type Principal = {
  userId: string;
  kind: "session" | "api_key";
  /** The refresh-token family behind a session (JWT `sid`); null for API keys. */
  sessionId: string | null;
  apiKeyId: string | null;
  scopes: readonly Scope[];
  /** Per-key request limit, when the key sets one. */
  rateLimitPerMinute: number | null;
};

export type RequestCredentials = {
  authorization?: string | null;
  cookieHeader?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  cookieContext: CookieContext;
};

export type AuthOutcome = {
  principal: Principal | null;
  /** Cookies to send back: a transparent refresh, or clearing a dead session. */
  setCookies: string[];
  /** Set when the request presented credentials that do not hold (a bad Bearer token). */
  error: AppError | null;
};

const ALL_SCOPES: readonly Scope[] = SCOPES;

async function principalFromJwt(token: string, runtime: AuthRuntime): Promise<Principal> {
  const claims = await runtime.tokens.verify(token);
  // Logging out revokes the session at once, not when its last access token expires.
  if (!(await isSessionActive({ sessionId: claims.sessionId, userId: claims.userId }, { db: runtime.db }))) {
    throw new AppError("UNAUTHORIZED", "This session has ended. Sign in again.");
  }
  return {
    userId: claims.userId,
    kind: "session",
    sessionId: claims.sessionId,
    apiKeyId: null,
    scopes: ALL_SCOPES,
    rateLimitPerMinute: null,
  };
}

/**
 * Resolve the caller of one request. Order: an Authorization header (API key
 * `agt_…` or JWT) decides alone when present; otherwise the session cookies,
 * refreshing the access token transparently when only the refresh token is
 * still good.
 */
export async function authenticateRequest(
  credentials: RequestCredentials,
  runtime: AuthRuntime,
  logger?: Logger,
): Promise<AuthOutcome> {
  const { authorization, cookieHeader, cookieContext } = credentials;
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match) {
      return {
        principal: null,
        setCookies: [],
        error: new AppError("UNAUTHORIZED", "Authorization must be `Bearer <token>`"),
      };
    }
    const token = match[1]!;
    try {
      if (token.startsWith("agt_")) {
        const key = await authenticateApiKey({ key: token }, { db: runtime.db });
        return {
          principal: {
            userId: key.userId,
            kind: "api_key",
            sessionId: null,
            apiKeyId: key.apiKeyId,
            scopes: key.scopes as Scope[],
            rateLimitPerMinute: key.rateLimitPerMinute ?? null,
          },
          setCookies: [],
          error: null,
        };
      }
      return { principal: await principalFromJwt(token, runtime), setCookies: [], error: null };
    } catch (error) {
      if (isAppError(error)) return { principal: null, setCookies: [], error };
      throw error;
    }
  }

  const { accessToken, refreshToken } = readSessionCookies(cookieHeader);
  if (accessToken) {
    try {
      return { principal: await principalFromJwt(accessToken, runtime), setCookies: [], error: null };
    } catch (error) {
      if (!isAppError(error)) throw error;
      // Expired or revoked: fall through to the refresh token.
    }
  }
  if (!refreshToken) {
    return {
      principal: null,
      setCookies: accessToken ? clearedSessionCookies(cookieContext) : [],
      error: null,
    };
  }
  try {
    const rotated = await rotateRefreshToken(
      {
        refreshToken,
        userAgent: credentials.userAgent ?? undefined,
        ip: credentials.ip ?? undefined,
        reuseLeewayMs: runtime.refreshReuseLeewayMs,
      },
      { db: runtime.db },
    );
    const access = await runtime.tokens.sign({ userId: rotated.userId, sessionId: rotated.sessionId });
    return {
      principal: {
        userId: rotated.userId,
        kind: "session",
        sessionId: rotated.sessionId,
        apiKeyId: null,
        scopes: ALL_SCOPES,
        rateLimitPerMinute: null,
      },
      setCookies: sessionCookies(
        {
          accessToken: access.token,
          accessExpiresAt: access.expiresAt,
          refreshToken: rotated.refreshToken,
          refreshExpiresAt: rotated.expiresAt,
        },
        cookieContext,
      ),
      error: null,
    };
  } catch (error) {
    if (!isAppError(error)) throw error;
    logger?.info({ reason: error.message }, "session cookie refused; signing out");
    return { principal: null, setCookies: clearedSessionCookies(cookieContext), error: null };
  }
}

/** True when the principal may use a procedure that needs `scope`. */
export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes(scope);
}
