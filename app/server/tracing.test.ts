import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "#app/lib/logger.server.ts";
import { inSpan } from "#app/lib/trace.server.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { startTestServer, type TestServer } from "#tests/setup/http-server.ts";
import { parseOtlpHeaders, startTracing, type Tracing } from "./tracing.server.ts";

const _database = setupTestDatabase();
const logger = createLogger({ level: "silent" });

type OtlpSpan = {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
};

/** A collector at the network edge: OTLP/HTTP JSON, what it received, and the headers it was sent. */
let collector: Server;
const received: Array<{
  path: string;
  headers: Record<string, unknown>;
  spans: OtlpSpan[];
  service?: string;
}> = [];
let server: TestServer;
let base: string;
let tracing: Tracing | null;

beforeAll(async () => {
  collector = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const json = JSON.parse(body) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
          scopeSpans: Array<{ spans: OtlpSpan[] }>;
        }>;
      };
      for (const rs of json.resourceSpans) {
        received.push({
          path: req.url ?? "",
          headers: req.headers,
          service: rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue,
          spans: rs.scopeSpans.flatMap((s) => s.spans),
        });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  tracing = startTracing({
    endpoint,
    serviceName: "agentry-test",
    headers: parseOtlpHeaders("x-vendor-key=abc%3D123, x-team = core"),
    logger,
  });
  server = await startTestServer({}, {}, { http: { tracing: true } });
  base = server.base;
});

afterAll(async () => {
  await tracing?.shutdown();
  await server?.close();
  await new Promise((resolve) => collector?.close(resolve));
});

const allSpans = () => received.flatMap((r) => r.spans);

describe("OpenTelemetry traces", () => {
  it("parses OTEL_EXPORTER_OTLP_HEADERS", () => {
    expect(parseOtlpHeaders("a=1,b = x%20y,,bad")).toEqual({ a: "1", b: "x y" });
    expect(parseOtlpHeaders(undefined)).toEqual({});
  });

  it("sends a server span per request that continues the caller's traceparent, with route patterns only", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await fetch(`${base}/api/v1/runs/0192f7a1-3b4c-7d8e-9f00-123456789abc?secret=no`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.status).toBe(401);
    await fetch(`${base}/healthz`);
    await tracing?.flush();
    await vi.waitFor(() => expect(allSpans().some((s) => s.traceId === traceId)).toBe(true));
    const span = allSpans().find((s) => s.traceId === traceId)!;
    expect(span.name).toBe("GET /api/v1/runs/:id");
    expect(span.parentSpanId).toBe("00f067aa0ba902b7");
    expect(span.kind).toBe(2); // SERVER
    const attributes = Object.fromEntries(span.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
    expect(attributes).toMatchObject({ "http.route": "/api/v1/runs/:id", "http.response.status_code": 401 });
    expect(JSON.stringify(span)).not.toContain("secret=no");
    // Health checks make no spans; the collector got our service name and headers, at /v1/traces.
    expect(allSpans().some((s) => s.name.includes("/healthz"))).toBe(false);
    expect(received[0]).toMatchObject({
      path: "/v1/traces",
      service: "agentry-test",
      headers: { "x-vendor-key": "abc=123", "x-team": "core" },
    });
  });

  it("nests work spans, and an error marks its span with a scrubbed message", async () => {
    await expect(
      inSpan("run.execute", { "agentry.run_id": "r1" }, async () => {
        await inSpan("sandbox.exec", {}, async () => undefined);
        await inSpan("ai.call", {}, async () => {
          throw new Error("provider said: bad key sk-proj-AAAAAAAAAAAAAAAAAAAAAAAA");
        });
      }),
    ).rejects.toThrow("provider said");
    await tracing?.flush();
    await vi.waitFor(() => expect(allSpans().some((s) => s.name === "run.execute")).toBe(true));
    const run = allSpans().find((s) => s.name === "run.execute")!;
    const children = allSpans().filter((s) => s.parentSpanId === run.spanId);
    expect(children.map((s) => s.name).sort()).toEqual(["ai.call", "sandbox.exec"]);
    expect(children.every((s) => s.traceId === run.traceId)).toBe(true);
    const failed = JSON.stringify(children.find((s) => s.name === "ai.call"));
    expect(failed).toContain("provider said: bad key sk-[redacted]");
    expect(failed).not.toContain("sk-proj-AAAA");
  });
});
