import { describe, expect, it } from "vitest";
import {
  canonicalPath,
  checkTemplate,
  formatValue,
  lookupPath,
  parseTemplate,
  previewTemplate,
  renderTemplate,
  type TemplateIssue,
  templateVariables,
} from "./template.ts";

function errorsOf(body: string): TemplateIssue[] {
  const parsed = parseTemplate(body);
  if (parsed.ok) throw new Error(`expected errors for ${JSON.stringify(body)}`);
  return parsed.errors;
}

function textOf(body: string, variables: Record<string, unknown>): string {
  const result = renderTemplate(body, variables);
  if (!result.ok) throw new Error(`render failed: ${JSON.stringify(result)}`);
  return result.text;
}

describe("parseTemplate", () => {
  it("splits text and variables, with canonical paths in order of first use, each once", () => {
    const parsed = parseTemplate("Hi {{name}}, you have {{ count }} items; bye {{name}}.");
    expect(parsed).toMatchObject({ ok: true, variables: ["name", "count"] });
    if (!parsed.ok) return;
    expect(parsed.parts).toEqual([
      { kind: "text", text: "Hi " },
      {
        kind: "variable",
        path: "name",
        segments: ["name"],
        offset: 3,
        end: 11,
        line: 1,
        column: 4,
        source: "{{name}}",
      },
      { kind: "text", text: ", you have " },
      expect.objectContaining({ path: "count", source: "{{ count }}" }),
      { kind: "text", text: " items; bye " },
      expect.objectContaining({ path: "name", offset: 45 }),
      { kind: "text", text: "." },
    ]);
  });

  it("reads dotted names, array indexes and quoted keys with escapes", () => {
    const parsed = parseTemplate(
      '{{ items.0.name }} {{project.files["src/app.ts"]}} {{ a["say \\"hi\\""]["back\\\\slash"] }} {{x["plain"].y}}',
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const segments = parsed.parts.flatMap((part) => (part.kind === "variable" ? [part.segments] : []));
    expect(segments).toEqual([
      ["items", 0, "name"],
      ["project", "files", "src/app.ts"],
      ["a", 'say "hi"', "back\\slash"],
      ["x", "plain", "y"],
    ]);
    expect(parsed.variables).toEqual([
      "items.0.name",
      'project.files["src/app.ts"]',
      'a["say \\"hi\\""]["back\\\\slash"]',
      "x.plain.y",
    ]);
  });

  it("allows any whitespace inside the braces, including line breaks, and a quoted first key", () => {
    expect(templateVariables("{{\n\t user.name \n}} {{   x   }}")).toEqual(["user.name", "x"]);
    expect(templateVariables('{{["my key"].b}}')).toEqual(['["my key"].b']);
    expect(templateVariables("{{ _private1 }} {{A_b.c_D}}")).toEqual(["_private1", "A_b.c_D"]);
  });

  it("`\\{{` is a literal {{, other backslashes and stray }} are text", () => {
    const parsed = parseTemplate("Use \\{{name}} for {{ name }}; a \\ backslash and }} braces; \\n");
    expect(parsed).toMatchObject({ ok: true, variables: ["name"] });
    expect(textOf("Use \\{{name}} for {{ name }}; a \\ backslash and }} braces; \\n", { name: "N" })).toBe(
      "Use {{name}} for N; a \\ backslash and }} braces; \\n",
    );
    expect(textOf("\\{{\\{{{{a}}", { a: 1 })).toBe("{{{{1");
  });

  it("keeps text around JSON-looking braces", () => {
    expect(textOf('{"a": {{ value }}}', { value: 3 })).toBe('{"a": 3}');
    expect(textOf("[{{a}}]{}", { a: "x" })).toBe("[x]{}");
    expect(parseTemplate("no tags at all")).toEqual({
      ok: true,
      parts: [{ kind: "text", text: "no tags at all" }],
      variables: [],
    });
    expect(parseTemplate("")).toEqual({ ok: true, parts: [], variables: [] });
  });

  it("reports an unclosed {{ at its position, with line and column", () => {
    expect(errorsOf("line one\n  {{ name")).toEqual([
      {
        message: expect.stringContaining('Unclosed "{{"'),
        offset: 11,
        line: 2,
        column: 3,
      },
    ]);
    expect(errorsOf("{{")[0]).toMatchObject({
      line: 1,
      column: 1,
      message: expect.stringContaining("Unclosed"),
    });
    expect(errorsOf("a {{ ")[0]?.offset).toBe(2);
    expect(errorsOf("{{}")[0]?.message).toContain("Unclosed");
  });

  it("an unclosed tag before another tag is reported once and the next tag still parses", () => {
    const parsed = parseTemplate("{{ a\n{{ b }} and {{ c }}");
    expect(parsed).toMatchObject({ ok: false, variables: ["b", "c"] });
    expect(errorsOf("{{ a\n{{ b }}")).toEqual([expect.objectContaining({ offset: 0, line: 1, column: 1 })]);
  });

  it("reports empty tags", () => {
    expect(errorsOf("x {{}} y {{   }}")).toEqual([
      expect.objectContaining({ message: expect.stringContaining("Empty tag"), offset: 2, column: 3 }),
      expect.objectContaining({ message: expect.stringContaining("Empty tag"), offset: 9, column: 10 }),
    ]);
  });

  it.each([
    ["{{ a b }}", "helpers and spaces", 5],
    ["{{ a.b c }}", "helpers and spaces", 7],
    ["{{ a. }}", 'after "."', 5],
    ["{{ a..b }}", 'after "."', 5],
    ["{{ .a }}", 'not "."', 3],
    ["{{ 1a }}", "cannot start with a digit", 3],
    ["{{ a.01 }}", "leading zero", 5],
    ["{{ a.1x }}", "names cannot start with a digit", 5],
    ["{{ a.1234567890 }}", "too large", 5],
    ["{{ a[0] }}", "items.0, not items[0]", 5],
    ["{{ a[b] }}", "double-quoted key", 5],
    ["{{ a['b'] }}", "double-quoted key", 5],
    ['{{ a["b" }}', 'Expected "]"', 8],
    ['{{ a["b\\n"] }}', 'Unknown escape "\\n"', 7],
    ['{{ a["b\n"] }}', "Unterminated quoted key", 5],
    ["{{ a-b }}", 'Unexpected "-"', 4],
    ["{{ a }x }}", 'Unexpected "}"', 5],
    ["{{#each items}}", "logic-less: sections", 2],
    ["{{/each}}", "logic-less: sections", 2],
    ["{{> partial }}", "partials", 2],
    ["{{^x}}", "inverted sections", 2],
    ["{{! comment }}", "comments", 2],
    ["{{& raw }}", "unescaped", 2],
    ["{{{ raw }}}", "Triple braces", 0],
    ["{{ é }}", 'Unexpected "é"', 3],
  ])("%s → %s at offset %i", (body, message, offset) => {
    const errors = errorsOf(body);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toContain(message);
    expect(errors[0]?.offset).toBe(offset);
  });

  it("reports every error in the body, not just the first, each with its own location", () => {
    const body = [
      "Hello {{ user name }}",
      "{{}}",
      "{{ ok }} {{ items[0] }}",
      "{{#if x}}",
      "end {{ open",
    ].join("\n");
    const errors = errorsOf(body);
    expect(errors.map((e) => [e.line, e.column])).toEqual([
      [1, 15],
      [2, 1],
      [3, 19],
      [4, 3],
      [5, 5],
    ]);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringContaining("helpers and spaces"),
      expect.stringContaining("Empty tag"),
      expect.stringContaining("items.0"),
      expect.stringContaining("logic-less"),
      expect.stringContaining("Unclosed"),
    ]);
    // The good tag is still found for the editor.
    expect(parseTemplate(body)).toMatchObject({ ok: false, variables: ["ok"] });
  });

  it("a quoted key may hold braces, dots and brackets", () => {
    expect(templateVariables('{{ a["}}{{.[]"] }}')).toEqual(['a["}}{{.[]"]']);
    expect(textOf('<{{ a["}}"] }}>', { a: { "}}": "x" } })).toBe("<x>");
  });

  it("counts columns in UTF-16 code units and lines after \\r\\n too", () => {
    expect(errorsOf("ab\r\ncd {{}}")[0]).toMatchObject({ line: 2, column: 4, offset: 7 });
    expect(errorsOf("😀 {{}}")[0]).toMatchObject({ line: 1, column: 4, offset: 3 });
  });
});

describe("canonicalPath", () => {
  it("writes names with dots, indexes as .N, other keys quoted", () => {
    expect(canonicalPath(["a", "b", 0, "c"])).toBe("a.b.0.c");
    expect(canonicalPath(["files", "src/app.ts"])).toBe('files["src/app.ts"]');
    expect(canonicalPath(["x", "0"])).toBe('x["0"]');
    expect(canonicalPath(["x", 'q"\\'])).toBe('x["q\\"\\\\"]');
    expect(canonicalPath(["my key", "b"])).toBe('["my key"].b');
    expect(canonicalPath(["x", ""])).toBe('x[""]');
  });

  it("round-trips through the parser", () => {
    const paths = [
      ["a", 0, "b"],
      ["p", "files", "src/a.ts"],
      ["x", "0"],
      ["k", 'a"b\\c'],
      ["weird key", 3],
    ];
    for (const segments of paths) {
      const parsed = parseTemplate(`{{ ${canonicalPath(segments)} }}`);
      expect(parsed.ok, canonicalPath(segments)).toBe(true);
      if (parsed.ok) expect(parsed.parts[0]).toMatchObject({ segments });
    }
  });

  it('`["name"]` and `.name` are the same variable; `["0"]` and `.0` are not', () => {
    expect(templateVariables('{{ a["b"] }} {{ a.b }} {{ x["0"] }} {{ x.0 }}')).toEqual([
      "a.b",
      'x["0"]',
      "x.0",
    ]);
  });
});

describe("lookupPath", () => {
  it("walks objects and arrays by own properties only", () => {
    const root = { a: { list: [{ n: 1 }, { n: 2 }] }, o: { "0": "zero" } };
    expect(lookupPath(root, ["a", "list", 1, "n"])).toBe(2);
    expect(lookupPath(root, ["o", 0])).toBe("zero");
    expect(lookupPath(root, ["a", "list", 5])).toBeUndefined();
    expect(lookupPath(root, ["a", "list", "length"])).toBeUndefined();
    expect(lookupPath(root, ["a", "list", "0"])).toBeUndefined();
    expect(lookupPath(root, ["constructor"])).toBeUndefined();
    expect(lookupPath(root, ["a", "toString"])).toBeUndefined();
    expect(lookupPath(root, ["__proto__"])).toBeUndefined();
    expect(lookupPath({ s: "text" }, ["s", "length"])).toBeUndefined();
    expect(lookupPath({ s: "text" }, ["s", 0])).toBeUndefined();
  });
});

describe("formatValue", () => {
  it("writes strings as is, scalars with String(), dates as ISO, objects as pretty JSON", () => {
    expect(formatValue("a\nb")).toBe("a\nb");
    expect(formatValue("")).toBe("");
    expect(formatValue(0)).toBe("0");
    expect(formatValue(1.5)).toBe("1.5");
    expect(formatValue(false)).toBe("false");
    expect(formatValue(12n)).toBe("12");
    expect(formatValue(new Date("2025-01-02T03:04:05Z"))).toBe("2025-01-02T03:04:05.000Z");
    expect(formatValue({ a: [1, { b: 2n }] })).toBe(
      '{\n  "a": [\n    1,\n    {\n      "b": "2"\n    }\n  ]\n}',
    );
    expect(formatValue([])).toBe("[]");
  });

  it("null, undefined, functions and symbols count as missing", () => {
    expect(formatValue(null)).toBeUndefined();
    expect(formatValue(undefined)).toBeUndefined();
    expect(formatValue(() => 1)).toBeUndefined();
    expect(formatValue(Symbol("s"))).toBeUndefined();
  });
});

describe("renderTemplate", () => {
  it("renders nested values, arrays and quoted keys", () => {
    const variables = {
      user: { name: "Ada", tags: ["a", "b"] },
      items: [{ name: "first" }],
      project: { files: { "src/app.ts": "console.log(1)" } },
      n: 3,
      yes: true,
    };
    expect(
      textOf(
        'Hi {{user.name}} ({{ n }}, {{yes}}): {{ items.0.name }} / {{ project.files["src/app.ts"] }} / {{user.tags}}',
        variables,
      ),
    ).toBe('Hi Ada (3, true): first / console.log(1) / [\n  "a",\n  "b"\n]');
  });

  it("inserts values verbatim: no escaping, and tags inside values are not expanded", () => {
    expect(textOf("{{a}}", { a: "<b>&\"'{{b}}" })).toBe("<b>&\"'{{b}}");
  });

  it("lists every missing variable (absent, null, undefined) once, in order, and renders nothing", () => {
    const result = renderTemplate("{{a}} {{b.c}} {{d}} {{a}} {{e}} {{f.0}} {{ok}} {{empty}}", {
      b: { c: null },
      d: undefined,
      f: [],
      ok: "fine",
      empty: "",
    });
    expect(result).toEqual({ ok: false, missing: ["a", "b.c", "d", "e", "f.0"], errors: [] });
  });

  it("an empty string, zero and false are values, not missing", () => {
    expect(textOf("[{{a}}|{{b}}|{{c}}]", { a: "", b: 0, c: false })).toBe("[|0|false]");
  });

  it("a body with syntax errors does not render", () => {
    expect(renderTemplate("{{ a b }}", { a: 1 })).toEqual({
      ok: false,
      missing: [],
      errors: [expect.objectContaining({ line: 1, column: 6 })],
    });
  });

  it("accepts a parsed template (parse once, render many)", () => {
    const parsed = parseTemplate("Dear {{name}}");
    expect(renderTemplate(parsed, { name: "A" })).toEqual({ ok: true, text: "Dear A" });
    expect(renderTemplate(parsed, { name: "B" })).toEqual({ ok: true, text: "Dear B" });
    expect(renderTemplate(parseTemplate("{{"), {})).toMatchObject({ ok: false, missing: [] });
  });

  it("reports a value JSON cannot write, at its tag", () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const result = renderTemplate("ok\n  {{ c }}", { c: circular });
    expect(result).toEqual({
      ok: false,
      missing: [],
      errors: [{ message: expect.stringContaining('"c"'), offset: 5, line: 2, column: 3 }],
    });
  });

  it("never reads inherited properties", () => {
    expect(
      renderTemplate("{{ constructor }} {{ a.toString }} {{ hasOwnProperty }}", { a: {} }),
    ).toMatchObject({
      ok: false,
      missing: ["constructor", "a.toString", "hasOwnProperty"],
    });
  });

  it("takes a lookup function of the canonical path", () => {
    const values: Record<string, string> = { "user.name": "Ada", 'f["x y"]': "X" };
    expect(renderTemplate('{{ user.name }} {{ f["x y"] }}', (path) => values[path])).toEqual({
      ok: true,
      text: "Ada X",
    });
  });
});

describe("previewTemplate", () => {
  it("keeps missing values as their tags and lists them", () => {
    expect(previewTemplate("Hi {{ name }}, {{ age }}!", { age: 3 })).toEqual({
      text: "Hi {{ name }}, 3!",
      missing: ["name"],
      errors: [],
    });
  });

  it("a body that does not parse comes back as it is, with its errors", () => {
    const preview = previewTemplate("x {{", {});
    expect(preview.text).toBe("x {{");
    expect(preview.errors).toHaveLength(1);
  });
});

describe("checkTemplate", () => {
  const roots = ["inputs", "steps", "project"];

  it("accepts tags whose root is available", () => {
    expect(checkTemplate("{{inputs.task}} {{ steps.plan.output }} {{project.name}}", { roots })).toEqual([]);
  });

  it("reports every tag with an unknown root, located", () => {
    expect(checkTemplate("{{ inputs.a }}\n{{ input.a }} {{ foo }}", { roots })).toEqual([
      {
        message: 'Unknown variable "input.a": it must start with "inputs", "steps" or "project"',
        offset: 15,
        line: 2,
        column: 1,
      },
      expect.objectContaining({ message: expect.stringContaining('"foo"'), line: 2, column: 15 }),
    ]);
    expect(checkTemplate("{{ x }}", { roots: [] })[0]?.message).toContain("no variables are available");
    expect(checkTemplate("{{ x }}", { roots: ["inputs"] })[0]?.message).toContain('start with "inputs"');
  });

  it("reports syntax errors first (and only them when there are some); no roots checks only syntax", () => {
    expect(checkTemplate("{{ foo }} {{}}", { roots })).toEqual([
      expect.objectContaining({ message: expect.stringContaining("Empty tag") }),
    ]);
    expect(checkTemplate("{{ anything }}")).toEqual([]);
  });
});

describe("performance and safety on large or hostile bodies", () => {
  const KB100 = 100 * 1024;
  const hostile: Array<[string, (size: number) => string]> = [
    ["plain text", (n) => "lorem ipsum ".repeat(n / 12)],
    ["many good tags", (n) => "{{ a.b.0 }} ".repeat(n / 12)],
    ["many unclosed tags", (n) => "{{ a b ".repeat(n / 7)],
    ["only opening braces", (n) => "{".repeat(n)],
    ["only closing braces", (n) => "}".repeat(n)],
    ["escapes", (n) => "\\{{".repeat(n / 3)],
    ["backslashes", (n) => "\\".repeat(n)],
    ["one long unterminated key", (n) => `{{ a["${"x".repeat(n)}`],
    ["many unterminated keys", (n) => '{{a["'.repeat(n / 5)],
    ["a long path", (n) => `{{ ${"a.".repeat(n / 2)}b }}`],
    ["a long run of spaces in a tag", (n) => `{{${" ".repeat(n)}`],
    ["nested opens", (n) => "{{ {{ {{ ".repeat(n / 9)],
    ["bad tags then a far close", (n) => `${"{{ a b ".repeat(n / 14)}${"x".repeat(n / 2)}}}`],
  ];

  /**
   * Characters the parser reads, counted by wrapping the string methods it reads with: charCodeAt (one
   * each), indexOf (the stretch it scanned) and slice (what it copied). Deterministic, unlike a timer on
   * a shared machine: a linear parser reads each character a bounded number of times, a quadratic one
   * (an indexOf to the end of the body per broken tag, say) reads the body once per tag.
   */
  function charactersRead(body: string): number {
    const proto = String.prototype;
    const { charCodeAt, indexOf, slice } = proto;
    let reads = 0;
    proto.charCodeAt = function (this: string, index: number) {
      reads += 1;
      return charCodeAt.call(this, index);
    };
    proto.indexOf = function (this: string, search: string, from = 0) {
      const found = indexOf.call(this, search, from);
      reads += (found === -1 ? this.length : found + search.length) - Math.min(from, this.length);
      return found;
    };
    proto.slice = function (this: string, start?: number, end?: number) {
      const copied = slice.call(this, start, end);
      reads += copied.length;
      return copied;
    };
    try {
      parseTemplate(body);
    } finally {
      Object.assign(proto, { charCodeAt, indexOf, slice });
    }
    return reads;
  }

  it.each(hostile)("%s: reads each character a bounded number of times", (_name, make) => {
    const body = make(KB100);
    expect(charactersRead(body)).toBeLessThan(6 * body.length);
  });

  // A wall-clock bound with a wide margin (this machine is shared): linear parsing of 100 KB takes a
  // few ms; a backtracking regular expression would never finish.
  it.each(hostile)("%s: 100 KB parses in well under a second", (_name, make) => {
    const body = make(KB100);
    const started = performance.now();
    parseTemplate(body);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("renders a 100 KB template with thousands of tags quickly and correctly", () => {
    const body = "Item {{ item.name }} costs {{ item.price }}.\n".repeat(2500);
    const started = performance.now();
    const result = renderTemplate(body, { item: { name: "pen", price: 2 } });
    expect(performance.now() - started).toBeLessThan(500);
    expect(result).toEqual({ ok: true, text: "Item pen costs 2.\n".repeat(2500) });
  });

  it("reports all the errors of a body full of broken tags, each at its own line", () => {
    const body = "{{ a b }}\n".repeat(1000);
    const errors = errorsOf(body);
    expect(errors).toHaveLength(1000);
    expect(errors[999]).toMatchObject({ line: 1000, column: 6 });
  });
});
