/**
 * Guards for the API routes that are plain Express handlers (zip import/export, event streams) rather than
 * tRPC procedures: the same rules as the procedure builders, in the API's one JSON error shape.
 */
import type { NextFunction, Request, Response } from "express";
import { isUuid } from "#app/lib/use-case.ts";
import type { Scope } from "#app/modules/auth/auth.types.ts";
import { hasScope, type Principal } from "#app/modules/auth/authenticate.server.ts";
import type { AuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { jsonError } from "./api-errors.server.ts";

export type GuardOptions = {
  scope: Scope;
  /** A route parameter that must be a uuid; anything else answers 404 `notFound`. */
  idParam?: { name: string; notFound: string };
  /** When given, API-key and per-user request limits apply as on every other API route. */
  runtime?: Pick<AuthRuntime, "rateLimits">;
};

/** Signed in, and an API key must carry `scope` (sessions carry every scope). */
export function requireApiScope({ scope, idParam, runtime }: GuardOptions) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const auth = res.locals.auth as Principal | null | undefined;
    if (!auth) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="agentry"');
      jsonError(res, 401, "UNAUTHORIZED", "Sign in or send `Authorization: Bearer <token>`");
      return;
    }
    if (!hasScope(auth, scope)) {
      jsonError(res, 403, "FORBIDDEN", `This API key lacks the \`${scope}\` scope`);
      return;
    }
    if (idParam && !isUuid(req.params[idParam.name])) {
      jsonError(res, 404, "NOT_FOUND", idParam.notFound);
      return;
    }
    try {
      if (runtime) {
        if (auth.apiKeyId)
          await runtime.rateLimits.apiKey(auth.apiKeyId, auth.rateLimitPerMinute ?? undefined);
        await runtime.rateLimits.apiUser(auth.userId);
      }
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** The caller, once a guard has passed. */
export const principalOf = (res: Response) => res.locals.auth as Principal;
