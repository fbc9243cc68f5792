import type { MetaFunction } from "@remix-run/node";
import { Link, useRouteLoaderData } from "@remix-run/react";
import { Button } from "#app/components/ui/button.tsx";
import type { loader as rootLoader } from "#app/root.tsx";

export const meta: MetaFunction = () => [{ title: "Agentry" }];

const STEPS = [
  {
    title: "Bring a project",
    body: "Import a repository or a zip and edit its files in the browser, with every version kept.",
  },
  {
    title: "Compose a workflow",
    body: "Chain model steps: plan, let an agent edit files and run the tests in a sandbox, review.",
  },
  {
    title: "Watch it run",
    body: "Tokens, tool calls, test output and cost stream live. Runs survive crashes and resume.",
  },
  {
    title: "Review the diff",
    body: "Accept or reject each hunk. Nothing touches your project until you say so.",
  },
];

export default function Index() {
  const signedIn = Boolean(useRouteLoaderData<typeof rootLoader>("root")?.user);
  return (
    <div className="space-y-10">
      <section className="max-w-2xl">
        <h1 className="text-3xl font-semibold tracking-tight sm:text-4xl">
          Autonomous coding agents, on your machine
        </h1>
        <p className="mt-3 text-base text-zinc-600 dark:text-zinc-400">
          Agentry runs AI agents against your own projects with enforced cost budgets, durable runs, a real
          sandbox and per-hunk review. Self-hosted and open source.
        </p>
        <div className="mt-6 flex gap-3">
          {signedIn ? (
            <Button asChild>
              <Link to="/projects">Go to your projects</Link>
            </Button>
          ) : (
            <Button asChild>
              <Link to="/signup">Create an account</Link>
            </Button>
          )}
          <Button variant="secondary" asChild>
            <a href="/api/openapi.json">API reference (OpenAPI)</a>
          </Button>
        </div>
      </section>
      <section aria-labelledby="how-title">
        <h2 id="how-title" className="text-sm font-semibold uppercase tracking-wide text-zinc-500">
          How it works
        </h2>
        <ol className="mt-4 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
          {STEPS.map((step, i) => (
            <li
              key={step.title}
              className="rounded-lg border border-zinc-200 p-5 dark:border-zinc-800 dark:bg-zinc-900/40"
            >
              <span className="flex h-7 w-7 items-center justify-center rounded-full bg-brand-50 text-sm font-semibold text-brand-700 dark:bg-brand-700/20 dark:text-brand-100">
                {i + 1}
              </span>
              <h3 className="mt-3 font-medium">{step.title}</h3>
              <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">{step.body}</p>
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}
