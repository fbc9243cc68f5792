import type { LoaderFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { parse, serialize } from "cookie";
import { isAppError } from "#app/lib/app-error.ts";
import { safeRedirect } from "#app/lib/safe-redirect.ts";
import { beginWebSession } from "#app/modules/auth/web.server.ts";
import { OAUTH_REDIRECT_COOKIE } from "./auth.github.tsx";

/** GitHub sends the user back here with a code; exchange it, find or link the account, sign in. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const github = context.runtime.github;
  if (!github) throw redirect("/login?error=GitHub%20sign-in%20is%20not%20configured");
  const redirectTo = safeRedirect(parse(request.headers.get("cookie") ?? "")[OAUTH_REDIRECT_COOKIE]);
  const clearRedirect = serialize(OAUTH_REDIRECT_COOKIE, "", {
    httpOnly: true,
    sameSite: "lax",
    secure: context.client.cookieContext.secure,
    path: "/auth/github",
    expires: new Date(0),
  });
  const authenticator = github(context.client.origin);
  try {
    const { userId } = await authenticator.authenticate(request, {
      ip: context.client.ip ?? undefined,
      userAgent: context.client.userAgent ?? undefined,
    });
    const headers = await beginWebSession(context, userId);
    headers.append("Set-Cookie", clearRedirect);
    headers.append("Set-Cookie", authenticator.clearStateCookie());
    return redirect(redirectTo, { headers });
  } catch (error) {
    if (error instanceof Response) throw error;
    if (!isAppError(error)) throw error;
    context.logger.warn({ requestId: context.requestId, reason: error.message }, "GitHub sign-in failed");
    const headers = new Headers();
    headers.append("Set-Cookie", clearRedirect);
    headers.append("Set-Cookie", authenticator.clearStateCookie());
    return redirect(`/login?error=${encodeURIComponent(error.message)}`, { headers });
  }
}
