import clsx from "clsx";
import { useEffect, useId, useRef, useState } from "react";
import { Button } from "#app/components/ui/button.tsx";
import {
  type BuilderIssue,
  formatPath,
  parseJsonText,
  stableJson,
  stateFromDefinition,
  toDefinition,
} from "./builder-model.ts";
import { borderClass, inputClass, monoClass } from "./fields.tsx";

/** What the builder would make of this JSON value, as comparable text (or null when it cannot show it). */
function normalised(value: unknown): string | null {
  const result = stateFromDefinition(value);
  return result.ok ? stableJson(toDefinition(result.state)) : null;
}

/**
 * The definition as formatted JSON, editable. Every edit that parses (and has steps and inputs the builder
 * can show) is applied to the builder at once; otherwise the error is shown and the builder keeps the last
 * good definition. A change made elsewhere (a restore) replaces the text.
 */
export function JsonView({
  draft,
  issues,
  onApply,
}: {
  draft: unknown;
  issues: readonly BuilderIssue[];
  onApply: (definition: unknown) => void;
}) {
  const id = useId();
  const [text, setText] = useState(() => JSON.stringify(draft, null, 2));
  const [error, setError] = useState<string | null>(null);
  /** The definition the text stands for, as last applied or loaded. */
  const shown = useRef(stableJson(draft));
  const current = stableJson(draft);

  useEffect(() => {
    if (current === shown.current) return;
    shown.current = current;
    setText(JSON.stringify(draft, null, 2));
    setError(null);
  }, [current, draft]);

  function edit(next: string) {
    setText(next);
    const parsed = parseJsonText(next);
    if (!parsed.ok) {
      setError(parsed.error);
      return;
    }
    const result = stateFromDefinition(parsed.value);
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    shown.current = normalised(parsed.value) ?? shown.current;
    onApply(parsed.value);
  }

  const errors = issues.filter((issue) => issue.severity === "error");
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end justify-between gap-3">
        <div>
          <label htmlFor={id} className="block text-sm font-medium text-zinc-800 dark:text-zinc-200">
            Definition (JSON)
          </label>
          <p id={`${id}-hint`} className="mt-0.5 text-xs text-zinc-500 dark:text-zinc-400">
            Edits apply to the builder as soon as the JSON parses. The format: version, inputs by name, steps
            in order.
          </p>
        </div>
        <div className="flex gap-2">
          <Button
            variant="secondary"
            className="h-8 px-2.5 text-xs"
            disabled={error !== null}
            onClick={() => setText(JSON.stringify(draft, null, 2))}
          >
            Format
          </Button>
          <Button
            variant="secondary"
            className="h-8 px-2.5 text-xs"
            onClick={() => void navigator.clipboard?.writeText(text)}
          >
            Copy
          </Button>
        </div>
      </div>
      {error ? (
        <p
          id={`${id}-error`}
          role="alert"
          className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-200"
        >
          <span className="font-medium">Not applied:</span> {error}. The builder keeps the last valid JSON.
        </p>
      ) : null}
      <textarea
        id={id}
        value={text}
        onChange={(event) => edit(event.target.value)}
        spellCheck={false}
        aria-invalid={error ? true : undefined}
        aria-describedby={clsx(`${id}-hint`, error && `${id}-error`)}
        rows={Math.min(Math.max(text.split("\n").length + 1, 16), 40)}
        className={clsx(inputClass, "resize-y py-2", monoClass, borderClass(error !== null))}
        data-testid="workflow-json"
      />
      {errors.length > 0 && !error ? (
        <div className="rounded-md border border-red-200 px-3 py-2 dark:border-red-900/60">
          <p className="text-xs font-semibold text-red-800 dark:text-red-200">
            {errors.length} problem{errors.length === 1 ? "" : "s"} in this definition
          </p>
          <ul className="mt-1 space-y-0.5 text-xs text-red-700 dark:text-red-300">
            {errors.slice(0, 20).map((issue) => (
              <li key={`${formatPath(issue.path)}:${issue.message}`}>
                <code className="font-mono">{formatPath(issue.path) || "(root)"}</code>: {issue.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
