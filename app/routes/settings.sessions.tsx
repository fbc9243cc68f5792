import {
  type ActionFunctionArgs,
  data,
  type LoaderFunctionArgs,
  type MetaFunction,
  redirect,
} from "@remix-run/node";
import { Form, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { Button } from "#app/components/ui/button.tsx";
import { DateTime, EmptyState, Section } from "#app/components/ui/section.tsx";
import { clearedSessionCookies } from "#app/modules/auth/cookies.server.ts";
import { listSessions, revokeAllSessions, revokeSession } from "#app/modules/auth/sessions.server.ts";
import { formFailure, requireUser } from "#app/modules/auth/web.server.ts";

export const meta: MetaFunction = () => [{ title: "Sessions · Settings · Agentry" }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  return {
    sessions: await listSessions(
      { userId: auth.userId, currentSessionId: auth.sessionId ?? undefined },
      { db: context.db },
    ),
  };
}

const ZIntent = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("revoke"), sessionId: z.uuid() }),
  z.object({ intent: z.literal("revoke-all") }),
]);

export async function action({ context, request }: ActionFunctionArgs) {
  const auth = requireUser(context, request);
  const parsed = ZIntent.safeParse(Object.fromEntries(await request.formData()));
  if (!parsed.success) return data({ error: "Unknown request" }, { status: 400 });
  const deps = {
    db: context.db,
    ip: context.client.ip ?? undefined,
    userAgent: context.client.userAgent ?? undefined,
  };
  const signedOutHere = () => {
    const headers = new Headers();
    for (const cookie of clearedSessionCookies(context.client.cookieContext))
      headers.append("Set-Cookie", cookie);
    return redirect("/login", { headers });
  };
  try {
    if (parsed.data.intent === "revoke-all") {
      await revokeAllSessions({ userId: auth.userId, reason: "logout_all" }, deps);
      return signedOutHere();
    }
    await revokeSession({ userId: auth.userId, sessionId: parsed.data.sessionId, reason: "revoked" }, deps);
    if (parsed.data.sessionId === auth.sessionId) return signedOutHere();
    return { error: null };
  } catch (error) {
    const { message, status } = formFailure(error);
    return data({ error: message }, { status });
  }
}

/** "Chrome on Linux" from a user-agent string: enough to recognise a device, no library needed. */
function describeDevice(userAgent: string | null): string {
  if (!userAgent) return "Unknown device";
  const browser = /Edg\//.test(userAgent)
    ? "Edge"
    : /Firefox\//.test(userAgent)
      ? "Firefox"
      : /Chrome\//.test(userAgent)
        ? "Chrome"
        : /Safari\//.test(userAgent)
          ? "Safari"
          : /curl\//.test(userAgent)
            ? "curl"
            : /node|undici/i.test(userAgent)
              ? "Node.js client"
              : "Browser";
  const os = /Windows/.test(userAgent)
    ? "Windows"
    : /Mac OS X|Macintosh/.test(userAgent)
      ? "macOS"
      : /Android/.test(userAgent)
        ? "Android"
        : /iPhone|iPad/.test(userAgent)
          ? "iOS"
          : /Linux/.test(userAgent)
            ? "Linux"
            : null;
  return os ? `${browser} on ${os}` : browser;
}

export default function SessionsSettings() {
  const { sessions } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const busy = navigation.state !== "idle";
  return (
    <Section
      title="Sessions"
      description="Every browser or client signed in to your account. Sign out the ones you do not recognise."
      actions={
        sessions.length > 0 ? (
          <Form method="post">
            <input type="hidden" name="intent" value="revoke-all" />
            <Button type="submit" variant="secondary" disabled={busy}>
              Sign out everywhere
            </Button>
          </Form>
        ) : null
      }
    >
      {sessions.length === 0 ? (
        <EmptyState title="No active sessions" />
      ) : (
        <ul className="divide-y divide-zinc-100 dark:divide-zinc-800" aria-label="Active sessions">
          {sessions.map((session) => (
            <li key={session.id} className="flex flex-wrap items-center justify-between gap-4 py-3">
              <div className="min-w-0">
                <p className="flex items-center gap-2 text-sm font-medium">
                  {describeDevice(session.userAgent)}
                  {session.current ? (
                    <span className="rounded-full bg-emerald-100 px-2 py-0.5 text-xs font-medium text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200">
                      This session
                    </span>
                  ) : null}
                </p>
                <p className="mt-0.5 text-xs text-zinc-500">
                  {session.ip ?? "unknown IP"} · signed in <DateTime value={session.createdAt} /> · last used{" "}
                  <DateTime value={session.lastUsedAt ?? session.createdAt} />
                </p>
              </div>
              <Form method="post">
                <input type="hidden" name="intent" value="revoke" />
                <input type="hidden" name="sessionId" value={session.id} />
                <Button
                  type="submit"
                  variant="ghost"
                  disabled={busy}
                  aria-label={`Sign out ${describeDevice(session.userAgent)}${session.current ? " (this session)" : ""}`}
                >
                  Sign out
                </Button>
              </Form>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}
