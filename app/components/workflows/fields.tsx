import clsx from "clsx";
import { type ReactNode, useEffect, useRef, useState } from "react";
import type { StepType } from "#app/modules/workflows/definition.ts";
import { parseJsonText, stableJson } from "./builder-model.ts";

/**
 * The builder's form controls: each is labelled, shows its hint, and lists the validator's messages for
 * its field under it (wired with aria-describedby / aria-invalid). Ids are given by the caller
 * (`fieldId(rowKey, field)`) so the problem summary can focus the field a message belongs to.
 */

export const inputClass =
  "block w-full rounded-md border bg-white px-3 text-sm text-zinc-900 shadow-xs placeholder:text-zinc-400 disabled:opacity-60 dark:bg-zinc-900 dark:text-zinc-100";
export const borderClass = (invalid: boolean) =>
  invalid ? "border-red-500 focus-visible:outline-red-500" : "border-zinc-300 dark:border-zinc-700";
export const monoClass = "font-mono text-[13px] leading-5";

/** The DOM id of a step's or input's field. */
export function fieldId(key: string, field: string): string {
  return `wf-${key}-${field}`;
}

/** aria-describedby for a field with this hint and these messages. */
export function describedBy(id: string, hint: unknown, messages: readonly string[]): string | undefined {
  return clsx(hint ? `${id}-hint` : null, messages.length > 0 ? `${id}-error` : null) || undefined;
}

export function FieldLabel({
  htmlFor,
  children,
  aside,
}: {
  htmlFor: string;
  children: ReactNode;
  aside?: ReactNode;
}) {
  return (
    <div className="flex items-baseline justify-between gap-2">
      <label htmlFor={htmlFor} className="block text-sm font-medium text-zinc-800 dark:text-zinc-200">
        {children}
      </label>
      {aside}
    </div>
  );
}

/** The hint (when there is no error) and the error messages of a field. */
export function FieldFooter({
  id,
  hint,
  messages,
}: {
  id: string;
  hint?: ReactNode;
  messages: readonly string[];
}) {
  return (
    <>
      {hint && messages.length === 0 ? (
        <p id={`${id}-hint`} className="text-xs text-zinc-500 dark:text-zinc-400">
          {hint}
        </p>
      ) : null}
      {messages.length > 0 ? (
        <ul id={`${id}-error`} className="space-y-0.5 text-xs font-medium text-red-600 dark:text-red-400">
          {messages.map((message) => (
            <li key={message} className="break-words">
              {message}
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

/** aria-invalid and aria-describedby of a control with this hint and these messages. */
export function fieldAria(id: string, hint: unknown, messages: readonly string[]) {
  return {
    "aria-invalid": messages.length > 0 ? true : undefined,
    "aria-describedby": describedBy(id, hint, messages),
  } as const;
}

/** A labelled control (the children) with its hint and messages under it. */
export function LabelledField({
  id,
  label,
  aside,
  hint,
  messages = [],
  className,
  children,
}: {
  id: string;
  label: ReactNode;
  aside?: ReactNode;
  hint?: ReactNode;
  messages?: readonly string[];
  className?: string;
  children: ReactNode;
}) {
  return (
    <div className={clsx("space-y-1.5", className)}>
      <FieldLabel htmlFor={id} aside={aside}>
        {label}
      </FieldLabel>
      {children}
      <FieldFooter id={id} hint={hint} messages={messages} />
    </div>
  );
}

type Common = {
  id: string;
  label: string;
  hint?: ReactNode;
  messages?: readonly string[];
  className?: string;
};

/** The value props of a text control (mono: code, in the monospace font and without spell-checking). */
type TextProps = { value: string; onChange: (value: string) => void; placeholder?: string; mono?: boolean };

export function TextField({
  value,
  onChange,
  onBlur,
  onFocus,
  placeholder,
  mono = false,
  maxLength,
  ...field
}: Common &
  TextProps & {
    onBlur?: () => void;
    onFocus?: () => void;
    maxLength?: number;
  }) {
  const { id, hint, messages = [] } = field;
  return (
    <LabelledField {...field}>
      <input
        id={id}
        type="text"
        value={value}
        onChange={(event) => onChange(event.target.value)}
        onBlur={onBlur}
        onFocus={onFocus}
        placeholder={placeholder}
        maxLength={maxLength}
        autoComplete="off"
        spellCheck={mono ? false : undefined}
        {...fieldAria(id, hint, messages)}
        className={clsx(inputClass, "h-9", borderClass(messages.length > 0), mono && monoClass)}
      />
    </LabelledField>
  );
}

/** Text kept as typed while it changes, and replaced when the value changes from elsewhere. */
function useSyncedText<T>(value: T, format: (value: T) => string, same: (text: string, value: T) => boolean) {
  const [text, setText] = useState(() => format(value));
  const textRef = useRef(text);
  textRef.current = text;
  // biome-ignore lint/correctness/useExhaustiveDependencies: format/same are pure helpers of the caller
  useEffect(() => {
    if (!same(textRef.current, value)) setText(format(value));
  }, [value]);
  return [text, setText] as const;
}

/**
 * A number. Typed as text so half-typed values ("0.", "-") are not lost; a value that is not a number is
 * passed on as the text itself, so the validator says what is wrong with it. Empty: undefined.
 */
export function NumberField({
  value,
  onChange,
  placeholder,
  integer = false,
  ...field
}: Common & {
  value: unknown;
  onChange: (value: number | string | undefined) => void;
  placeholder?: string;
  integer?: boolean;
}) {
  const { id, hint, messages = [] } = field;
  const [text, setText] = useSyncedText(
    value,
    (v) => (v === undefined || v === null ? "" : String(v)),
    (t, v) => toNumber(t) === v,
  );
  return (
    <LabelledField {...field}>
      <input
        id={id}
        type="text"
        inputMode={integer ? "numeric" : "decimal"}
        value={text}
        placeholder={placeholder}
        onChange={(event) => {
          setText(event.target.value);
          onChange(toNumber(event.target.value));
        }}
        autoComplete="off"
        {...fieldAria(id, hint, messages)}
        className={clsx(inputClass, "h-9 tabular-nums", borderClass(messages.length > 0))}
      />
    </LabelledField>
  );
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function toNumber(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  return NUMERIC.test(trimmed) ? Number(trimmed) : trimmed;
}

export function SelectField({
  value,
  onChange,
  children,
  ...field
}: Common & { value: string; onChange: (value: string) => void; children: ReactNode }) {
  const { id, hint, messages = [] } = field;
  return (
    <LabelledField {...field}>
      <select
        id={id}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        {...fieldAria(id, hint, messages)}
        className={clsx(inputClass, "h-9 px-2.5", borderClass(messages.length > 0))}
      >
        {children}
      </select>
    </LabelledField>
  );
}

export function CheckboxField({
  id,
  label,
  hint,
  messages = [],
  className,
  checked,
  onChange,
}: Common & { checked: boolean; onChange: (checked: boolean) => void }) {
  return (
    <div className={clsx("space-y-1", className)}>
      <div className="flex items-center gap-2">
        <input
          id={id}
          type="checkbox"
          checked={checked}
          onChange={(event) => onChange(event.target.checked)}
          {...fieldAria(id, hint, messages)}
          className="h-4 w-4 rounded border-zinc-300 accent-brand-600 dark:border-zinc-700"
        />
        <label htmlFor={id} className="text-sm font-medium text-zinc-800 dark:text-zinc-200">
          {label}
        </label>
      </div>
      <div className="pl-6">
        <FieldFooter id={id} hint={hint} messages={messages} />
      </div>
    </div>
  );
}

/** A multi-line text. */
export function TextAreaField({
  value,
  onChange,
  rows = 3,
  placeholder,
  mono = false,
  ...field
}: Common & TextProps & { rows?: number }) {
  const { id, hint, messages = [] } = field;
  return (
    <LabelledField {...field}>
      <textarea
        id={id}
        value={value}
        rows={rows}
        placeholder={placeholder}
        onChange={(event) => onChange(event.target.value)}
        spellCheck={mono ? false : undefined}
        {...fieldAria(id, hint, messages)}
        className={clsx(inputClass, "resize-y py-2", borderClass(messages.length > 0), mono && monoClass)}
      />
    </LabelledField>
  );
}

/**
 * A JSON value typed as text: applied when it parses (empty: undefined), its parse error shown otherwise.
 * The text is kept while typing and replaced when the value changes from elsewhere (the JSON view).
 */
export function JsonField({
  messages = [],
  value,
  onChange,
  rows = 6,
  placeholder,
  ...common
}: Common & {
  value: unknown;
  onChange: (value: unknown) => void;
  rows?: number;
  placeholder?: string;
}) {
  const [text, setText] = useSyncedText(
    value,
    (v) => (v === undefined ? "" : JSON.stringify(v, null, 2)),
    (t, v) => {
      if (t.trim() === "") return v === undefined;
      const parsed = parseJsonText(t);
      return parsed.ok ? stableJson(parsed.value) === stableJson(v) : true;
    },
  );
  const parsed = text.trim() === "" ? null : parseJsonText(text);
  const all = parsed && !parsed.ok ? [`Not valid JSON: ${parsed.error}`, ...messages] : messages;
  return (
    <TextAreaField
      {...common}
      messages={all}
      value={text}
      rows={rows}
      placeholder={placeholder}
      mono
      onChange={(next) => {
        setText(next);
        if (next.trim() === "") onChange(undefined);
        else {
          const result = parseJsonText(next);
          if (result.ok) onChange(result.value);
        }
      }}
    />
  );
}

/** One value per line: a list of strings (empty lines dropped; no lines: undefined). */
export function LinesField({
  value,
  onChange,
  placeholder,
  ...common
}: Common & {
  value: unknown;
  onChange: (value: string[] | undefined) => void;
  placeholder?: string;
}) {
  const toLines = (t: string) =>
    t
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
  const [text, setText] = useSyncedText(
    value,
    (v) => (Array.isArray(v) ? v.map(String).join("\n") : ""),
    (t, v) => stableJson(toLines(t)) === stableJson(Array.isArray(v) ? v : []),
  );
  return (
    <TextAreaField
      {...common}
      value={text}
      rows={4}
      placeholder={placeholder}
      onChange={(next) => {
        setText(next);
        const lines = toLines(next);
        onChange(lines.length > 0 ? lines : undefined);
      }}
    />
  );
}

/** The icon of a step type (24×24 outline, drawn small). */
export function StepTypeIcon({ type, className }: { type: StepType | null; className?: string }) {
  return (
    <svg
      width="16"
      height="16"
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.8"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      className={className}
    >
      {type === "llm" ? (
        <>
          <path d="M12 3l1.9 4.6L18.5 9.5l-4.6 1.9L12 16l-1.9-4.6L5.5 9.5l4.6-1.9z" />
          <path d="M18 15l.9 2.1L21 18l-2.1.9L18 21l-.9-2.1L15 18l2.1-.9z" />
        </>
      ) : type === "transform" ? (
        <>
          <path d="M8 4H7a2 2 0 0 0-2 2v4l-2 2 2 2v4a2 2 0 0 0 2 2h1" />
          <path d="M16 4h1a2 2 0 0 1 2 2v4l2 2-2 2v4a2 2 0 0 1-2 2h-1" />
        </>
      ) : type === "command" ? (
        <>
          <rect x="3" y="4" width="18" height="16" rx="2" />
          <path d="M7 9l3 3-3 3M12 15h5" />
        </>
      ) : type === "agent" ? (
        <>
          <rect x="5" y="8" width="14" height="11" rx="2" />
          <path d="M12 4v4M9 13h.01M15 13h.01M9.5 16h5" />
        </>
      ) : (
        <circle cx="12" cy="12" r="8" strokeDasharray="3 3" />
      )}
    </svg>
  );
}
