/**
 * Property-based fuzzing of every REST operation in /api/openapi.json, against a real server and database.
 *
 * The rule: never a 5xx, never a hang; input that is certainly malformed (bad credentials, wrong
 * content-type, unparsable or oversized body, a wrongly-typed field, a path id that names nothing)
 * answers 4xx with the JSON error body `{ error: { code, message } }`. Everything else must still answer
 * below 500, with JSON.
 *
 * FUZZ_RUNS (default 20) sets the runs per operation; FUZZ_SEED replays a failure.
 */

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "#app/lib/logger.server.ts";
import { postJson, signupViaApi, startTestServer } from "#tests/setup/http-server.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? 20);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** Only this operationId (with FUZZ_SEED: replay one failure). */
const ONLY = process.env.FUZZ_ONLY;
const REQUEST_TIMEOUT_MS = 5_000;
/** Just over the server's JSON body limit (3 MiB). */
const OVERSIZED_BYTES = 3 * 1024 * 1024 + 1024;

type Schema = {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  maxLength?: number;
  $ref?: string;
};
type Parameter = { in: "path" | "query" | "header"; name: string; required?: boolean; schema?: Schema };
type Operation = {
  operationId: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
};
type Doc = { paths: Record<string, Record<string, Operation>> };

type World = {
  token: string;
  ids: string[];
};

/** One generated request and what the answer must be. */
type Case = {
  kind: string;
  path: string;
  query: Array<[string, string]>;
  headers: Record<string, string>;
  body?: string;
  /** Why the input is certainly malformed (then 4xx is required), or null. */
  malformed: string | null;
};

/** The real test server, keeping its error log: a 5xx is reported with its cause. */
let server: { base: string; close(): Promise<void> };
const errorLog: string[] = [];

function startServer() {
  const logger = createLogger({
    level: "error",
    destination: { write: (line: string) => void errorLog.push(line) } as never,
  });
  return startTestServer({ authPerMinute: 100_000, apiPerMinute: 1_000_000 }, {}, { logger });
}

/** What the server logged about one request (its error and stack), for a 5xx report. */
function loggedFor(text: string): string {
  const id = /request ([\w.:-]+)\)/.exec(text)?.[1];
  if (!id) return "";
  const line = errorLog.find((l) => l.includes(id));
  return line ? `\n  server log: ${line.slice(0, 1_500)}` : "";
}
let doc: Doc;
let world: World;

/** A user with a project, a workflow, a run and a prompt, so real ids reach deep code paths too. */
async function makeWorld(base: string): Promise<World> {
  const user = await signupViaApi(base);
  const auth = { authorization: `Bearer ${user.accessToken}` };
  const project = await postJson(`${base}/api/v1/projects`, { name: "Fuzz" }, auth);
  const projectId = String(project.body?.id);
  await fetch(`${base}/api/v1/projects/${projectId}/files`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ path: "src/a.ts", content: "export const a = 1;\n" }),
  });
  const workflow = await postJson(
    `${base}/api/v1/projects/${projectId}/workflows/from-template`,
    { templateId: "explain-code" },
    auth,
  );
  const workflowId = String((workflow.body as { id?: string } | null)?.id);
  const run = await postJson(
    `${base}/api/v1/workflows/${workflowId}/runs`,
    { input: { code: "const a = 1;" } },
    auth,
  );
  const prompt = await postJson(`${base}/api/v1/prompts`, { name: "Fuzz", body: "Hi {{name}}" }, auth);
  const ids = [projectId, workflowId, String(run.body?.runId), String(prompt.body?.id)].filter((id) =>
    /^[0-9a-f-]{36}$/.test(id),
  );
  return { token: user.accessToken, ids };
}

function resolve(schema: Schema | undefined): Schema {
  return schema ?? {};
}

function typesOf(schema: Schema): string[] | null {
  if (schema.anyOf || schema.oneOf) return null; // a union: hard to be sure a value is wrong
  if (schema.type === undefined) return null;
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}

/**
 * A JSON value that the schema certainly rejects, or null when we cannot be sure (unions, booleans that the
 * REST adapter coerces from anything, untyped values).
 */
function wrongValueFor(schema: Schema, pick: number): unknown | null {
  const types = typesOf(schema);
  if (!types || types.includes("boolean")) return null;
  if (schema.enum) return `not-a-choice-${pick}`;
  // Numbers are coerced (Number(x)): objects and non-numeric strings still fail.
  const candidates: unknown[] = [];
  if (!types.includes("object")) candidates.push({ nested: { deep: [pick] } });
  if (!types.includes("string") && !types.some((t) => t === "number" || t === "integer"))
    candidates.push(`wrong-${pick}`);
  if (types.some((t) => t === "number" || t === "integer")) candidates.push("NaN-ish", { n: 1 });
  if (types.includes("string") && !types.includes("array") && !types.includes("object"))
    candidates.push(pick % 2 === 0 ? 12345 : [1, 2, 3]);
  if (types.includes("string") && schema.maxLength !== undefined && schema.maxLength < 100_000)
    candidates.push("x".repeat(schema.maxLength + 1));
  if (types.includes("string") && schema.format === "uuid") candidates.push("not-a-uuid");
  if (types.includes("string") && schema.format === "date-time") candidates.push("yesterday-ish");
  if (candidates.length === 0) return null;
  return candidates[pick % candidates.length];
}

const nastyString = fc.oneof(
  fc.constantFrom(
    "../",
    "..%2F..%2Fetc%2Fpasswd",
    "../../../../etc/passwd",
    "%00",
    "\u0000",
    "null",
    "undefined",
    "-1",
    "0",
    "1e999",
    "NaN",
    " ",
    "😀💥✓ünïcødé",
    "\u202e\u200b",
    "' OR 1=1 --",
    "{{name}}",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a template injection probe, on purpose
    "${process.env}",
    "<script>alert(1)</script>",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.integer({ min: 200, max: 12_000 }).map((n) => "a".repeat(n)),
  fc.integer({ min: 50, max: 800 }).map((n) => "😀".repeat(n)),
);

const edgyInteger = fc.oneof(
  fc.constantFrom(0, -1, 1, 2_147_483_647, 2_147_483_648, -2_147_483_649, 9_007_199_254_740_991, 1e21),
  fc.integer(),
);
const edgyNumber = fc.oneof(
  edgyInteger,
  fc.constantFrom(0.5, -0, 1e308, 1e-300, 123456.789),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** A value of the schema's own type, chosen from the edges (huge integers, odd strings, empty arrays). */
function edgyValueFor(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 3) return fc.jsonValue({ maxDepth: 1 });
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return fc.oneof(...union.map((s) => edgyValueFor(s, depth + 1)));
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return fc.jsonValue({ maxDepth: 2 });
  return fc.oneof(
    ...types.map((type): fc.Arbitrary<unknown> => {
      switch (type) {
        case "string":
          return schema.format === "uuid"
            ? fc.oneof(fc.uuid(), fc.constantFrom(...(world.ids.length ? world.ids : [crypto.randomUUID()])))
            : schema.format === "date-time"
              ? fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
              : nastyString;
        case "integer":
          return edgyInteger;
        case "number":
          return edgyNumber;
        case "boolean":
          return fc.boolean();
        case "null":
          return fc.constant(null);
        case "array":
          return fc.array(edgyValueFor(schema.items, depth + 1), { maxLength: 3 });
        case "object":
          return objectFor(schema, depth + 1);
        default:
          return fc.jsonValue({ maxDepth: 1 });
      }
    }),
  );
}

function objectFor(
  schema: Schema,
  depth = 0,
  skip: ReadonlySet<string> = new Set(),
): fc.Arbitrary<Record<string, unknown>> {
  const entries = Object.entries(schema.properties ?? {}).filter(([name]) => !skip.has(name));
  if (entries.length === 0)
    return fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
  const required = new Set(schema.required ?? []);
  return fc.record(Object.fromEntries(entries.map(([name, prop]) => [name, edgyValueFor(prop, depth)])), {
    requiredKeys: entries.map(([name]) => name).filter((name) => required.has(name)),
  });
}

/** Every operation, with its method and path template. */
function operationsOf(d: Doc) {
  const out: Array<{ method: string; template: string; op: Operation }> = [];
  for (const [template, item] of Object.entries(d.paths))
    for (const [method, op] of Object.entries(item)) out.push({ method: method.toUpperCase(), template, op });
  return out;
}

function caseArbitrary(method: string, template: string, op: Operation): fc.Arbitrary<Case> {
  const pathParams = (op.parameters ?? []).filter((p) => p.in === "path");
  const queryParams = (op.parameters ?? []).filter((p) => p.in === "query");
  const bodySchema = resolve(op.requestBody?.content["application/json"]?.schema);
  const hasBody = ["POST", "PUT", "PATCH", "DELETE"].includes(method) && op.requestBody !== undefined;
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  const pathNames = new Set(pathParams.map((p) => p.name));
  const requiredBody = (bodySchema.required ?? []).filter((name) => !pathNames.has(name));

  const realId = fc.constantFrom(...(world.ids.length ? world.ids : [crypto.randomUUID()]));
  const goodPathValue = fc.oneof(realId, fc.uuid(), fc.constantFrom("1", "2"));
  const fill = (values: Record<string, string>, encode = true) =>
    template.replace(/\{(\w+)\}/g, (_m, name: string) =>
      // Raw: slashes and dots stay as typed (traversal), but `?` and `#` must not end the path.
      encode
        ? encodeURIComponent(values[name] ?? "")
        : encodeURIComponent(values[name] ?? "").replace(/%2F/gi, "/"),
    );
  const goodPath = fc
    .record(
      Object.fromEntries(pathParams.map((p) => [p.name, goodPathValue])) as Record<
        string,
        fc.Arbitrary<string>
      >,
    )
    .map((values) => fill(values));
  const auth = () => ({ authorization: `Bearer ${world.token}` });
  const jsonHeaders = () => ({ ...auth(), ...(hasBody ? { "content-type": "application/json" } : {}) });
  const anyBody = hasBody
    ? fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))
    : fc.constant(undefined);

  const cases: Array<fc.Arbitrary<Case>> = [];

  // Path parameters that name nothing: non-uuids, traversal, unicode, huge.
  if (pathParams.length > 0) {
    cases.push(
      fc
        .tuple(
          fc.constantFrom(...pathParams.map((p) => p.name)),
          // An empty segment routes elsewhere (e.g. /prompts/ is the list): not a path parameter test.
          nastyString.filter((v) => v.trim() !== "" && v !== "."),
          goodPath,
          fc.boolean(),
          anyBody,
        )
        .map(([name, value, _good, raw, body]) => {
          const values: Record<string, string> = {};
          for (const p of pathParams) values[p.name] = p.name === name ? value : crypto.randomUUID();
          const path = raw ? fill(values, false) : fill(values);
          return {
            kind: "path",
            path,
            query: [],
            headers: jsonHeaders(),
            body: hasBody ? (body ?? "{}") : undefined,
            // A raw slash can land on another route (`x/..` climbs back to the list): then only "< 500".
            malformed:
              raw && value.includes("/") ? null : `path param ${name}=${JSON.stringify(value.slice(0, 40))}`,
          };
        }),
    );
  }

  // Query parameters: wrong types, repeated, huge, unknown names.
  cases.push(
    fc
      .tuple(
        goodPath,
        fc.array(
          fc.tuple(
            fc.oneof(fc.constantFrom(...queryParams.map((p) => p.name), "unknown", "__proto__"), fc.string()),
            fc.oneof(nastyString, fc.integer().map(String)).map((v) => v.slice(0, 300)),
          ),
          { maxLength: 4 },
        ),
        fc.nat(),
      )
      .map(([path, pairs, pick]) => {
        let malformed: string | null = null;
        const typed = queryParams.find((p) => p.schema && wrongValueFor(p.schema, pick) !== null);
        if (typed && pick % 2 === 0) {
          const wrong = wrongValueFor(typed.schema!, pick);
          if (typeof wrong === "string") {
            pairs.push([typed.name, wrong]);
            // A repeated query name becomes an array, which rejects too; but other pairs may also repeat it.
            malformed = `query ${typed.name}=${wrong.slice(0, 40)}`;
          }
        }
        return {
          kind: "query",
          path,
          query: pairs,
          headers: jsonHeaders(),
          body: hasBody ? "{}" : undefined,
          malformed: malformed && pathParams.length === 0 ? malformed : malformed,
        };
      }),
  );

  // Well-typed values from the edges: they must never reach the database as a 500 (int overflow, etc.).
  cases.push(
    fc
      .tuple(
        goodPath,
        fc.record(Object.fromEntries(queryParams.map((p) => [p.name, edgyValueFor(p.schema)]))),
        hasBody ? objectFor(bodySchema, 0, pathNames) : fc.constant(undefined),
      )
      .map(([path, query, body]) => ({
        kind: "typed",
        path,
        query: Object.entries(query)
          .filter(([, v]) => v !== null && typeof v !== "object")
          .map(([k, v]) => [k, String(v).slice(0, 300)] as [string, string]),
        headers: jsonHeaders(),
        body: hasBody ? JSON.stringify(body) : undefined,
        malformed: null,
      })),
  );

  // Bodies: random JSON, wrongly-typed fields, unparsable text, oversized, deeply nested.
  if (hasBody) {
    const props = Object.entries(bodySchema.properties ?? {}).filter(([name]) => !pathNames.has(name));
    cases.push(
      fc.tuple(goodPath, fc.jsonValue({ maxDepth: 4 })).map(([path, value]) => {
        const topLevelNotObject = value === null || typeof value !== "object" || Array.isArray(value);
        return {
          kind: "body-random",
          path,
          query: [],
          headers: jsonHeaders(),
          body: JSON.stringify(value),
          malformed:
            topLevelNotObject && requiredBody.length > 0 ? "non-object body where fields are required" : null,
        };
      }),
    );
    if (props.length > 0) {
      cases.push(
        fc
          .tuple(
            goodPath,
            fc.constantFrom(...props.map(([name]) => name)),
            fc.nat(),
            fc.jsonValue({ maxDepth: 2 }),
          )
          .map(([path, name, pick, filler]) => {
            const schema = Object.fromEntries(props)[name]!;
            const wrong = wrongValueFor(schema, pick);
            const body: Record<string, unknown> = {};
            for (const [other] of props) if (other !== name && pick % 3 === 0) body[other] = filler;
            body[name] = wrong ?? filler;
            return {
              kind: "body-field",
              path,
              query: [],
              headers: jsonHeaders(),
              body: JSON.stringify(body),
              malformed: wrong !== null ? `body field ${name} = ${JSON.stringify(wrong).slice(0, 40)}` : null,
            };
          }),
      );
    }
    cases.push(
      fc
        .tuple(
          goodPath,
          fc.constantFrom(
            "{",
            '{"a":',
            "{'single':'quotes'}",
            '{"a":1,}',
            "\u0000\u0001",
            "[1,2",
            '{"__proto__":{"polluted":true}',
            "\ufeff{}x",
          ),
        )
        .map(([path, text]) => ({
          kind: "body-unparsable",
          path,
          query: [],
          headers: jsonHeaders(),
          body: text,
          malformed: "unparsable JSON",
        })),
      goodPath.map((path) => ({
        kind: "body-oversized",
        path,
        query: [],
        headers: jsonHeaders(),
        body: JSON.stringify({ blob: "x".repeat(OVERSIZED_BYTES) }),
        malformed: "body over the size limit",
      })),
      fc
        .tuple(
          goodPath,
          fc.integer({ min: 1_000, max: 20_000 }),
          fc.constantFrom(...[...props.map(([n]) => n), "x"]),
        )
        .map(([path, depth, name]) => ({
          kind: "body-deep",
          path,
          query: [],
          headers: jsonHeaders(),
          body: `{"${name}":${"[".repeat(depth)}${"]".repeat(depth)}}`,
          malformed: null,
        })),
      fc
        .tuple(
          goodPath,
          fc.constantFrom(
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "",
          ),
        )
        .map(([path, type]) => ({
          kind: "content-type",
          path,
          query: [],
          headers: { ...auth(), ...(type ? { "content-type": type } : {}) },
          body: "{}",
          malformed: `content-type ${JSON.stringify(type)}`,
        })),
    );
  }

  // Credentials that do not hold, and oversized or strange headers.
  cases.push(
    fc
      .tuple(
        goodPath,
        fc.constantFrom(
          "Bearer garbage",
          "Bearer agt_0000000000000000000000000000000000000000000",
          "Bearer agt_",
          "Basic dXNlcjpwYXNz",
          "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
          `Bearer ${"a".repeat(8_000)}`,
          `Bearer agt_${"😀".repeat(100)}`.normalize(),
          "Bearer",
          "Token abc",
        ),
      )
      .map(([path, authorization]) => ({
        kind: "auth",
        path,
        query: [],
        // fetch refuses non-ByteString header values: send unicode as its UTF-8 bytes read as latin1.
        headers: {
          authorization: Buffer.from(authorization, "utf8").toString("latin1"),
          ...(hasBody ? { "content-type": "application/json" } : {}),
        },
        body: hasBody ? "{}" : undefined,
        malformed: "bad Authorization",
      })),
    fc.tuple(goodPath, fc.integer({ min: 1_000, max: 12_000 })).map(([path, size]) => ({
      kind: "header",
      path,
      query: [],
      headers: { ...jsonHeaders(), "x-fuzz": "h".repeat(size), "x-request-id": "../ é".repeat(20) },
      body: hasBody ? "{}" : undefined,
      malformed: null,
    })),
  );
  if (!isPublic) {
    cases.push(
      goodPath.map(
        (path): Case => ({
          kind: "no-auth",
          path,
          query: [],
          headers: hasBody ? { "content-type": "application/json" } : ({} as Record<string, string>),
          body: hasBody ? "{}" : undefined,
          malformed: "no credentials",
        }),
      ),
    );
  }
  return fc.oneof(...cases);
}

async function send(method: string, c: Case) {
  const qs = c.query.length ? `?${new URLSearchParams(c.query).toString()}` : "";
  const started = performance.now();
  const res = await fetch(`${server.base}/api/v1${c.path}${qs}`, {
    method,
    headers: c.headers,
    body: c.body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  // A raw `../` may climb out of /api (fetch normalises the URL): then it is not an API request at all.
  const escaped = !new URL(`${server.base}/api/v1${c.path}`).pathname.startsWith("/api/");
  return {
    escaped,
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    text,
    ms: performance.now() - started,
  };
}

const DESTRUCTIVE = /^(auth-logout|auth-logoutAll|auth-changePassword|sessions-revoke)$/;

beforeAll(async () => {
  server = await startServer();
  doc = (await (await fetch(`${server.base}/api/openapi.json`)).json()) as Doc;
  world = await makeWorld(server.base);
}, 60_000);
afterAll(async () => {
  await server?.close();
});

describe("REST fuzz: every operation in /api/openapi.json", () => {
  it("finds the operations", () => {
    expect(operationsOf(doc).length).toBeGreaterThan(50);
    expect(world.ids.length).toBe(4);
  });

  it("refuses a header block over Node's 16 KiB limit with 431, without hanging", async () => {
    const res = await fetch(`${server.base}/api/v1/me`, {
      headers: { authorization: `Bearer ${world.token}`, "x-fuzz": "h".repeat(20_000) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    // Node's HTTP parser answers before Express sees the request, so this one body is not our JSON.
    expect(res.status).toBe(431);
  });

  // Operations run one after another (one database, one user); each gets its own property.
  const stats = { requests: 0, slowestMs: 0 };
  it("answers malformed input with 4xx JSON, and anything with < 500 JSON, within the timeout", async () => {
    const failures: string[] = [];
    for (const { method, template, op } of operationsOf(doc)) {
      if (ONLY && op.operationId !== ONLY) continue;
      try {
        const details = await fc.check(
          fc.asyncProperty(caseArbitrary(method, template, op), async (c) => {
            const answer = await send(method, c);
            stats.requests += 1;
            stats.slowestMs = Math.max(stats.slowestMs, answer.ms);
            const where = `${method} ${c.path.slice(0, 80)} [${c.kind}${c.malformed ? `: ${c.malformed}` : ""}]`;
            const said = `${answer.status} ${answer.text.slice(0, 300)}`;
            if (answer.status >= 500) throw new Error(`${where} → ${said}${loggedFor(answer.text)}`);
            if (answer.escaped) return;
            if (!answer.type.includes("application/json")) throw new Error(`${where} → not JSON: ${said}`);
            const body = JSON.parse(answer.text) as { error?: { code?: unknown; message?: unknown } };
            if (c.malformed && answer.status < 400) throw new Error(`${where} → expected 4xx: ${said}`);
            if (
              answer.status >= 400 &&
              (typeof body.error?.code !== "string" || typeof body.error.message !== "string")
            )
              throw new Error(`${where} → error body not {error:{code,message}}: ${said}`);
          }),
          { numRuns: RUNS, seed: SEED, endOnFailure: true },
        );
        if (details.failed) {
          const cause = details.errorInstance as Error | undefined;
          const why = cause?.cause ? ` (${String((cause.cause as Error).message ?? cause.cause)})` : "";
          const example = details.counterexample?.[0] as Case | undefined;
          const what = example
            ? ` [${example.kind} ${method} ${example.path.slice(0, 60)} body=${(example.body ?? "").slice(0, 300)}]`
            : "";
          failures.push(
            `${op.operationId} (seed ${details.seed})${what}: ${cause?.message ?? "failed"}${why}`,
          );
        }
      } finally {
        // Logging out (or changing the password) ends the session: start over with a fresh user.
        if (DESTRUCTIVE.test(op.operationId) || method === "DELETE") world = await makeWorld(server.base);
      }
    }
    console.info(
      `fuzz: ${stats.requests} requests, slowest ${Math.round(stats.slowestMs)} ms, ${RUNS} runs/op`,
    );
    expect(failures, failures.join("\n\n")).toEqual([]);
  }, 600_000);
});
