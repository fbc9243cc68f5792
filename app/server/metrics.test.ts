import { chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "#app/lib/logger.server.ts";
import { runInSandbox } from "#app/modules/sandbox/index.server.ts";
import { createProject, createRun, createUser, createWorkflow } from "#tests/factories/index.ts";
import { tempDirs } from "#tests/sandbox/helpers.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { startTestServer, type TestServer } from "#tests/setup/http-server.ts";
import { createMetrics, type Metrics, routePattern } from "./metrics.server.ts";

const database = setupTestDatabase();
const tempDir = tempDirs();
const TOKEN = "metrics-token-0123456789abcdef";
const logger = createLogger({ level: "silent" });

let metrics: Metrics;
let server: TestServer;
let base: string;

beforeAll(async () => {
  // The cluster metrics read `database` (where the tests write runs and AI calls); the server, with a
  // database of its own, feeds the same registry its HTTP metrics.
  metrics = createMetrics({ db: database.db, logger });
  server = await startTestServer({}, {}, { http: { metrics: { registry: metrics, token: TOKEN } } });
  base = server.base;
});

afterAll(async () => {
  metrics?.close();
  await server?.close();
});

const scrape = (token?: string) =>
  fetch(`${base}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.lastIndexOf("}"));
    if (wanted.every((pair) => inside.split(",").includes(pair))) return Number(line.split(" ").at(-1));
  }
  return undefined;
}

describe("routePattern", () => {
  it("folds ids, numbers and odd segments into placeholders", () => {
    expect(routePattern("/api/v1/runs/0192f7a1-3b4c-7d8e-9f00-123456789abc/events")).toBe(
      "/api/v1/runs/:id/events",
    );
    expect(routePattern("/api/v1/workflows/0192f7a1-3b4c-7d8e-9f00-123456789abc/versions/12")).toBe(
      "/api/v1/workflows/:id/versions/:n",
    );
    expect(routePattern("/projects/x%20y/files?path=a")).toBe("/projects/:x/files");
    expect(routePattern("/assets/entry.client-ABC123.js")).toBe("/assets/*");
    expect(routePattern("/")).toBe("/");
  });
});

describe("GET /metrics", () => {
  it("needs the token: 401 without or with a wrong one, never the numbers", async () => {
    const none = await scrape();
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(await none.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    const wrong = await scrape("metrics-token-0123456789abcdeX");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain("agentry_");
  });

  it("is off (404) when no token is configured", async () => {
    const off = await startTestServer();
    try {
      const res = await fetch(`${off.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(404);
    } finally {
      await off.close();
    }
  });

  it("reports HTTP latency by route pattern, runs, the queue, AI usage and sandbox executions", async () => {
    // Traffic: a known route with an id, and a 404.
    await fetch(`${base}/api/v1/runs/0192f7a1-3b4c-7d8e-9f00-123456789abc`);
    await fetch(`${base}/no/such/page/${Math.random()}`);
    // The cluster: a queued run and two AI calls of one model.
    const user = await createUser(database.db);
    const project = await createProject(database.db, { userId: user.id });
    const { workflow, version } = await createWorkflow(database.db, {
      userId: user.id,
      projectId: project.id,
    });
    await createRun(database.db, {
      userId: user.id,
      projectId: project.id,
      workflowId: workflow.id,
      workflowVersionId: version.id,
      status: "queued",
    });
    for (const latencyMs of [100, 300]) {
      await database.db.aiCall.create({
        data: {
          userId: user.id,
          provider: "openai",
          model: "gpt-metrics-test",
          promptHash: "x",
          tokensIn: 1000,
          tokensOut: 50,
          costMicros: 2_500n,
          latencyMs,
          ttftMs: 40,
        },
      });
    }
    // One sandboxed command in this process.
    const parent = tempDir();
    chmodSync(parent, 0o700);
    const workspace = path.join(parent, "ws");
    mkdirSync(workspace);
    const ran = await runInSandbox({ command: "exit 3", workspace });
    expect(ran.exitCode).toBe(3);

    const res = await scrape(TOKEN);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();

    expect(
      sample(text, "agentry_http_request_duration_seconds_count", {
        route: "/api/v1/runs/:id",
        method: "GET",
        status: "4xx",
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, "agentry_http_request_duration_seconds_count", { route: "unmatched" }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain("/no/such/page");

    expect(sample(text, "agentry_runs", { scope: "cluster", status: "queued" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "agentry_queue_jobs", { scope: "cluster", state: "waiting" })).toBeGreaterThanOrEqual(
      0,
    );
    expect(text).toContain("agentry_queue_oldest_waiting_seconds");
    const ai = { scope: "cluster", provider: "openai", model: "gpt-metrics-test" };
    expect(sample(text, "agentry_ai_calls_total", ai)).toBe(2);
    expect(sample(text, "agentry_ai_tokens_in_total", ai)).toBe(2000);
    expect(sample(text, "agentry_ai_tokens_out_total", ai)).toBe(100);
    expect(sample(text, "agentry_ai_cost_usd_total", ai)).toBeCloseTo(0.005, 6);
    expect(
      sample(text, "agentry_ai_latency_seconds", { ...ai, quantile: "0.5", phase: "total" }),
    ).toBeCloseTo(0.2, 6);
    expect(
      sample(text, "agentry_ai_latency_seconds", { ...ai, quantile: "0.5", phase: "first_token" }),
    ).toBeCloseTo(0.04, 6);
    expect(sample(text, "agentry_sandbox_executions_total", { outcome: "failed" })).toBeGreaterThanOrEqual(1);
    expect(text).toContain("agentry_sandbox_execution_duration_seconds_bucket");
    expect(text).toContain("agentry_nodejs_eventloop_lag_seconds");
  });

  it("keeps route labels bounded whatever paths a scanner tries", async () => {
    const local = createMetrics({ logger });
    try {
      for (let i = 0; i < 500; i += 1) {
        local.observeHttp({ method: "GET", path: `/probe-${i}/x`, status: 200, seconds: 0.001 });
      }
      const text = await local.render();
      const routes = new Set(
        text
          .split("\n")
          .filter((line) => line.startsWith("agentry_http_request_duration_seconds_count{"))
          .map((line) => /route="([^"]*)"/.exec(line)?.[1]),
      );
      expect(routes.size).toBeLessThanOrEqual(201);
      expect(routes.has("other")).toBe(true);
    } finally {
      local.close();
    }
  });
});
