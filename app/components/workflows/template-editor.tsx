import clsx from "clsx";
import { type ReactNode, useEffect, useId, useLayoutEffect, useRef, useState } from "react";
import {
  applyCompletion,
  type CompletionItem,
  completionContext,
  filterCompletions,
} from "./builder-model.ts";
import { borderClass, fieldAria, inputClass, LabelledField, monoClass } from "./fields.tsx";

const useIsomorphicLayoutEffect = typeof window === "undefined" ? useEffect : useLayoutEffect;

/** Mirrored styles: the caret's position is measured on a hidden copy of the textarea's text. */
const MIRRORED = [
  "boxSizing",
  "width",
  "borderTopWidth",
  "borderRightWidth",
  "borderBottomWidth",
  "borderLeftWidth",
  "paddingTop",
  "paddingRight",
  "paddingBottom",
  "paddingLeft",
  "fontFamily",
  "fontSize",
  "fontWeight",
  "fontStyle",
  "letterSpacing",
  "lineHeight",
  "tabSize",
  "textTransform",
  "wordSpacing",
] as const;

/** Where offset `at` of the textarea's text is drawn, relative to the textarea's box. */
function caretPosition(textarea: HTMLTextAreaElement, at: number): { top: number; left: number } {
  const style = window.getComputedStyle(textarea);
  const mirror = document.createElement("div");
  for (const property of MIRRORED) mirror.style[property] = style[property];
  mirror.style.position = "absolute";
  mirror.style.visibility = "hidden";
  mirror.style.whiteSpace = "pre-wrap";
  mirror.style.overflowWrap = "break-word";
  mirror.style.top = "0";
  mirror.style.left = "-9999px";
  mirror.textContent = textarea.value.slice(0, at);
  const marker = document.createElement("span");
  marker.textContent = textarea.value.slice(at) || ".";
  mirror.appendChild(marker);
  document.body.appendChild(mirror);
  const lineHeight = Number.parseFloat(style.lineHeight) || 20;
  const top = marker.offsetTop - textarea.scrollTop + lineHeight;
  const left = marker.offsetLeft - textarea.scrollLeft;
  mirror.remove();
  return { top, left };
}

/**
 * A template field (prompt, template, command, instructions) with variable completion: typing `{{` opens a
 * list of what the step can read (inputs, earlier steps' outputs, project values), filtered as you type.
 * Arrow keys move, Enter or Tab inserts (closing the tag), Escape closes, Ctrl+Space reopens.
 */
export function TemplateEditor({
  id,
  label,
  hint,
  messages = [],
  value,
  onChange,
  items,
  rows = 6,
  placeholder,
  aside,
  mono = true,
}: {
  id: string;
  label: string;
  hint?: ReactNode;
  messages?: readonly string[];
  value: string;
  onChange: (value: string) => void;
  items: readonly CompletionItem[];
  rows?: number;
  placeholder?: string;
  aside?: ReactNode;
  mono?: boolean;
}) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const listId = useId();
  const [cursor, setCursor] = useState<number | null>(null);
  // Escape closes the list for the tag being typed; a new `{{` opens it again.
  const [dismissed, setDismissed] = useState<number | null>(null);
  const [active, setActive] = useState(0);
  const [position, setPosition] = useState<{ top: number; left: number }>({ top: 0, left: 0 });
  const pendingCursor = useRef<number | null>(null);

  const context = cursor === null ? null : completionContext(value, cursor);
  const options = context ? filterCompletions(items, context.query) : [];
  const open = context !== null && options.length > 0 && dismissed !== context.from;
  const activeIndex = Math.min(active, Math.max(options.length - 1, 0));

  // Out of a tag, a dismissed list may open again at the next `{{`, wherever it is typed.
  const inTag = context !== null;
  useEffect(() => {
    if (!inTag) setDismissed(null);
  }, [inTag]);

  // A new query starts at the top of the list.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset on a new query only
  useEffect(() => setActive(0), [context?.query, context?.from]);

  // The list sits under the `{{` being completed (measured only when it opens at a new tag).
  useIsomorphicLayoutEffect(() => {
    if (!open || !ref.current || !context) return;
    const at = caretPosition(ref.current, Math.max(context.from - 2, 0));
    const border = Number.parseFloat(window.getComputedStyle(ref.current).borderTopWidth) || 0;
    const width = ref.current.clientWidth;
    setPosition({ top: at.top + border, left: Math.max(0, Math.min(at.left, width - 320)) });
  }, [open, context?.from]);

  // After an insertion the cursor goes after the inserted tag.
  useIsomorphicLayoutEffect(() => {
    const at = pendingCursor.current;
    if (at === null || !ref.current) return;
    pendingCursor.current = null;
    ref.current.setSelectionRange(at, at);
    setCursor(at);
  }, [value]);

  useEffect(() => {
    if (!open) return;
    document.getElementById(`${listId}-${activeIndex}`)?.scrollIntoView({ block: "nearest" });
  }, [open, activeIndex, listId]);

  function accept(item: CompletionItem) {
    if (!context || cursor === null) return;
    const next = applyCompletion(value, cursor, context, item.value);
    pendingCursor.current = next.cursor;
    onChange(next.text);
  }

  function track(element: HTMLTextAreaElement) {
    setCursor(element.selectionStart === element.selectionEnd ? element.selectionStart : null);
  }

  return (
    <LabelledField id={id} label={label} aside={aside} hint={hint} messages={messages}>
      <div className="relative">
        <textarea
          ref={ref}
          id={id}
          value={value}
          rows={rows}
          placeholder={placeholder}
          spellCheck={false}
          onChange={(event) => {
            onChange(event.target.value);
            track(event.target);
          }}
          onSelect={(event) => track(event.currentTarget)}
          onFocus={(event) => track(event.currentTarget)}
          onBlur={() => setCursor(null)}
          onKeyDown={(event) => {
            if (event.key === " " && event.ctrlKey) {
              event.preventDefault();
              setDismissed(null);
              return;
            }
            if (!open) return;
            if (event.key === "ArrowDown") {
              event.preventDefault();
              setActive((activeIndex + 1) % options.length);
            } else if (event.key === "ArrowUp") {
              event.preventDefault();
              setActive((activeIndex - 1 + options.length) % options.length);
            } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey) {
              const item = options[activeIndex];
              if (!item) return;
              event.preventDefault();
              accept(item);
            } else if (event.key === "Escape") {
              // Close the list, not the dialog or panel around the editor.
              event.preventDefault();
              event.stopPropagation();
              setDismissed(context?.from ?? null);
            }
          }}
          aria-autocomplete="list"
          aria-controls={open ? listId : undefined}
          aria-activedescendant={open ? `${listId}-${activeIndex}` : undefined}
          {...fieldAria(id, hint, messages)}
          className={clsx(inputClass, "resize-y py-2", borderClass(messages.length > 0), mono && monoClass)}
        />
        {open ? (
          <div
            role="listbox"
            id={listId}
            aria-label="Variables"
            className="absolute z-30 max-h-64 w-80 overflow-y-auto rounded-md border border-zinc-200 bg-white p-1 text-sm shadow-lg dark:border-zinc-700 dark:bg-zinc-900"
            style={{ top: position.top + 4, left: position.left }}
          >
            {options.map((item, index) => (
              <div
                key={item.value}
                id={`${listId}-${index}`}
                role="option"
                tabIndex={-1}
                aria-selected={index === activeIndex}
                // Keep the focus (and the cursor) in the textarea.
                onMouseDown={(event) => {
                  event.preventDefault();
                  accept(item);
                }}
                onMouseMove={() => setActive(index)}
                className={clsx(
                  "cursor-default rounded px-2 py-1.5",
                  index === activeIndex
                    ? "bg-brand-50 text-brand-700 dark:bg-brand-700/30 dark:text-brand-100"
                    : "text-zinc-800 dark:text-zinc-200",
                )}
              >
                <div className="truncate font-mono text-[13px]">{item.value}</div>
                <div className="truncate text-xs text-zinc-500 dark:text-zinc-400">{item.detail}</div>
              </div>
            ))}
          </div>
        ) : null}
      </div>
      <p className="sr-only" aria-live="polite">
        {open
          ? `${options.length} variable${options.length === 1 ? "" : "s"}: arrow keys to choose, Enter to insert`
          : ""}
      </p>
    </LabelledField>
  );
}
