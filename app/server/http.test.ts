import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { createTestDatabase } from "#tests/setup/database.ts";
import { createHttpApp } from "./http.server.ts";

const logger = createLogger({ level: "silent" });
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pending: string[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const app = createHttpApp({
    db: database.db,
    logger,
    readiness: { db: database.db, pendingMigrations: async () => pending },
  });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await database.close();
});

describe("health", () => {
  it("/healthz answers while the process lives", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("/readyz is 200 when the database answers and nothing is pending", async () => {
    pending = [];
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("/readyz is 503 with a reason while a migration is pending", async () => {
    pending = ["20990101000000_future"];
    const res = await fetch(`${base}/readyz`);
    pending = [];
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      ok: false,
      reason: "1 migration(s) not applied",
      pendingMigrations: ["20990101000000_future"],
    });
  });

  it("/readyz is 503 when the database is unreachable", async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const deadDb = createPrismaClient({ connectionString: "postgresql://nobody@127.0.0.1:1/none", max: 1 });
    const app = createHttpApp({
      db: deadDb,
      logger,
      readiness: { db: deadDb, pendingMigrations: async () => [] },
    });
    const s = await new Promise<Server>((resolve) => {
      const x = app.listen(0, "127.0.0.1", () => resolve(x));
    });
    try {
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { ok: boolean; reason: string };
      expect(body.ok).toBe(false);
      expect(body.reason).toMatch(/^database unavailable/);
    } finally {
      await new Promise((resolve) => s.close(resolve));
      await deadDb.$disconnect();
    }
  });
});

describe("tRPC and REST serve the same procedures", () => {
  it("tRPC: system.status", async () => {
    const res = await fetch(`${base}/api/trpc/system.status`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      result: { data: { json: { database: { serverVersion: string } } } };
    };
    expect(body.result.data.json.database.serverVersion).toMatch(/^\d+/);
  });

  it("REST: a probe is created queued (with its job in the same transaction) and can be read back", async () => {
    const created = await fetch(`${base}/api/v1/system/probes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    expect(created.status).toBe(200);
    const probe = (await created.json()) as { id: string; status: string };
    expect(probe.status).toBe("queued");

    const jobs = await database.db.$queryRaw<{ task_identifier: string; key: string | null }[]>`
      SELECT task_identifier, key FROM graphile_worker.jobs`;
    expect(jobs).toContainEqual({ task_identifier: "worker.probe", key: `probe:${probe.id}` });

    const read = await fetch(`${base}/api/v1/system/probes/${probe.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: probe.id, status: "queued", roundTripMs: null });
  });

  it("REST: bad input is a 400 JSON error that names the problem", async () => {
    const res = await fetch(`${base}/api/v1/system/probes/not-a-uuid`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      message: string;
      code: string;
      issues: { message: string; path: string[] }[];
    };
    expect(body.code).toBe("BAD_REQUEST");
    expect(body.message).toBe("Input validation failed");
    expect(body.issues).toEqual([expect.objectContaining({ path: ["id"], message: "id must be a UUID" })]);
  });

  it("REST: a missing probe is a 404 JSON error", async () => {
    const res = await fetch(`${base}/api/v1/system/probes/0190b7b0-0000-7000-8000-000000000000`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: "NOT_FOUND", message: "No worker probe with this id" });
  });

  it("REST: a POST without a JSON content type is refused with 415, not a 500", async () => {
    const res = await fetch(`${base}/api/v1/system/probes`, { method: "POST", body: "x" });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" });
  });

  it("unknown API paths are JSON 404s, and every response carries a request id", async () => {
    const res = await fetch(`${base}/api/v1/nope`, { headers: { "x-request-id": "test-123" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("test-123");
    expect(((await res.json()) as { code: string }).code).toBe("NOT_FOUND");
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
      expect.arrayContaining(["/system/status", "/system/probes", "/system/probes/{id}"]),
    );
  });
});
