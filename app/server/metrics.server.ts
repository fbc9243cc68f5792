/**
 * Prometheus metrics (`GET /metrics`, text exposition format), in two kinds:
 *
 * - **This process**: HTTP request latency (by method, route pattern and status class), sandbox executions and
 *   their duration (by mode and outcome), and Node's own (event loop lag, heap, GC, CPU) — prom-client's
 *   registry. Every web process serves its own; a worker-only process serves them on METRICS_PORT.
 * - **The cluster**, read from PostgreSQL when scraped (cached for a few seconds, so a scrape storm costs one
 *   set of queries): runs by status, the queue (jobs waiting / running / scheduled, the age of the oldest
 *   waiting job), live workers, AI calls, tokens and cost by provider and model (monotonic sums of the
 *   ledger), and AI latency quantiles over the last 15 minutes. Scrape one web process for these (any one:
 *   they are the same everywhere) — labelled `scope="cluster"` so two scraped processes do not look like two
 *   clusters.
 *
 * Route labels are patterns (`/api/v1/runs/:id`), never raw paths: ids are folded, unknown paths (404) become
 * `unmatched`, and past MAX_ROUTES distinct patterns new ones count as `other`, so a scanner cannot blow up
 * the series count.
 */
import { timingSafeEqual } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { RequestHandler } from "express";
import client from "prom-client";
import type { Db } from "#app/db/client.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { observeSandboxRuns } from "#app/modules/sandbox/index.server.ts";
import { jsonError } from "./api-errors.server.ts";

const PREFIX = "agentry_";
const MAX_ROUTES = 200;
const CLUSTER_CACHE_MS = 5_000;
const AI_LATENCY_WINDOW_MINUTES = 15;

export type Metrics = {
  registry: client.Registry;
  /** Record one finished HTTP request. */
  observeHttp(input: { method: string; path: string; status: number; seconds: number }): void;
  /** The exposition text of every metric (cluster ones read from the database when `db` is given). */
  render(): Promise<string>;
  /** Stop listening to the sandbox; the registry stays readable. */
  close(): void;
};

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** `/api/v1/runs/0192…/events` → `/api/v1/runs/:id/events`. */
export function routePattern(path: string): string {
  const clean = path.split("?")[0] ?? "/";
  const segments = clean
    .replace(UUID, ":id")
    .split("/")
    .map((segment) => {
      if (segment === ":id" || segment === "") return segment;
      if (/^\d+$/.test(segment)) return ":n";
      if (segment.length > 40 || /[^\w.:-]/.test(segment)) return ":x";
      return segment;
    });
  const joined = segments.slice(0, 8).join("/") || "/";
  // Assets are fingerprinted: one label for all of them.
  return joined.startsWith("/assets/") ? "/assets/*" : joined;
}

/** Prometheus label values for the ledger's provider/model columns, bounded. */
const short = (value: string) => value.slice(0, 100);

export function createMetrics({ db, logger }: { db?: Db; logger: Logger }): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const http = new client.Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: "HTTP requests served by this process, by method, route pattern and status class",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const routes = new Set<string>();

  const sandboxRuns = new client.Counter({
    name: `${PREFIX}sandbox_executions_total`,
    help: "Commands this process ran in the sandbox, by mode (bwrap, unsafe) and outcome",
    labelNames: ["mode", "outcome"] as const,
    registers: [registry],
  });
  const sandboxSeconds = new client.Histogram({
    name: `${PREFIX}sandbox_execution_duration_seconds`,
    help: "Wall time of sandboxed commands run by this process",
    labelNames: ["mode"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const stopSandbox = observeSandboxRuns((run) => {
    sandboxRuns.inc({ mode: run.mode, outcome: run.outcome });
    sandboxSeconds.observe({ mode: run.mode }, run.durationMs / 1000);
  });

  if (db) registerClusterMetrics(registry, db, logger);

  return {
    registry,
    observeHttp({ method, path, status, seconds }) {
      let route = status === 404 ? "unmatched" : routePattern(path);
      if (!routes.has(route)) {
        if (routes.size >= MAX_ROUTES) route = "other";
        else routes.add(route);
      }
      http.observe(
        { method: method.toUpperCase().slice(0, 10), route, status: `${Math.floor(status / 100)}xx` },
        seconds,
      );
    },
    render: () => registry.metrics(),
    close: stopSandbox,
  };
}

type ClusterSnapshot = {
  runs: Array<{ status: string; count: bigint }>;
  queue: { waiting: bigint; running: bigint; scheduled: bigint; oldest_waiting_seconds: number | null };
  workers: bigint;
  ai: Array<{
    provider: string;
    model: string;
    calls: bigint;
    errors: bigint;
    tokens_in: bigint | null;
    tokens_out: bigint | null;
    cost_micros: bigint | null;
  }>;
  latency: Array<{
    provider: string;
    model: string;
    p50: number | null;
    p95: number | null;
    ttft_p50: number | null;
  }>;
};

function registerClusterMetrics(registry: client.Registry, db: Db, logger: Logger) {
  let cached: { at: number; value: Promise<ClusterSnapshot | null> } | null = null;
  const snapshot = (): Promise<ClusterSnapshot | null> => {
    const now = performance.now();
    if (cached && now - cached.at < CLUSTER_CACHE_MS) return cached.value;
    const value = readCluster(db).catch((error: unknown) => {
      logger.warn({ err: error }, "metrics: could not read the cluster metrics");
      return null;
    });
    cached = { at: now, value };
    return value;
  };
  const cluster = { scope: "cluster" };

  new client.Gauge({
    name: `${PREFIX}runs`,
    help: "Workflow runs by status (whole cluster)",
    labelNames: ["scope", "status"] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const row of s?.runs ?? []) this.set({ ...cluster, status: row.status }, Number(row.count));
    },
  });
  new client.Gauge({
    name: `${PREFIX}queue_jobs`,
    help: "Queue jobs: waiting (due, not locked), running (locked), scheduled (due later) — whole cluster",
    labelNames: ["scope", "state"] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      if (!s) return;
      this.set({ ...cluster, state: "waiting" }, Number(s.queue.waiting));
      this.set({ ...cluster, state: "running" }, Number(s.queue.running));
      this.set({ ...cluster, state: "scheduled" }, Number(s.queue.scheduled));
    },
  });
  new client.Gauge({
    name: `${PREFIX}queue_oldest_waiting_seconds`,
    help: "How long the oldest due, unlocked job has waited (0 when none): the queue's latency",
    labelNames: ["scope"] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      if (s) this.set(cluster, Math.max(0, s.queue.oldest_waiting_seconds ?? 0));
    },
  });
  new client.Gauge({
    name: `${PREFIX}workers_alive`,
    help: "Worker processes with a recent heartbeat",
    labelNames: ["scope"] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      if (s) this.set(cluster, Number(s.workers));
    },
  });
  // Sums of the ledger: monotonic (as counters should be) unless old AI calls are deleted.
  const aiCounter = (name: string, help: string, pick: (row: ClusterSnapshot["ai"][number]) => number) =>
    new client.Counter({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ["scope", "provider", "model"] as const,
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const row of s?.ai ?? []) {
          const value = pick(row);
          if (value > 0)
            this.inc({ ...cluster, provider: short(row.provider), model: short(row.model) }, value);
        }
      },
    });
  aiCounter("ai_calls_total", "AI calls in the ledger, by provider and model", (r) => Number(r.calls));
  aiCounter("ai_call_errors_total", "AI calls that failed or were aborted", (r) => Number(r.errors));
  aiCounter("ai_tokens_in_total", "Input tokens of AI calls", (r) => Number(r.tokens_in ?? 0));
  aiCounter("ai_tokens_out_total", "Output tokens of AI calls", (r) => Number(r.tokens_out ?? 0));
  aiCounter("ai_cost_usd_total", "Cost of AI calls in US dollars", (r) => Number(r.cost_micros ?? 0) / 1e6);
  new client.Gauge({
    name: `${PREFIX}ai_latency_seconds`,
    help: `AI call latency (whole call) and time to first token, quantiles over the last ${AI_LATENCY_WINDOW_MINUTES} minutes`,
    labelNames: ["scope", "provider", "model", "quantile", "phase"] as const,
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const row of s?.latency ?? []) {
        const labels = { ...cluster, provider: short(row.provider), model: short(row.model) };
        if (row.p50 !== null) this.set({ ...labels, quantile: "0.5", phase: "total" }, row.p50 / 1000);
        if (row.p95 !== null) this.set({ ...labels, quantile: "0.95", phase: "total" }, row.p95 / 1000);
        if (row.ttft_p50 !== null)
          this.set({ ...labels, quantile: "0.5", phase: "first_token" }, row.ttft_p50 / 1000);
      }
    },
  });
}

async function readCluster(db: Db): Promise<ClusterSnapshot> {
  const [runs, [queue], [workers], ai, latency] = await Promise.all([
    db.$queryRaw<ClusterSnapshot["runs"]>`
      SELECT status::text AS status, count(*) AS count FROM "WorkflowRun" GROUP BY status`,
    db.$queryRaw<[ClusterSnapshot["queue"]]>`
      SELECT count(*) FILTER (WHERE locked_at IS NULL AND run_at <= now()) AS waiting,
             count(*) FILTER (WHERE locked_at IS NOT NULL) AS running,
             count(*) FILTER (WHERE locked_at IS NULL AND run_at > now()) AS scheduled,
             EXTRACT(EPOCH FROM now() - min(run_at) FILTER (WHERE locked_at IS NULL AND run_at <= now()))::float8
               AS oldest_waiting_seconds
      FROM graphile_worker.jobs`,
    db.$queryRaw<[{ count: bigint }]>`
      SELECT count(*) AS count FROM "WorkerProcess"
      WHERE "stoppedAt" IS NULL AND "heartbeatAt" > now() - interval '30 seconds'`,
    db.$queryRaw<ClusterSnapshot["ai"]>`
      SELECT provider, model, count(*) AS calls, count(*) FILTER (WHERE error IS NOT NULL) AS errors,
             sum("tokensIn") AS tokens_in, sum("tokensOut") AS tokens_out, sum("costMicros") AS cost_micros
      FROM "AiCall" GROUP BY provider, model ORDER BY provider, model LIMIT 500`,
    db.$queryRaw<ClusterSnapshot["latency"]>`
      SELECT provider, model,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY "latencyMs") AS p50,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY "latencyMs") AS p95,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY "ttftMs") AS ttft_p50
      FROM "AiCall"
      WHERE "createdAt" > now() - make_interval(mins => ${AI_LATENCY_WINDOW_MINUTES}) AND "latencyMs" IS NOT NULL
        AND NOT cached
      GROUP BY provider, model ORDER BY provider, model LIMIT 500`,
  ]);
  return { runs, queue, workers: workers.count, ai, latency };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET /metrics`: the exposition text for `Authorization: Bearer <METRICS_TOKEN>`; 401 for a missing or wrong
 * token; 404 when metrics are off (no token configured), as if the route did not exist.
 */
export function metricsRoute(
  metrics: { registry: Metrics; token: string | null } | undefined,
): RequestHandler {
  return async (req, res) => {
    res.setHeader("Cache-Control", "no-store");
    if (!metrics?.token) {
      jsonError(res, 404, "NOT_FOUND", "Metrics are off: set METRICS_TOKEN to serve them");
      return;
    }
    const header = req.get("authorization") ?? "";
    const given = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!given || !sameSecret(given, metrics.token)) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"');
      jsonError(res, 401, "UNAUTHORIZED", "Send the metrics token as Authorization: Bearer <METRICS_TOKEN>");
      return;
    }
    res.setHeader("Content-Type", metrics.registry.registry.contentType);
    res.send(await metrics.registry.render());
  };
}
