import { initTRPC, TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import superjson from "superjson";
import type { OpenApiMeta } from "trpc-to-openapi";
import { ZodError, z } from "zod";
import type { Db } from "#app/db/client.server.ts";
import { type AppErrorCode, isAppError } from "#app/lib/app-error.ts";
import type { Logger } from "#app/lib/logger.server.ts";

/** What every procedure sees. Built per request by the HTTP layer (and by tests, directly). */
export type TrpcContext = {
  db: Db;
  logger: Logger;
  requestId: string;
};

const TRPC_CODE_FOR: Record<AppErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  UNPROCESSABLE_CONTENT: "UNPROCESSABLE_CONTENT",
  TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS",
  INTERNAL_SERVER_ERROR: "INTERNAL_SERVER_ERROR",
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
};

const t = initTRPC
  .context<TrpcContext>()
  .meta<OpenApiMeta>()
  .create({
    // superjson for the typed client (dates, bigints); trpc-to-openapi ignores transformers, so REST stays plain JSON.
    transformer: superjson,
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      return {
        ...shape,
        data: {
          ...shape.data,
          // Never leak stack traces to clients.
          stack: undefined,
          issues: cause instanceof ZodError ? z.flattenError(cause) : undefined,
        },
      };
    },
  });

/** Turn AppErrors thrown by services into TRPCErrors with the matching code; log the unexpected. */
const errorMapper = t.middleware(async ({ ctx, next, path }) => {
  const result = await next();
  if (!result.ok) {
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

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(errorMapper);
