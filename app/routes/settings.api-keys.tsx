import { type ActionFunctionArgs, data, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { useEffect, useRef, useState } from "react";
import { z } from "zod";
import { Button } from "#app/components/ui/button.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { DateTime, EmptyState, Section } from "#app/components/ui/section.tsx";
import { type FieldErrors, fieldErrors } from "#app/lib/forms.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "#app/modules/auth/api-keys.server.ts";
import { SCOPES, ZCreateApiKeyInput } from "#app/modules/auth/auth.types.ts";
import { formFailure, requireUser } from "#app/modules/auth/web.server.ts";

export const meta: MetaFunction = () => [{ title: "API keys · Settings · Agentry" }];

const NO_ERRORS: FieldErrors = {};

const EXPIRY_DAYS = { never: null, "7": 7, "30": 30, "90": 90, "365": 365 } as const;

const SCOPE_HELP: Record<(typeof SCOPES)[number], string> = {
  "projects:read": "Read projects and files",
  "projects:write": "Create, edit and delete projects and files",
  "workflows:read": "Read workflows and their versions",
  "workflows:write": "Create and edit workflows",
  "runs:read": "Read runs, their events and diffs",
  "runs:write": "Start, cancel and retry runs",
  "keys:manage": "Create and revoke API keys",
  "providers:manage": "Add, test, rotate and delete AI provider credentials",
  "usage:read": "Read AI usage and cost",
  "budgets:manage": "Set and remove spending caps",
};

export async function loader({ context, request }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  return { keys: await listApiKeys({ userId: auth.userId }, { db: context.db }) };
}

export async function action({ context, request }: ActionFunctionArgs) {
  const auth = requireUser(context, request);
  const form = await request.formData();
  const deps = {
    db: context.db,
    ip: context.client.ip ?? undefined,
    userAgent: context.client.userAgent ?? undefined,
  };
  try {
    if (form.get("intent") === "revoke") {
      const id = z.uuid().safeParse(form.get("id"));
      if (!id.success)
        return data(
          { intent: "revoke" as const, error: "Unknown key", created: null, errors: NO_ERRORS },
          400,
        );
      await revokeApiKey({ userId: auth.userId, id: id.data }, deps);
      return { intent: "revoke" as const, error: null, created: null, errors: NO_ERRORS };
    }
    const days = EXPIRY_DAYS[String(form.get("expiresIn") ?? "never") as keyof typeof EXPIRY_DAYS];
    const parsed = ZCreateApiKeyInput.safeParse({
      name: form.get("name"),
      scopes: form.getAll("scopes"),
      expiresAt: days ? new Date(Date.now() + days * 86_400_000) : undefined,
    });
    if (!parsed.success) {
      return data(
        { intent: "create" as const, error: null, created: null, errors: fieldErrors(parsed.error) },
        { status: 400 },
      );
    }
    const created = await createApiKey({ userId: auth.userId, ...parsed.data }, deps);
    return { intent: "create" as const, error: null, created, errors: NO_ERRORS };
  } catch (error) {
    const { message, status } = formFailure(error);
    return data({ intent: "create" as const, error: message, created: null, errors: NO_ERRORS }, { status });
  }
}

function NewKeyBanner({ value }: { value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div
      className="rounded-md border border-emerald-300 bg-emerald-50 p-4 dark:border-emerald-800 dark:bg-emerald-950/40"
      role="status"
    >
      <p className="text-sm font-medium text-emerald-900 dark:text-emerald-100">
        Copy your new key now. It will not be shown again.
      </p>
      <div className="mt-2 flex items-center gap-2">
        <code
          className="min-w-0 flex-1 truncate rounded bg-white px-2 py-1.5 font-mono text-sm dark:bg-zinc-900"
          data-testid="new-api-key"
        >
          {value}
        </code>
        <Button
          variant="secondary"
          onClick={async () => {
            await navigator.clipboard?.writeText(value).catch(() => undefined);
            setCopied(true);
          }}
        >
          {copied ? "Copied" : "Copy"}
        </Button>
      </div>
    </div>
  );
}

export default function ApiKeysSettings() {
  const { keys } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state !== "idle";
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (result?.created) form.current?.reset();
  }, [result]);
  const active = keys.filter((k) => !k.revokedAt);
  const revoked = keys.filter((k) => k.revokedAt);
  return (
    <div className="space-y-6">
      <Section
        title="Create an API key"
        description={
          <>
            For scripts, CI and the CLI: send it as{" "}
            <code className="font-mono">Authorization: Bearer agt_…</code>. Give each key only the scopes it
            needs.
          </>
        }
      >
        <Form ref={form} method="post" className="space-y-4" noValidate>
          {result?.created ? <NewKeyBanner value={result.created.key} /> : null}
          {result?.error ? <FormAlert>{result.error}</FormAlert> : null}
          <div className="grid gap-4 sm:grid-cols-2">
            <Field
              label="Name"
              name="name"
              placeholder="CI on main"
              required
              maxLength={100}
              error={result?.errors.name}
            />
            <div className="space-y-1.5">
              <label
                htmlFor="expiresIn"
                className="block text-sm font-medium text-zinc-800 dark:text-zinc-200"
              >
                Expires
              </label>
              <select
                id="expiresIn"
                name="expiresIn"
                defaultValue="90"
                className="block h-9 w-full rounded-md border border-zinc-300 bg-white px-3 text-sm dark:border-zinc-700 dark:bg-zinc-900"
              >
                <option value="7">In 7 days</option>
                <option value="30">In 30 days</option>
                <option value="90">In 90 days</option>
                <option value="365">In a year</option>
                <option value="never">Never</option>
              </select>
            </div>
          </div>
          <fieldset>
            <legend className="text-sm font-medium text-zinc-800 dark:text-zinc-200">Scopes</legend>
            <div className="mt-2 grid gap-2 sm:grid-cols-2">
              {SCOPES.map((scope) => (
                <label key={scope} className="flex items-start gap-2 text-sm">
                  <input
                    type="checkbox"
                    name="scopes"
                    value={scope}
                    className="mt-0.5 h-4 w-4 rounded border-zinc-300 accent-brand-600"
                  />
                  <span>
                    <span className="font-mono text-xs">{scope}</span>
                    <span className="block text-xs text-zinc-500">{SCOPE_HELP[scope]}</span>
                  </span>
                </label>
              ))}
            </div>
            {result?.errors.scopes ? (
              <p className="mt-2 text-xs font-medium text-red-600 dark:text-red-400" role="alert">
                {result.errors.scopes}
              </p>
            ) : null}
          </fieldset>
          <Button type="submit" name="intent" value="create" disabled={busy}>
            Create key
          </Button>
        </Form>
      </Section>

      <Section title="Your keys">
        {active.length === 0 ? (
          <EmptyState title="No API keys yet">
            Create one above to call the API from scripts or the CLI.
          </EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm" aria-label="API keys">
              <thead className="text-xs uppercase tracking-wide text-zinc-500">
                <tr>
                  <th className="py-2 pr-4 font-medium">Name</th>
                  <th className="py-2 pr-4 font-medium">Key</th>
                  <th className="py-2 pr-4 font-medium">Scopes</th>
                  <th className="py-2 pr-4 font-medium">Last used</th>
                  <th className="py-2 pr-4 font-medium">Expires</th>
                  <th className="py-2 font-medium">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
                {active.map((key) => (
                  <tr key={key.id}>
                    <td className="py-2.5 pr-4 font-medium">{key.name}</td>
                    <td className="py-2.5 pr-4 font-mono text-xs">{key.prefix}…</td>
                    <td className="py-2.5 pr-4 text-xs">{key.scopes.join(", ")}</td>
                    <td className="py-2.5 pr-4 text-xs">
                      <DateTime value={key.lastUsedAt} fallback="Never" />
                    </td>
                    <td className="py-2.5 pr-4 text-xs">
                      <DateTime value={key.expiresAt} fallback="Never" />
                    </td>
                    <td className="py-2.5 text-right">
                      <Form method="post">
                        <input type="hidden" name="intent" value="revoke" />
                        <input type="hidden" name="id" value={key.id} />
                        <Button
                          type="submit"
                          variant="ghost"
                          disabled={busy}
                          aria-label={`Revoke ${key.name}`}
                        >
                          Revoke
                        </Button>
                      </Form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {revoked.length > 0 ? (
          <p className="mt-4 text-xs text-zinc-500">
            {revoked.length} revoked {revoked.length === 1 ? "key" : "keys"} kept for the audit log.
          </p>
        ) : null}
      </Section>
    </div>
  );
}
