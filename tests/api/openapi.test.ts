import { compileErrors, validate } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCOPES } from "#app/modules/auth/auth.types.ts";
import { SUCCESS_STATUS } from "#app/server/openapi.server.ts";
import { apiCall, signupViaApi, startTestServer, type TestServer } from "#tests/setup/http-server.ts";

type Operation = {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
};
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, Record<string, unknown>>; schemas: Record<string, unknown> };
};

let server: TestServer;
let doc: Doc;
const operations: Array<{ method: string; path: string; op: Operation }> = [];

beforeAll(async () => {
  server = await startTestServer();
  const res = await fetch(`${server.base}/api/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  doc = (await res.json()) as Doc;
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) operations.push({ method, path, op });
});
afterAll(async () => {
  await server?.close();
});

describe("GET /api/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await validate(structuredClone(doc) as never);
    if (!result.valid) throw new Error(compileErrors(result));
    expect(result.specification).toBe("OpenAPI");
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(operations.length).toBeGreaterThan(50);
  });

  it("gives every operation a unique operationId, a summary and a tag", () => {
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { method, path, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.operationId, where).toMatch(/^[\w-]+$/);
      expect(op.summary?.trim().length, where).toBeGreaterThan(3);
      expect(op.tags?.length, where).toBeGreaterThan(0);
    }
  });

  it("declares Bearer JWT and agt_ API key security, with the scope an API key needs", () => {
    const schemes = doc.components.securitySchemes;
    expect(schemes.bearerJwt).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(schemes.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
    expect(String(schemes.apiKey?.description)).toContain("agt_");
    const publicOps = new Set(["auth-signup", "auth-login", "auth-refresh"]);
    for (const { method, path, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(Array.isArray(op.security), where).toBe(true);
      if (publicOps.has(op.operationId!)) {
        expect(op.security, where).toEqual([]);
        continue;
      }
      expect(op.security, where).toContainEqual({ bearerJwt: [] });
      const key = op.security!.find((s) => "apiKey" in s);
      // Session-only operations (sessions, password, audit) refuse API keys.
      if (key) for (const scope of key.apiKey!) expect(SCOPES, where).toContain(scope);
    }
    expect(operations.find((o) => o.op.operationId === "projects-create")?.op.security).toEqual([
      { bearerJwt: [] },
      { apiKey: ["projects:write"] },
    ]);
    expect(operations.find((o) => o.op.operationId === "audit-list")?.op.security).toEqual([
      { bearerJwt: [] },
    ]);
  });

  it("documents the JSON error body the server really sends, on every operation", async () => {
    expect(doc.components.schemas.ApiError).toBeDefined();
    expect(Object.keys(doc.components.schemas).filter((n) => n.startsWith("error."))).toEqual([]);
    for (const { method, path, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      for (const code of ["400", "429", "500"]) expect(Object.keys(op.responses), where).toContain(code);
      for (const [code, response] of Object.entries(op.responses)) {
        if (Number(code) < 400) continue;
        expect(response.content?.["application/json"]?.schema?.$ref, `${where} ${code}`).toBe(
          "#/components/schemas/ApiError",
        );
      }
      const success = Object.keys(op.responses).filter((c) => Number(c) < 300);
      expect(success, where).toEqual([String(SUCCESS_STATUS[op.operationId!] ?? 200)]);
    }
    // The real thing, compared with the documented shape.
    const user = await signupViaApi(server.base);
    const notFound = await apiCall(server.base, "GET", `/projects/${crypto.randomUUID()}`, user.accessToken);
    expect(notFound.status).toBe(404);
    expect(Object.keys(notFound.body!)).toEqual(["error"]);
    expect(notFound.body!.error).toMatchObject({ code: "NOT_FOUND", message: expect.any(String) });
    const invalid = await apiCall(server.base, "POST", "/projects", user.accessToken, { name: 42 });
    expect(invalid.status).toBe(400);
    expect(invalid.body!.error).toMatchObject({
      code: "BAD_REQUEST",
      issues: [{ path: ["name"], message: expect.any(String) }],
    });
  });

  it("names, for each documented non-200 success, an operation that exists", () => {
    const ids = new Set(operations.map(({ op }) => op.operationId));
    for (const id of Object.keys(SUCCESS_STATUS)) expect(ids, id).toContain(id);
  });
});
