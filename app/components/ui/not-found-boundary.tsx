import { isRouteErrorResponse, Link, useRouteError } from "@remix-run/react";
import { Button } from "./button.tsx";

/**
 * The error boundary of a page about one owned thing (a project, a workflow, a run, a prompt): a 404 says it
 * does not exist or is someone else's (the two look the same on purpose), anything else that it could not be
 * opened; both offer a way back.
 */
export function NotFoundBoundary({
  notFound,
  failed,
  back,
}: {
  /** Title for a 404: "Run not found". */
  notFound: string;
  /** Title for any other error: "This run could not be opened". */
  failed: string;
  back: { to: string; label: string };
}) {
  const error = useRouteError();
  const missing = isRouteErrorResponse(error) && error.status === 404;
  return (
    <div className="mx-auto max-w-md py-16 text-center" role="alert">
      <h1 className="text-2xl font-semibold tracking-tight">{missing ? notFound : failed}</h1>
      <p className="mt-2 text-sm text-zinc-600 dark:text-zinc-400">
        {missing
          ? "It does not exist, or it belongs to another account."
          : "An unexpected error occurred. The details are in the server log."}
      </p>
      <Button asChild className="mt-6">
        <Link to={back.to}>{back.label}</Link>
      </Button>
    </div>
  );
}
