/**
 * Spans around the work that takes time (runs, AI calls, sandboxed commands), through `@opentelemetry/api`
 * only: a no-op unless app/server/tracing.server.ts registered a provider (OTEL_EXPORTER_OTLP_ENDPOINT).
 */
import { type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import { scrubSecrets } from "./logger.server.ts";

export const TRACER_NAME = "agentry";

/**
 * Run `fn` inside a span named `name` (an INTERNAL span, a child of the active one); errors mark the span
 * and are rethrown. Free when tracing is off.
 */
export async function inSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      // Messages may quote what a provider said back: scrubbed like log lines.
      const message = scrubSecrets(error instanceof Error ? error.message : String(error));
      span.recordException({ name: error instanceof Error ? error.name : "Error", message });
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * A span from now until `settled` settles (for work that is not one async function, e.g. a stream the caller
 * iterates): `attributesOf` adds attributes from the value; a rejection marks the span.
 */
export function spanUntil<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  settled: Promise<T>,
  attributesOf?: (value: T) => Record<string, string | number | boolean>,
): void {
  const span = trace.getTracer(TRACER_NAME).startSpan(name, { attributes });
  if (!span.isRecording()) return;
  settled.then(
    (value) => {
      if (attributesOf) span.setAttributes(attributesOf(value));
      span.end();
    },
    (error: unknown) => {
      const message = scrubSecrets(error instanceof Error ? error.message : String(error));
      span.recordException({ name: error instanceof Error ? error.name : "Error", message });
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      span.end();
    },
  );
}
