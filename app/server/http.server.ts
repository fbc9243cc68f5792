import { randomUUID } from "node:crypto";
import path from "node:path";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import { createExpressMiddleware } from "@trpc/server/adapters/express";
import compression from "compression";
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from "express";
import { createOpenApiExpressMiddleware } from "trpc-to-openapi";
import type { Db } from "#app/db/client.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { quickTaskRoutes } from "#app/modules/ai/quick-task.http.server.ts";
import type { AiRuntime } from "#app/modules/ai/runtime.server.ts";
import { authenticateRequest, type Principal } from "#app/modules/auth/authenticate.server.ts";
import {
  type CookieContext,
  cookieContextFor,
  readSessionCookies,
} from "#app/modules/auth/cookies.server.ts";
import type { AuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { notificationRoutes } from "#app/modules/notifications/notifications.http.server.ts";
import type { ImportLimits } from "#app/modules/projects/import.server.ts";
import { projectZipRoutes } from "#app/modules/projects/zip.http.server.ts";
import type { EventHub } from "#app/modules/runs/event-hub.server.ts";
import { runEventRoutes } from "#app/modules/runs/events.http.server.ts";
import type { SandboxStatus } from "#app/modules/sandbox/index.server.ts";
import type { TrpcContext } from "#app/trpc/init.server.ts";
import { appRouter } from "#app/trpc/router.server.ts";
import { jsonError, restErrorShape } from "./api-errors.server.ts";
import { jsonBody } from "./json-body.server.ts";
import { type Metrics, metricsRoute } from "./metrics.server.ts";
import { openApiDocument } from "./openapi.server.ts";
import { checkReadiness, type ReadinessCheck } from "./readiness.server.ts";
import { tracingMiddleware } from "./tracing.server.ts";

declare module "@remix-run/node" {
  interface AppLoadContext {
    db: Db;
    logger: Logger;
    requestId: string;
    /** The signed-in caller, or null. Pages guard with requireUser(). */
    auth: Principal | null;
    runtime: AuthRuntime;
    ai: AiRuntime;
    client: { ip: string | null; userAgent: string | null; cookieContext: CookieContext; origin: string };
    /** How commands run on this server (null: unknown). Pages show its mode, never its raw reason. */
    sandbox: () => Promise<SandboxStatus | null>;
  }
}

export type HttpAppOptions = {
  db: Db;
  logger: Logger;
  auth: AuthRuntime;
  ai: AiRuntime;
  /** Run events: one LISTEN connection of this process, fanned out to SSE subscribers. Absent: no event routes. */
  eventHub?: EventHub;
  /** Aborted at shutdown: open event streams end (clients reconnect elsewhere with Last-Event-ID). */
  shutdown?: AbortSignal;
  /** Import limits and whether importing from a server-side folder is allowed (operator's choice). */
  projects?: { limits?: Partial<ImportLimits>; localImportRoot?: string | null };
  /** How /readyz decides: database reachable and no migration pending. */
  readiness: ReadinessCheck;
  /** How commands run on this server (detected once, cached). Absent: unknown (API-only tests). */
  sandbox?: () => Promise<SandboxStatus | null>;
  /** Prometheus metrics: recorded for every request; `GET /metrics` needs `Bearer <token>` (null token: off). */
  metrics?: { registry: Metrics; token: string | null };
  /** OpenTelemetry is on (startTracing registered a provider): a server span per request. */
  tracing?: boolean;
  /**
   * Production: the built Remix server and the folder of client assets.
   * Development: a Vite dev server in middleware mode.
   * Absent (API-only tests): only the API and health routes are served.
   */
  remix?:
    | { mode: "production"; build: ServerBuild; clientDir: string }
    | {
        mode: "development";
        vite: { middlewares: RequestHandler; ssrLoadModule(id: string): Promise<unknown> };
      };
};

function requestIdOf(req: Request): string {
  const given = req.header("x-request-id");
  // Accept a caller's id only when it is short and printable, so it cannot forge log lines.
  return given && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
}

/** The origin this server answers as: PUBLIC_URL when configured, else the request's own. */
function ownOrigin(req: Request, publicUrl: string | undefined): string {
  return publicUrl ? new URL(publicUrl).origin : `${req.protocol}://${req.get("host")}`;
}

/** JSON bodies: a file save carries up to 2 MB of text, plus JSON escaping. */
const MAX_JSON_BODY_BYTES = 3 * 1024 * 1024;

type Locals = { requestId: string; auth: Principal | null; status?: number };

/** Who is on the other end of the request, as procedures and loaders see it. */
function clientOf(req: Request) {
  return {
    ip: req.ip ?? null,
    userAgent: req.get("user-agent") ?? null,
    cookieContext: cookieContextFor({ protocol: req.protocol, host: req.get("host") }),
  };
}
const locals = (res: Response) => res.locals as Locals;

/** The Express app: health, auth, tRPC, REST (OpenAPI), then Remix for everything else. */
export function createHttpApp({
  db,
  logger,
  auth: runtime,
  ai,
  eventHub,
  shutdown,
  readiness,
  remix,
  projects = {},
  sandbox = async () => null,
  metrics,
  tracing = false,
}: HttpAppOptions) {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", "loopback");

  app.use((req, res, next) => {
    const requestId = requestIdOf(req);
    res.locals.requestId = requestId;
    res.setHeader("x-request-id", requestId);
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      metrics?.registry.observeHttp({
        method: req.method,
        path: req.originalUrl,
        status: res.statusCode,
        seconds: ms / 1000,
      });
      if (req.path === "/healthz" || req.path.startsWith("/assets/")) return;
      logger.info(
        {
          requestId,
          method: req.method,
          path: req.originalUrl.split("?")[0],
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
          userId: locals(res).auth?.userId,
        },
        "request",
      );
    });
    next();
  });

  if (tracing) app.use(tracingMiddleware());

  // Event streams must not be buffered by compression (later issues add SSE).
  app.use(
    compression({
      filter: (req, res) =>
        !String(res.getHeader("Content-Type") ?? "").includes("text/event-stream") &&
        compression.filter(req, res),
    }),
  );

  app.get("/healthz", (_req, res) => {
    res.setHeader("Cache-Control", "no-store");
    res.json({ ok: true });
  });

  app.get("/metrics", metricsRoute(metrics));

  app.get("/readyz", async (_req, res) => {
    const result = await checkReadiness(readiness);
    res.setHeader("Cache-Control", "no-store");
    res.status(result.ok ? 200 : 503).json(result);
  });

  if (remix?.mode === "production") {
    // Fingerprinted assets can be cached forever; everything else briefly. Served before auth: no cookies needed.
    app.use(
      "/assets",
      express.static(path.join(remix.clientDir, "assets"), { immutable: true, maxAge: "1y", index: false }),
    );
    app.use(express.static(remix.clientDir, { maxAge: "1h", index: false }));
  }

  // Cross-site request forgery: a state-changing request from another origin is refused, whatever it carries.
  app.use((req, res, next) => {
    if (["GET", "HEAD", "OPTIONS"].includes(req.method)) return next();
    const origin = req.get("origin");
    if (origin && origin !== ownOrigin(req, runtime.publicUrl)) {
      logger.warn({ requestId: locals(res).requestId, origin, path: req.path }, "foreign origin refused");
      jsonError(res, 403, "FORBIDDEN", `Requests from ${origin} are not allowed`);
      return;
    }
    next();
  });

  // Who is calling: API key or JWT in Authorization, else the session cookies (refreshed transparently).
  app.use(async (req, res, next) => {
    try {
      const outcome = await authenticateRequest(
        { ...clientOf(req), authorization: req.get("authorization"), cookieHeader: req.get("cookie") },
        runtime,
        logger,
      );
      for (const cookie of outcome.setCookies) res.append("Set-Cookie", cookie);
      locals(res).auth = outcome.principal;
      if (outcome.error && req.path.startsWith("/api/")) {
        res.setHeader("WWW-Authenticate", 'Bearer realm="agentry"');
        jsonError(res, 401, "UNAUTHORIZED", outcome.error.message);
        return;
      }
      next();
    } catch (error) {
      next(error);
    }
  });

  const createContext = ({ req, res }: { req: Request; res: Response }): TrpcContext => ({
    db,
    logger,
    requestId: locals(res).requestId,
    auth: locals(res).auth ?? null,
    runtime,
    ai,
    client: { ...clientOf(req), refreshCookie: readSessionCookies(req.get("cookie")).refreshToken ?? null },
    response: {
      setCookies: (values) => {
        for (const value of values) res.append("Set-Cookie", value);
      },
      setHeader: (name, value) => res.setHeader(name, value),
      setStatus: (status) => {
        locals(res).status = status;
      },
      successStatus: () => locals(res).status,
    },
    sandbox,
  });

  app.use(
    "/api/trpc",
    createExpressMiddleware({
      router: appRouter,
      createContext,
      maxBodySize: MAX_JSON_BODY_BYTES,
    }),
  );

  app.get("/api/openapi.json", (_req, res) => {
    res.setHeader("Cache-Control", "no-cache");
    res.json(openApiDocument());
  });

  app.use(projectZipRoutes({ db, logger, runtime, ...projects }));
  app.use(quickTaskRoutes({ db, logger, ai, runtime }));
  if (eventHub) {
    app.use(runEventRoutes({ db, hub: eventHub, runtime, logger, shutdown }));
    app.use(notificationRoutes({ db, hub: eventHub, runtime, logger, shutdown }));
  }

  app.use(
    "/api/v1",
    ...jsonBody({ limitBytes: MAX_JSON_BODY_BYTES }),
    restErrorShape,
    createOpenApiExpressMiddleware({
      router: appRouter,
      createContext,
      maxBodySize: MAX_JSON_BODY_BYTES,
      // A procedure may ask for 201; errors keep the status of their code.
      responseMeta: ({ ctx, errors }: { ctx?: TrpcContext; errors: unknown[] }) => {
        const status = ctx?.response.successStatus();
        return errors.length === 0 && status ? { status } : {};
      },
    } as Parameters<typeof createOpenApiExpressMiddleware>[0]),
  );

  // Unknown API paths are a JSON 404, not the HTML page of the app.
  app.use("/api", (req, res) => {
    jsonError(res, 404, "NOT_FOUND", `No API route for ${req.method} ${req.originalUrl.split("?")[0]}`);
  });

  const getLoadContext = (req: Request, res: Response) => ({
    db,
    logger,
    requestId: locals(res).requestId,
    auth: locals(res).auth ?? null,
    runtime,
    ai,
    client: { ...clientOf(req), origin: ownOrigin(req, runtime.publicUrl) },
    sandbox,
  });

  if (!remix) {
    // API-only process: nothing else to serve.
  } else if (remix.mode === "production") {
    app.all("*", createRequestHandler({ build: remix.build, getLoadContext }));
  } else {
    const { vite } = remix;
    app.use(vite.middlewares);
    app.all("*", async (req, res, next) => {
      try {
        const build = (await vite.ssrLoadModule("virtual:remix/server-build")) as ServerBuild;
        return createRequestHandler({ build, getLoadContext })(req, res, next);
      } catch (error) {
        next(error);
      }
    });
  }

  const onError: ErrorRequestHandler = (error, req, res, _next) => {
    const requestId = locals(res).requestId;
    const status =
      typeof error?.status === "number" && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status >= 500) logger.error({ err: error, requestId, path: req.path }, "unhandled error");
    else logger.warn({ requestId, path: req.path, status }, String(error?.message ?? "bad request"));
    if (res.headersSent) return;
    if (status >= 500)
      jsonError(res, 500, "INTERNAL_SERVER_ERROR", `Internal server error (request ${requestId})`);
    else jsonError(res, status, "BAD_REQUEST", String(error?.message ?? "Bad request"));
  };
  app.use(onError);

  return app;
}
