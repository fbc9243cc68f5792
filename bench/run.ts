/**
 * `npm run bench`: performance scenarios on this machine, against a real PostgreSQL and real HTTP.
 * Prints a table of medians and writes bench/results.json. Uses TEST_DATABASE_URL / DATABASE_URL when set,
 * else an embedded PostgreSQL in .data/bench. Every scenario runs a bounded number of iterations.
 */
import { writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { strToU8, zipSync } from "fflate";
import { createPrismaClient } from "#app/db/client.server.ts";
import { ensureEmbeddedPostgres } from "#app/db/embedded-postgres.server.ts";
import { migrate } from "#app/db/migrate.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { hashPassword, verifyPassword } from "#app/modules/auth/password.server.ts";
import { createAuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { importZip } from "#app/modules/projects/import.server.ts";
import { createProject } from "#app/modules/projects/projects.server.ts";
import { createWorkerProbe, getWorkerProbe } from "#app/modules/system/worker-probe.server.ts";
import { createHttpApp } from "#app/server/http.server.ts";
import { createDatabase, dropDatabase } from "#tests/setup/database-server.ts";
import { startWorker } from "#worker/index.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const logger = createLogger({ level: "silent" });

type Result = { scenario: string; n: number; p50: number; p95: number; unit: string; note?: string };
const results: Result[] = [];

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function measure(scenario: string, n: number, run: (i: number) => Promise<void>, note?: string) {
  await run(-1); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const started = performance.now();
    await run(i);
    samples.push(performance.now() - started);
  }
  const result = {
    scenario,
    n,
    p50: Math.round(quantile(samples, 0.5) * 100) / 100,
    p95: Math.round(quantile(samples, 0.95) * 100) / 100,
    unit: "ms",
    note,
  };
  results.push(result);
  console.info(
    `${scenario.padEnd(44)} p50 ${String(result.p50).padStart(8)} ms   p95 ${String(result.p95).padStart(8)} ms`,
  );
}

const given = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
const embedded = given
  ? undefined
  : await ensureEmbeddedPostgres({ dataDir: path.join(root, ".data/bench"), logger });
const serverUrl = given ?? embedded!.url;
const name = `agentry_bench_${Date.now().toString(36)}`;
const { url } = await createDatabase(serverUrl, name);

try {
  await migrate({ connectionString: url, migrationsDir: path.join(root, "prisma/migrations") });
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
    readiness: { db, pendingMigrations: async () => [] },
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const worker = await startWorker({ connectionString: url, db, logger, concurrency: 4 });

  // Passwords: the cost every sign-up and login pays (argon2id m=19456 KiB, t=2, p=1).
  const hashed = await hashPassword("correct horse battery staple");
  await measure("argon2id hash", 20, async () => {
    await hashPassword("correct horse battery staple");
  });
  await measure("argon2id verify", 20, async () => {
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
  await measure("POST /api/v1/auth/login", 50, async () => {
    const res = await post("/api/v1/auth/login", { email, password });
    if (res.status !== 200) throw new Error(`login ${res.status}`);
    await res.arrayBuffer();
  });
  await measure("POST /api/v1/auth/login (unknown email)", 50, async () => {
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
  await measure("GET /api/v1/me (JWT)", 200, async () => {
    const res = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    await res.arrayBuffer();
  });
  await measure("GET /api/v1/me (API key)", 200, async () => {
    const res = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    await res.arrayBuffer();
  });
  await measure("GET /healthz (no auth, baseline)", 200, async () => {
    const res = await fetch(`${base}/healthz`);
    await res.arrayBuffer();
  });

  // Queue: a job committed with its row, picked up and finished by the worker.
  await measure(
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
} finally {
  await dropDatabase(serverUrl, name);
  await embedded?.stop();
}

const jwt = results.find((r) => r.scenario === "GET /api/v1/me (JWT)")!;
const baseline = results.find((r) => r.scenario.startsWith("GET /healthz"))!;
console.info(`\nauth overhead per API call (JWT p50 / healthz p50): ${(jwt.p50 / baseline.p50).toFixed(2)}×`);
writeFileSync(
  path.join(root, "bench/results.json"),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
);
console.info("wrote bench/results.json");
