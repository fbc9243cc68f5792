import { generateOpenApiDocument, type OpenAPIObject } from "trpc-to-openapi";
import { APP_VERSION } from "#app/lib/version.server.ts";
import type { AccessRule } from "#app/trpc/init.server.ts";
import { appRouter } from "#app/trpc/router.server.ts";

/** The two ways an API client proves who it is; both travel as `Authorization: Bearer <token>`. */
export const SECURITY_SCHEMES = {
  bearerJwt: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "A 15-minute access token (JWT) from `POST /api/v1/auth/login`, `/auth/signup` or `/auth/refresh`. " +
      "It stands for a signed-in session and carries every scope.",
  },
  apiKey: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "agt_… API key",
    description:
      "An API key (`agt_` + random characters), created in Settings → API keys and shown once. It carries " +
      "only the scopes chosen at creation; the scope an operation needs is listed in its security entry.",
  },
} as const;

/**
 * Creations answer 201 and hand-offs to the worker 202 (procedures call `ctx.response.setStatus`); the
 * generator cannot see that, so the document is told here. The contract test checks every key still exists.
 */
export const SUCCESS_STATUS: Record<string, 201 | 202> = {
  "auth-signup": 201,
  "apiKeys-create": 201,
  "projects-create": 201,
  "providers-add": 201,
  "prompts-create": 201,
  "workflows-create": 201,
  "workflows-createFromTemplate": 201,
  "runs-create": 202,
  "runs-rerun": 202,
  "changesets-followUp": 202,
  "agentTask-start": 202,
};

/** The one JSON error body of the REST API (see app/server/api-errors.server.ts). */
const API_ERROR_SCHEMA = {
  type: "object",
  title: "ApiError",
  description: "Every REST error answers with this JSON body, whatever the status.",
  required: ["error"],
  additionalProperties: false,
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      additionalProperties: false,
      properties: {
        code: {
          type: "string",
          description: "Stable machine-readable code; the HTTP status follows from it.",
          enum: [
            "BAD_REQUEST",
            "PARSE_ERROR",
            "UNAUTHORIZED",
            "PAYMENT_REQUIRED",
            "FORBIDDEN",
            "NOT_FOUND",
            "METHOD_NOT_SUPPORTED",
            "CONFLICT",
            "PAYLOAD_TOO_LARGE",
            "UNSUPPORTED_MEDIA_TYPE",
            "UNPROCESSABLE_CONTENT",
            "TOO_MANY_REQUESTS",
            "INTERNAL_SERVER_ERROR",
            "BAD_GATEWAY",
            "SERVICE_UNAVAILABLE",
            "GATEWAY_TIMEOUT",
          ],
        },
        message: { type: "string", description: "A sentence for humans; do not parse it." },
        issues: {
          type: "array",
          description: "Input validation failures (400), one per invalid field.",
          items: {
            type: "object",
            required: ["path", "message"],
            additionalProperties: false,
            properties: {
              path: {
                type: "array",
                description: 'Where in the input, e.g. `["steps", 0, "id"]`.',
                items: { anyOf: [{ type: "string" }, { type: "integer" }] },
              },
              message: { type: "string" },
            },
          },
        },
        details: {
          type: "object",
          description: "Facts to act on, e.g. a conflict's `currentVersion` or a 429's `retryAfterSeconds`.",
          additionalProperties: true,
        },
      },
    },
  },
  example: { error: { code: "NOT_FOUND", message: "Project not found" } },
} as const;

const ERROR_DESCRIPTIONS: Record<string, string> = {
  "400": "Invalid input (see `error.issues`)",
  "401": "Missing, invalid or expired credentials",
  "403":
    "Authenticated, but not allowed (missing scope, API key where a session is required, foreign origin)",
  "404": "Not found, or not yours",
  "413": "Request body too large",
  "415": "Request body is not `application/json`",
  "429": "Rate limited; wait `Retry-After` seconds",
  "500": "Unexpected server error; the message carries the request id",
};

type Operation = {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  requestBody?: unknown;
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
};

/** Who may call each procedure, from the access rule its builder recorded (see init.server.ts). */
function accessByOperationId(): Map<string, AccessRule> {
  const out = new Map<string, AccessRule>();
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { meta?: unknown } }>;
  for (const [path, procedure] of Object.entries(procedures)) {
    const meta = procedure._def.meta as
      | { access?: AccessRule; openapi?: { operationId?: string } }
      | undefined;
    if (!meta?.openapi || !meta.access) continue;
    out.set(meta.openapi.operationId ?? path.replace(/\./g, "-"), meta.access);
  }
  return out;
}

function securityFor(rule: AccessRule | undefined): Array<Record<string, string[]>> {
  switch (rule?.kind) {
    case "public":
      return [];
    case "session":
      return [{ bearerJwt: [] }];
    case "scope":
      return [{ bearerJwt: [] }, { apiKey: [rule.scope] }];
    default:
      return [{ bearerJwt: [] }, { apiKey: [] }];
  }
}

/**
 * The OpenAPI 3.1 document of `/api/v1`, generated from the tRPC procedures and then corrected where the
 * generator cannot know the truth: who may call (from each procedure's access rule), success statuses, and
 * the error body the server really sends (`{ error: { code, message, issues?, details? } }`).
 */
export function buildOpenApiDocument(): OpenAPIObject {
  const doc = generateOpenApiDocument(appRouter, {
    title: "Agentry API",
    version: APP_VERSION,
    baseUrl: "/api/v1",
    docsUrl: "/docs/api",
    description:
      "REST API of Agentry. Every operation is also available through the typed tRPC client. Authenticate " +
      "with `Authorization: Bearer <token>`, where the token is an access token (JWT) or an API key " +
      "(`agt_…`). Errors are JSON: `{ error: { code, message, issues?, details? } }`. Lists that can grow " +
      "without bound are paged: pass `nextCursor` back as `?cursor=` until it is null.",
    securitySchemes: SECURITY_SCHEMES as unknown as Parameters<
      typeof generateOpenApiDocument
    >[1]["securitySchemes"],
  }) as OpenAPIObject;

  const access = accessByOperationId();
  const components = doc.components ?? {};
  const schemas = components.schemas ?? {};
  for (const name of Object.keys(schemas)) if (name.startsWith("error.")) delete schemas[name];
  schemas.ApiError = API_ERROR_SCHEMA as never;
  components.schemas = schemas;
  doc.components = components;
  const errorContent = { "application/json": { schema: { $ref: "#/components/schemas/ApiError" } } };

  for (const item of Object.values(doc.paths ?? {})) {
    for (const [method, raw] of Object.entries(item as Record<string, Operation>)) {
      const op = raw as Operation;
      const rule = op.operationId ? access.get(op.operationId) : undefined;
      op.security = securityFor(rule);
      const codes = new Set(Object.keys(op.responses).filter((code) => Number(code) >= 400));
      codes.add("400");
      codes.add("500");
      if (rule?.kind !== "public") {
        codes.add("401");
        codes.add("403");
      }
      codes.add("429");
      if (op.requestBody || ["post", "put", "patch"].includes(method)) {
        codes.add("413");
        codes.add("415");
      }
      const success = op.operationId ? SUCCESS_STATUS[op.operationId] : undefined;
      const ok = op.responses["200"];
      const responses: Operation["responses"] = {};
      if (ok) responses[String(success ?? 200)] = ok;
      for (const code of [...codes].sort()) {
        responses[code] = { description: ERROR_DESCRIPTIONS[code] ?? "Error", content: errorContent };
      }
      op.responses = responses;
    }
  }
  return doc;
}

let cached: OpenAPIObject | undefined;
/** The document, built once per process (the router does not change at run time). */
export function openApiDocument(): OpenAPIObject {
  cached ??= buildOpenApiDocument();
  return cached;
}
