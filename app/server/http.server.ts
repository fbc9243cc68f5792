import { randomUUID } from "node:crypto";
import path from "node:path";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import { createExpressMiddleware } from "@trpc/server/adapters/express";
import compression from "compression";
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from "express";
import { createOpenApiExpressMiddleware, generateOpenApiDocument } from "trpc-to-openapi";
import type { Db } from "#app/db/client.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { APP_VERSION } from "#app/lib/version.server.ts";
import type { TrpcContext } from "#app/trpc/init.server.ts";
import { appRouter } from "#app/trpc/router.server.ts";
import { checkReadiness, type ReadinessCheck } from "./readiness.server.ts";

declare module "@remix-run/node" {
  interface AppLoadContext {
    db: Db;
    logger: Logger;
    requestId: string;
  }
}

export type HttpAppOptions = {
  db: Db;
  logger: Logger;
  /** How /readyz decides: database reachable and no migration pending. */
  readiness: ReadinessCheck;
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

/** The Express app: health, tRPC, REST (OpenAPI), then Remix for everything else. */
export function createHttpApp({ db, logger, readiness, remix }: HttpAppOptions) {
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
      if (req.path === "/healthz" || req.path.startsWith("/assets/")) return;
      logger.info(
        {
          requestId,
          method: req.method,
          path: req.originalUrl.split("?")[0],
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
        },
        "request",
      );
    });
    next();
  });

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

  app.get("/readyz", async (_req, res) => {
    const result = await checkReadiness(readiness);
    res.setHeader("Cache-Control", "no-store");
    res.status(result.ok ? 200 : 503).json(result);
  });

  const createContext = ({ res }: { req: Request; res: express.Response }): TrpcContext => ({
    db,
    logger,
    requestId: String(res.locals.requestId),
  });

  app.use(
    "/api/trpc",
    createExpressMiddleware({
      router: appRouter,
      createContext,
      maxBodySize: 1024 * 1024,
    }),
  );

  let openApiDocument: ReturnType<typeof generateOpenApiDocument> | undefined;
  app.get("/api/openapi.json", (_req, res) => {
    openApiDocument ??= generateOpenApiDocument(appRouter, {
      title: "Agentry API",
      version: APP_VERSION,
      baseUrl: "/api/v1",
      description: "REST API of Agentry. Every operation is also available through the typed tRPC client.",
    });
    res.json(openApiDocument);
  });

  app.use(
    "/api/v1",
    createOpenApiExpressMiddleware({
      router: appRouter,
      createContext,
      maxBodySize: 1024 * 1024,
    } as Parameters<typeof createOpenApiExpressMiddleware>[0]),
  );

  // Unknown API paths are a JSON 404, not the HTML page of the app.
  app.use("/api", (req, res) => {
    res.status(404).json({ message: `No API route for ${req.method} ${req.originalUrl}`, code: "NOT_FOUND" });
  });

  const getLoadContext = (_req: Request, res: express.Response) => ({
    db,
    logger,
    requestId: String(res.locals.requestId),
  });

  if (!remix) {
    // API-only process: nothing else to serve.
  } else if (remix.mode === "production") {
    // Fingerprinted assets can be cached forever; everything else briefly.
    app.use(
      "/assets",
      express.static(path.join(remix.clientDir, "assets"), { immutable: true, maxAge: "1y", index: false }),
    );
    app.use(express.static(remix.clientDir, { maxAge: "1h", index: false }));
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
    const requestId = String(res.locals.requestId);
    const status =
      typeof error?.status === "number" && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status >= 500) logger.error({ err: error, requestId, path: req.path }, "unhandled error");
    else logger.warn({ requestId, path: req.path, status }, String(error?.message ?? "bad request"));
    if (res.headersSent) return;
    res.status(status).json({
      message: status >= 500 ? "Internal server error" : String(error?.message ?? "Bad request"),
      code: status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST",
      requestId,
    });
  };
  app.use(onError);

  return app;
}
