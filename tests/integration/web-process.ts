/**
 * A web process for integration tests that spawn real processes: the production HTTP app (createHttpApp
 * with authentication, the AI runtime, the run event hub and its SSE routes, tRPC and REST) wired exactly as
 * `server.ts --role web` wires it (app/server/start.server.ts), minus the Remix pages, which need
 * `npm run build` (vitest runs before the build in CI). Configured by the same environment variables,
 * validated by loadEnv.
 *
 *   node --import tsx tests/integration/web-process.ts      (PORT=0 picks a free port)
 *
 * Prints one JSON log line `{"msg":"listening","url":…}` when it accepts requests; SIGTERM/SIGINT stop it.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createPrismaClient } from "#app/db/client.server.ts";
import { loadEnv } from "#app/env.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { aiConfigFromEnv, createAiRuntime, keyringFromEnv } from "#app/modules/ai/runtime.server.ts";
import { createAuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { createEventHub } from "#app/modules/runs/event-hub.server.ts";
import { createHttpApp } from "#app/server/http.server.ts";
import { authConfigFrom } from "#app/server/start.server.ts";

const env = loadEnv();
const logger = createLogger({ level: env.LOG_LEVEL, name: "agentry-web" });
const connectionString = env.DATABASE_URL;
if (!connectionString) {
  logger.fatal("DATABASE_URL is required (this test entry never starts an embedded PostgreSQL)");
  process.exit(2);
}

const db = createPrismaClient({ connectionString, max: env.DATABASE_POOL_SIZE });
const keyring = await keyringFromEnv(env, logger);
const ai = createAiRuntime({ db, logger, config: aiConfigFromEnv(env, { demoBaseUrl: null }), keyring });
const auth = createAuthRuntime({
  db,
  connectionString,
  logger,
  config: await authConfigFrom(env, logger),
});
const eventHub = createEventHub({ connectionString, logger: logger.child({ component: "run-events" }) });
const sseShutdown = new AbortController();
const app = createHttpApp({
  db,
  logger,
  auth,
  ai,
  eventHub,
  shutdown: sseShutdown.signal,
  readiness: { db, pendingMigrations: async () => [] },
});

const server = await new Promise<Server>((resolve, reject) => {
  const s = app.listen(env.PORT, env.HOST);
  s.once("listening", () => resolve(s));
  s.once("error", reject);
});
// As start.server.ts: long-lived SSE responses are legitimate.
server.requestTimeout = 0;
server.keepAliveTimeout = 5_000;
await eventHub.ready();
const { port } = server.address() as AddressInfo;
logger.info({ url: `http://127.0.0.1:${port}` }, "listening");

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  sseShutdown.abort();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await eventHub.close();
  await auth.close();
  await db.$disconnect();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
