import { type ActionFunctionArgs, redirect } from "@remix-run/node";
import { endWebSession } from "#app/modules/auth/web.server.ts";

/** POST only: a GET must never sign anyone out (a link or an image could). */
export async function action({ context }: ActionFunctionArgs) {
  return redirect("/login", { headers: await endWebSession(context) });
}

export async function loader() {
  return redirect("/");
}
