import { existsSync, readFileSync } from "node:fs";
import { type Server, STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Duplex } from "node:stream";
import { pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";
import express from "express";
import { createPrismaClient, type Db } from "#app/db/client.server.ts";
import { ensureEmbeddedPostgres } from "#app/db/embedded-postgres.server.ts";
import { migrate, pendingMigrations } from "#app/db/migrate.server.ts";
import type { Env } from "#app/env.server.ts";
import { type Logger, redactDatabaseUrl } from "#app/lib/logger.server.ts";
import { APP_VERSION } from "#app/lib/version.server.ts";
import { reencryptCredentials } from "#app/modules/ai/credentials.server.ts";
import {
  aiConfigFromEnv,
  createAiRuntime,
  keyringFromEnv,
  wantsDemoModel,
} from "#app/modules/ai/runtime.server.ts";
import { type AuthConfig, createAuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { createEventHub } from "#app/modules/runs/event-hub.server.ts";
import { createEventWriter } from "#app/modules/runs/events.server.ts";
import { detectSandbox } from "#app/modules/sandbox/index.server.ts";
import { loadOrCreateLocalSecrets } from "#app/platform/local-secrets.server.ts";
import { startMockLlm } from "#tests/mocks/llm/server.ts";
import { startWorker } from "#worker/index.ts";
import { createHttpApp } from "./http.server.ts";
import { createMetrics, metricsRoute } from "./metrics.server.ts";
import { parseOtlpHeaders, startTracing } from "./tracing.server.ts";

export type StartOptions = {
  env: Env;
  logger: Logger;
  /** Package root: where build/, prisma/ and public/ live. */
  rootDir: string;
  /** development = Vite middleware with hot reload; production = the built app. */
  mode: "development" | "production";
  /** Called when a part stops on its own (say, the worker is fenced off as dead); the process should exit. */
  onFatal?: (error: Error) => void;
};

export type RunningAgentry = {
  /** Base URL of the web process, when this process serves HTTP. */
  url?: string;
  databaseUrl: string;
  stop(reason?: string): Promise<void>;
};

/** Walk up from a file until the Agentry package.json: the bundle and the sources live at different depths. */
export function findPackageRoot(from: string): string {
  let dir = path.resolve(from);
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "agentry") return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Could not find the agentry package root above ${from}`);
    dir = parent;
  }
}

/**
 * Boot everything this process is configured to run, in order: database
 * (embedded when no DATABASE_URL), migrations, worker, web. Returns a stop()
 * that undoes it in reverse order and never throws.
 */
export async function startAgentry({
  env,
  logger,
  rootDir,
  mode,
  onFatal,
}: StartOptions): Promise<RunningAgentry> {
  const stack: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  let stopping: Promise<void> | undefined;
  const stopAll = async (reason = "shutdown") => {
    logger.info({ reason }, "stopping");
    while (stack.length > 0) {
      const item = stack.pop()!;
      try {
        await item.stop();
        logger.info(`${item.name} stopped`);
      } catch (error) {
        logger.error({ err: error }, `${item.name} did not stop cleanly`);
      }
    }
  };

  try {
    const databaseUrl =
      env.DATABASE_URL ??
      (await (async () => {
        const started = performance.now();
        const embedded = await ensureEmbeddedPostgres({ dataDir: env.dataDir, logger });
        stack.push({ name: "embedded PostgreSQL", stop: () => embedded.stop() });
        logger.info(
          { url: redactDatabaseUrl(embedded.url), ms: Math.round(performance.now() - started) },
          "embedded PostgreSQL ready",
        );
        return embedded.url;
      })());

    const migrationsDir = path.join(rootDir, "prisma", "migrations");
    if (env.AGENTRY_MIGRATE_ON_START) {
      const { applied } = await migrate({ connectionString: databaseUrl, migrationsDir, logger });
      if (applied.length > 0) logger.info({ applied }, "migrations applied");
    }

    const db: Db = createPrismaClient({ connectionString: databaseUrl, max: env.DATABASE_POOL_SIZE });
    stack.push({ name: "database pool", stop: () => db.$disconnect() });

    // The offline demo model: the project's mock provider, in-process on a loopback port, so a newcomer
    // without a provider key sees a full run. It is scripted, not an AI, and labelled so everywhere.
    let demoBaseUrl: string | null = null;
    if (wantsDemoModel(env, mode)) {
      const demo = await startMockLlm({ host: "127.0.0.1", port: 0, maxRecorded: 0 });
      stack.push({ name: "offline demo model", stop: () => demo.close() });
      demoBaseUrl = `${demo.url}/v1`;
      logger.info("offline demo model enabled (no AI provider configured): compat:demo/demo");
    }
    const keyring = await keyringFromEnv(env, logger);
    const ai = createAiRuntime({ db, logger, config: aiConfigFromEnv(env, { demoBaseUrl }), keyring });
    if (keyring.previous.length > 0 && env.AGENTRY_ROLE !== "web") {
      // A key rotation: re-encrypt stored credentials under the current key (rows already done are skipped).
      const count = await reencryptCredentials({ db, keyring, logger });
      if (count > 0) logger.info({ count }, "provider credentials re-encrypted with the current key");
    }

    // Commands (workflow `command` steps) run in bubblewrap; the app and its data are never mounted.
    const sandboxConfig = {
      allowUnsafe: env.AGENTRY_UNSAFE_NO_SANDBOX,
      protectedPaths: [rootDir, env.dataDir],
    };
    // What the pages and the API show (a web process probes the same config as its workers, once, on
    // first use; detectSandbox caches the probe per config, so an all-in-one process probes once).
    const sandboxStatus = () =>
      detectSandbox(sandboxConfig).catch((error: unknown) => {
        logger.warn({ err: error }, "could not detect the sandbox");
        return null;
      });

    // OpenTelemetry traces, when a collector is configured; flushed last (after everything that makes spans).
    const tracing = startTracing({
      endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
      serviceName: env.OTEL_SERVICE_NAME,
      serviceVersion: APP_VERSION,
      role: env.AGENTRY_ROLE,
      headers: parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS),
      logger,
    });
    if (tracing) stack.splice(0, 0, { name: "traces", stop: () => tracing.shutdown() });

    // Prometheus metrics of this process (and of the cluster, read from the database when scraped).
    const metrics = createMetrics({ db, logger });
    stack.push({ name: "metrics", stop: async () => metrics.close() });
    const metricsOption = { registry: metrics, token: env.METRICS_TOKEN ?? null };

    if (env.AGENTRY_ROLE !== "web") {
      // One batching writer for the events of every run this process executes; closed (flushed) after the
      // worker has stopped, so the last events of interrupted runs are written.
      const runEvents = createEventWriter({ db, logger: logger.child({ component: "run-events" }) });
      stack.push({ name: "run event writer", stop: () => runEvents.close() });
      const sandbox = await detectSandbox(sandboxConfig);
      if (sandbox.mode === "unsafe") {
        logger.warn({ reason: sandbox.reason }, "commands run WITHOUT a sandbox (AGENTRY_UNSAFE_NO_SANDBOX)");
      } else if (sandbox.mode === "unavailable") {
        logger.warn({ reason: sandbox.reason }, "no sandbox: workflow command steps will be refused");
      }
      const worker = await startWorker({
        sandbox: {
          config: sandboxConfig,
          workspacesDir: path.resolve(env.AGENTRY_WORKSPACES_DIR ?? path.join(env.dataDir, "workspaces")),
        },
        connectionString: databaseUrl,
        db,
        concurrency: env.WORKER_CONCURRENCY,
        heartbeatMs: env.WORKER_HEARTBEAT_MS,
        deadAfterMs: env.WORKER_DEAD_AFTER_MS,
        pollInterval: env.WORKER_POLL_INTERVAL_MS,
        logger: logger.child({ component: "worker" }),
        shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_SECONDS * 1000,
        ai,
        events: runEvents,
      });
      stack.push({ name: "worker", stop: () => worker.stop() });
      // A worker that ends by itself (fenced by the dead-worker sweep, lost its queue connection) leaves this
      // process unable to run jobs; better to exit and let the supervisor restart it than to idle silently.
      const fail = (error?: unknown) => {
        if (stopping) return;
        onFatal?.(error instanceof Error ? error : new Error("the worker stopped unexpectedly"));
      };
      worker.runner.promise.then(() => fail(), fail);
      if (env.AGENTRY_ROLE === "worker" && env.METRICS_PORT) {
        // A worker-only process has no web server: its own metrics (sandbox executions, Node) on a port of theirs.
        const metricsApp = express();
        metricsApp.disable("x-powered-by");
        metricsApp.get("/metrics", metricsRoute(metricsOption));
        const metricsServer = await listen(metricsApp, env.METRICS_PORT, env.HOST);
        stack.push({ name: "metrics server", stop: () => closeServer(metricsServer, 1_000) });
        logger.info({ port: env.METRICS_PORT }, "worker metrics on /metrics");
      }
    }

    let url: string | undefined;
    if (env.AGENTRY_ROLE !== "worker") {
      const remix = await loadRemix({ rootDir, mode, stack });
      const auth = createAuthRuntime({
        db,
        connectionString: databaseUrl,
        logger,
        config: await authConfigFrom(env, logger),
      });
      stack.push({ name: "auth", stop: () => auth.close() });
      // Run events: one LISTEN connection for this web process, fanned out to its SSE subscribers.
      const eventHub = createEventHub({
        connectionString: databaseUrl,
        logger: logger.child({ component: "run-events" }),
      });
      stack.push({ name: "run event hub", stop: () => eventHub.close() });
      const sseShutdown = new AbortController();
      const app = createHttpApp({
        db,
        logger,
        auth,
        ai,
        eventHub,
        shutdown: sseShutdown.signal,
        projects: {
          localImportRoot: env.AGENTRY_LOCAL_IMPORT_ROOT ?? null,
          limits: {
            maxArchiveBytes: env.IMPORT_MAX_ARCHIVE_MB * 1024 * 1024,
            maxFiles: env.IMPORT_MAX_FILES,
            maxFileBytes: env.IMPORT_MAX_FILE_KB * 1024,
          },
        },
        readiness: {
          db,
          pendingMigrations: () => pendingMigrations({ connectionString: databaseUrl, migrationsDir }),
        },
        remix,
        sandbox: sandboxStatus,
        metrics: metricsOption,
        tracing: tracing !== null,
      });
      const server = await listen(app, env.PORT, env.HOST);
      stack.push({
        name: "http server",
        stop: () => {
          // Open event streams end first (clients reconnect elsewhere with Last-Event-ID), or they would hold
          // the server open until the shutdown deadline.
          sseShutdown.abort();
          return closeServer(server, env.SHUTDOWN_TIMEOUT_SECONDS * 1000);
        },
      });
      const { port } = server.address() as AddressInfo;
      const shownHost = env.HOST === "0.0.0.0" || env.HOST === "127.0.0.1" ? "localhost" : env.HOST;
      url = `http://${shownHost}:${port}`;
      logger.info({ url, mode, role: env.AGENTRY_ROLE }, `Agentry is listening on ${url}`);
    }

    return { url, databaseUrl, stop: (reason) => (stopping ??= stopAll(reason)) };
  } catch (error) {
    stopping = stopAll("boot failed");
    await stopping;
    throw error;
  }
}

/** Auth settings from the environment; the JWT secret falls back to the one generated in AGENTRY_DATA_DIR. */
export async function authConfigFrom(env: Env, logger: Logger): Promise<AuthConfig> {
  let jwtSecret = env.JWT_SECRET;
  if (!jwtSecret) {
    jwtSecret = (await loadOrCreateLocalSecrets(env.dataDir)).jwtSecret;
    if (env.DATABASE_URL) {
      logger.warn(
        "JWT_SECRET is not set: using the secret generated in AGENTRY_DATA_DIR. Set JWT_SECRET when several web processes share this database, or sessions will not carry across them.",
      );
    }
  }
  return {
    jwtSecret,
    publicUrl: env.PUBLIC_URL ? new URL(env.PUBLIC_URL).origin : undefined,
    authPerMinute: env.RATE_LIMIT_AUTH_PER_MINUTE,
    apiPerMinute: env.RATE_LIMIT_API_PER_MINUTE,
    github:
      env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET
        ? {
            clientId: env.GITHUB_CLIENT_ID,
            clientSecret: env.GITHUB_CLIENT_SECRET,
            webBaseUrl: env.GITHUB_WEB_URL,
            apiBaseUrl: env.GITHUB_API_URL,
          }
        : undefined,
  };
}

async function loadRemix({
  rootDir,
  mode,
  stack,
}: {
  rootDir: string;
  mode: StartOptions["mode"];
  stack: Array<{ name: string; stop: () => Promise<unknown> }>;
}) {
  if (mode === "development") {
    const vite = await import("vite");
    const server = await vite.createServer({
      root: rootDir,
      server: { middlewareMode: true },
      appType: "custom",
    });
    stack.push({ name: "vite", stop: () => server.close() });
    return { mode, vite: server } as const;
  }
  const buildFile = path.join(rootDir, "build", "server", "index.js");
  if (!existsSync(buildFile)) {
    throw new Error(
      `No production build at ${buildFile}. Run \`npm run build\` first (npm start does it for you).`,
    );
  }
  const build = (await import(pathToFileURL(buildFile).href)) as ServerBuild;
  return { mode, build, clientDir: path.join(rootDir, "build", "client") } as const;
}

function listen(app: ReturnType<typeof createHttpApp>, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once("listening", () => resolve(server));
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        reject(new Error(`Port ${port} on ${host} is already in use. Set PORT to another port.`));
      } else reject(error);
    });
    server.on("clientError", answerClientError);
    // Slow clients must not hold a connection forever.
    server.headersTimeout = 30_000;
    server.requestTimeout = 0; // long-lived SSE responses are legitimate
    server.keepAliveTimeout = 5_000;
  });
}

/**
 * Requests Node refuses before Express sees them (headers over 16 KiB, malformed HTTP) get the API's JSON error
 * shape rather than a bare status line.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (socket as Duplex & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "The request's headers are too large (16 KiB at most)"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "REQUEST_TIMEOUT", "The request took too long to arrive"]
        : [400, "BAD_REQUEST", "Malformed HTTP request"];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Stop accepting, let in-flight requests finish, then cut what is left at the deadline. */
function closeServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => {
      server.closeAllConnections();
    }, timeoutMs);
    deadline.unref();
    server.close(() => {
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}
