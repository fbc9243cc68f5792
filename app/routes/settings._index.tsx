import { type ActionFunctionArgs, data, type LoaderFunctionArgs } from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { useEffect, useRef } from "react";
import { Button } from "#app/components/ui/button.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { DateTime, Section } from "#app/components/ui/section.tsx";
import { fieldErrors, formDataObject, useSchemaValidation } from "#app/lib/forms.ts";
import { changePassword, getSignInMethods, getUser } from "#app/modules/auth/accounts.server.ts";
import { ZChangePasswordInput } from "#app/modules/auth/auth.types.ts";
import { formFailure, requireUser } from "#app/modules/auth/web.server.ts";

export async function loader({ context, request }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const [user, methods] = await Promise.all([
    getUser({ userId: auth.userId }, { db: context.db }),
    getSignInMethods({ userId: auth.userId }, { db: context.db }),
  ]);
  return { user, methods };
}

export async function action({ context, request }: ActionFunctionArgs) {
  const auth = requireUser(context, request);
  const parsed = ZChangePasswordInput.safeParse(formDataObject(await request.formData()));
  if (!parsed.success)
    return data({ errors: fieldErrors(parsed.error), formError: null, ok: false }, { status: 400 });
  try {
    await context.runtime.rateLimits.authIp(context.client.ip ?? "unknown");
    await changePassword(
      {
        userId: auth.userId,
        ...parsed.data,
        keepSessionId: auth.sessionId ?? undefined,
        ip: context.client.ip ?? undefined,
        userAgent: context.client.userAgent ?? undefined,
      },
      { db: context.db, logger: context.logger },
    );
    return { errors: {}, formError: null, ok: true };
  } catch (error) {
    const { message, status } = formFailure(error);
    return data({ errors: {}, formError: message, ok: false }, { status });
  }
}

export default function AccountSettings() {
  const { user, methods } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const validation = useSchemaValidation(ZChangePasswordInput);
  const errors = { ...result?.errors, ...validation.errors };
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (result?.ok) form.current?.reset();
  }, [result]);
  return (
    <div className="space-y-6">
      <Section title="Account">
        <dl className="grid gap-4 text-sm sm:grid-cols-3">
          <div>
            <dt className="text-zinc-500">Name</dt>
            <dd className="mt-0.5 font-medium">{user.name ?? "—"}</dd>
          </div>
          <div>
            <dt className="text-zinc-500">Email</dt>
            <dd className="mt-0.5 font-medium" data-testid="account-email">
              {user.email}
            </dd>
          </div>
          <div>
            <dt className="text-zinc-500">Member since</dt>
            <dd className="mt-0.5 font-medium">
              <DateTime value={user.createdAt} />
            </dd>
          </div>
        </dl>
      </Section>
      <Section
        title={methods.hasPassword ? "Password" : "Set a password"}
        description={
          methods.hasPassword
            ? "Changing it signs out every other session."
            : "You sign in with GitHub. Set a password to sign in with your email too."
        }
      >
        <Form
          ref={form}
          method="post"
          noValidate
          onSubmit={validation.onSubmit}
          className="max-w-sm space-y-4"
        >
          {result?.formError ? <FormAlert>{result.formError}</FormAlert> : null}
          {result?.ok ? (
            <FormAlert tone="success">Password changed. Other sessions were signed out.</FormAlert>
          ) : null}
          {methods.hasPassword ? (
            <Field
              label="Current password"
              name="currentPassword"
              type="password"
              autoComplete="current-password"
              error={errors.currentPassword}
              onChange={() => validation.clear("currentPassword")}
            />
          ) : null}
          <Field
            label="New password"
            name="newPassword"
            type="password"
            autoComplete="new-password"
            hint="At least 10 characters."
            error={errors.newPassword}
            onChange={() => validation.clear("newPassword")}
          />
          <Button type="submit" disabled={navigation.state !== "idle"}>
            {methods.hasPassword ? "Change password" : "Set password"}
          </Button>
        </Form>
      </Section>
    </div>
  );
}
