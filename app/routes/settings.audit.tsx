import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { DateTime, EmptyState, Section } from "#app/components/ui/section.tsx";
import { listAuditEvents } from "#app/modules/auth/audit.server.ts";
import { requireUser } from "#app/modules/auth/web.server.ts";

export const meta: MetaFunction = () => [{ title: "Audit log · Settings · Agentry" }];

const LABELS: Record<string, string> = {
  "auth.signup": "Account created",
  "auth.login.success": "Signed in",
  "auth.login.failed": "Failed sign-in attempt",
  "auth.logout": "Signed out",
  "auth.logout_all": "Signed out everywhere",
  "auth.session.revoked": "Session signed out",
  "auth.refresh.reuse": "Stolen session token detected: session ended",
  "auth.password.changed": "Password changed",
  "auth.oauth.linked": "GitHub account linked",
  "api_key.created": "API key created",
  "api_key.revoked": "API key revoked",
};

export async function loader({ context, request }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const cursor = z.uuid().safeParse(new URL(request.url).searchParams.get("cursor"));
  return listAuditEvents(
    { userId: auth.userId, cursor: cursor.success ? cursor.data : undefined, limit: 50 },
    { db: context.db },
  );
}

export default function AuditLog() {
  const { items, nextCursor } = useLoaderData<typeof loader>();
  return (
    <Section
      title="Audit log"
      description="Security events of your account, newest first. Entries cannot be edited or deleted."
    >
      {items.length === 0 ? (
        <EmptyState title="Nothing recorded yet" />
      ) : (
        <ol className="divide-y divide-zinc-100 dark:divide-zinc-800" aria-label="Audit events">
          {items.map((event) => (
            <li key={event.id} className="flex flex-wrap items-baseline justify-between gap-2 py-2.5 text-sm">
              <div className="min-w-0">
                <span className="font-medium">{LABELS[event.action] ?? event.action}</span>
                <span className="ml-2 font-mono text-xs text-zinc-500">{event.action}</span>
                {event.ip ? <span className="ml-2 text-xs text-zinc-500">from {event.ip}</span> : null}
              </div>
              <span className="text-xs text-zinc-500">
                <DateTime value={event.createdAt} />
              </span>
            </li>
          ))}
        </ol>
      )}
      {nextCursor ? (
        <div className="mt-4">
          <Link
            to={`?cursor=${nextCursor}`}
            className="text-sm font-medium text-brand-600 hover:underline dark:text-brand-100"
          >
            Older events →
          </Link>
        </div>
      ) : null}
    </Section>
  );
}
