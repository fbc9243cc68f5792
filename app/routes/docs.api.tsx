import type { HeadersFunction, MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import type { ReactNode } from "react";
import { buildApiReference, type OpenApiLike } from "#app/components/api-docs/model.ts";
import { MethodBadge, OperationCard } from "#app/components/api-docs/operation.tsx";
import { EmptyState } from "#app/components/ui/section.tsx";
import { Table, TBody, Td, THead, Th } from "#app/components/ui/table.tsx";
import { SCOPES } from "#app/modules/auth/auth.types.ts";
import { openApiDocument } from "#app/server/openapi.server.ts";

export const meta: MetaFunction = () => [
  { title: "API reference · Agentry" },
  {
    name: "description",
    content: "The Agentry REST API: operations, authentication, errors and pagination.",
  },
];

export const headers: HeadersFunction = () => ({ "Cache-Control": "public, max-age=300" });

/** Public: the reference is the same for everyone, and the OpenAPI document it renders is public too. */
export async function loader() {
  const doc = openApiDocument() as unknown as OpenApiLike;
  return {
    title: doc.info?.title ?? "Agentry API",
    version: doc.info?.version ?? "",
    tags: buildApiReference(doc),
    scopes: [...SCOPES],
  };
}

const tagAnchor = (tag: string) => `tag-${tag}`;
const TAG_LABELS: Record<string, string> = { "api-keys": "API keys", ai: "AI models" };
const tagLabel = (tag: string) =>
  TAG_LABELS[tag] ?? tag.charAt(0).toUpperCase() + tag.slice(1).replace(/-/g, " ");

function Code({ children }: { children: ReactNode }) {
  return (
    <code className="rounded bg-zinc-100 px-1 py-0.5 font-mono text-[13px] dark:bg-zinc-800">{children}</code>
  );
}

/** `code` spans inside a plain sentence. */
function inline(text: string): ReactNode[] {
  return text.split("`").map((part, i) => (i % 2 === 1 ? <Code key={part}>{part}</Code> : part));
}

function Pre({ children, label }: { children: string; label: string }) {
  return (
    <pre
      title={label}
      className="overflow-x-auto rounded-md border border-zinc-200 bg-zinc-50 p-3 font-mono text-xs leading-relaxed text-zinc-800 dark:border-zinc-800 dark:bg-zinc-950 dark:text-zinc-200"
    >
      {children}
    </pre>
  );
}

function GuideSection({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section
      id={id}
      aria-labelledby={`${id}-title`}
      className="scroll-mt-20 space-y-3 rounded-lg border border-zinc-200 bg-white p-5 text-sm leading-relaxed text-zinc-700 dark:border-zinc-800 dark:bg-zinc-900/50 dark:text-zinc-300"
    >
      <h2 id={`${id}-title`} className="text-lg font-semibold text-zinc-900 dark:text-zinc-50">
        <a href={`#${id}`} className="hover:underline">
          {title}
        </a>
      </h2>
      {children}
    </section>
  );
}

const STATUS_ROWS: Array<[string, string, string]> = [
  [
    "400",
    "BAD_REQUEST, PARSE_ERROR",
    "Invalid input; `issues` lists each invalid field, or the body is not JSON",
  ],
  ["401", "UNAUTHORIZED", "No credentials, or a token/key that is invalid, expired or revoked"],
  ["402", "PAYMENT_REQUIRED", "A budget would be exceeded"],
  ["403", "FORBIDDEN", "The API key lacks the scope, the operation needs a session, or a foreign Origin"],
  ["404", "NOT_FOUND", "No such resource, or it belongs to someone else; also unknown API paths"],
  ["409", "CONFLICT", "A concurrent change; `details` says what is current (e.g. `currentVersion`)"],
  ["413", "PAYLOAD_TOO_LARGE", "JSON body over 3 MiB"],
  ["415", "UNSUPPORTED_MEDIA_TYPE", "A body that is not `application/json` (UTF-8)"],
  ["422", "UNPROCESSABLE_CONTENT", "Well-formed but not acceptable (e.g. a workflow that does not validate)"],
  ["429", "TOO_MANY_REQUESTS", "Rate limited; retry after the `Retry-After` header (seconds)"],
  [
    "5xx",
    "INTERNAL_SERVER_ERROR, BAD_GATEWAY, …",
    "Our fault or an AI provider's; the message carries a request id",
  ],
];

export default function ApiReference() {
  const { title, version, tags, scopes } = useLoaderData<typeof loader>();
  const count = tags.reduce((n, t) => n + t.operations.length, 0);
  return (
    <div className="lg:grid lg:grid-cols-[15rem_minmax(0,1fr)] lg:gap-8">
      <aside className="hidden lg:block">
        <nav
          aria-label="API reference contents"
          className="sticky top-20 max-h-[calc(100vh-6rem)] overflow-y-auto pb-8 pr-2 text-sm"
          data-testid="api-toc"
        >
          <p className="mb-2 text-xs font-semibold uppercase tracking-wide text-zinc-500">Guide</p>
          <ul className="mb-4 space-y-1">
            {[
              ["authentication", "Authentication"],
              ["errors", "Errors"],
              ["pagination", "Pagination"],
              ["streams", "Streams and files"],
            ].map(([id, label]) => (
              <li key={id}>
                <a href={`#${id}`} className="text-zinc-700 hover:text-brand-600 dark:text-zinc-300">
                  {label}
                </a>
              </li>
            ))}
          </ul>
          <p className="mb-2 text-xs font-semibold uppercase tracking-wide text-zinc-500">Operations</p>
          <ul className="space-y-3">
            {tags.map((group) => (
              <li key={group.tag}>
                <a
                  href={`#${tagAnchor(group.tag)}`}
                  className="font-medium text-zinc-900 hover:text-brand-600 dark:text-zinc-100"
                >
                  {tagLabel(group.tag)}
                </a>
                <ul className="mt-1 space-y-0.5 border-l border-zinc-200 pl-2 dark:border-zinc-800">
                  {group.operations.map((op) => (
                    <li key={op.id}>
                      <a
                        href={`#${op.id}`}
                        className="flex items-center gap-1.5 rounded px-1 py-0.5 text-xs text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-900"
                        title={op.summary}
                      >
                        <MethodBadge method={op.method} small />
                        <span className="truncate font-mono">{op.path}</span>
                      </a>
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </nav>
      </aside>

      <div className="min-w-0 space-y-8">
        <header className="flex flex-wrap items-end justify-between gap-4">
          <div>
            <h1 className="text-2xl font-semibold tracking-tight">API reference</h1>
            <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
              {title} {version ? `v${version}` : ""} · {count} operations under <Code>/api/v1</Code> · every
              one also reachable through the typed tRPC client.
            </p>
          </div>
          <a
            href="/api/openapi.json"
            className="inline-flex items-center rounded-md border border-zinc-300 px-3 py-1.5 text-sm font-medium text-zinc-700 hover:bg-zinc-100 dark:border-zinc-700 dark:text-zinc-200 dark:hover:bg-zinc-900"
            data-testid="openapi-link"
          >
            OpenAPI 3.1 document (JSON)
          </a>
        </header>

        <GuideSection id="authentication" title="Authentication">
          <p>
            Send <Code>Authorization: Bearer &lt;token&gt;</Code>, where the token is one of:
          </p>
          <ul className="list-disc space-y-1 pl-5">
            <li>
              <strong>An access token (JWT)</strong> from <Code>POST /api/v1/auth/login</Code> (or{" "}
              <Code>/auth/signup</Code>). It lives 15 minutes and carries every scope; renew it with{" "}
              <Code>POST /api/v1/auth/refresh</Code> and the <Code>refreshToken</Code> (rotated on every use).
            </li>
            <li>
              <strong>An API key</strong> <Code>agt_…</Code>, created in{" "}
              <a className="text-brand-700 underline dark:text-brand-500" href="/settings/api-keys">
                Settings → API keys
              </a>{" "}
              and shown once. It carries only the scopes chosen at creation, may expire, and may have its own
              rate limit. Operations marked <em>Session only</em> (sessions, password, audit log) refuse API
              keys.
            </li>
          </ul>
          <Pre label="Login and call with a token">{`curl -s -X POST $AGENTRY/api/v1/auth/login \\
  -H 'content-type: application/json' \\
  -d '{"email":"you@example.com","password":"…"}'      # → { "accessToken": "eyJ…", … }

curl -s $AGENTRY/api/v1/projects -H "Authorization: Bearer agt_…"`}</Pre>
          <p>
            Scopes:{" "}
            {scopes.map((scope) => (
              <span key={scope} className="mr-1 inline-block">
                <Code>{scope}</Code>
              </span>
            ))}
          </p>
          <p className="text-zinc-500">
            Browsers use the same API with the session cookies; state-changing requests from another origin
            are refused (403).
          </p>
        </GuideSection>

        <GuideSection id="errors" title="Errors">
          <p>Every error, whatever its status, is a JSON body of this shape:</p>
          <Pre label="Error body">{`{
  "error": {
    "code": "BAD_REQUEST",                 // stable; switch on this, not on the message
    "message": "Input validation failed",  // for humans
    "issues": [                            // 400 only: one per invalid field
      { "path": ["name"], "message": "Invalid input: expected string, received number" }
    ],
    "details": { }                         // sometimes: facts to act on (currentVersion, retryAfterSeconds)
  }
}`}</Pre>
          <Table density="dense" aria-label="Error statuses">
            <THead>
              <Th>Status</Th>
              <Th>Code</Th>
              <Th>When</Th>
            </THead>
            <TBody>
              {STATUS_ROWS.map(([status, code, when]) => (
                <tr key={status}>
                  <Td className="font-mono text-xs">{status}</Td>
                  <Td className="font-mono text-xs">{code}</Td>
                  <Td muted className="text-xs">
                    {inline(when)}
                  </Td>
                </tr>
              ))}
            </TBody>
          </Table>
        </GuideSection>

        <GuideSection id="pagination" title="Pagination">
          <p>
            Lists that grow without bound are paged with an opaque cursor. A page answers{" "}
            <Code>{"{ items: [...], nextCursor: string | null }"}</Code>, newest first. To get the next
            (older) page, repeat the same request with <Code>?cursor=&lt;nextCursor&gt;</Code>; stop when{" "}
            <Code>nextCursor</Code> is <Code>null</Code>. <Code>?limit=</Code> sets the page size (1–100).
            Treat the cursor as opaque: its format differs between lists and may change.
          </p>
          <Pre label="Walk every page">{`cursor=""
while :; do
  page=$(curl -s "$AGENTRY/api/v1/runs?limit=100\${cursor:+&cursor=$cursor}" -H "Authorization: Bearer $TOKEN")
  echo "$page" | jq -c '.items[]'
  cursor=$(echo "$page" | jq -r '.nextCursor // empty'); [ -z "$cursor" ] && break
done`}</Pre>
          <p>
            Paged today:{" "}
            {tags
              .flatMap((t) => t.operations)
              .filter((op) => op.paginated)
              .map((op) => (
                <a
                  key={op.id}
                  href={`#${op.id}`}
                  className="mr-2 inline-block font-mono text-xs text-brand-700 underline dark:text-brand-500"
                >
                  {op.method} {op.path}
                </a>
              ))}
            . Other lists (API keys, sessions, budgets, prompts, workflows and their versions) return{" "}
            <Code>{"{ items }"}</Code> in one answer; file versions page with{" "}
            <Code>?before=&lt;version&gt;</Code>.
          </p>
        </GuideSection>

        <GuideSection id="streams" title="Streams and files">
          <p>A few endpoints are not JSON request/response and so are not in the OpenAPI document:</p>
          <ul className="list-disc space-y-1 pl-5">
            <li>
              <Code>GET /api/v1/runs/{"{id}"}/events</Code> — Server-Sent Events of a run; the{" "}
              <Code>id:</Code> of each event is its sequence number: reconnect with <Code>Last-Event-ID</Code>{" "}
              to resume. <Code>GET /api/v1/runs/{"{id}"}/events.json</Code> returns the same events for
              polling.
            </li>
            <li>
              <Code>GET /api/v1/notifications/stream</Code> — your notifications as Server-Sent Events.
            </li>
            <li>
              <Code>POST /api/v1/projects/{"{id}"}/quick-task</Code> — a one-off model call, streamed as SSE (
              <Code>start</Code>, <Code>text</Code>, <Code>done</Code> | <Code>error</Code>).
            </li>
            <li>
              <Code>POST /api/v1/projects/{"{id}"}/import</Code> (a zip body) and{" "}
              <Code>GET /api/v1/projects/{"{id}"}/export</Code> (a zip download).
            </li>
          </ul>
          <p className="text-zinc-500">
            Errors before the first byte of a stream use the JSON error body above.
          </p>
        </GuideSection>

        {tags.length === 0 ? (
          <EmptyState title="No operations">The OpenAPI document lists no operations.</EmptyState>
        ) : (
          tags.map((group) => (
            <section
              key={group.tag}
              id={tagAnchor(group.tag)}
              aria-labelledby={`${tagAnchor(group.tag)}-title`}
              className="scroll-mt-20 space-y-4"
            >
              <h2
                id={`${tagAnchor(group.tag)}-title`}
                className="border-b border-zinc-200 pb-2 text-xl font-semibold tracking-tight dark:border-zinc-800"
              >
                <a href={`#${tagAnchor(group.tag)}`} className="hover:underline">
                  {tagLabel(group.tag)}
                </a>
                <span className="ml-2 text-sm font-normal normal-case text-zinc-500">
                  {group.operations.length} operation{group.operations.length === 1 ? "" : "s"}
                </span>
              </h2>
              {group.operations.map((op) => (
                <OperationCard key={op.id} op={op} />
              ))}
            </section>
          ))
        )}
      </div>
    </div>
  );
}
