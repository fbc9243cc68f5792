import { initTRPC, TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import superjson from "superjson";
import type { OpenApiMeta } from "trpc-to-openapi";
import { ZodError, z } from "zod";
import type { Db } from "#app/db/client.server.ts";
import { AppError, type AppErrorCode, isAppError } from "#app/lib/app-error.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import type { AiRuntime } from "#app/modules/ai/runtime.server.ts";
import type { Scope } from "#app/modules/auth/auth.types.ts";
import { hasScope, type Principal } from "#app/modules/auth/authenticate.server.ts";
import type { CookieContext } from "#app/modules/auth/cookies.server.ts";
import type { AuthRuntime } from "#app/modules/auth/runtime.server.ts";
import type { SandboxStatus } from "#app/modules/sandbox/index.server.ts";

/** Facts about the HTTP request a procedure may need (audit trail, cookies). */
export type ClientInfo = {
  ip: string | null;
  userAgent: string | null;
  /** The refresh token cookie, for refresh and logout by cookie. */
  refreshCookie: string | null;
  cookieContext: CookieContext;
};

/** What a procedure may do to the HTTP response, whichever transport (tRPC, REST) carries it. */
export type ResponseControl = {
  setCookies(values: string[]): void;
  setHeader(name: string, value: string): void;
  /** Success status for REST (201 for creations); errors get theirs from the error code. */
  setStatus(status: number): void;
  /** What setStatus asked for, if anything. */
  successStatus(): number | undefined;
};

/** What every procedure sees. Built per request by the HTTP layer (and by tests, directly). */
export type TrpcContext = {
  db: Db;
  logger: Logger;
  requestId: string;
  auth: Principal | null;
  runtime: AuthRuntime;
  /** The AI module: config, credentials keyring, model catalog and the AIServiceProxy. */
  ai: AiRuntime;
  client: ClientInfo;
  response: ResponseControl;
  /** How commands run on this server (detected once, cached); absent or null: unknown. */
  sandbox?: () => Promise<SandboxStatus | null>;
};

/**
 * Who may call a procedure, declared by the builder that made it (never by hand), so a test can walk the
 * router and prove every procedure has a rule.
 */
export type AccessRule =
  | { kind: "public" }
  | { kind: "user" }
  | { kind: "scope"; scope: Scope }
  | { kind: "session" };

export type AppMeta = OpenApiMeta & { access?: AccessRule };

const TRPC_CODE_FOR: Record<AppErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  PAYMENT_REQUIRED: "PAYMENT_REQUIRED",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  UNPROCESSABLE_CONTENT: "UNPROCESSABLE_CONTENT",
  TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS",
  INTERNAL_SERVER_ERROR: "INTERNAL_SERVER_ERROR",
  BAD_GATEWAY: "BAD_GATEWAY",
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  GATEWAY_TIMEOUT: "GATEWAY_TIMEOUT",
};

const t = initTRPC
  .context<TrpcContext>()
  .meta<AppMeta>()
  .create({
    // superjson for the typed client (dates, bigints); trpc-to-openapi ignores transformers, so REST stays plain JSON.
    transformer: superjson,
    errorFormatter({ shape, error, ctx }) {
      const cause = error.cause;
      // An unexpected error's message may quote a query or a file path (Prisma does): never send it out.
      const unexpected = error.code === "INTERNAL_SERVER_ERROR" && !isAppError(cause);
      return {
        ...shape,
        message: unexpected
          ? `Internal server error${ctx?.requestId ? ` (request ${ctx.requestId})` : ""}`
          : shape.message,
        data: {
          ...shape.data,
          // Never leak stack traces to clients.
          stack: undefined,
          issues: cause instanceof ZodError ? z.flattenError(cause) : undefined,
          // What a service chose to tell the caller (a conflict's current version, a retry delay).
          details: isAppError(cause) ? cause.details : undefined,
        },
      };
    },
  });

/**
 * Input that PostgreSQL refuses is the caller's mistake, not our failure: NUL (U+0000) in text (22021) or
 * jsonb (22P05), a number out of its column's range (22003; Prisma P2020/P2033). Found by
 * tests/api/fuzz.test.ts: a project named "a\u0000b", `?version=2147483648` were 500s.
 */
function rejectedInput(error: unknown): string | null {
  const e = error as {
    code?: unknown;
    meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } };
  };
  const pg = e?.meta?.driverAdapterError?.cause?.originalCode;
  if (pg === "22021" || pg === "22P05") return "Text must not contain NUL characters (\\u0000)";
  if (pg === "22003" || e?.code === "P2020" || e?.code === "P2033")
    return "A number in the request is out of range";
  return null;
}

/** Turn AppErrors thrown by services into TRPCErrors with the matching code; log the unexpected. */
const errorMapper = t.middleware(async ({ ctx, next, path }) => {
  const result = await next();
  if (!result.ok) {
    const rejected = rejectedInput(result.error.cause);
    if (rejected) {
      // Kept in the log: if our own code ever computes such a value, this is where it shows.
      ctx.logger.warn(
        { err: result.error.cause, path, requestId: ctx.requestId },
        "input refused by the database",
      );
      const message = rejected;
      result.error = new TRPCError({
        code: "BAD_REQUEST",
        message,
        cause: new AppError("BAD_REQUEST", message),
      });
    }
    const cause = result.error.cause;
    if (isAppError(cause)) {
      result.error = new TRPCError({ code: TRPC_CODE_FOR[cause.code], message: cause.message, cause });
    }
    if (result.error.code === "INTERNAL_SERVER_ERROR") {
      ctx.logger.error(
        { err: result.error.cause ?? result.error, path, requestId: ctx.requestId },
        "procedure failed",
      );
    } else {
      ctx.logger.warn({ code: result.error.code, path, requestId: ctx.requestId }, result.error.message);
    }
  }
  return result;
});

/** 429s carry Retry-After on both transports. */
const retryAfter = t.middleware(async ({ ctx, next }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (isAppError(cause) && cause.code === "TOO_MANY_REQUESTS") {
      const seconds = Number(cause.details?.retryAfterSeconds ?? 60);
      ctx.response.setHeader("Retry-After", String(Math.max(1, Math.ceil(seconds))));
    }
  }
  return result;
});

const requireUser = t.middleware(async ({ ctx, next }) => {
  if (!ctx.auth) throw new AppError("UNAUTHORIZED", "Sign in or send `Authorization: Bearer <token>`");
  const auth = ctx.auth;
  // Per key (its own limit when it has one) and per user, across every web process.
  if (auth.apiKeyId) await ctx.runtime.rateLimits.apiKey(auth.apiKeyId, auth.rateLimitPerMinute ?? undefined);
  await ctx.runtime.rateLimits.apiUser(auth.userId);
  return next({ ctx: { ...ctx, auth } });
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

const base = t.procedure.use(errorMapper).use(retryAfter);

/** Anyone, signed in or not: sign-up, login, refresh. Say why in the procedure when you use it. */
export const publicProcedure = base.meta({ access: { kind: "public" } });

/** Any signed-in caller, session or API key, whatever its scopes (e.g. `me`). */
export const userProcedure = base.meta({ access: { kind: "user" } }).use(requireUser);

/** Signed in, and an API key must carry `scope`; browser sessions and JWTs carry every scope. */
export function scopedProcedure(scope: Scope) {
  return base
    .meta({ access: { kind: "scope", scope } })
    .use(requireUser)
    .use(({ ctx, next }) => {
      if (!hasScope(ctx.auth, scope)) {
        throw new AppError("FORBIDDEN", `This API key lacks the \`${scope}\` scope`);
      }
      return next();
    });
}

/** Only an interactive session (browser cookie or its JWT), never an API key: sessions, password, audit log. */
export const sessionProcedure = base
  .meta({ access: { kind: "session" } })
  .use(requireUser)
  .use(({ ctx, next }) => {
    if (ctx.auth.kind !== "session") {
      throw new AppError("FORBIDDEN", "This operation needs a signed-in session; API keys cannot use it");
    }
    return next();
  });
