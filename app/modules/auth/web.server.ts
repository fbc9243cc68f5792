import { type AppLoadContext, data, redirect } from "@remix-run/node";
import type { z } from "zod";
import { APP_ERROR_STATUS, isAppError } from "#app/lib/app-error.ts";
import { type FieldErrors, fieldErrors, formDataObject } from "#app/lib/forms.ts";
import { safeRedirect } from "#app/lib/safe-redirect.ts";
import type { Principal } from "./authenticate.server.ts";
import { clearedSessionCookies, sessionCookies } from "./cookies.server.ts";
import { revokeSession, startSession } from "./sessions.server.ts";

/** The signed-in user of a page, or a redirect to the login page that comes back here. */
export function requireUser(context: AppLoadContext, request: Request): Principal {
  if (context.auth) return context.auth;
  const url = new URL(request.url);
  throw redirect(`/login?redirectTo=${encodeURIComponent(url.pathname + url.search)}`);
}

/** Pages that only make sense signed out (login, sign-up) send signed-in users on. */
export function redirectIfSignedIn(context: AppLoadContext, request: Request) {
  if (context.auth) throw redirect(safeRedirect(new URL(request.url).searchParams.get("redirectTo")));
}

/** Start a browser session for `userId`: a new refresh family and both cookies on the returned headers. */
export async function beginWebSession(context: AppLoadContext, userId: string): Promise<Headers> {
  const session = await startSession(
    { userId, userAgent: context.client.userAgent ?? undefined, ip: context.client.ip ?? undefined },
    { db: context.db },
  );
  const access = await context.runtime.tokens.sign({ userId, sessionId: session.sessionId });
  const headers = new Headers();
  for (const cookie of sessionCookies(
    {
      accessToken: access.token,
      accessExpiresAt: access.expiresAt,
      refreshToken: session.refreshToken,
      refreshExpiresAt: session.expiresAt,
    },
    context.client.cookieContext,
  )) {
    headers.append("Set-Cookie", cookie);
  }
  return headers;
}

/** End the current browser session (revoke its family) and clear the cookies. */
export async function endWebSession(context: AppLoadContext): Promise<Headers> {
  const auth = context.auth;
  if (auth?.sessionId) {
    await revokeSession(
      { userId: auth.userId, sessionId: auth.sessionId, reason: "logout" },
      {
        db: context.db,
        ip: context.client.ip ?? undefined,
        userAgent: context.client.userAgent ?? undefined,
      },
    ).catch((error: unknown) => {
      if (!isAppError(error)) throw error;
    });
  }
  const headers = new Headers();
  for (const cookie of clearedSessionCookies(context.client.cookieContext))
    headers.append("Set-Cookie", cookie);
  return headers;
}

/** Message and status for a service error shown in a form; unexpected errors propagate. */
export function formFailure(error: unknown): { message: string; status: number } {
  if (isAppError(error)) return { message: error.message, status: APP_ERROR_STATUS[error.code] };
  throw error;
}

/**
 * The action of the login and sign-up forms: validate with the shared schema, rate-limit by IP and by
 * account, run the use case, start a browser session and go on to `redirectTo`. Errors come back as
 * `{ errors, formError }` with the status of the failure.
 */
export async function credentialsFormAction<S extends z.ZodType<{ email: string }>>(
  { request, context }: { request: Request; context: AppLoadContext },
  schema: S,
  run: (
    input: z.infer<S> & { ip?: string; userAgent?: string },
    deps: { db: AppLoadContext["db"]; logger: AppLoadContext["logger"] },
  ) => Promise<{ user: { id: string } }>,
) {
  const form = await request.formData();
  const redirectTo = safeRedirect(form.get("redirectTo"));
  const parsed = schema.safeParse(formDataObject(form));
  if (!parsed.success) {
    return data({ errors: fieldErrors(parsed.error), formError: null as string | null }, { status: 400 });
  }
  try {
    await context.runtime.rateLimits.authIp(context.client.ip ?? "unknown");
    await context.runtime.rateLimits.authAccount(parsed.data.email);
    const { user } = await run(
      {
        ...parsed.data,
        ip: context.client.ip ?? undefined,
        userAgent: context.client.userAgent ?? undefined,
      },
      { db: context.db, logger: context.logger },
    );
    return redirect(redirectTo, { headers: await beginWebSession(context, user.id) });
  } catch (error) {
    const { message, status } = formFailure(error);
    return data({ errors: {} as FieldErrors, formError: message as string | null }, { status });
  }
}
