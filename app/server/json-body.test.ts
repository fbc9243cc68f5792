import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { createTestAiRuntime } from "#tests/setup/ai.ts";
import { signupViaApi, startTestServer, type TestServer } from "#tests/setup/http-server.ts";
import { createHttpApp } from "./http.server.ts";
import { jsonDepthExceeds, MAX_JSON_DEPTH } from "./json-body.server.ts";

// Regression tests for what tests/api/fuzz.test.ts found at the REST edge.

let server: TestServer;
let token: string;
beforeAll(async () => {
  server = await startTestServer();
  token = (await signupViaApi(server.base)).accessToken;
});
afterAll(async () => {
  await server?.close();
});

async function call(method: string, path: string, body?: string, contentType = "application/json") {
  const res = await fetch(`${server.base}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": contentType }),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

describe("jsonDepthExceeds", () => {
  it("counts brackets outside strings only", () => {
    expect(jsonDepthExceeds(Buffer.from('{"a":[[1]]}'), 3)).toBe(false);
    expect(jsonDepthExceeds(Buffer.from('{"a":[[[1]]]}'), 3)).toBe(true);
    expect(jsonDepthExceeds(Buffer.from(`{"a":"${"[".repeat(500)}\\"{{{"}`), 1)).toBe(false);
  });
});

describe("REST request edge", () => {
  it("refuses a deeply nested body with 400 instead of overflowing the stack (was 500)", async () => {
    const depth = 5_000;
    const answer = await call("POST", "/projects", `{"name":${"[".repeat(depth)}${"]".repeat(depth)}}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe("BAD_REQUEST");
    expect(answer.body.error?.message).toContain(String(MAX_JSON_DEPTH));
  });

  it("answers a NUL character that PostgreSQL refuses with 400, not 500", async () => {
    const project = await call("POST", "/projects", JSON.stringify({ name: "a\u0000b" }));
    expect(project.status).toBe(400);
    expect(project.body.error).toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("NUL"),
    });
    const prompt = await call("POST", "/prompts", JSON.stringify({ name: "p", body: "Hi \u0000 {{name}}" }));
    expect(prompt.status).toBe(400);
  });

  it("answers a number beyond the database column's range with 400, not 500", async () => {
    const project = await call("POST", "/projects", JSON.stringify({ name: "Ranges" }));
    const projectId = (project.body as { id: string }).id;
    const workflow = await call(
      "POST",
      `/projects/${projectId}/workflows/from-template`,
      JSON.stringify({ templateId: "explain-code" }),
    );
    const workflowId = (workflow.body as { id: string }).id;
    const get = await call("GET", `/workflows/${workflowId}?version=2147483648`);
    expect(get.status).toBe(400);
    expect(get.body.error).toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("out of range"),
    });
    const run = await call(
      "POST",
      `/workflows/${workflowId}/runs`,
      JSON.stringify({ input: { code: "x" }, version: 2_147_483_648 }),
    );
    expect(run.status).toBe(400);
  });

  it("reads `application/json; charset=utf-8` bodies (the adapter used to drop them)", async () => {
    const answer = await call(
      "POST",
      "/projects",
      JSON.stringify({ name: "With charset" }),
      "application/json; charset=utf-8",
    );
    expect(answer.status).toBe(201);
  });

  it("refuses other charsets with 415, bad JSON with 400, oversized bodies with 413", async () => {
    expect((await call("POST", "/projects", '{"name":"x"}', "application/json; charset=koi8-r")).status).toBe(
      415,
    );
    const bad = await call("POST", "/projects", '{"name":');
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe("PARSE_ERROR");
    const big = await call("POST", "/projects", JSON.stringify({ name: "x".repeat(3 * 1024 * 1024 + 10) }));
    expect(big.status).toBe(413);
    expect(big.body.error?.code).toBe("PAYLOAD_TOO_LARGE");
    expect((await call("POST", "/projects", "{}", "text/plain")).status).toBe(415);
  });

  it("never sends an unexpected error's own message (it may quote SQL or file paths)", async () => {
    const secret = "Invalid `prisma.project.findMany()` invocation in /srv/app/projects.server.ts";
    const db = new Proxy(server.database.db, {
      get(target, prop, receiver) {
        if (prop === "project")
          return new Proxy(Reflect.get(target, prop, receiver) as object, {
            get: () => () => Promise.reject(new Error(secret)),
          });
        return Reflect.get(target, prop, receiver);
      },
    }) as Db;
    const app = createHttpApp({
      db,
      logger: createLogger({ level: "silent" }),
      auth: server.runtime,
      ai: createTestAiRuntime(db),
      readiness: { db, pendingMigrations: async () => [] },
    });
    const broken = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    try {
      const res = await fetch(`http://127.0.0.1:${(broken.address() as AddressInfo).port}/api/v1/projects`, {
        headers: { authorization: `Bearer ${token}`, "x-request-id": "req-42" },
      });
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(text).not.toContain("prisma");
      expect(JSON.parse(text)).toEqual({
        error: { code: "INTERNAL_SERVER_ERROR", message: "Internal server error (request req-42)" },
      });
    } finally {
      broken.closeAllConnections();
      await new Promise((resolve) => broken.close(resolve));
    }
  });
});
