import * as Tabs from "@radix-ui/react-tabs";
import {
  type ActionFunctionArgs,
  data,
  type LoaderFunctionArgs,
  type MetaFunction,
  redirect,
} from "@remix-run/node";
import { Link, useFetcher, useLoaderData } from "@remix-run/react";
import clsx from "clsx";
import { diffLines } from "diff";
import { useDeferredValue, useEffect, useId, useMemo, useRef, useState } from "react";
import { z } from "zod";
import { DangerButton, Modal, ModalActions } from "#app/components/projects/dialog.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { DiffLine } from "#app/components/ui/diff-line.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { NotFoundBoundary } from "#app/components/ui/not-found-boundary.tsx";
import { Panel } from "#app/components/ui/panel.tsx";
import { DateTime } from "#app/components/ui/section.tsx";
import { or404 } from "#app/lib/not-found.server.ts";
import {
  formatValue,
  type ParsedTemplate,
  parseTemplate,
  renderTemplate,
  type TemplateIssue,
} from "#app/modules/ai/template.ts";
import {
  deleteTemplate,
  getTemplate,
  restoreTemplateVersion,
  updateTemplate,
} from "#app/modules/ai/templates.server.ts";
import { MAX_TEMPLATE_BODY, ZTemplateName } from "#app/modules/ai/templates.types.ts";
import { formFailure, requireUser } from "#app/modules/auth/web.server.ts";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data ? `${data.template.name} · Prompts · Agentry` : "Prompt · Agentry" },
];

export async function loader({ context, request, params }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const template = await or404(
    getTemplate({ userId: auth.userId, templateId: params.templateId ?? "" }, { db: context.db }),
    "Prompt not found",
  );
  return { template };
}

const ZIntent = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("save"), body: z.string(), baseVersion: z.coerce.number().int().min(1) }),
  z.object({ intent: z.literal("rename"), name: z.string() }),
  z.object({ intent: z.literal("restore"), number: z.coerce.number().int().min(1) }),
  z.object({ intent: z.literal("delete") }),
]);

type Result = { ok: boolean; intent: string; error?: string | null; number?: number };

/** Save (a new version), rename, restore a version, delete. */
export async function action({ context, request, params }: ActionFunctionArgs) {
  const auth = requireUser(context, request);
  const parsed = ZIntent.safeParse(Object.fromEntries(await request.formData()));
  if (!parsed.success) return data<Result>({ ok: false, intent: "unknown", error: "Unknown request" }, 400);
  const input = parsed.data;
  const templateId = params.templateId ?? "";
  const deps = { db: context.db };
  try {
    switch (input.intent) {
      case "save": {
        const saved = await updateTemplate(
          { userId: auth.userId, templateId, body: input.body, baseVersion: input.baseVersion },
          deps,
        );
        return data<Result>({ ok: true, intent: input.intent, number: saved.latestVersion });
      }
      case "rename": {
        const name = ZTemplateName.safeParse(input.name);
        if (!name.success) {
          return data<Result>(
            { ok: false, intent: input.intent, error: name.error.issues[0]?.message ?? "Invalid name" },
            400,
          );
        }
        await updateTemplate({ userId: auth.userId, templateId, name: name.data }, deps);
        return data<Result>({ ok: true, intent: input.intent });
      }
      case "restore": {
        const restored = await restoreTemplateVersion(
          { userId: auth.userId, templateId, number: input.number },
          deps,
        );
        return data<Result>({ ok: true, intent: input.intent, number: restored.latestVersion });
      }
      case "delete":
        await deleteTemplate({ userId: auth.userId, templateId }, deps);
        return redirect("/prompts");
    }
  } catch (error) {
    const { message, status } = formFailure(error);
    return data<Result>({ ok: false, intent: input.intent, error: message }, status);
  }
}

type Template = ReturnType<typeof useLoaderData<typeof loader>>["template"];

/**
 * Run `callback` once when the fetcher's submission completes successfully. Only on that transition:
 * the last answer stays in fetcher.data, and a dialog reopened later must not close itself again.
 */
function useAfterSuccess(fetcher: { state: string; data?: Result }, callback: () => void) {
  const busy = useRef(false);
  useEffect(() => {
    if (fetcher.state !== "idle") {
      busy.current = true;
      return;
    }
    if (!busy.current) return;
    busy.current = false;
    if (fetcher.data?.ok) callback();
  }, [fetcher.state, fetcher.data, callback]);
}
type Version = Template["versions"][number];

const textareaClass =
  "block w-full rounded-md border bg-white px-3 py-2 font-mono text-[13px] leading-5 text-zinc-900 shadow-xs placeholder:text-zinc-400 dark:bg-zinc-900 dark:text-zinc-100";

function VariableChips({ variables }: { variables: readonly string[] }) {
  if (variables.length === 0) return <span className="text-xs text-zinc-500">none yet</span>;
  return (
    <ul className="flex flex-wrap gap-1" aria-label="Variables">
      {variables.map((variable) => (
        <li
          key={variable}
          className="max-w-64 truncate rounded bg-brand-50 px-1.5 py-0.5 font-mono text-xs text-brand-700 dark:bg-brand-700/25 dark:text-brand-100"
          title={variable}
        >
          {variable}
        </li>
      ))}
    </ul>
  );
}

/** The parse errors, each a button that puts the caret where it is. */
function IssueList({ issues, onJump }: { issues: TemplateIssue[]; onJump: (issue: TemplateIssue) => void }) {
  const shown = issues.slice(0, 50);
  return (
    <ul className="space-y-1" data-testid="template-errors">
      {shown.map((issue) => (
        <li key={`${issue.offset}:${issue.message}`}>
          <button
            type="button"
            onClick={() => onJump(issue)}
            className="w-full rounded px-1.5 py-0.5 text-left text-xs text-red-700 hover:bg-red-50 dark:text-red-300 dark:hover:bg-red-950/40"
          >
            <span className="font-mono font-medium">
              {issue.line}:{issue.column}
            </span>{" "}
            {issue.message}
          </button>
        </li>
      ))}
      {issues.length > shown.length ? (
        <li className="px-1.5 text-xs text-red-700 dark:text-red-300">
          …and {issues.length - shown.length} more
        </li>
      ) : null}
    </ul>
  );
}

function Editor({
  template,
  draft,
  onDraftChange,
  parsed,
}: {
  template: Template;
  draft: string;
  onDraftChange: (body: string) => void;
  parsed: ReturnType<typeof parseTemplate>;
}) {
  const fetcher = useFetcher<Result>();
  const busy = fetcher.state !== "idle";
  const result = fetcher.data?.intent === "save" ? fetcher.data : undefined;
  const textarea = useRef<HTMLTextAreaElement>(null);
  const form = useRef<HTMLFormElement>(null);
  const id = useId();
  const dirty = draft !== template.latest.body;
  const canSave = dirty && parsed.ok && !busy;

  function jump(issue: TemplateIssue) {
    const element = textarea.current;
    if (!element) return;
    element.focus();
    element.setSelectionRange(issue.offset, Math.min(issue.offset + 2, draft.length));
  }

  const status = busy
    ? "Saving…"
    : dirty
      ? "Unsaved changes"
      : `Version ${template.latestVersion}${result?.ok ? " saved" : ""}`;

  return (
    <Panel
      title="Template"
      titleId={`${id}-title`}
      aside={
        <span
          className={clsx("text-xs", dirty ? "text-amber-700 dark:text-amber-300" : "text-zinc-500")}
          aria-live="polite"
          data-testid="editor-status"
        >
          {status}
        </span>
      }
    >
      <fetcher.Form method="post" ref={form} className="space-y-3 p-4">
        <input type="hidden" name="intent" value="save" />
        <input type="hidden" name="baseVersion" value={template.latestVersion} />
        {result && !result.ok && result.error ? (
          <FormAlert>
            {result.error}
            {result.error.includes("reload") ? (
              <>
                {" "}
                <a href={`/prompts/${template.id}`} className="font-medium underline">
                  Reload
                </a>
              </>
            ) : null}
          </FormAlert>
        ) : null}
        <label htmlFor={`${id}-body`} className="sr-only">
          Template text
        </label>
        <textarea
          id={`${id}-body`}
          ref={textarea}
          name="body"
          value={draft}
          onChange={(event) => onDraftChange(event.target.value)}
          onKeyDown={(event) => {
            // Ctrl/Cmd+S saves, as in any editor.
            if ((event.metaKey || event.ctrlKey) && event.key.toLowerCase() === "s") {
              event.preventDefault();
              if (canSave) fetcher.submit(form.current);
            }
          }}
          rows={18}
          maxLength={MAX_TEMPLATE_BODY}
          spellCheck={false}
          aria-invalid={parsed.ok ? undefined : true}
          aria-describedby={`${id}-checks`}
          className={clsx(
            textareaClass,
            "min-h-72 resize-y",
            parsed.ok ? "border-zinc-300 dark:border-zinc-700" : "border-red-500",
          )}
          data-testid="template-editor"
        />
        <div id={`${id}-checks`} aria-live="polite" className="space-y-2">
          {parsed.ok ? null : (
            <div>
              <p className="mb-1 text-xs font-medium text-red-700 dark:text-red-300">
                {parsed.errors.length === 1 ? "1 problem" : `${parsed.errors.length} problems`} — fix{" "}
                {parsed.errors.length === 1 ? "it" : "them"} to save:
              </p>
              <IssueList issues={parsed.errors} onJump={jump} />
            </div>
          )}
          <div
            className="flex flex-wrap items-center gap-1.5 text-xs text-zinc-500"
            data-testid="detected-variables"
          >
            <span>Variables:</span>
            <VariableChips variables={parsed.variables} />
          </div>
        </div>
        <div className="flex flex-wrap items-center justify-between gap-2 pt-1">
          <p className="text-xs text-zinc-500">
            <code className="font-mono">{"{{ path }}"}</code> inserts a value;{" "}
            <code className="font-mono">{"\\{{"}</code> writes a literal{" "}
            <code className="font-mono">{"{{"}</code>.
          </p>
          <div className="flex gap-2">
            <Button
              variant="ghost"
              disabled={!dirty || busy}
              onClick={() => onDraftChange(template.latest.body)}
            >
              Discard
            </Button>
            <Button type="submit" disabled={!canSave} title="Save as a new version (Ctrl+S)">
              {busy ? "Saving…" : "Save version"}
            </Button>
          </div>
        </div>
      </fetcher.Form>
    </Panel>
  );
}

/** The draft rendered with the values typed below it; missing values stay visible as their tags. */
function Preview({ parsed }: { parsed: ReturnType<typeof parseTemplate> }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const id = useId();
  const lookup = (path: string) => (values[path] ? values[path] : undefined);
  const rendered = parsed.ok ? renderTemplate(parsed, lookup) : null;
  const missing = rendered && !rendered.ok ? rendered.missing : [];
  return (
    <Panel
      title="Preview"
      titleId={`${id}-title`}
      aside={
        parsed.ok ? (
          <span className="text-xs text-zinc-500" data-testid="preview-status">
            {missing.length === 0
              ? "Every variable has a value"
              : `${missing.length} missing: ${missing.slice(0, 4).join(", ")}${missing.length > 4 ? "…" : ""}`}
          </span>
        ) : null
      }
    >
      {!parsed.ok ? (
        <p className="p-4 text-sm text-zinc-500">Fix the template's problems to preview it.</p>
      ) : (
        <div className="grid gap-4 p-4 md:grid-cols-2">
          <div className="space-y-3">
            {parsed.variables.length === 0 ? (
              <p className="text-sm text-zinc-500">
                This template has no variables: it is sent as it is. Add one with{" "}
                <code className="font-mono">{"{{ name }}"}</code>.
              </p>
            ) : (
              parsed.variables.map((variable) => (
                <div key={variable} className="space-y-1">
                  <label
                    htmlFor={`${id}-${variable}`}
                    className="block truncate font-mono text-xs font-medium text-zinc-700 dark:text-zinc-300"
                  >
                    {variable}
                  </label>
                  <textarea
                    id={`${id}-${variable}`}
                    rows={1}
                    value={values[variable] ?? ""}
                    onChange={(event) =>
                      setValues((current) => ({ ...current, [variable]: event.target.value }))
                    }
                    placeholder="Value"
                    className={clsx(textareaClass, "min-h-9 resize-y border-zinc-300 dark:border-zinc-700")}
                  />
                </div>
              ))
            )}
          </div>
          <div className="min-w-0">
            <p className="mb-1 text-xs font-medium text-zinc-500">Result</p>
            <pre
              className="max-h-[28rem] min-h-24 overflow-auto rounded-md border border-zinc-200 bg-zinc-50 p-3 font-mono text-[13px] leading-5 whitespace-pre-wrap break-words dark:border-zinc-800 dark:bg-zinc-950"
              data-testid="preview-output"
            >
              <RenderedParts parsed={parsed} lookup={lookup} />
            </pre>
          </div>
        </div>
      )}
    </Panel>
  );
}

function RenderedParts({
  parsed,
  lookup,
}: {
  parsed: ParsedTemplate;
  lookup: (path: string) => string | undefined;
}) {
  return (
    <>
      {parsed.parts.map((part, index) => {
        const key = `${index}`;
        if (part.kind === "text") return <span key={key}>{part.text}</span>;
        const value = formatValue(lookup(part.path));
        return value === undefined ? (
          <mark
            key={key}
            className="rounded bg-amber-100 px-0.5 text-amber-900 dark:bg-amber-900/40 dark:text-amber-200"
            title={`No value for ${part.path}`}
          >
            {part.source}
          </mark>
        ) : (
          <span key={key} className="bg-brand-50 dark:bg-brand-700/20">
            {value}
          </span>
        );
      })}
    </>
  );
}

function History({
  template,
  dirty,
  onView,
}: {
  template: Template;
  dirty: boolean;
  onView: (version: Version) => void;
}) {
  const fetcher = useFetcher<Result>();
  const restoring = fetcher.state !== "idle" ? Number(fetcher.formData?.get("number")) : null;
  const id = useId();
  const failed = fetcher.data && !fetcher.data.ok ? fetcher.data.error : null;
  return (
    <Panel title="History" titleId={`${id}-title`} className="lg:sticky lg:top-20">
      {dirty ? (
        <p className="border-b border-zinc-200 bg-amber-50 px-4 py-2 text-xs text-amber-900 dark:border-zinc-800 dark:bg-amber-950/40 dark:text-amber-200">
          Save or discard your edits before restoring a version.
        </p>
      ) : null}
      {failed ? (
        <div className="p-3">
          <FormAlert>{failed}</FormAlert>
        </div>
      ) : null}
      <ol
        className="max-h-[36rem] divide-y divide-zinc-100 overflow-y-auto dark:divide-zinc-800"
        aria-label="Versions, newest first"
      >
        {template.versions.map((version) => {
          const current = version.number === template.latestVersion;
          return (
            <li key={version.id} className="px-4 py-3" data-testid="prompt-version">
              <div className="flex items-baseline justify-between gap-2">
                <span className="text-sm font-medium">
                  Version {version.number}
                  {current ? (
                    <span className="ml-1.5 rounded-full bg-emerald-50 px-1.5 py-0.5 text-[11px] font-medium text-emerald-800 dark:bg-emerald-950/60 dark:text-emerald-200">
                      current
                    </span>
                  ) : null}
                </span>
                <span className="text-xs text-zinc-500 tabular-nums">
                  {version.usage === 1 ? "1 call" : `${version.usage.toLocaleString("en-US")} calls`}
                </span>
              </div>
              <p className="mt-0.5 text-xs text-zinc-500">
                <DateTime value={version.createdAt} /> ·{" "}
                {version.variables.length === 1 ? "1 variable" : `${version.variables.length} variables`}
              </p>
              <div className="mt-2 flex gap-1.5">
                <Button
                  variant="secondary"
                  className="h-7 px-2.5 text-xs"
                  onClick={() => onView(version)}
                  aria-label={`View version ${version.number}`}
                >
                  View
                </Button>
                {!current ? (
                  <Button
                    variant="secondary"
                    className="h-7 px-2.5 text-xs"
                    disabled={dirty || restoring !== null}
                    onClick={() =>
                      fetcher.submit(
                        { intent: "restore", number: String(version.number) },
                        { method: "post" },
                      )
                    }
                    aria-label={`Restore version ${version.number}`}
                  >
                    {restoring === version.number ? "Restoring…" : "Restore"}
                  </Button>
                ) : null}
              </div>
            </li>
          );
        })}
      </ol>
    </Panel>
  );
}

/** Line diff of `from` → `to`, + and − in the gutter. */
function LineDiff({ from, to }: { from: string; to: string }) {
  const changes = useMemo(() => diffLines(from, to, { timeout: 1000 }), [from, to]);
  if (!changes)
    return <p className="text-sm text-zinc-500">These versions are too different to compare here.</p>;
  if (changes.every((change) => !change.added && !change.removed)) {
    return <p className="text-sm text-zinc-500">No differences: this version has the current text.</p>;
  }
  // Each row has its line number in the old text, the new one, or both: a stable, unique key.
  const rows: Array<{ key: string; kind: "add" | "del" | "same"; text: string }> = [];
  let oldLine = 0;
  let newLine = 0;
  for (const change of changes) {
    const lines = change.value.split("\n");
    if (lines.at(-1) === "") lines.pop();
    const kind = change.added ? "add" : change.removed ? "del" : "same";
    for (const text of lines) {
      if (kind !== "add") oldLine++;
      if (kind !== "del") newLine++;
      rows.push({ key: `${kind === "add" ? "" : oldLine}:${kind === "del" ? "" : newLine}`, kind, text });
    }
  }
  return (
    <div
      className="max-h-[60vh] overflow-auto rounded-md border border-zinc-200 font-mono text-[13px] leading-5 dark:border-zinc-800"
      data-testid="version-diff"
    >
      {rows.map((row) => (
        <DiffLine key={row.key} kind={row.kind} text={row.text} />
      ))}
    </div>
  );
}

function VersionDialog({
  template,
  version,
  dirty,
  onClose,
}: {
  template: Template;
  version: Version | null;
  dirty: boolean;
  onClose: () => void;
}) {
  const fetcher = useFetcher<Result>();
  const busy = fetcher.state !== "idle";
  const current = version?.number === template.latestVersion;
  useAfterSuccess(fetcher, onClose);
  const tab =
    "border-b-2 border-transparent px-3 py-1.5 text-sm font-medium text-zinc-600 data-[state=active]:border-brand-600 data-[state=active]:text-zinc-900 dark:text-zinc-400 dark:data-[state=active]:text-zinc-100";
  return (
    <Modal
      open={version !== null}
      onOpenChange={(open) => (open ? undefined : onClose())}
      title={version ? `Version ${version.number}${current ? " (current)" : ""}` : "Version"}
      description={
        version ? (
          <>
            Saved <DateTime value={version.createdAt} /> ·{" "}
            {version.usage === 1 ? "1 model call" : `${version.usage} model calls`} · sha256{" "}
            <span className="font-mono text-xs">{version.hash.slice(0, 12)}</span>
          </>
        ) : null
      }
      wide
    >
      {version ? (
        <div className="space-y-4">
          {fetcher.data && !fetcher.data.ok ? <FormAlert>{fetcher.data.error}</FormAlert> : null}
          <Tabs.Root defaultValue={current ? "content" : "diff"}>
            <Tabs.List className="flex gap-1 border-b border-zinc-200 dark:border-zinc-800" aria-label="Show">
              <Tabs.Trigger value="content" className={tab}>
                Content
              </Tabs.Trigger>
              <Tabs.Trigger value="diff" className={tab} disabled={current}>
                Changes to current (v{template.latestVersion})
              </Tabs.Trigger>
            </Tabs.List>
            <Tabs.Content value="content" className="pt-3">
              <pre className="max-h-[60vh] overflow-auto rounded-md border border-zinc-200 bg-zinc-50 p-3 font-mono text-[13px] leading-5 whitespace-pre-wrap break-words dark:border-zinc-800 dark:bg-zinc-950">
                {version.body || <span className="text-zinc-400">(empty)</span>}
              </pre>
              <div className="mt-2 flex flex-wrap items-center gap-1.5 text-xs text-zinc-500">
                <span>Variables:</span>
                <VariableChips variables={version.variables} />
              </div>
            </Tabs.Content>
            <Tabs.Content value="diff" className="pt-3">
              <p className="mb-2 text-xs text-zinc-500">
                <span className="text-red-700 dark:text-red-300">−</span> lines only in version{" "}
                {version.number}, <span className="text-emerald-700 dark:text-emerald-300">+</span> lines only
                in the current version.
              </p>
              <LineDiff from={version.body} to={template.latest.body} />
            </Tabs.Content>
          </Tabs.Root>
          <ModalActions>
            <Button variant="secondary" onClick={onClose}>
              Close
            </Button>
            {!current ? (
              <Button
                disabled={dirty || busy}
                title={dirty ? "Save or discard your edits first" : undefined}
                onClick={() =>
                  fetcher.submit({ intent: "restore", number: String(version.number) }, { method: "post" })
                }
              >
                {busy ? "Restoring…" : `Restore version ${version.number}`}
              </Button>
            ) : null}
          </ModalActions>
        </div>
      ) : null}
    </Modal>
  );
}

function RenameDialog({
  template,
  open,
  onClose,
}: {
  template: Template;
  open: boolean;
  onClose: () => void;
}) {
  const fetcher = useFetcher<Result>();
  const busy = fetcher.state !== "idle";
  useAfterSuccess(fetcher, onClose);
  return (
    <Modal open={open} onOpenChange={(next) => (next ? undefined : onClose())} title="Rename prompt">
      <fetcher.Form method="post" className="space-y-4">
        <input type="hidden" name="intent" value="rename" />
        <Field
          label="Name"
          name="name"
          required
          maxLength={100}
          defaultValue={template.name}
          autoComplete="off"
          error={fetcher.data && !fetcher.data.ok ? fetcher.data.error : null}
          autoFocus
        />
        <ModalActions>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy}>
            {busy ? "Saving…" : "Rename"}
          </Button>
        </ModalActions>
      </fetcher.Form>
    </Modal>
  );
}

function DeleteDialog({
  template,
  open,
  onClose,
}: {
  template: Template;
  open: boolean;
  onClose: () => void;
}) {
  const fetcher = useFetcher<Result>();
  const busy = fetcher.state !== "idle";
  const calls = template.versions.reduce((sum, version) => sum + version.usage, 0);
  return (
    <Modal
      open={open}
      onOpenChange={(next) => (next ? undefined : onClose())}
      title="Delete prompt"
      description={
        <>
          This deletes <strong className="font-semibold">{template.name}</strong> and its{" "}
          {template.versions.length === 1 ? "only version" : `${template.versions.length} versions`}. It
          cannot be undone.
          {calls > 0 ? ` The ${calls} model calls made with it keep their cost in your usage.` : ""}
        </>
      }
    >
      <fetcher.Form method="post">
        <input type="hidden" name="intent" value="delete" />
        {fetcher.data && !fetcher.data.ok ? <FormAlert>{fetcher.data.error}</FormAlert> : null}
        <ModalActions>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <DangerButton type="submit" disabled={busy}>
            {busy ? "Deleting…" : "Delete prompt"}
          </DangerButton>
        </ModalActions>
      </fetcher.Form>
    </Modal>
  );
}

function PromptView({ template }: { template: Template }) {
  const [draft, setDraft] = useState(template.latest.body);
  const [viewing, setViewing] = useState<number | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  // A new version (saved here, or restored) becomes the text being edited, unless the draft has moved on
  // from what was current (typing during a save keeps the newer typing).
  const previous = useRef(template.latest);
  useEffect(() => {
    const before = previous.current;
    previous.current = template.latest;
    if (before.id === template.latest.id) return;
    setDraft((current) => (current === before.body ? template.latest.body : current));
  }, [template.latest]);
  const latestBody = template.latest.body;
  const deferred = useDeferredValue(draft);
  const parsed = useMemo(() => parseTemplate(deferred), [deferred]);
  const dirty = draft !== latestBody;
  const viewed = template.versions.find((version) => version.number === viewing) ?? null;
  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="min-w-0">
          <nav aria-label="Breadcrumb" className="text-sm text-zinc-500">
            <Link to="/prompts" className="hover:text-zinc-900 hover:underline dark:hover:text-zinc-100">
              Prompts
            </Link>
            <span aria-hidden="true"> /</span>
          </nav>
          <div className="mt-0.5 flex flex-wrap items-center gap-2">
            <h1 className="truncate text-2xl font-semibold tracking-tight">{template.name}</h1>
            <span className="rounded-full border border-zinc-300 px-2 py-0.5 text-xs font-medium text-zinc-600 dark:border-zinc-700 dark:text-zinc-400">
              {template.project ? `Project: ${template.project.name}` : "All projects"}
            </span>
          </div>
        </div>
        <div className="flex shrink-0 gap-2">
          <Button variant="secondary" onClick={() => setRenaming(true)}>
            Rename
          </Button>
          <Button variant="secondary" onClick={() => setDeleting(true)}>
            Delete
          </Button>
        </div>
      </div>
      <div className="grid gap-6 lg:grid-cols-3">
        <div className="min-w-0 space-y-6 lg:col-span-2">
          <Editor template={template} draft={draft} onDraftChange={setDraft} parsed={parsed} />
          <Preview parsed={parsed} />
        </div>
        <div className="min-w-0">
          <History template={template} dirty={dirty} onView={(version) => setViewing(version.number)} />
        </div>
      </div>
      <VersionDialog template={template} version={viewed} dirty={dirty} onClose={() => setViewing(null)} />
      <RenameDialog template={template} open={renaming} onClose={() => setRenaming(false)} />
      <DeleteDialog template={template} open={deleting} onClose={() => setDeleting(false)} />
    </div>
  );
}

export default function PromptPage() {
  const { template } = useLoaderData<typeof loader>();
  // Another prompt is another page: fresh draft, preview values and dialogs.
  return <PromptView key={template.id} template={template} />;
}

export function ErrorBoundary() {
  return (
    <NotFoundBoundary
      notFound="Prompt not found"
      failed="This prompt could not be opened"
      back={{ to: "/prompts", label: "All prompts" }}
    />
  );
}
