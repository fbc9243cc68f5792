import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation, useSearchParams } from "@remix-run/react";
import { AuthCard, GitHubButton } from "#app/components/auth-card.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { useSchemaValidation } from "#app/lib/forms.ts";
import { safeRedirect } from "#app/lib/safe-redirect.ts";
import { login } from "#app/modules/auth/accounts.server.ts";
import { ZLoginInput } from "#app/modules/auth/auth.types.ts";
import { credentialsFormAction, redirectIfSignedIn } from "#app/modules/auth/web.server.ts";

export const meta: MetaFunction = () => [{ title: "Sign in · Agentry" }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  redirectIfSignedIn(context, request);
  const error = new URL(request.url).searchParams.get("error");
  return { githubEnabled: context.runtime.github !== null, oauthError: error ? error.slice(0, 200) : null };
}

export async function action(args: ActionFunctionArgs) {
  return credentialsFormAction(args, ZLoginInput, login);
}

export default function LoginPage() {
  const { githubEnabled, oauthError } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const [params] = useSearchParams();
  const navigation = useNavigation();
  const validation = useSchemaValidation(ZLoginInput);
  const errors = { ...result?.errors, ...validation.errors };
  const redirectTo = safeRedirect(params.get("redirectTo"));
  const busy = navigation.state !== "idle" && navigation.formAction === "/login";
  return (
    <AuthCard
      title="Sign in"
      subtitle="Welcome back."
      footer={
        <>
          New here?{" "}
          <Link
            to={`/signup${redirectTo !== "/" ? `?redirectTo=${encodeURIComponent(redirectTo)}` : ""}`}
            className="font-medium text-brand-600 hover:underline dark:text-brand-100"
          >
            Create an account
          </Link>
        </>
      }
    >
      {githubEnabled ? <GitHubButton redirectTo={redirectTo} /> : null}
      <Form method="post" action="/login" noValidate onSubmit={validation.onSubmit} className="space-y-4">
        {result?.formError ? <FormAlert>{result.formError}</FormAlert> : null}
        {oauthError && !result ? <FormAlert>{oauthError}</FormAlert> : null}
        <input type="hidden" name="redirectTo" value={redirectTo} />
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          required
          autoFocus
          error={errors.email}
          onChange={() => validation.clear("email")}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          error={errors.password}
          onChange={() => validation.clear("password")}
        />
        <Button type="submit" className="w-full" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </Button>
      </Form>
    </AuthCard>
  );
}
