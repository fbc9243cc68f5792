/**
 * Logic-less prompt templates. Browser-safe (the editor parses as you type), no dependencies.
 *
 * Syntax:
 * - `{{ path }}` inserts a value. A path is a name (`[A-Za-z_][A-Za-z0-9_]*`) followed by any number of
 *   `.name`, `.0` (an array index: digits, no leading zeros) or `["any key"]` (a double-quoted key, where
 *   `\"` and `\\` are the only escapes and a line break is not allowed). Whitespace is allowed inside the
 *   braces, not inside the path. A bracketed key may also start a path: `{{["my key"]}}`.
 * - `\{{` writes a literal `{{`. Any other backslash is ordinary text, and so is a `}}` outside a tag.
 * - Nothing else: no sections, conditionals, helpers, partials or comments. `{{#…}}`, `{{/…}}`, `{{>…}}`,
 *   `{{{…}}}` and `{{ helper arg }}` are errors, so a template written for Mustache or Handlebars fails
 *   loudly instead of rendering something else.
 *
 * Values: strings as they are, numbers, booleans and bigints with String(), dates as ISO 8601, objects
 * and arrays as pretty JSON (2 spaces). `null`, `undefined`, functions and symbols count as missing.
 * Lookups only see own properties (`{{constructor}}` never reaches Object.prototype); a numeric segment
 * indexes an array or reads the key "0" of an object, a string key never indexes an array.
 *
 * Parsing is a single forward scan (no regular expression runs over the body), linear in its length
 * whatever the input, and reports every error with its line and column, not just the first.
 */

/** One step of a path: an object key or an array index. */
export type PathSegment = string | number;

/** A problem in a template, located for the editor: `offset` in UTF-16 code units, line and column from 1. */
export type TemplateIssue = { message: string; offset: number; line: number; column: number };

export type TextPart = { kind: "text"; text: string };
export type VariablePart = {
  kind: "variable";
  /** Canonical path (see canonicalPath): `items.0.name`, `files["src/app.ts"]`. */
  path: string;
  segments: PathSegment[];
  /** Where the tag starts (its `{{`) and ends (after its `}}`) in the body; line and column from 1. */
  offset: number;
  end: number;
  line: number;
  column: number;
  /** The tag as written, `{{ items.0.name }}`: what a preview shows for a missing value. */
  source: string;
};
export type TemplatePart = TextPart | VariablePart;

export type ParsedTemplate = {
  ok: true;
  parts: TemplatePart[];
  /** Canonical paths of the variables, each once, in order of first use. */
  variables: string[];
};
export type TemplateParseFailure = {
  ok: false;
  errors: TemplateIssue[];
  /** The variables of the tags that did parse (what the editor can still show). */
  variables: string[];
};
export type TemplateParseResult = ParsedTemplate | TemplateParseFailure;

export type RenderResult =
  | { ok: true; text: string }
  | {
      ok: false;
      /** Canonical paths with no value (absent, null or undefined), each once, in order. */
      missing: string[];
      /** Syntax errors, and values that cannot be rendered (a circular object). */
      errors: TemplateIssue[];
    };

export type PreviewResult = {
  /** The rendered text, missing values left as their tags (`{{ name }}`); the body itself when it does not parse. */
  text: string;
  missing: string[];
  errors: TemplateIssue[];
};

/** Where a lookup reads values: a variables object, or a function of the canonical path (form inputs). */
export type VariableSource = Record<string, unknown> | ((path: string, segments: PathSegment[]) => unknown);

// ─── Paths ───────────────────────────────────────────────────────────────────

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95; // A-Z a-z _
const isDigit = (c: number) => c >= 48 && c <= 57;
const isIdentPart = (c: number) => isIdentStart(c) || isDigit(c);
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;

const BACKSLASH = 92;
const QUOTE = 34;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const DOT = 46;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const NEWLINE = 10;

/** Array indexes above this are refused (they would lose precision, and no prompt needs them). */
const MAX_INDEX_DIGITS = 9;

function quoteKey(key: string): string {
  return `["${key.replace(/[\\"]/g, (c) => `\\${c}`)}"]`;
}

/**
 * The one spelling of a path: names joined by `.`, indexes as `.0`, other keys as `["…"]` with `"` and `\`
 * escaped. `["name"]` becomes `.name`, but `["0"]` stays (an object key, not an index). A path whose
 * first segment is a number cannot come from a template; it is written as that number.
 */
export function canonicalPath(segments: readonly PathSegment[]): string {
  let out = "";
  segments.forEach((segment, index) => {
    if (typeof segment === "number") out += index === 0 ? String(segment) : `.${segment}`;
    else if (IDENTIFIER.test(segment)) out += index === 0 ? segment : `.${segment}`;
    else out += quoteKey(segment);
  });
  return out;
}

function hasOwn(value: object, key: string): boolean {
  return Object.hasOwn(value, key);
}

/**
 * The value at `segments` inside `root`, or undefined. Own properties only; a number indexes an array (or
 * reads that key of an object), a string never indexes an array, primitives have no children.
 */
export function lookupPath(root: unknown, segments: readonly PathSegment[]): unknown {
  let value = root;
  for (const segment of segments) {
    if (value === null || typeof value !== "object") return undefined;
    if (Array.isArray(value)) {
      if (typeof segment !== "number" || segment >= value.length) return undefined;
      value = value[segment];
    } else {
      const key = String(segment);
      if (!hasOwn(value, key)) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
  }
  return value;
}

/**
 * A value as template text, or undefined when it counts as missing (null, undefined, functions,
 * symbols). Throws on what JSON cannot write (a circular object).
 */
export function formatValue(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "object": {
      if (value === null) return undefined;
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
      return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
    }
    default:
      return undefined;
  }
}

// ─── Parsing ─────────────────────────────────────────────────────────────────

type RawIssue = { message: string; offset: number };

type TagResult =
  | { ok: true; segments: PathSegment[]; end: number }
  | { ok: false; issue: RawIssue; at: number };

const LOGIC_SIGILS: Record<string, string> = {
  "#": "sections",
  "/": "sections",
  "^": "inverted sections",
  ">": "partials",
  "!": "comments",
  "&": "unescaped tags",
  "=": "delimiter changes",
};

/**
 * Scans a body once. Error recovery looks for the next `}}` and `{{`; both searches are memoised so a
 * body made of thousands of broken tags stays linear (a fresh indexOf per tag would be quadratic).
 */
class Scanner {
  private closeFrom = -1;
  private closeAt = -1;
  private openFrom = -1;
  private openAt = -1;

  constructor(readonly body: string) {}

  /** The first `}}` at or after `from`, or -1. */
  nextClose(from: number): number {
    if (this.closeFrom === -1 || from < this.closeFrom || (this.closeAt !== -1 && this.closeAt < from)) {
      this.closeFrom = from;
      this.closeAt = this.body.indexOf("}}", from);
    }
    return this.closeAt;
  }

  /** The first `{{` at or after `from`, or -1. */
  nextOpen(from: number): number {
    if (this.openFrom === -1 || from < this.openFrom || (this.openAt !== -1 && this.openAt < from)) {
      this.openFrom = from;
      this.openAt = this.body.indexOf("{{", from);
    }
    return this.openAt;
  }

  skipSpace(p: number): number {
    const { body } = this;
    while (p < body.length && isSpace(body.charCodeAt(p))) p++;
    return p;
  }

  /** A `"…"` key starting at the quote: its value and the index after the closing quote. */
  readString(start: number): { ok: true; value: string; end: number } | { ok: false; issue: RawIssue } {
    const { body } = this;
    let p = start + 1;
    let value = "";
    let chunk = p;
    while (p < body.length) {
      const c = body.charCodeAt(p);
      if (c === QUOTE) return { ok: true, value: value + body.slice(chunk, p), end: p + 1 };
      if (c === NEWLINE) break;
      if (c === BACKSLASH) {
        const next = body.charCodeAt(p + 1);
        if (next !== QUOTE && next !== BACKSLASH) {
          const shown = p + 1 < body.length && next !== NEWLINE ? `\\${body[p + 1]}` : "\\";
          return {
            ok: false,
            issue: {
              message: `Unknown escape "${shown}" in a quoted key: only \\" and \\\\ are allowed`,
              offset: p,
            },
          };
        }
        value += body.slice(chunk, p) + body[p + 1];
        p += 2;
        chunk = p;
        continue;
      }
      p++;
    }
    return {
      ok: false,
      issue: { message: 'Unterminated quoted key: close it with " on the same line', offset: start },
    };
  }

  /** A path starting at `p` (after the spaces that follow `{{`). */
  readPath(p: number): { ok: true; segments: PathSegment[]; end: number } | { ok: false; issue: RawIssue } {
    const { body } = this;
    const segments: PathSegment[] = [];
    const c0 = body.charCodeAt(p);
    if (isIdentStart(c0)) {
      const start = p;
      while (p < body.length && isIdentPart(body.charCodeAt(p))) p++;
      segments.push(body.slice(start, p));
    } else if (c0 === OPEN_BRACKET && body.charCodeAt(p + 1) === QUOTE) {
      const key = this.readQuotedSegment(p);
      if (!key.ok) return key;
      segments.push(key.value);
      p = key.end;
    } else {
      return { ok: false, issue: { message: unexpectedStart(body, p), offset: p } };
    }
    for (;;) {
      const c = body.charCodeAt(p);
      if (c === DOT) {
        p++;
        const d = body.charCodeAt(p);
        if (isIdentStart(d)) {
          const start = p;
          while (p < body.length && isIdentPart(body.charCodeAt(p))) p++;
          segments.push(body.slice(start, p));
        } else if (isDigit(d)) {
          const start = p;
          while (p < body.length && isDigit(body.charCodeAt(p))) p++;
          if (p < body.length && isIdentStart(body.charCodeAt(p))) {
            return {
              ok: false,
              issue: {
                message: `"${body.slice(start, p + 1)}…" is neither a name nor an index: names cannot start with a digit (use ["${body.slice(start, p + 1)}…"] for such a key)`,
                offset: start,
              },
            };
          }
          const digits = body.slice(start, p);
          if (digits.length > 1 && digits.startsWith("0")) {
            return {
              ok: false,
              issue: {
                message: `Array index "${digits}" has a leading zero: write ${Number(digits)}`,
                offset: start,
              },
            };
          }
          if (digits.length > MAX_INDEX_DIGITS) {
            return { ok: false, issue: { message: `Array index "${digits}" is too large`, offset: start } };
          }
          segments.push(Number(digits));
        } else {
          return {
            ok: false,
            issue: { message: 'Expected a name or an array index after "."', offset: p },
          };
        }
      } else if (c === OPEN_BRACKET) {
        if (body.charCodeAt(p + 1) !== QUOTE) {
          const rest = body.charCodeAt(p + 1);
          return {
            ok: false,
            issue: {
              message: isDigit(rest)
                ? "Array indexes are written with a dot: items.0, not items[0]"
                : 'Expected a double-quoted key after "[", like files["src/app.ts"]',
              offset: p + 1,
            },
          };
        }
        const key = this.readQuotedSegment(p);
        if (!key.ok) return key;
        segments.push(key.value);
        p = key.end;
      } else {
        return { ok: true, segments, end: p };
      }
    }
  }

  /** `["…"]` starting at the bracket. */
  private readQuotedSegment(
    p: number,
  ): { ok: true; value: string; end: number } | { ok: false; issue: RawIssue } {
    const key = this.readString(p + 1);
    if (!key.ok) return key;
    if (this.body.charCodeAt(key.end) !== CLOSE_BRACKET) {
      return { ok: false, issue: { message: 'Expected "]" after the quoted key', offset: key.end } };
    }
    return { ok: true, value: key.value, end: key.end + 1 };
  }

  /** The tag whose `{{` is at `open`. */
  readTag(open: number): TagResult {
    const { body } = this;
    const p = this.skipSpace(open + 2);
    if (p >= body.length) return this.unclosed(open);
    const c = body.charCodeAt(p);
    if (c === CLOSE_BRACE && body.charCodeAt(p + 1) === CLOSE_BRACE) {
      return {
        ok: false,
        issue: { message: "Empty tag: put a variable name inside the braces, like {{name}}", offset: open },
        at: p + 2,
      };
    }
    if (c === OPEN_BRACE) {
      return this.fail(
        open,
        {
          message:
            "Triple braces are not supported: write {{name}} (values are inserted as they are, never escaped)",
          offset: open,
        },
        p + 1,
      );
    }
    const sigil = body[p] ?? "";
    if (sigil in LOGIC_SIGILS) {
      return this.fail(
        open,
        {
          message: `Templates are logic-less: ${LOGIC_SIGILS[sigil]} ({{${sigil}…}}) are not supported`,
          offset: p,
        },
        p + 1,
      );
    }
    const path = this.readPath(p);
    if (!path.ok) return this.fail(open, path.issue, path.issue.offset);
    const q = this.skipSpace(path.end);
    if (body.charCodeAt(q) === CLOSE_BRACE && body.charCodeAt(q + 1) === CLOSE_BRACE) {
      return { ok: true, segments: path.segments, end: q + 2 };
    }
    if (q >= body.length) return this.unclosed(open);
    const name = body.slice(p, path.end);
    const message =
      q > path.end && isIdentStart(body.charCodeAt(q))
        ? `Expected "}}" after "${name}": helpers and spaces inside names are not supported`
        : `Unexpected "${body[q]}" after "${name}": expected "}}"`;
    return this.fail(open, { message, offset: q }, q);
  }

  private unclosed(open: number): Extract<TagResult, { ok: false }> {
    return {
      ok: false,
      issue: { message: 'Unclosed "{{": close it with "}}", or write \\{{ for a literal "{{"', offset: open },
      at: this.body.length,
    };
  }

  /**
   * A broken tag: it ends at the next `}}` unless a `{{` comes first (or nothing does), in which case the
   * real problem is that this one was never closed; scanning resumes at that `{{`.
   */
  private fail(open: number, issue: RawIssue, from: number): TagResult {
    const close = this.nextClose(from);
    const reopen = this.nextOpen(from);
    if (close === -1) return { ...this.unclosed(open), at: reopen === -1 ? this.body.length : reopen };
    if (reopen !== -1 && reopen < close) return { ...this.unclosed(open), at: reopen };
    return { ok: false, issue, at: close + 2 };
  }
}

function unexpectedStart(body: string, p: number): string {
  const c = body.charCodeAt(p);
  if (isDigit(c)) return "A variable name cannot start with a digit";
  if (c === DOT) return 'A variable path starts with a name, not "."';
  if (c === OPEN_BRACKET) return 'Expected a double-quoted key after "[", like ["my key"]';
  return `Unexpected "${body[p]}": expected a variable name (letters, digits and _), like {{project.name}}`;
}

/** Offset → line and column (from 1). Line starts are found once, then binary-searched. */
function lineIndex(body: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = body.indexOf("\n"); i !== -1; i = body.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}

function locate(body: string, issues: RawIssue[]): TemplateIssue[] {
  if (issues.length === 0) return [];
  const at = lineIndex(body);
  return issues.map(({ message, offset }) => ({ message, offset, ...at(offset) }));
}

/** Issues about tags, located by the tags' own line and column (no body needed). */
function locateAtParts(issues: Array<{ message: string; part: VariablePart }>): TemplateIssue[] {
  return issues.map(({ message, part }) => ({
    message,
    offset: part.offset,
    line: part.line,
    column: part.column,
  }));
}

/** Parse a template body: its parts and variables, or every syntax error with its line and column. */
export function parseTemplate(body: string): TemplateParseResult {
  const scanner = new Scanner(body);
  const parts: TemplatePart[] = [];
  const issues: RawIssue[] = [];
  const variables: string[] = [];
  const seen = new Set<string>();
  let position: ReturnType<typeof lineIndex> | undefined;
  let text = "";
  let i = 0;
  while (i < body.length) {
    const open = scanner.nextOpen(i);
    if (open === -1) {
      text += body.slice(i);
      break;
    }
    if (open - 1 >= i && body.charCodeAt(open - 1) === BACKSLASH) {
      // `\{{`: the backslash is dropped, the braces are text.
      text += `${body.slice(i, open - 1)}{{`;
      i = open + 2;
      continue;
    }
    text += body.slice(i, open);
    const tag = scanner.readTag(open);
    if (!tag.ok) {
      issues.push(tag.issue);
      i = tag.at;
      continue;
    }
    if (text) parts.push({ kind: "text", text });
    text = "";
    const path = canonicalPath(tag.segments);
    position ??= lineIndex(body);
    parts.push({
      kind: "variable",
      path,
      segments: tag.segments,
      offset: open,
      end: tag.end,
      ...position(open),
      source: body.slice(open, tag.end),
    });
    if (!seen.has(path)) {
      seen.add(path);
      variables.push(path);
    }
    i = tag.end;
  }
  if (text) parts.push({ kind: "text", text });
  if (issues.length > 0) return { ok: false, errors: locate(body, issues), variables };
  return { ok: true, parts, variables };
}

/** The variables a body uses (canonical, unique, in order), including those of a body with errors. */
export function templateVariables(body: string): string[] {
  return parseTemplate(body).variables;
}

// ─── Rendering ───────────────────────────────────────────────────────────────

type Resolved = { parts: TemplatePart[] } | { failure: TemplateParseFailure; body: string };

function resolve(template: string | TemplateParseResult): Resolved {
  const parsed = typeof template === "string" ? parseTemplate(template) : template;
  if (!parsed.ok) return { failure: parsed, body: typeof template === "string" ? template : "" };
  return { parts: parsed.parts };
}

function reader(variables: VariableSource): (part: VariablePart) => unknown {
  return typeof variables === "function"
    ? (part) => variables(part.path, part.segments)
    : (part) => lookupPath(variables, part.segments);
}

type Filled = { pieces: string[]; missing: string[]; errors: TemplateIssue[] };

/** Every tag's value (or why it has none) before anything is joined. */
function fill(parts: TemplatePart[], variables: VariableSource, keepMissing: boolean): Filled {
  const read = reader(variables);
  const pieces: string[] = [];
  const missing: string[] = [];
  const missingSeen = new Set<string>();
  const errors: Array<{ message: string; part: VariablePart }> = [];
  for (const part of parts) {
    if (part.kind === "text") {
      pieces.push(part.text);
      continue;
    }
    let formatted: string | undefined;
    try {
      formatted = formatValue(read(part));
    } catch {
      errors.push({ message: `The value of "${part.path}" cannot be written as JSON (circular?)`, part });
      pieces.push(part.source);
      continue;
    }
    if (formatted === undefined) {
      if (!missingSeen.has(part.path)) {
        missingSeen.add(part.path);
        missing.push(part.path);
      }
      if (keepMissing) pieces.push(part.source);
      continue;
    }
    pieces.push(formatted);
  }
  return { pieces, missing, errors: locateAtParts(errors) };
}

/**
 * Render a template (a body, or what parseTemplate returned) with `variables`. All or nothing: any syntax
 * error, missing variable (absent, null, undefined) or unwritable value fails the whole render, and every
 * missing variable is listed, so a caller can refuse before a model is ever called.
 */
export function renderTemplate(
  template: string | TemplateParseResult,
  variables: VariableSource,
): RenderResult {
  const resolved = resolve(template);
  if ("failure" in resolved) return { ok: false, missing: [], errors: resolved.failure.errors };
  const { pieces, missing, errors } = fill(resolved.parts, variables, false);
  if (missing.length > 0 || errors.length > 0) {
    return { ok: false, missing, errors };
  }
  return { ok: true, text: pieces.join("") };
}

/**
 * A forgiving render for previews: missing values stay as their tags, and the missing paths are listed.
 * A body that does not parse comes back as it is, with its errors.
 */
export function previewTemplate(
  template: string | TemplateParseResult,
  variables: VariableSource,
): PreviewResult {
  const resolved = resolve(template);
  if ("failure" in resolved) return { text: resolved.body, missing: [], errors: resolved.failure.errors };
  const { pieces, missing, errors } = fill(resolved.parts, variables, true);
  return { text: pieces.join(""), missing, errors };
}

/**
 * Check a body before it is used: its syntax errors, then every tag whose first segment is not one of
 * `available.roots` (when given). The workflow engine passes the roots a step can see (inputs, steps,
 * project); without roots only the syntax is checked.
 */
export function checkTemplate(body: string, available: { roots?: readonly string[] } = {}): TemplateIssue[] {
  const parsed = parseTemplate(body);
  if (!parsed.ok) return parsed.errors;
  const roots = available.roots;
  if (!roots) return [];
  const allowed = new Set(roots);
  const issues: Array<{ message: string; part: VariablePart }> = [];
  for (const part of parsed.parts) {
    if (part.kind !== "variable") continue;
    const root = String(part.segments[0]);
    if (allowed.has(root)) continue;
    issues.push({
      message:
        roots.length === 0
          ? `Unknown variable "${part.path}": no variables are available here`
          : `Unknown variable "${part.path}": it must start with ${formatList(roots)}`,
      part,
    });
  }
  return locateAtParts(issues);
}

function formatList(items: readonly string[]): string {
  const quoted = items.map((item) => `"${item}"`);
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
}
