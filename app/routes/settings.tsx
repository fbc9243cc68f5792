import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { NavLink, Outlet } from "@remix-run/react";
import clsx from "clsx";
import { requireUser } from "#app/modules/auth/web.server.ts";

export const meta: MetaFunction = () => [{ title: "Settings · Agentry" }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  requireUser(context, request);
  return null;
}

const SECTIONS = [
  { to: "/settings", label: "Account", end: true },
  { to: "/settings/sessions", label: "Sessions", end: false },
  { to: "/settings/api-keys", label: "API keys", end: false },
  { to: "/settings/providers", label: "Providers", end: false },
  { to: "/settings/audit", label: "Audit log", end: false },
];

export default function SettingsLayout() {
  return (
    <div>
      <h1 className="text-2xl font-semibold tracking-tight">Settings</h1>
      <div className="mt-6 flex flex-col gap-8 md:flex-row">
        <nav aria-label="Settings" className="flex shrink-0 gap-1 overflow-x-auto md:w-48 md:flex-col">
          {SECTIONS.map((section) => (
            <NavLink
              key={section.to}
              to={section.to}
              end={section.end}
              className={({ isActive }) =>
                clsx(
                  "rounded-md px-3 py-2 text-sm font-medium whitespace-nowrap",
                  isActive
                    ? "bg-zinc-100 text-zinc-900 dark:bg-zinc-800 dark:text-zinc-50"
                    : "text-zinc-600 hover:bg-zinc-50 hover:text-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-900 dark:hover:text-zinc-100",
                )
              }
            >
              {section.label}
            </NavLink>
          ))}
        </nav>
        <div className="min-w-0 flex-1">
          <Outlet />
        </div>
      </div>
    </div>
  );
}
