import * as Dialog from "@radix-ui/react-dialog";
import { Link } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import clsx from "clsx";
import { type FormEvent, useEffect, useId, useMemo, useRef, useState } from "react";
import { Button } from "#app/components/ui/button.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";
import {
  formatMicros,
  QUICK_TASK_MAX_FILES,
  type QuickTaskEvent,
  type QuickTaskInput,
} from "#app/modules/ai/ai.types.ts";
import { useTRPC } from "#app/trpc/client.ts";
import { defaultModel, ModelSelect } from "./model-select.tsx";
import { readSse } from "./sse.ts";

type Done = Extract<QuickTaskEvent, { event: "done" }>["data"];
type Start = Extract<QuickTaskEvent, { event: "start" }>["data"];

export type QuickTaskState =
  | { status: "idle" }
  | { status: "connecting" }
  | { status: "streaming" | "stopped"; start: Start; text: string; elapsedMs: number }
  | { status: "done"; start: Start; text: string; done: Done }
  | { status: "error"; message: string; code: string; start?: Start; text?: string };

/** Runs one quick task at a time over SSE; `stop()` closes the connection, which cancels the call upstream. */
export function useQuickTask(projectId: string) {
  const [state, setState] = useState<QuickTaskState>({ status: "idle" });
  const controller = useRef<AbortController | null>(null);
  useEffect(() => () => controller.current?.abort(), []);

  async function run(input: QuickTaskInput) {
    controller.current?.abort();
    const own = new AbortController();
    controller.current = own;
    setState({ status: "connecting" });
    const started = performance.now();
    let start: Start | undefined;
    let text = "";
    let finished = false;
    // Deltas arrive faster than React should render; paint at most once per frame.
    let frame = 0;
    const paint = () => {
      frame = 0;
      if (start && !finished && !own.signal.aborted) {
        setState({ status: "streaming", start, text, elapsedMs: performance.now() - started });
      }
    };
    try {
      const response = await fetch(`/api/v1/projects/${projectId}/quick-task`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify(input),
        signal: own.signal,
      });
      if (!response.ok || !response.headers.get("content-type")?.includes("text/event-stream")) {
        const body = (await response.json().catch(() => null)) as {
          error?: { code?: string; message?: string };
        } | null;
        setState({
          status: "error",
          code: body?.error?.code ?? String(response.status),
          message: body?.error?.message ?? `The request failed (${response.status})`,
        });
        return;
      }
      await readSse(response, (message) => {
        const data = JSON.parse(message.data);
        if (message.event === "start") {
          start = data as Start;
          setState({ status: "streaming", start, text, elapsedMs: performance.now() - started });
        } else if (message.event === "text") {
          text += (data as { delta: string }).delta;
          if (!frame) frame = requestAnimationFrame(paint);
        } else if (message.event === "done" && start) {
          finished = true;
          setState({ status: "done", start, text, done: data as Done });
        } else if (message.event === "error") {
          finished = true;
          const error = data as { code: string; message: string };
          setState({ status: "error", code: error.code, message: error.message, start, text });
        }
      });
      if (!finished && !own.signal.aborted) {
        setState({
          status: "error",
          code: "NETWORK",
          message: "The connection closed before the answer finished",
          start,
          text,
        });
      }
    } catch (error) {
      if (own.signal.aborted) {
        if (start) setState({ status: "stopped", start, text, elapsedMs: performance.now() - started });
        else setState({ status: "idle" });
        return;
      }
      setState({
        status: "error",
        code: "NETWORK",
        message: error instanceof Error ? error.message : "Network error",
        start,
        text,
      });
    } finally {
      if (frame) cancelAnimationFrame(frame);
    }
  }

  return {
    state,
    run,
    stop: () => controller.current?.abort(),
    busy: state.status === "connecting" || state.status === "streaming",
  };
}

/** `{"a.b": "x"}` → `{a: {b: "x"}}`: template paths address nested values. */
export function nestValues(flat: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(flat)) {
    const parts = path.split(".");
    let node = out;
    parts.forEach((part, index) => {
      if (index === parts.length - 1) node[part] = value;
      else {
        if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
        node = node[part] as Record<string, unknown>;
      }
    });
  }
  return out;
}

/** The answer, with fenced code blocks set apart. Plain text otherwise: model output is never HTML. */
export function AnswerText({ text }: { text: string }) {
  const parts = text.split(/^```[^\n]*\n?/m);
  return (
    <div className="space-y-3 text-sm leading-relaxed text-zinc-800 dark:text-zinc-200">
      {parts.map((part, index) =>
        index % 2 === 1 ? (
          <pre
            // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one text, in order
            key={index}
            className="overflow-x-auto rounded-md bg-zinc-100 p-3 font-mono text-xs text-zinc-900 dark:bg-zinc-950 dark:text-zinc-100"
          >
            {part.replace(/\n$/, "")}
          </pre>
        ) : part ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one text, in order
          <p key={index} className="whitespace-pre-wrap">
            {part}
          </p>
        ) : null,
      )}
    </div>
  );
}

function Stats({ done }: { done: Done }) {
  const items = [
    [
      "Tokens",
      `${done.usage.tokensIn.toLocaleString("en")} in · ${done.usage.tokensOut.toLocaleString("en")} out`,
    ],
    ["Cost", done.cached ? "$0.00 (cached)" : formatMicros(done.costMicros)],
    ["First token", done.ttftMs === null ? "—" : `${done.ttftMs.toLocaleString("en")} ms`],
    ["Total", `${(done.latencyMs / 1000).toFixed(1)} s`],
  ];
  return (
    <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-xs sm:grid-cols-4" aria-label="Call details">
      {items.map(([label, value]) => (
        <div key={label}>
          <dt className="text-zinc-500 dark:text-zinc-400">{label}</dt>
          <dd className="font-medium tabular-nums text-zinc-900 dark:text-zinc-100">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * The quick task: a side panel with a prompt, the files to send and a model; the answer streams in below
 * with a stop button. Files default to the one open in the editor.
 */
export function QuickTaskPanel({
  projectId,
  open,
  onOpenChange,
  initialFiles,
}: {
  projectId: string;
  open: boolean;
  onOpenChange: (open: boolean) => void;
  /** Preselected paths (the file open in the editor). */
  initialFiles: string[];
}) {
  const trpc = useTRPC();
  // The same query the workspace keeps fresh: usually answered from its cache.
  const fileList = useQuery({ ...trpc.projects.listFiles.queryOptions({ id: projectId }), enabled: open });
  const files = useMemo(() => (fileList.data?.files ?? []).map((f) => f.path), [fileList.data]);
  const models = useQuery({ ...trpc.ai.models.queryOptions(), enabled: open, staleTime: 30_000 });
  const prompts = useQuery({
    ...trpc.prompts.list.queryOptions({ projectId }),
    enabled: open,
    staleTime: 30_000,
  });
  const [templateId, setTemplateId] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const template = prompts.data?.items.find((t) => t.id === templateId);
  // project.* is filled in by the server; the user gives the rest.
  const templateVariables = (template?.variables ?? []).filter((v) => !v.startsWith("project."));
  const templateSelectId = useId();
  const [model, setModel] = useState<string | undefined>();
  const [prompt, setPrompt] = useState("");
  const [chosen, setChosen] = useState<string[]>(initialFiles);
  const [filter, setFilter] = useState("");
  const task = useQuickTask(projectId);
  const promptId = useId();
  const filesId = useId();
  const outputRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!model && models.data) setModel(defaultModel(models.data.items));
  }, [model, models.data]);
  useEffect(() => {
    if (open) setChosen((current) => (current.length > 0 ? current : initialFiles));
  }, [open, initialFiles]);

  const visible = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const list = needle ? files.filter((f) => f.toLowerCase().includes(needle)) : files;
    return list.slice(0, 200);
  }, [files, filter]);

  const state = task.state;
  const text = "text" in state ? (state.text ?? "") : "";
  // Keep the newest text in view while it streams, unless the reader scrolled up.
  useEffect(() => {
    const el = outputRef.current;
    if (!el || state.status !== "streaming") return;
    if (el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [state]);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!model || (!prompt.trim() && !template) || task.busy) return;
    void task.run({
      prompt,
      files: chosen,
      model,
      template: template ? { id: template.id, variables: nestValues(values) } : undefined,
    });
  };
  const toggle = (path: string) =>
    setChosen((current) =>
      current.includes(path)
        ? current.filter((p) => p !== path)
        : current.length >= QUICK_TASK_MAX_FILES
          ? current
          : [...current, path],
    );
  const start = "start" in state ? state.start : undefined;

  return (
    <Dialog.Root open={open} onOpenChange={onOpenChange}>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 z-40 bg-zinc-950/30 dark:bg-black/50" />
        <Dialog.Content
          aria-describedby={undefined}
          className="fixed inset-y-0 right-0 z-50 flex w-full max-w-2xl flex-col border-l border-zinc-200 bg-white shadow-2xl outline-none dark:border-zinc-800 dark:bg-zinc-900"
        >
          <header className="flex items-center justify-between gap-4 border-b border-zinc-200 px-5 py-3 dark:border-zinc-800">
            <Dialog.Title className="text-base font-semibold">Quick task</Dialog.Title>
            <Dialog.Close asChild>
              <Button variant="ghost" aria-label="Close quick task" className="px-2">
                <StrokeIcon size={16}>
                  <path d="M6 6l12 12M18 6L6 18" />
                </StrokeIcon>
              </Button>
            </Dialog.Close>
          </header>
          <div className="flex-1 space-y-5 overflow-y-auto px-5 py-4" ref={outputRef}>
            <form onSubmit={submit} className="space-y-4">
              {prompts.data && prompts.data.items.length > 0 ? (
                <div className="space-y-1.5">
                  <label
                    htmlFor={templateSelectId}
                    className="block text-sm font-medium text-zinc-800 dark:text-zinc-200"
                  >
                    Saved prompt <span className="font-normal text-zinc-500">(optional)</span>
                  </label>
                  <select
                    id={templateSelectId}
                    value={templateId}
                    onChange={(e) => setTemplateId(e.target.value)}
                    disabled={task.busy}
                    className="block h-9 w-full rounded-md border border-zinc-300 bg-white px-2.5 text-sm text-zinc-900 shadow-xs dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100"
                  >
                    <option value="">None: write the prompt below</option>
                    {prompts.data.items.map((t) => (
                      <option key={t.id} value={t.id}>
                        {t.name} (v{t.latestVersion})
                      </option>
                    ))}
                  </select>
                  {templateVariables.length > 0 ? (
                    <div className="grid gap-2 sm:grid-cols-2">
                      {templateVariables.map((variable) => (
                        <label key={variable} className="block space-y-1 text-xs">
                          <span className="font-mono text-zinc-600 dark:text-zinc-400">{variable}</span>
                          <input
                            value={values[variable] ?? ""}
                            onChange={(e) =>
                              setValues((current) => ({ ...current, [variable]: e.target.value }))
                            }
                            className="block h-8 w-full rounded-md border border-zinc-300 bg-white px-2.5 text-sm dark:border-zinc-700 dark:bg-zinc-900"
                          />
                        </label>
                      ))}
                    </div>
                  ) : null}
                </div>
              ) : null}
              <div className="space-y-1.5">
                <label
                  htmlFor={promptId}
                  className="block text-sm font-medium text-zinc-800 dark:text-zinc-200"
                >
                  {template ? "Anything to add? (optional)" : "What should the model do?"}
                </label>
                <textarea
                  id={promptId}
                  value={prompt}
                  onChange={(e) => setPrompt(e.target.value)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) submit();
                  }}
                  rows={4}
                  maxLength={20_000}
                  placeholder="Explain what this module does and point out bugs"
                  aria-describedby={`${promptId}-hint`}
                  className="block w-full rounded-md border border-zinc-300 bg-white px-3 py-2 text-sm text-zinc-900 shadow-xs placeholder:text-zinc-400 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100"
                />
                <p id={`${promptId}-hint`} className="text-xs text-zinc-500 dark:text-zinc-400">
                  Ctrl/⌘ + Enter to run. The chosen files are sent with the prompt.
                </p>
              </div>
              {models.isPending ? (
                <div
                  className="h-14 animate-pulse rounded-md bg-zinc-100 dark:bg-zinc-800"
                  role="status"
                  aria-label="Loading models"
                />
              ) : models.isError ? (
                <FormAlert>The model list could not be loaded. Close the panel and try again.</FormAlert>
              ) : (
                <ModelSelect
                  models={models.data.items}
                  value={model}
                  onChange={setModel}
                  disabled={task.busy}
                />
              )}
              <fieldset className="space-y-1.5">
                <legend className="text-sm font-medium text-zinc-800 dark:text-zinc-200">
                  Files{" "}
                  <span className="font-normal text-zinc-500">
                    ({chosen.length} of at most {QUICK_TASK_MAX_FILES})
                  </span>
                </legend>
                {files.length > 8 ? (
                  <input
                    type="search"
                    aria-label="Filter files"
                    placeholder="Filter files"
                    value={filter}
                    onChange={(e) => setFilter(e.target.value)}
                    className="block h-8 w-full rounded-md border border-zinc-300 bg-white px-2.5 text-sm dark:border-zinc-700 dark:bg-zinc-900"
                  />
                ) : null}
                {files.length === 0 ? (
                  <p className="text-sm text-zinc-500">
                    This project has no files yet: the prompt goes alone.
                  </p>
                ) : (
                  <ul
                    id={filesId}
                    className="max-h-40 overflow-y-auto rounded-md border border-zinc-200 p-1 dark:border-zinc-800"
                  >
                    {visible.map((path) => (
                      <li key={path}>
                        <label className="flex cursor-pointer items-center gap-2 rounded px-2 py-1 font-mono text-xs hover:bg-zinc-50 dark:hover:bg-zinc-800">
                          <input
                            type="checkbox"
                            checked={chosen.includes(path)}
                            onChange={() => toggle(path)}
                            disabled={!chosen.includes(path) && chosen.length >= QUICK_TASK_MAX_FILES}
                          />
                          <span className="truncate">{path}</span>
                        </label>
                      </li>
                    ))}
                  </ul>
                )}
              </fieldset>
              <div className="flex items-center gap-2">
                {task.busy ? (
                  // Its own element (key): were the DOM button reused, the click that stops the call would,
                  // once it re-renders as "Run" (type=submit) in the same event, submit the form again.
                  <Button
                    key="stop"
                    type="button"
                    variant="secondary"
                    onClick={(event) => {
                      event.preventDefault();
                      task.stop();
                    }}
                  >
                    <span className="mr-1.5 inline-block size-2.5 rounded-sm bg-red-600" aria-hidden="true" />
                    Stop
                  </Button>
                ) : (
                  <Button key="run" type="submit" disabled={!model || (!prompt.trim() && !template)}>
                    Run
                  </Button>
                )}
                <span role="status" className="text-xs text-zinc-500 dark:text-zinc-400">
                  {state.status === "connecting"
                    ? "Connecting…"
                    : state.status === "streaming"
                      ? "Streaming…"
                      : state.status === "stopped"
                        ? "Stopped"
                        : state.status === "done"
                          ? "Done"
                          : ""}
                </span>
              </div>
            </form>

            {start ? (
              <section
                aria-label="Answer"
                className="space-y-3 border-t border-zinc-200 pt-4 dark:border-zinc-800"
              >
                <div className="flex flex-wrap items-center gap-2 text-xs">
                  {start.demo ? null : (
                    <span className="font-medium text-zinc-700 dark:text-zinc-300">{start.label}</span>
                  )}
                  {start.demo ? (
                    <span className="rounded-full bg-amber-100 px-2 py-0.5 font-medium text-amber-900 dark:bg-amber-950 dark:text-amber-200">
                      Offline demo model — scripted, not an AI
                    </span>
                  ) : null}
                </div>
                <div
                  data-testid="quick-task-answer"
                  aria-live="off"
                  className={clsx(
                    state.status === "streaming" &&
                      "after:ml-0.5 after:inline-block after:h-4 after:w-1.5 after:animate-pulse after:bg-zinc-400",
                  )}
                >
                  <AnswerText text={text} />
                </div>
                {state.status === "done" ? <Stats done={state.done} /> : null}
              </section>
            ) : null}
            {state.status === "error" ? (
              <FormAlert>
                {state.message}
                {state.message.includes("Settings → Providers") || state.code === "BAD_GATEWAY" ? (
                  <>
                    {" "}
                    <Link to="/settings/providers" className="font-medium underline">
                      Open Providers
                    </Link>
                  </>
                ) : null}
                {state.code === "PAYMENT_REQUIRED" ? (
                  <>
                    {" "}
                    <Link to="/usage" className="font-medium underline">
                      See budgets
                    </Link>
                  </>
                ) : null}
              </FormAlert>
            ) : null}
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
