import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation, useSearchParams } from "@remix-run/react";
import { AuthCard, GitHubButton } from "#app/components/auth-card.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { useSchemaValidation } from "#app/lib/forms.ts";
import { safeRedirect } from "#app/lib/safe-redirect.ts";
import { signup } from "#app/modules/auth/accounts.server.ts";
import { ZSignupInput } from "#app/modules/auth/auth.types.ts";
import { credentialsFormAction, redirectIfSignedIn } from "#app/modules/auth/web.server.ts";

export const meta: MetaFunction = () => [{ title: "Create an account · Agentry" }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  redirectIfSignedIn(context, request);
  return { githubEnabled: context.runtime.github !== null };
}

export async function action(args: ActionFunctionArgs) {
  return credentialsFormAction(args, ZSignupInput, signup);
}

export default function SignupPage() {
  const { githubEnabled } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const [params] = useSearchParams();
  const navigation = useNavigation();
  const validation = useSchemaValidation(ZSignupInput);
  const errors = { ...result?.errors, ...validation.errors };
  const redirectTo = safeRedirect(params.get("redirectTo"));
  const busy = navigation.state !== "idle" && navigation.formAction === "/signup";
  return (
    <AuthCard
      title="Create your account"
      subtitle="Run coding agents on your own projects, on your own machine."
      footer={
        <>
          Already have an account?{" "}
          <Link to="/login" className="font-medium text-brand-600 hover:underline dark:text-brand-100">
            Sign in
          </Link>
        </>
      }
    >
      {githubEnabled ? <GitHubButton redirectTo={redirectTo} /> : null}
      <Form method="post" action="/signup" noValidate onSubmit={validation.onSubmit} className="space-y-4">
        {result?.formError ? <FormAlert>{result.formError}</FormAlert> : null}
        <input type="hidden" name="redirectTo" value={redirectTo} />
        <Field
          label="Name"
          name="name"
          autoComplete="name"
          required
          autoFocus
          error={errors.name}
          onChange={() => validation.clear("name")}
        />
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          required
          error={errors.email}
          onChange={() => validation.clear("email")}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={10}
          hint="At least 10 characters. A passphrase of a few words works well."
          error={errors.password}
          onChange={() => validation.clear("password")}
        />
        <Button type="submit" className="w-full" disabled={busy}>
          {busy ? "Creating your account…" : "Create account"}
        </Button>
      </Form>
    </AuthCard>
  );
}
