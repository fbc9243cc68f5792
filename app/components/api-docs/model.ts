/**
 * Turns the OpenAPI document into the small, plain view the API reference page renders: operations grouped
 * by tag, and every JSON schema flattened into rows (name, type, required, enum, description). Pure, so the
 * loader sends a few tens of KB instead of the whole document.
 */

export type JsonSchema = {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  description?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  default?: unknown;
  $ref?: string;
};

export type FieldRow = {
  /** Dotted path for nested fields: `steps[].id`. */
  name: string;
  depth: number;
  type: string;
  required: boolean;
  enumValues: string[] | null;
  description: string | null;
  constraints: string | null;
};

export type Access = { kind: "public" } | { kind: "session" } | { kind: "any"; scopes: string[] };

export type OperationView = {
  id: string;
  method: string;
  path: string;
  summary: string;
  description: string | null;
  access: Access;
  params: Array<FieldRow & { in: string }>;
  body: FieldRow[] | null;
  success: { status: string; description: string; fields: FieldRow[]; topType: string };
  errors: Array<{ status: string; description: string }>;
  paginated: boolean;
};

export type TagView = { tag: string; operations: OperationView[] };

type OpenApiOperation = {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{
    in: string;
    name: string;
    required?: boolean;
    description?: string;
    schema?: JsonSchema;
  }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: JsonSchema }> }>;
};
export type OpenApiLike = {
  info?: { title?: string; version?: string; description?: string };
  paths?: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
};

const MAX_DEPTH = 3;
const MAX_ROWS = 60;
const INT_LIMIT = 9007199254740991;

/** A short human type: `string (uuid)`, `integer`, `object[]`, `string | null`. */
export function typeLabel(schema: JsonSchema | undefined): string {
  if (!schema) return "any";
  if (schema.$ref) return schema.$ref.split("/").pop() ?? "object";
  const union = schema.anyOf ?? schema.oneOf;
  if (union) {
    const labels = [...new Set(union.map(typeLabel))];
    return labels.join(" | ");
  }
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return "enum";
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return schema.properties ? "object" : "any";
  return types
    .map((t) => {
      if (t === "array") return `${schema.items ? typeLabel(schema.items) : "any"}[]`;
      if (t === "string" && schema.format) return `string (${schema.format})`;
      return t;
    })
    .join(" | ");
}

function constraintsOf(schema: JsonSchema): string | null {
  const parts: string[] = [];
  const s = schema.anyOf?.find((x) => x.type !== "null") ?? schema;
  if (s.minLength !== undefined && s.minLength > 0) parts.push(`min ${s.minLength} chars`);
  if (s.maxLength !== undefined) parts.push(`max ${s.maxLength} chars`);
  if (s.minimum !== undefined && Math.abs(s.minimum) < INT_LIMIT) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && Math.abs(s.maximum) < INT_LIMIT) parts.push(`≤ ${s.maximum}`);
  if (s.default !== undefined) parts.push(`default ${JSON.stringify(s.default)}`);
  return parts.length ? parts.join(", ") : null;
}

function enumOf(schema: JsonSchema): string[] | null {
  const values = schema.enum ?? schema.anyOf?.find((x) => x.enum)?.enum;
  return values ? values.map((v) => String(v)) : null;
}

/** The object schema to descend into (through arrays and `T | null` unions), if any. */
function objectInside(schema: JsonSchema): { schema: JsonSchema; suffix: string } | null {
  if (schema.properties) return { schema, suffix: "" };
  if (schema.items) {
    const inner = objectInside(schema.items);
    return inner ? { schema: inner.schema, suffix: `[]${inner.suffix}` } : null;
  }
  const union = schema.anyOf ?? schema.oneOf;
  const objects = union?.filter((x) => x.type !== "null") ?? [];
  if (objects.length === 1 && objects[0]) return objectInside(objects[0]);
  return null;
}

/** Rows for the properties of an object schema, nested fields indented up to MAX_DEPTH. */
export function fieldRows(schema: JsonSchema | undefined, skip: ReadonlySet<string> = new Set()): FieldRow[] {
  const rows: FieldRow[] = [];
  const walk = (s: JsonSchema, prefix: string, depth: number) => {
    const required = new Set(s.required ?? []);
    for (const [name, prop] of Object.entries(s.properties ?? {})) {
      if (depth === 0 && skip.has(name)) continue;
      if (rows.length >= MAX_ROWS) return;
      const full = prefix ? `${prefix}.${name}` : name;
      rows.push({
        name: full,
        depth,
        type: typeLabel(prop),
        required: required.has(name),
        enumValues: enumOf(prop),
        description: prop.description ?? null,
        constraints: constraintsOf(prop),
      });
      const inner = objectInside(prop);
      if (inner && depth + 1 < MAX_DEPTH) walk(inner.schema, `${full}${inner.suffix}`, depth + 1);
    }
  };
  if (schema) {
    const inner = objectInside(schema);
    if (inner) walk(inner.schema, inner.suffix, 0);
  }
  return rows;
}

function accessOf(security: OpenApiOperation["security"]): Access {
  if (!security || security.length === 0) return { kind: "public" };
  const key = security.find((s) => "apiKey" in s);
  if (!key) return { kind: "session" };
  return { kind: "any", scopes: key.apiKey ?? [] };
}

const METHOD_ORDER = ["get", "post", "put", "patch", "delete"];

/** Operations grouped by their first tag, tags in the order they first appear. */
export function buildApiReference(doc: OpenApiLike): TagView[] {
  const groups = new Map<string, OperationView[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const methods = Object.keys(item).sort((a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b));
    for (const method of methods) {
      const op = item[method]!;
      const pathNames = new Set((op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name));
      const responses = Object.entries(op.responses ?? {});
      const [status, ok] = responses.find(([code]) => Number(code) < 300) ?? ["200", {}];
      const okSchema = ok.content?.["application/json"]?.schema;
      const successFields = fieldRows(okSchema);
      const view: OperationView = {
        id: op.operationId ?? `${method}-${path}`,
        method: method.toUpperCase(),
        path,
        summary: op.summary ?? "",
        description: op.description ?? null,
        access: accessOf(op.security),
        params: (op.parameters ?? []).map((p) => ({
          in: p.in,
          name: p.name,
          depth: 0,
          type: typeLabel(p.schema),
          required: Boolean(p.required),
          enumValues: p.schema ? enumOf(p.schema) : null,
          description: p.description ?? p.schema?.description ?? null,
          constraints: p.schema ? constraintsOf(p.schema) : null,
        })),
        body: op.requestBody
          ? fieldRows(op.requestBody.content?.["application/json"]?.schema, pathNames)
          : null,
        success: {
          status,
          description: ok.description ?? "Success",
          fields: successFields,
          topType: typeLabel(okSchema),
        },
        errors: responses
          .filter(([code]) => Number(code) >= 400)
          .map(([code, r]) => ({ status: code, description: r.description ?? "" })),
        paginated: successFields.some((f) => f.name === "nextCursor"),
      };
      const tag = op.tags?.[0] ?? "other";
      groups.set(tag, [...(groups.get(tag) ?? []), view]);
    }
  }
  return [...groups].map(([tag, operations]) => ({ tag, operations }));
}
