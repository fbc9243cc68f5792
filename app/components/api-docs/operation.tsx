import clsx from "clsx";
import type { ReactNode } from "react";
import { Table, TBody, Td, THead, Th } from "#app/components/ui/table.tsx";
import type { Access, FieldRow, OperationView } from "./model.ts";

const METHOD_STYLE: Record<string, string> = {
  GET: "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300",
  POST: "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
  PUT: "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300",
  PATCH: "bg-violet-100 text-violet-800 dark:bg-violet-950 dark:text-violet-300",
  DELETE: "bg-rose-100 text-rose-800 dark:bg-rose-950 dark:text-rose-300",
};

export function MethodBadge({ method, small = false }: { method: string; small?: boolean }) {
  return (
    <span
      className={clsx(
        "inline-flex shrink-0 justify-center rounded font-mono font-semibold",
        small ? "w-12 px-1 text-[10px] leading-4" : "w-16 px-1.5 py-0.5 text-xs",
        METHOD_STYLE[method] ?? "bg-zinc-100 text-zinc-800 dark:bg-zinc-800 dark:text-zinc-200",
      )}
    >
      {method}
    </span>
  );
}

function AccessBadge({ access }: { access: Access }) {
  const base = "inline-flex items-center gap-1 rounded-full border px-2 py-0.5 text-xs font-medium";
  if (access.kind === "public")
    return (
      <span className={clsx(base, "border-zinc-300 text-zinc-600 dark:border-zinc-700 dark:text-zinc-400")}>
        Public
      </span>
    );
  if (access.kind === "session")
    return (
      <span
        className={clsx(base, "border-amber-300 text-amber-800 dark:border-amber-800 dark:text-amber-300")}
        title="Needs a signed-in session (JWT); API keys are refused"
      >
        Session only
      </span>
    );
  return (
    <span
      className={clsx(
        base,
        "border-brand-500/40 text-brand-700 dark:border-brand-500/40 dark:text-brand-100",
      )}
      title="JWT, or an API key carrying this scope"
    >
      JWT or API key
      {access.scopes.map((scope) => (
        <code key={scope} className="font-mono">
          {scope}
        </code>
      ))}
    </span>
  );
}

function Label({ children }: { children: ReactNode }) {
  return <h4 className="mb-1.5 text-xs font-semibold uppercase tracking-wide text-zinc-500">{children}</h4>;
}

/** A JSON schema as a table: name (indented by depth), type, required, enum values, description. */
export function FieldTable({
  rows,
  showIn = false,
  output = false,
}: {
  rows: Array<FieldRow & { in?: string }>;
  showIn?: boolean;
  /** A response: mark the optional fields (most are always present) instead of the required ones. */
  output?: boolean;
}) {
  return (
    <Table density="dense">
      <THead>
        <Th>Name</Th>
        {showIn ? <Th>In</Th> : null}
        <Th>Type</Th>
        <Th>Notes</Th>
      </THead>
      <TBody>
        {rows.map((row) => (
          <tr key={`${row.in ?? ""}:${row.name}`} className="align-top">
            <Td nowrap className="font-mono text-[13px]">
              <span style={{ paddingLeft: `${row.depth * 1}rem` }}>
                {row.depth > 0 ? (
                  <span className="text-zinc-400">{row.name.split(".").slice(0, -1).join(".")}.</span>
                ) : null}
                <span className="text-zinc-900 dark:text-zinc-100">{row.name.split(".").pop()}</span>
              </span>
              {!output && row.required ? (
                <span className="ml-1.5 font-sans text-[10px] font-semibold uppercase text-rose-600 dark:text-rose-400">
                  required
                </span>
              ) : null}
              {output && !row.required ? (
                <span className="ml-1.5 font-sans text-[10px] font-semibold uppercase text-zinc-400">
                  optional
                </span>
              ) : null}
            </Td>
            {showIn ? <Td className="text-xs text-zinc-500">{row.in}</Td> : null}
            <Td className="font-mono text-xs text-sky-800 dark:text-sky-300">{row.type}</Td>
            <Td muted className="text-xs">
              {row.description ? <p>{row.description}</p> : null}
              {row.enumValues ? (
                <p className="flex flex-wrap gap-1">
                  {row.enumValues.slice(0, 12).map((value) => (
                    <code key={value} className="rounded bg-zinc-100 px-1 font-mono dark:bg-zinc-800">
                      {value}
                    </code>
                  ))}
                  {row.enumValues.length > 12 ? <span>+{row.enumValues.length - 12} more</span> : null}
                </p>
              ) : null}
              {row.constraints ? <p className="text-zinc-500">{row.constraints}</p> : null}
            </Td>
          </tr>
        ))}
      </TBody>
    </Table>
  );
}

/** One operation: method, path, summary, who may call, parameters, body, response and error statuses. */
export function OperationCard({ op }: { op: OperationView }) {
  const pathParams = op.params.filter((p) => p.in === "path");
  const otherParams = op.params.filter((p) => p.in !== "path");
  return (
    <article
      id={op.id}
      aria-labelledby={`${op.id}-title`}
      className="scroll-mt-20 rounded-lg border border-zinc-200 bg-white p-5 dark:border-zinc-800 dark:bg-zinc-900/50"
      data-testid="api-operation"
    >
      <header className="flex flex-wrap items-center gap-3">
        <MethodBadge method={op.method} />
        <h3 id={`${op.id}-title`} className="font-mono text-sm font-semibold break-all">
          /api/v1{op.path}
        </h3>
        <a
          href={`#${op.id}`}
          className="rounded text-sm text-zinc-400 hover:text-brand-600 focus-visible:outline-2"
          aria-label={`Link to ${op.method} ${op.path}`}
        >
          #
        </a>
        <span className="ml-auto">
          <AccessBadge access={op.access} />
        </span>
      </header>
      <p className="mt-2 text-sm text-zinc-700 dark:text-zinc-300">{op.summary}</p>
      {op.description ? (
        <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">{op.description}</p>
      ) : null}
      <p className="mt-1 font-mono text-[11px] text-zinc-400">operationId: {op.id}</p>

      <div className="mt-4 space-y-4">
        {pathParams.length + otherParams.length > 0 ? (
          <div>
            <Label>Parameters</Label>
            <FieldTable rows={[...pathParams, ...otherParams]} showIn />
          </div>
        ) : null}
        {op.body ? (
          <div>
            <Label>Request body · application/json</Label>
            {op.body.length > 0 ? (
              <FieldTable rows={op.body} />
            ) : (
              <p className="text-sm text-zinc-500">
                An empty object <code className="font-mono">{"{}"}</code>.
              </p>
            )}
          </div>
        ) : null}
        <div>
          <Label>
            Response {op.success.status} · <span className="normal-case">{op.success.topType}</span>
          </Label>
          {op.success.fields.length > 0 ? (
            <FieldTable rows={op.success.fields} output />
          ) : (
            <p className="text-sm text-zinc-500">{op.success.description}</p>
          )}
          {op.paginated ? (
            <p className="mt-1.5 text-xs text-zinc-500">
              Paged: pass <code className="font-mono">nextCursor</code> back as{" "}
              <code className="font-mono">?cursor=</code>.{" "}
              <a className="text-brand-700 underline dark:text-brand-500" href="#pagination">
                How pagination works
              </a>
            </p>
          ) : null}
        </div>
        <div>
          <Label>Errors</Label>
          <ul className="flex flex-wrap gap-1.5 text-xs">
            {op.errors.map((error) => (
              <li
                key={error.status}
                title={error.description}
                className="rounded border border-zinc-200 px-1.5 py-0.5 font-mono text-zinc-600 dark:border-zinc-700 dark:text-zinc-400"
              >
                {error.status}
              </li>
            ))}
            <li className="px-1 py-0.5 text-zinc-500">
              as{" "}
              <a className="text-brand-700 underline dark:text-brand-500" href="#errors">
                ApiError
              </a>
            </li>
          </ul>
        </div>
      </div>
    </article>
  );
}
