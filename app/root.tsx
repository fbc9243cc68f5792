import * as DropdownMenu from "@radix-ui/react-dropdown-menu";
import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import {
  isRouteErrorResponse,
  Link,
  Links,
  Meta,
  NavLink,
  Outlet,
  Scripts,
  ScrollRestoration,
  useRouteError,
  useRouteLoaderData,
  useSubmit,
} from "@remix-run/react";
import { QueryClientProvider } from "@tanstack/react-query";
import clsx from "clsx";
import { type ReactNode, useState } from "react";
import { SandboxBanner, type SandboxNotice } from "#app/components/layout/sandbox-banner.tsx";
import { NotificationCenter } from "#app/components/notifications/notification-center.tsx";
import { NotificationToasts } from "#app/components/notifications/toasts.tsx";
import { ThemeToggle, themeBootScript } from "#app/components/theme.tsx";
import { getUser } from "#app/modules/auth/accounts.server.ts";
import { sandboxView } from "#app/modules/system/sandbox-view.server.ts";
import { makeQueryClient, makeTrpcClient, TRPCProvider } from "#app/trpc/client.ts";
import stylesheet from "./tailwind.css?url";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: stylesheet },
  { rel: "icon", href: "/favicon.svg", type: "image/svg+xml" },
];

export const meta: MetaFunction = () => [
  { title: "Agentry" },
  { name: "description", content: "Run autonomous coding agents on your own projects." },
];

export async function loader({ context }: LoaderFunctionArgs) {
  if (!context.auth) return { user: null, sandbox: null };
  const [user, status] = await Promise.all([
    getUser({ userId: context.auth.userId }, { db: context.db }).catch(() => null),
    context.sandbox?.().catch(() => null) ?? null,
  ]);
  // Signed-in pages only, and only the mode and a short sentence (never a path or a probe's output).
  const view = status ? sandboxView(status) : null;
  const sandbox: SandboxNotice | null = view ? { mode: view.mode, summary: view.summary } : null;
  return { user: user ? { email: user.email, name: user.name } : null, sandbox };
}

/** Pages of the app shell, for signed-in users. Later features add their entries here. */
const NAV = [
  { to: "/", label: "Home", end: true },
  { to: "/projects", label: "Projects", end: false },
  { to: "/runs", label: "Runs", end: false },
  { to: "/prompts", label: "Prompts", end: false },
  { to: "/usage", label: "Usage", end: false },
  { to: "/settings", label: "Settings", end: false },
  { to: "/status", label: "System status", end: false },
];

export function Layout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        {/* biome-ignore lint/security/noDangerouslySetInnerHtml: static script, no user input */}
        <script dangerouslySetInnerHTML={{ __html: themeBootScript }} />
        <Meta />
        <Links />
      </head>
      <body className="min-h-screen">
        {children}
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

function Logo() {
  return (
    <Link to="/" className="flex items-center gap-2 rounded-md font-semibold tracking-tight">
      <svg width="22" height="22" viewBox="0 0 32 32" aria-hidden="true">
        <rect width="32" height="32" rx="8" className="fill-brand-600" />
        <path
          d="M9 22 16 9l7 13M12 18h8"
          stroke="white"
          strokeWidth="2.5"
          fill="none"
          strokeLinecap="round"
        />
      </svg>
      <span>Agentry</span>
    </Link>
  );
}

function UserMenu({ user }: { user: { email: string; name: string | null } }) {
  const submit = useSubmit();
  return (
    <DropdownMenu.Root>
      <DropdownMenu.Trigger
        className="inline-flex h-8 max-w-48 items-center gap-2 rounded-md px-2 text-sm font-medium text-zinc-700 hover:bg-zinc-100 data-[state=open]:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-900 dark:data-[state=open]:bg-zinc-900"
        aria-label={`Account: ${user.email}`}
        data-testid="user-menu"
      >
        <span
          aria-hidden="true"
          className="flex h-6 w-6 shrink-0 items-center justify-center rounded-full bg-brand-600 text-xs font-semibold text-white"
        >
          {(user.name ?? user.email).slice(0, 1).toUpperCase()}
        </span>
        <span className="truncate">{user.name ?? user.email}</span>
      </DropdownMenu.Trigger>
      <DropdownMenu.Portal>
        <DropdownMenu.Content
          align="end"
          sideOffset={6}
          className="z-50 min-w-52 rounded-md border border-zinc-200 bg-white p-1 text-sm shadow-lg dark:border-zinc-800 dark:bg-zinc-900"
        >
          <DropdownMenu.Label className="truncate px-2 py-1.5 text-xs text-zinc-500">
            {user.email}
          </DropdownMenu.Label>
          <DropdownMenu.Separator className="my-1 h-px bg-zinc-200 dark:bg-zinc-800" />
          {[
            { to: "/settings/sessions", label: "Sessions" },
            { to: "/settings/api-keys", label: "API keys" },
            { to: "/settings/audit", label: "Audit log" },
          ].map((item) => (
            <DropdownMenu.Item key={item.to} asChild>
              <Link
                to={item.to}
                className="block rounded px-2 py-1.5 text-zinc-700 outline-none data-[highlighted]:bg-zinc-100 dark:text-zinc-300 dark:data-[highlighted]:bg-zinc-800"
              >
                {item.label}
              </Link>
            </DropdownMenu.Item>
          ))}
          <DropdownMenu.Separator className="my-1 h-px bg-zinc-200 dark:bg-zinc-800" />
          {/* Submitted from onSelect: the menu unmounts on selection, before a click could submit a form inside it. */}
          <DropdownMenu.Item
            onSelect={() => submit(null, { method: "post", action: "/logout" })}
            className="block w-full cursor-default rounded px-2 py-1.5 text-left text-zinc-700 outline-none data-[highlighted]:bg-zinc-100 dark:text-zinc-300 dark:data-[highlighted]:bg-zinc-800"
          >
            Sign out
          </DropdownMenu.Item>
        </DropdownMenu.Content>
      </DropdownMenu.Portal>
    </DropdownMenu.Root>
  );
}

function Shell({ children, live = false }: { children: ReactNode; live?: boolean }) {
  const data = useRouteLoaderData<typeof loader>("root");
  const user = data?.user ?? null;
  // Notifications need the tRPC/React Query providers, which the error boundary renders without.
  const notifications = live && user !== null;
  return (
    <div className="flex min-h-screen flex-col">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-4 focus:top-2 focus:rounded focus:bg-white focus:px-3 focus:py-1 dark:focus:bg-zinc-900"
      >
        Skip to content
      </a>
      <header className="sticky top-0 z-10 border-b border-zinc-200 bg-white/85 backdrop-blur dark:border-zinc-800 dark:bg-zinc-950/85">
        <div className="mx-auto flex h-14 max-w-6xl items-center gap-6 px-4 sm:px-6">
          <Logo />
          <nav aria-label="Main" className="flex items-center gap-1 text-sm">
            {(user ? NAV : []).map((item) => (
              <NavLink
                key={item.to}
                to={item.to}
                end={item.end}
                className={({ isActive }) =>
                  clsx(
                    "rounded-md px-3 py-1.5 font-medium transition-colors",
                    isActive
                      ? "bg-zinc-100 text-zinc-900 dark:bg-zinc-800 dark:text-zinc-50"
                      : "text-zinc-600 hover:bg-zinc-50 hover:text-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-900 dark:hover:text-zinc-100",
                  )
                }
              >
                {item.label}
              </NavLink>
            ))}
          </nav>
          <div className="ml-auto flex items-center gap-2">
            {notifications ? <NotificationCenter /> : null}
            <ThemeToggle />
            {user ? (
              <UserMenu user={user} />
            ) : (
              <>
                <Link
                  to="/login"
                  className="rounded-md px-3 py-1.5 text-sm font-medium text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-900"
                >
                  Sign in
                </Link>
                <Link
                  to="/signup"
                  className="rounded-md bg-brand-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-brand-700"
                >
                  Sign up
                </Link>
              </>
            )}
          </div>
        </div>
      </header>
      {user ? <SandboxBanner sandbox={data?.sandbox ?? null} /> : null}
      <main id="main" className="mx-auto w-full max-w-6xl flex-1 px-4 py-8 sm:px-6">
        {children}
      </main>
      <footer className="border-t border-zinc-200 py-4 text-center text-xs text-zinc-500 dark:border-zinc-800">
        Agentry — self-hosted coding agents
      </footer>
      {notifications ? <NotificationToasts /> : null}
    </div>
  );
}

export default function App() {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(makeTrpcClient);
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <Shell live>
          <Outlet />
        </Shell>
      </TRPCProvider>
    </QueryClientProvider>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const [title, detail] = isRouteErrorResponse(error)
    ? [
        error.status === 404 ? "Page not found" : `${error.status} ${error.statusText}`,
        error.status === 404 ? "There is nothing at this address." : String(error.data ?? ""),
      ]
    : ["Something went wrong", "An unexpected error occurred. The details are in the server log."];
  return (
    <Shell>
      <div className="mx-auto max-w-md py-16 text-center" role="alert">
        <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
        <p className="mt-2 text-sm text-zinc-600 dark:text-zinc-400">{detail}</p>
        <Link
          to="/"
          className="mt-6 inline-flex rounded-md bg-brand-600 px-4 py-2 text-sm font-medium text-white hover:bg-brand-700"
        >
          Back home
        </Link>
      </div>
    </Shell>
  );
}
