import { Link } from "@remix-run/react";
import clsx from "clsx";
import { Fragment } from "react";

export type Crumb = {
  to: string;
  label: string;
  /** A name that may be long (a project's): truncated to this width class, e.g. "max-w-48". */
  truncate?: string;
};

/** The trail above a page title: each crumb a link, each followed by "/" (the title is the last part). */
export function Breadcrumb({ items }: { items: Crumb[] }) {
  return (
    <nav aria-label="Breadcrumb" className="flex flex-wrap gap-1 text-sm text-zinc-500">
      {items.map((item) => (
        <Fragment key={item.to}>
          <Link
            to={item.to}
            className={clsx(
              item.truncate && [item.truncate, "truncate"],
              "hover:text-zinc-900 hover:underline dark:hover:text-zinc-100",
            )}
          >
            {item.label}
          </Link>
          <span aria-hidden="true">/</span>
        </Fragment>
      ))}
    </nav>
  );
}
