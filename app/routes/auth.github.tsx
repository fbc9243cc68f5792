import { type ActionFunctionArgs, type LoaderFunctionArgs, redirect } from "@remix-run/node";
import { serialize } from "cookie";
import { safeRedirect } from "#app/lib/safe-redirect.ts";

export const OAUTH_REDIRECT_COOKIE = "agentry_oauth_to";

/** First leg of GitHub sign-in: remember where to go afterwards, then off to GitHub's authorize page. */
async function start({ request, context }: ActionFunctionArgs | LoaderFunctionArgs) {
  const github = context.runtime.github;
  if (!github) throw redirect("/login?error=GitHub%20sign-in%20is%20not%20configured");
  const redirectTo = safeRedirect(new URL(request.url).searchParams.get("redirectTo"));
  try {
    await github(context.client.origin).authenticate(request);
  } catch (response) {
    if (response instanceof Response && response.status >= 300 && response.status < 400) {
      const headers = new Headers(response.headers);
      headers.append(
        "Set-Cookie",
        serialize(OAUTH_REDIRECT_COOKIE, redirectTo, {
          httpOnly: true,
          sameSite: "lax",
          secure: context.client.cookieContext.secure,
          path: "/auth/github",
          maxAge: 600,
        }),
      );
      return new Response(null, { status: response.status, headers });
    }
    throw response;
  }
  // authenticate() only returns on the callback leg, which has its own route.
  return redirect("/login");
}

export const action = start;
export const loader = start;
