import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { createAuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { createTestAiRuntime } from "#tests/setup/ai.ts";
import { signupViaApi, startTestServer, TEST_JWT_SECRET, type TestServer } from "#tests/setup/http-server.ts";
import { createHttpApp } from "./http.server.ts";

const logger = createLogger({ level: "silent" });
let server: TestServer;
let base: string;
let database: TestServer["database"];
let auth: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  base = server.base;
  database = server.database;
  // /readyz of the shared server always says ready; pending migrations are tested on an app of their own.
  const user = await signupViaApi(base);
  auth = { authorization: `Bearer ${user.accessToken}` };
});

afterAll(async () => {
  await server.close();
});

async function appWith(options: { pendingMigrations: () => Promise<string[]>; dbUrl?: string }) {
  const db = options.dbUrl ? createPrismaClient({ connectionString: options.dbUrl, max: 1 }) : database.db;
  const runtime = createAuthRuntime({
    db,
    connectionString: database.url,
    logger,
    config: { jwtSecret: TEST_JWT_SECRET, authPerMinute: 100, apiPerMinute: 100 },
  });
  const app = createHttpApp({
    db,
    logger,
    auth: runtime,
    ai: createTestAiRuntime(db),
    readiness: { db, pendingMigrations: options.pendingMigrations },
  });
  const s = await new Promise<Server>((resolve) => {
    const x = app.listen(0, "127.0.0.1", () => resolve(x));
  });
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise((resolve) => s.close(resolve));
      await runtime.close();
      if (options.dbUrl) await db.$disconnect();
    },
  };
}

describe("health", () => {
  it("/healthz answers while the process lives", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("/readyz is 200 when the database answers and nothing is pending", async () => {
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("/readyz is 503 with a reason while a migration is pending", async () => {
    const app = await appWith({ pendingMigrations: async () => ["20990101000000_future"] });
    const res = await fetch(`${app.url}/readyz`);
    await app.close();
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      ok: false,
      reason: "1 migration(s) not applied",
      pendingMigrations: ["20990101000000_future"],
    });
  });

  it("/readyz is 503 when the database is unreachable", async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const app = await appWith({
      pendingMigrations: async () => [],
      dbUrl: "postgresql://nobody@127.0.0.1:1/none",
    });
    try {
      const res = await fetch(`${app.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { ok: boolean; reason: string };
      expect(body.ok).toBe(false);
      expect(body.reason).toMatch(/^database unavailable/);
    } finally {
      await app.close();
    }
  });
});

describe("tRPC and REST serve the same procedures", () => {
  it("tRPC: system.status", async () => {
    const res = await fetch(`${base}/api/trpc/system.status`, { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      result: { data: { json: { database: { serverVersion: string } } } };
    };
    expect(body.result.data.json.database.serverVersion).toMatch(/^\d+/);
  });

  it("REST: a probe is created queued (with its job in the same transaction) and can be read back", async () => {
    const created = await fetch(`${base}/api/v1/system/probes`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
    });
    expect(created.status).toBe(200);
    const probe = (await created.json()) as { id: string; status: string };
    expect(probe.status).toBe("queued");

    const jobs = await database.db.$queryRaw<{ task_identifier: string; key: string | null }[]>`
      SELECT task_identifier, key FROM graphile_worker.jobs`;
    expect(jobs).toContainEqual({ task_identifier: "worker.probe", key: `probe:${probe.id}` });

    const read = await fetch(`${base}/api/v1/system/probes/${probe.id}`, { headers: auth });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: probe.id, status: "queued", roundTripMs: null });
  });

  it("REST: bad input is a 400 JSON error that names the problem", async () => {
    const res = await fetch(`${base}/api/v1/system/probes/not-a-uuid`, { headers: auth });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        code: "BAD_REQUEST",
        message: "Input validation failed",
        issues: [{ path: ["id"], message: "id must be a UUID" }],
      },
    });
  });

  it("REST: a missing probe is a 404 JSON error", async () => {
    const res = await fetch(`${base}/api/v1/system/probes/0190b7b0-0000-7000-8000-000000000000`, {
      headers: auth,
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { code: "NOT_FOUND", message: "No worker probe with this id" },
    });
  });

  it("REST: a POST without a JSON content type is refused with 415, not a 500", async () => {
    const res = await fetch(`${base}/api/v1/system/probes`, { method: "POST", body: "x", headers: auth });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { code: "UNSUPPORTED_MEDIA_TYPE" } });
  });

  it("REST: without credentials a procedure is a 401 JSON error", async () => {
    const res = await fetch(`${base}/api/v1/system/status`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
  });

  it("a state-changing request from a foreign Origin is refused before anything runs", async () => {
    const res = await fetch(`${base}/api/v1/system/probes`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example", ...auth },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: { code: "FORBIDDEN", message: "Requests from https://evil.example are not allowed" },
    });
    // Our own origin passes.
    const ok = await fetch(`${base}/api/v1/system/probes`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: base, ...auth },
    });
    expect(ok.status).toBe(200);
  });

  it("unknown API paths are JSON 404s, and every response carries a request id", async () => {
    const res = await fetch(`${base}/api/v1/nope`, { headers: { "x-request-id": "test-123" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("test-123");
    expect(await res.json()).toEqual({
      error: { code: "NOT_FOUND", message: "No API route for GET /api/v1/nope" },
    });
  });

  it("a forged request id with newlines or huge length is replaced", async () => {
    const res = await fetch(`${base}/healthz`, { headers: { "x-request-id": "x".repeat(500) } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("serves an OpenAPI 3 document generated from the procedures", async () => {
    const res = await fetch(`${base}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/system/status",
        "/system/probes",
        "/system/probes/{id}",
        "/auth/signup",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/me",
        "/api-keys",
        "/api-keys/{id}",
      ]),
    );
  });
});
