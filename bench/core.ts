/**
 * The `core` suite: passwords, login, authenticated API calls, the queue round trip and zip import, on a
 * real PostgreSQL and real HTTP.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { strToU8, zipSync } from "fflate";
import { createPrismaClient } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { hashPassword, verifyPassword } from "#app/modules/auth/password.server.ts";
import { createAuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { importZip } from "#app/modules/projects/import.server.ts";
import { createProject } from "#app/modules/projects/projects.server.ts";
import { createWorkerProbe, getWorkerProbe } from "#app/modules/system/worker-probe.server.ts";
import { createHttpApp } from "#app/server/http.server.ts";
import { createTestAiRuntime } from "#tests/setup/ai.ts";
import { startWorker } from "#worker/index.ts";
import { measure, results } from "./lib.ts";

const logger = createLogger({ level: "silent" });

export async function runCore(url: string): Promise<void> {
  const db = createPrismaClient({ connectionString: url, max: 10 });
  const runtime = createAuthRuntime({
    db,
    connectionString: url,
    logger,
    config: {
      jwtSecret: "bench-secret-that-is-long-enough-0123456789",
      authPerMinute: 1e6,
      apiPerMinute: 1e6,
    },
  });
  const app = createHttpApp({
    db,
    logger,
    auth: runtime,
    ai: createTestAiRuntime(db),
    readiness: { db, pendingMigrations: async () => [] },
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const worker = await startWorker({ connectionString: url, db, logger, concurrency: 4 });

  // Passwords: the cost every sign-up and login pays (argon2id m=19456 KiB, t=2, p=1).
  const hashed = await hashPassword("correct horse battery staple");
  await measure("core", "argon2id hash", 20, async () => {
    await hashPassword("correct horse battery staple");
  });
  await measure("core", "argon2id verify", 20, async () => {
    await verifyPassword(hashed, "correct horse battery staple");
  });

  // HTTP: login end to end (rate limit, argon2, session row, JWT, cookies).
  const post = (p: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${p}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const email = "bench@example.com";
  const password = "correct horse battery staple";
  const signup = await post("/api/v1/auth/signup", { email, password, name: "Bench" });
  const { accessToken } = (await signup.json()) as { accessToken: string };
  await measure("core", "POST /api/v1/auth/login", 50, async () => {
    const res = await post("/api/v1/auth/login", { email, password });
    if (res.status !== 200) throw new Error(`login ${res.status}`);
    await res.arrayBuffer();
  });
  await measure("core", "POST /api/v1/auth/login (unknown email)", 50, async () => {
    const res = await post("/api/v1/auth/login", { email: "nobody@example.com", password });
    await res.arrayBuffer();
  });

  // Authenticated reads: what every API call pays for its credential.
  const created = await post(
    "/api/v1/api-keys",
    { name: "bench", scopes: ["keys:manage"] },
    {
      authorization: `Bearer ${accessToken}`,
    },
  );
  const { key } = (await created.json()) as { key: string };
  await measure("core", "GET /api/v1/me (JWT)", 200, async () => {
    const res = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    await res.arrayBuffer();
  });
  await measure("core", "GET /api/v1/me (API key)", 200, async () => {
    const res = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    await res.arrayBuffer();
  });
  await measure("core", "GET /healthz (no auth, baseline)", 200, async () => {
    const res = await fetch(`${base}/healthz`);
    await res.arrayBuffer();
  });

  // Queue: a job committed with its row, picked up and finished by the worker.
  await measure(
    "core",
    "queue round trip (enqueue → done)",
    50,
    async () => {
      const probe = await createWorkerProbe(db);
      for (;;) {
        const state = await getWorkerProbe({ id: probe.id }, db);
        if (state.status === "completed") return;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    },
    "includes 1 ms polling granularity",
  );

  // Import: a zip of small source files into a fresh project each time (inflate, classify, batched writes).
  const benchUser = await db.user.findUniqueOrThrow({ where: { email }, select: { id: true } });
  for (const count of [2_000, 5_000]) {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < count; i += 1) {
      files[`repo-main/src/m${Math.floor(i / 100)}/file${i}.ts`] = strToU8(
        `// file ${i}\nexport function f${i}(x: number): number {\n  return x * ${i};\n}\n`,
      );
    }
    const zip = zipSync(files);
    await measure(
      "core",
      `importZip ${count.toLocaleString("en")} files`,
      3,
      async () => {
        const project = await createProject({ userId: benchUser.id, name: `bench ${count}` }, { db });
        const result = await importZip({ userId: benchUser.id, projectId: project.id, data: zip }, { db });
        if (result.created !== count) throw new Error(`imported ${result.created} of ${count}`);
      },
      `${Math.round(zip.byteLength / 1024)} KB zip; includes creating the project`,
    );
  }

  await worker.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await runtime.close();
  await db.$disconnect();

  const jwt = results.find((r) => r.scenario === "GET /api/v1/me (JWT)")!;
  const baseline = results.find((r) => r.scenario.startsWith("GET /healthz"))!;
  console.info(`auth overhead per API call (JWT p50 / healthz p50): ${(jwt.p50 / baseline.p50).toFixed(2)}×`);
}
