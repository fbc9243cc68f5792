/**
 * Optional OpenTelemetry traces, on when OTEL_EXPORTER_OTLP_ENDPOINT is set: spans go to that collector over
 * OTLP/HTTP (JSON), batched. The code is instrumented through `@opentelemetry/api` only (a no-op until a
 * provider is registered, so tracing costs nothing when off):
 *
 * - one SERVER span per HTTP request (`GET /api/v1/runs/:id`), continuing a caller's W3C `traceparent`;
 * - one span per workflow run execution, per AI call (model, tokens, cost) and per sandboxed command.
 *
 * Spans carry route patterns, ids and counts, never bodies, prompts or secrets. No auto-instrumentation (it
 * needs loader hooks in ESM and wraps every library): the spans above are where time goes in Agentry.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { RequestHandler } from "express";
import type { Logger } from "#app/lib/logger.server.ts";
import { TRACER_NAME } from "#app/lib/trace.server.ts";
import { routePattern } from "./metrics.server.ts";

export type Tracing = {
  /** Send what is buffered and stop (at shutdown). */
  shutdown(): Promise<void>;
  /** Send what is buffered now (tests). */
  flush(): Promise<void>;
};

/** `k1=v1,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS) → headers. */
export function parseOtlpHeaders(raw: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (raw ?? "").split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    headers[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim());
  }
  return headers;
}

/**
 * Register the global tracer provider, exporting to `endpoint` (the collector's base URL; `/v1/traces` is
 * appended unless the URL already ends with it). Returns null when no endpoint is configured.
 */
export function startTracing({
  endpoint,
  serviceName = "agentry",
  serviceVersion,
  role,
  headers = {},
  logger,
}: {
  endpoint: string | undefined;
  serviceName?: string;
  serviceVersion?: string;
  role?: string;
  headers?: Record<string, string>;
  logger: Logger;
}): Tracing | null {
  if (!endpoint) return null;
  const url = endpoint.replace(/\/+$/, "").endsWith("/v1/traces")
    ? endpoint
    : `${endpoint.replace(/\/+$/, "")}/v1/traces`;
  const exporter = new OTLPTraceExporter({ url, headers, timeoutMillis: 10_000 });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      "service.name": serviceName,
      ...(serviceVersion ? { "service.version": serviceVersion } : {}),
      ...(role ? { "agentry.role": role } : {}),
    }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1_000 })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  logger.info({ endpoint: new URL(url).origin }, "OpenTelemetry traces on");
  return {
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      await provider
        .shutdown()
        .catch((error: unknown) => logger.warn({ err: error }, "traces: shutdown failed"));
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The HTTP server span of every request (health checks and assets excepted), in whose context the rest runs. */
export function tracingMiddleware(): RequestHandler {
  return (req, res, next) => {
    if (req.path === "/healthz" || req.path.startsWith("/assets/")) return next();
    const tracer = trace.getTracer(TRACER_NAME);
    const parent = propagation.extract(context.active(), req.headers);
    const route = routePattern(req.originalUrl);
    const span = tracer.startSpan(
      `${req.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": req.method, "http.route": route, "url.path": route },
      },
      parent,
    );
    res.on("finish", () => {
      span.setAttribute("http.response.status_code", res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    res.on("close", () => {
      if (!res.writableFinished) {
        span.setAttribute("http.aborted", true);
        span.end();
      }
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
