import { z } from "zod";
import { AppError } from "#app/lib/app-error.ts";
import {
  publicProcedure,
  router,
  scopedProcedure,
  sessionProcedure,
  type TrpcContext,
  userProcedure,
} from "#app/trpc/init.server.ts";
import { changePassword, getUser, login, signup } from "./accounts.server.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "./api-keys.server.ts";
import { listAuditEvents } from "./audit.server.ts";
import {
  SCOPES,
  ZApiKeyView,
  ZAuditEventView,
  ZChangePasswordInput,
  ZCreateApiKeyInput,
  ZCreatedApiKey,
  ZLoginInput,
  ZPageInput,
  ZPublicUser,
  ZSessionView,
  ZSignupInput,
} from "./auth.types.ts";
import { clearedSessionCookies, sessionCookies } from "./cookies.server.ts";
import {
  listSessions,
  revokeAllSessions,
  revokeSession,
  rotateRefreshToken,
  startSession,
} from "./sessions.server.ts";

const ZTokenResponse = z.object({
  user: ZPublicUser,
  accessToken: z.string(),
  accessTokenExpiresAt: z.date(),
});

const ZRefreshResponse = z.object({
  accessToken: z.string(),
  accessTokenExpiresAt: z.date(),
  /** Returned only to callers that sent their refresh token in the body (cookie clients get a cookie). */
  refreshToken: z.string().optional(),
});

const ZOk = z.object({ ok: z.literal(true) });
const ZId = z.object({ id: z.uuid({ message: "id must be a UUID" }) });

/** Log the user in on this response: a session (refresh family), an access token, both cookies. */
async function openSession(ctx: TrpcContext, userId: string) {
  const session = await startSession(
    { userId, userAgent: ctx.client.userAgent ?? undefined, ip: ctx.client.ip ?? undefined },
    { db: ctx.db },
  );
  const access = await ctx.runtime.tokens.sign({ userId, sessionId: session.sessionId });
  ctx.response.setCookies(
    sessionCookies(
      {
        accessToken: access.token,
        accessExpiresAt: access.expiresAt,
        refreshToken: session.refreshToken,
        refreshExpiresAt: session.expiresAt,
      },
      ctx.client.cookieContext,
    ),
  );
  return access;
}

async function limitAuthAttempt(ctx: TrpcContext, email?: string) {
  await ctx.runtime.rateLimits.authIp(ctx.client.ip ?? "unknown");
  if (email) await ctx.runtime.rateLimits.authAccount(email);
}

const audit = (ctx: TrpcContext) => ({
  db: ctx.db,
  ip: ctx.client.ip ?? undefined,
  userAgent: ctx.client.userAgent ?? undefined,
});

export const authRouter = router({
  signup: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/signup",
        tags: ["auth"],
        summary: "Create an account and sign in",
        protect: false,
        successDescription: "201: the account, an access token, and the refresh token as an HttpOnly cookie",
      },
    })
    .input(ZSignupInput)
    .output(ZTokenResponse)
    .mutation(async ({ ctx, input }) => {
      await limitAuthAttempt(ctx, input.email);
      const { user } = await signup({ ...input, ...audit(ctx) }, { db: ctx.db, logger: ctx.logger });
      const access = await openSession(ctx, user.id);
      ctx.response.setStatus(201);
      return { user, accessToken: access.token, accessTokenExpiresAt: access.expiresAt };
    }),

  login: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/login",
        tags: ["auth"],
        summary: "Sign in with email and password",
        protect: false,
      },
    })
    .input(ZLoginInput)
    .output(ZTokenResponse)
    .mutation(async ({ ctx, input }) => {
      await limitAuthAttempt(ctx, input.email);
      const { user } = await login({ ...input, ...audit(ctx) }, { db: ctx.db, logger: ctx.logger });
      const access = await openSession(ctx, user.id);
      return { user, accessToken: access.token, accessTokenExpiresAt: access.expiresAt };
    }),

  refresh: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/refresh",
        tags: ["auth"],
        summary: "Exchange a refresh token (cookie or body) for a new pair",
        protect: false,
      },
    })
    .input(z.object({ refreshToken: z.string().min(1).max(200).optional() }))
    .output(ZRefreshResponse)
    .mutation(async ({ ctx, input }) => {
      await limitAuthAttempt(ctx);
      const presented = input.refreshToken ?? ctx.client.refreshCookie;
      if (!presented)
        throw new AppError("UNAUTHORIZED", "No refresh token: send the cookie or `refreshToken`");
      let rotated: Awaited<ReturnType<typeof rotateRefreshToken>>;
      try {
        // Explicit refreshes get no reuse leeway: presenting a rotated token revokes the family.
        rotated = await rotateRefreshToken(
          {
            refreshToken: presented,
            userAgent: ctx.client.userAgent ?? undefined,
            ip: ctx.client.ip ?? undefined,
          },
          { db: ctx.db },
        );
      } catch (error) {
        if (!input.refreshToken) ctx.response.setCookies(clearedSessionCookies(ctx.client.cookieContext));
        throw error;
      }
      const access = await ctx.runtime.tokens.sign({ userId: rotated.userId, sessionId: rotated.sessionId });
      if (input.refreshToken) {
        return {
          accessToken: access.token,
          accessTokenExpiresAt: access.expiresAt,
          refreshToken: rotated.refreshToken ?? undefined,
        };
      }
      ctx.response.setCookies(
        sessionCookies(
          {
            accessToken: access.token,
            accessExpiresAt: access.expiresAt,
            refreshToken: rotated.refreshToken,
            refreshExpiresAt: rotated.expiresAt,
          },
          ctx.client.cookieContext,
        ),
      );
      return { accessToken: access.token, accessTokenExpiresAt: access.expiresAt };
    }),

  logout: sessionProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/logout",
        tags: ["auth"],
        summary: "End this session (its refresh-token family)",
      },
    })
    .input(z.void())
    .output(ZOk)
    .mutation(async ({ ctx }) => {
      if (ctx.auth.sessionId) {
        await revokeSession(
          { userId: ctx.auth.userId, sessionId: ctx.auth.sessionId, reason: "logout" },
          audit(ctx),
        );
      }
      ctx.response.setCookies(clearedSessionCookies(ctx.client.cookieContext));
      return { ok: true as const };
    }),

  logoutAll: sessionProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/logout-all",
        tags: ["auth"],
        summary: "End every session of this account",
      },
    })
    .input(z.void())
    .output(z.object({ revoked: z.number().int() }))
    .mutation(async ({ ctx }) => {
      const result = await revokeAllSessions({ userId: ctx.auth.userId, reason: "logout_all" }, audit(ctx));
      ctx.response.setCookies(clearedSessionCookies(ctx.client.cookieContext));
      return { revoked: typeof result === "number" ? result : (result?.revoked ?? 0) };
    }),

  me: userProcedure
    .meta({
      openapi: { method: "GET", path: "/me", tags: ["auth"], summary: "The caller: user and credential" },
    })
    .input(z.void())
    .output(
      z.object({
        user: ZPublicUser,
        credential: z.object({ kind: z.enum(["session", "api_key"]), scopes: z.array(z.enum(SCOPES)) }),
      }),
    )
    .query(async ({ ctx }) => ({
      user: await getUser({ userId: ctx.auth.userId }, { db: ctx.db }),
      credential: { kind: ctx.auth.kind, scopes: [...ctx.auth.scopes] },
    })),

  changePassword: sessionProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/password",
        tags: ["auth"],
        summary: "Change the password; other sessions are signed out",
      },
    })
    .input(ZChangePasswordInput)
    .output(ZOk)
    .mutation(async ({ ctx, input }) => {
      await limitAuthAttempt(ctx);
      await changePassword(
        { userId: ctx.auth.userId, ...input, keepSessionId: ctx.auth.sessionId ?? undefined, ...audit(ctx) },
        { db: ctx.db, logger: ctx.logger },
      );
      return { ok: true as const };
    }),
});

export const sessionsRouter = router({
  list: sessionProcedure
    .meta({ openapi: { method: "GET", path: "/sessions", tags: ["auth"], summary: "Active sessions" } })
    .input(z.void())
    .output(z.object({ items: z.array(ZSessionView) }))
    .query(async ({ ctx }) => ({
      items: await listSessions(
        { userId: ctx.auth.userId, currentSessionId: ctx.auth.sessionId ?? undefined },
        { db: ctx.db },
      ),
    })),

  revoke: sessionProcedure
    .meta({
      openapi: { method: "DELETE", path: "/sessions/{id}", tags: ["auth"], summary: "Sign a session out" },
    })
    .input(ZId)
    .output(ZOk)
    .mutation(async ({ ctx, input }) => {
      await revokeSession({ userId: ctx.auth.userId, sessionId: input.id, reason: "revoked" }, audit(ctx));
      if (input.id === ctx.auth.sessionId)
        ctx.response.setCookies(clearedSessionCookies(ctx.client.cookieContext));
      return { ok: true as const };
    }),
});

export const apiKeysRouter = router({
  create: scopedProcedure("keys:manage")
    .meta({
      openapi: {
        method: "POST",
        path: "/api-keys",
        tags: ["api-keys"],
        summary: "Create an API key; `key` is shown only in this response",
      },
    })
    .input(ZCreateApiKeyInput)
    .output(ZCreatedApiKey)
    .mutation(async ({ ctx, input }) => {
      // A key may mint keys only within its own scopes; otherwise keys:manage would be every scope.
      if (ctx.auth.kind === "api_key") {
        const beyond = input.scopes.filter((scope) => !ctx.auth.scopes.includes(scope));
        if (beyond.length > 0) {
          throw new AppError(
            "FORBIDDEN",
            `An API key cannot grant scopes it does not have: ${beyond.join(", ")}`,
          );
        }
      }
      const created = await createApiKey({ userId: ctx.auth.userId, ...input }, audit(ctx));
      ctx.response.setStatus(201);
      return created;
    }),

  list: scopedProcedure("keys:manage")
    .meta({
      openapi: { method: "GET", path: "/api-keys", tags: ["api-keys"], summary: "API keys (never the key)" },
    })
    .input(z.void())
    .output(z.object({ items: z.array(ZApiKeyView) }))
    .query(async ({ ctx }) => ({ items: await listApiKeys({ userId: ctx.auth.userId }, { db: ctx.db }) })),

  revoke: scopedProcedure("keys:manage")
    .meta({
      openapi: { method: "DELETE", path: "/api-keys/{id}", tags: ["api-keys"], summary: "Revoke an API key" },
    })
    .input(ZId)
    .output(ZOk)
    .mutation(async ({ ctx, input }) => {
      await revokeApiKey({ userId: ctx.auth.userId, id: input.id }, audit(ctx));
      return { ok: true as const };
    }),
});

export const auditRouter = router({
  list: sessionProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/audit-events",
        tags: ["auth"],
        summary: "Your audit log, newest first",
      },
    })
    .input(ZPageInput)
    .output(z.object({ items: z.array(ZAuditEventView), nextCursor: z.uuid().nullable() }))
    .query(({ ctx, input }) => listAuditEvents({ userId: ctx.auth.userId, ...input }, { db: ctx.db })),
});
