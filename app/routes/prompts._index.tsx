import {
  type ActionFunctionArgs,
  data,
  type LoaderFunctionArgs,
  type MetaFunction,
  redirect,
} from "@remix-run/node";
import { Link, useFetcher, useLoaderData } from "@remix-run/react";
import clsx from "clsx";
import { useDeferredValue, useId, useMemo, useState } from "react";
import { z } from "zod";
import { Modal, ModalActions } from "#app/components/projects/dialog.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { EmptyState } from "#app/components/ui/empty-state.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { PageHeader } from "#app/components/ui/page-header.tsx";
import { DateTime } from "#app/components/ui/section.tsx";
import { fieldErrors } from "#app/lib/forms.ts";
import { parseTemplate } from "#app/modules/ai/template.ts";
import { createTemplate, listTemplates } from "#app/modules/ai/templates.server.ts";
import { MAX_TEMPLATE_BODY, ZCreateTemplateInput } from "#app/modules/ai/templates.types.ts";
import { formFailure, requireUser } from "#app/modules/auth/web.server.ts";
import { listProjects } from "#app/modules/projects/index.server.ts";

export const meta: MetaFunction = () => [{ title: "Prompts · Agentry" }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const deps = { db: context.db };
  const [templates, projects] = await Promise.all([
    listTemplates({ userId: auth.userId }, deps),
    listProjects({ userId: auth.userId }, deps),
  ]);
  return { templates, projects: projects.map((p) => ({ id: p.id, name: p.name })) };
}

const ZCreateForm = z.object({
  intent: z.literal("create"),
  name: z.string(),
  body: z.string(),
  projectId: z.string(),
});

type Result = { ok: boolean; error?: string | null; errors?: Record<string, string | undefined> };

export async function action({ context, request }: ActionFunctionArgs) {
  const auth = requireUser(context, request);
  const form = ZCreateForm.safeParse(Object.fromEntries(await request.formData()));
  if (!form.success) return data<Result>({ ok: false, error: "Unknown request" }, 400);
  const fields = ZCreateTemplateInput.safeParse({
    name: form.data.name,
    body: form.data.body,
    projectId: form.data.projectId || null,
  });
  if (!fields.success) return data<Result>({ ok: false, errors: fieldErrors(fields.error) }, 400);
  try {
    const template = await createTemplate({ userId: auth.userId, ...fields.data }, { db: context.db });
    return redirect(`/prompts/${template.id}`);
  } catch (error) {
    const { message, status } = formFailure(error);
    // A taken name belongs under the name field; a syntax error under the body.
    if (status === 409) return data<Result>({ ok: false, errors: { name: message } }, status);
    if (status === 400) return data<Result>({ ok: false, errors: { body: message } }, status);
    return data<Result>({ ok: false, error: message }, status);
  }
}

/** Variables as small monospace chips; after `limit`, a count of the rest. */
function VariableChips({ variables, limit = 6 }: { variables: readonly string[]; limit?: number }) {
  if (variables.length === 0) return <span className="text-xs text-zinc-400">No variables</span>;
  const shown = variables.slice(0, limit);
  const rest = variables.length - shown.length;
  return (
    <ul className="flex flex-wrap gap-1" aria-label="Variables">
      {shown.map((variable) => (
        <li
          key={variable}
          className="max-w-56 truncate rounded bg-brand-50 px-1.5 py-0.5 font-mono text-xs text-brand-700 dark:bg-brand-700/25 dark:text-brand-100"
          title={variable}
        >
          {variable}
        </li>
      ))}
      {rest > 0 ? (
        <li className="px-1 py-0.5 text-xs text-zinc-500" title={variables.slice(limit).join(", ")}>
          +{rest} more
        </li>
      ) : null}
    </ul>
  );
}

function EmptyPrompts({ onCreate }: { onCreate: () => void }) {
  return (
    <EmptyState
      testId="prompts-empty"
      icon={
        <>
          <path d="M4 5h16v11H8l-4 4z" />
          <path d="M8 9h8M8 12h5" />
        </>
      }
      title="Write your first prompt"
      actions={
        <Button className="mt-5" onClick={onCreate}>
          New prompt
        </Button>
      }
    >
      A prompt template is text with <code className="font-mono text-[13px]">{"{{variables}}"}</code> in it,
      filled in when a workflow runs. For example{" "}
      <code className="rounded bg-zinc-100 px-1 font-mono text-[13px] dark:bg-zinc-800">
        {"Review {{ file.path }} for {{ goal }}"}
      </code>
      . Paths reach into objects and lists (
      <code className="font-mono text-[13px]">{"{{ items.0.name }}"}</code>
      ); there is no logic to learn. Every save keeps a version you can compare and restore.
    </EmptyState>
  );
}

function PromptTable({
  templates,
}: {
  templates: ReturnType<typeof useLoaderData<typeof loader>>["templates"];
}) {
  return (
    <div className="overflow-x-auto rounded-lg border border-zinc-200 dark:border-zinc-800">
      <table className="w-full text-left text-sm" aria-label="Prompt templates">
        <thead className="bg-zinc-50 text-xs uppercase tracking-wide text-zinc-500 dark:bg-zinc-900/60">
          <tr>
            <th scope="col" className="px-4 py-2.5 font-medium">
              Name
            </th>
            <th scope="col" className="px-4 py-2.5 font-medium">
              Available in
            </th>
            <th scope="col" className="px-4 py-2.5 font-medium">
              Variables
            </th>
            <th scope="col" className="px-4 py-2.5 text-right font-medium">
              Versions
            </th>
            <th scope="col" className="px-4 py-2.5 font-medium">
              Updated
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
          {templates.map((template) => (
            <tr
              key={template.id}
              className="bg-white hover:bg-zinc-50 dark:bg-zinc-950 dark:hover:bg-zinc-900/60"
              data-testid="prompt-row"
            >
              <td className="px-4 py-3 font-medium">
                <Link
                  to={`/prompts/${template.id}`}
                  className="text-zinc-900 hover:text-brand-700 hover:underline dark:text-zinc-100 dark:hover:text-brand-100"
                >
                  {template.name}
                </Link>
              </td>
              <td className="px-4 py-3 text-zinc-600 dark:text-zinc-400">
                {template.project ? (
                  <Link to={`/projects/${template.project.id}`} className="hover:underline">
                    {template.project.name}
                  </Link>
                ) : (
                  <span className="text-zinc-500">All projects</span>
                )}
              </td>
              <td className="px-4 py-3">
                <VariableChips variables={template.variables} />
              </td>
              <td className="px-4 py-3 text-right tabular-nums text-zinc-600 dark:text-zinc-400">
                {template.latestVersion}
              </td>
              <td className="px-4 py-3 whitespace-nowrap text-zinc-600 dark:text-zinc-400">
                <DateTime value={template.updatedAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const SAMPLE_BODY = "You are reviewing {{ project.name }}.\n\nFocus on: {{ goal }}\n";

/** Name, where it is available, and a first body (checked as you type; the server checks again). */
function CreatePromptDialog({
  open,
  onOpenChange,
  projects,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  projects: Array<{ id: string; name: string }>;
}) {
  const fetcher = useFetcher<Result>();
  const result = fetcher.data;
  const busy = fetcher.state !== "idle";
  const id = useId();
  const [body, setBody] = useState(SAMPLE_BODY);
  const deferred = useDeferredValue(body);
  const parsed = useMemo(() => parseTemplate(deferred), [deferred]);
  const bodyError = result?.errors?.body;
  return (
    <Modal
      open={open}
      onOpenChange={onOpenChange}
      title="New prompt"
      description="A reusable prompt with {{variables}}. You can edit it and keep versions afterwards."
      wide
    >
      <fetcher.Form method="post" action="/prompts?index" className="space-y-4">
        <input type="hidden" name="intent" value="create" />
        {result?.error ? <FormAlert>{result.error}</FormAlert> : null}
        <Field
          label="Name"
          name="name"
          required
          maxLength={100}
          autoComplete="off"
          placeholder="Code review"
          error={result?.errors?.name}
          autoFocus
        />
        <div className="space-y-1.5">
          <label
            htmlFor={`${id}-scope`}
            className="block text-sm font-medium text-zinc-800 dark:text-zinc-200"
          >
            Available in
          </label>
          <select
            id={`${id}-scope`}
            name="projectId"
            defaultValue=""
            className="block h-9 w-full rounded-md border border-zinc-300 bg-white px-2 text-sm dark:border-zinc-700 dark:bg-zinc-900"
          >
            <option value="">All projects</option>
            {projects.map((project) => (
              <option key={project.id} value={project.id}>
                {project.name} only
              </option>
            ))}
          </select>
        </div>
        <div className="space-y-1.5">
          <label
            htmlFor={`${id}-body`}
            className="block text-sm font-medium text-zinc-800 dark:text-zinc-200"
          >
            Template
          </label>
          <textarea
            id={`${id}-body`}
            name="body"
            rows={8}
            value={body}
            maxLength={MAX_TEMPLATE_BODY}
            onChange={(event) => setBody(event.target.value)}
            spellCheck={false}
            aria-invalid={!parsed.ok || bodyError ? true : undefined}
            aria-describedby={`${id}-body-status`}
            className={clsx(
              "block w-full rounded-md border bg-white px-3 py-2 font-mono text-[13px] leading-5 text-zinc-900 shadow-xs dark:bg-zinc-900 dark:text-zinc-100",
              !parsed.ok || bodyError ? "border-red-500" : "border-zinc-300 dark:border-zinc-700",
            )}
          />
          <div id={`${id}-body-status`} aria-live="polite" className="space-y-1 text-xs">
            {parsed.ok ? (
              <div className="flex flex-wrap items-center gap-1.5 text-zinc-500">
                <span>Variables:</span>
                <VariableChips variables={parsed.variables} limit={12} />
              </div>
            ) : (
              <ul className="space-y-0.5 font-medium text-red-600 dark:text-red-400">
                {parsed.errors.slice(0, 5).map((issue) => (
                  <li key={`${issue.offset}:${issue.message}`}>
                    Line {issue.line}, column {issue.column}: {issue.message}
                  </li>
                ))}
                {parsed.errors.length > 5 ? <li>…and {parsed.errors.length - 5} more</li> : null}
              </ul>
            )}
            {bodyError && parsed.ok ? (
              <p className="font-medium text-red-600 dark:text-red-400">{bodyError}</p>
            ) : null}
          </div>
        </div>
        <ModalActions>
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy || !parsed.ok}>
            {busy ? "Creating…" : "Create prompt"}
          </Button>
        </ModalActions>
      </fetcher.Form>
    </Modal>
  );
}

export default function PromptsPage() {
  const { templates, projects } = useLoaderData<typeof loader>();
  const [creating, setCreating] = useState(false);
  return (
    <div className="space-y-6">
      <PageHeader
        title="Prompts"
        description={
          <>
            Reusable prompt templates with <code className="font-mono text-[13px]">{"{{variables}}"}</code>,
            versioned on every save.
          </>
        }
        actions={templates.length > 0 ? <Button onClick={() => setCreating(true)}>New prompt</Button> : null}
      />
      {templates.length === 0 ? (
        <EmptyPrompts onCreate={() => setCreating(true)} />
      ) : (
        <PromptTable templates={templates} />
      )}
      <CreatePromptDialog open={creating} onOpenChange={setCreating} projects={projects} />
    </div>
  );
}
