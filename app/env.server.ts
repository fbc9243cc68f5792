import path from "node:path";
import { z } from "zod";

/**
 * The only place that reads process.env. Everything else receives the parsed
 * config as an argument, so tests can build any configuration they need.
 */
const booleanish = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .transform((v) => v === "true" || v === "1" || v === "yes");

/** An empty or blank variable counts as unset. */
const blankAsUnset = (value: unknown) =>
  typeof value === "string" && value.trim() === "" ? undefined : value;
const optionalString = z
  .string()
  .optional()
  .transform((v) => v?.trim() || undefined);
const optionalUrl = z
  .string()
  .optional()
  .transform((v) => v?.trim() || undefined)
  .pipe(z.url().optional());

export const ZEnv = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
  /** Port of the HTTP server. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Interface to bind. 127.0.0.1 by default so a laptop install is not exposed; containers set 0.0.0.0. */
  HOST: z.string().min(1).default("127.0.0.1"),
  /** PostgreSQL connection string. When absent, an embedded PostgreSQL is started in AGENTRY_DATA_DIR. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "DATABASE_URL must start with postgresql://")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  /** Where local state lives: embedded PostgreSQL data, generated secrets. Git-ignored. */
  AGENTRY_DATA_DIR: z.string().min(1).default(".data"),
  /** Which parts this process runs: web (HTTP), worker (queue), or all (both). */
  AGENTRY_ROLE: z.enum(["all", "web", "worker"]).default("all"),
  /** Apply pending migrations at boot. Defaults to true; production deployments run them as a release step. */
  AGENTRY_MIGRATE_ON_START: booleanish.default(true),
  /** Jobs one worker process runs at once. */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
  /** How often a worker writes its heartbeat (WorkerProcess.heartbeatAt) and sweeps for dead workers. */
  WORKER_HEARTBEAT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /**
   * A worker whose heartbeat is older than this is presumed dead (crashed, killed, cut off): a live worker
   * releases its jobs so its runs resume elsewhere. Lower = faster recovery, but it must cover several
   * heartbeats plus the longest pause (GC, database outage) a healthy worker may have; at least 3 heartbeats
   * (checked in loadEnv). 0 turns the sweep off.
   */
  WORKER_DEAD_AFTER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 3_600_000)
    .default(30_000),
  /** How often idle workers poll for due jobs (retries, released jobs); new jobs wake them at once. */
  WORKER_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(2_000),
  /** Database connections per process (Prisma pool). */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /** json: one JSON object per line (for log collectors); pretty: readable lines; auto: pretty on a terminal. */
  LOG_FORMAT: z.enum(["auto", "json", "pretty"]).default("auto"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /**
   * The address users reach the app at (https://agentry.example.com). Used for OAuth callbacks and the
   * Origin check; when unset, the request's own host is trusted (fine on localhost, set it behind a proxy).
   */
  PUBLIC_URL: z
    .url()
    .optional()
    .or(z.literal("").transform(() => undefined)),
  /**
   * Secret that signs access tokens (≥ 32 characters). When unset, one is generated at first start and kept
   * in AGENTRY_DATA_DIR/secrets.json: set it explicitly when several web processes share one database.
   */
  JWT_SECRET: z
    .string()
    .min(32, "JWT_SECRET must be at least 32 characters")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  /** GitHub login is offered when both are set. */
  GITHUB_CLIENT_ID: z
    .string()
    .optional()
    .or(z.literal("").transform(() => undefined)),
  GITHUB_CLIENT_SECRET: z
    .string()
    .optional()
    .or(z.literal("").transform(() => undefined)),
  /** GitHub web and API base URLs: GitHub Enterprise Server, or the fake GitHub of the tests. */
  GITHUB_WEB_URL: z.url().default("https://github.com"),
  GITHUB_API_URL: z.url().default("https://api.github.com"),
  /** Sign-up, login and refresh attempts allowed per minute, per client IP and per account. */
  RATE_LIMIT_AUTH_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(10),
  /** API requests per minute per API key (unless the key sets its own) and per user. */
  RATE_LIMIT_API_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /**
   * Allow importing projects from folders on the server's disk (POST /api/v1/projects/{id}/import-local),
   * only below this absolute path. Unset: disabled.
   */
  AGENTRY_LOCAL_IMPORT_ROOT: z
    .string()
    .refine((v) => v === "" || path.isAbsolute(v), "AGENTRY_LOCAL_IMPORT_ROOT must be an absolute path")
    .optional()
    .transform((v) => v || undefined),
  /** Import limits: archive size, number of files, size of one text file. */
  IMPORT_MAX_ARCHIVE_MB: z.coerce.number().min(1).max(10_000).default(50),
  IMPORT_MAX_FILES: z.coerce.number().int().min(1).max(1_000_000).default(5_000),
  IMPORT_MAX_FILE_KB: z.coerce.number().int().min(1).max(1_000_000).default(2_048),
  // ─── AI providers (the SDKs' own variables) ───
  OPENAI_API_KEY: optionalString,
  /** e.g. https://api.openai.com/v1 (the default), or any OpenAI-compatible server's /v1 URL. */
  OPENAI_BASE_URL: optionalUrl,
  ANTHROPIC_API_KEY: optionalString,
  /** Without /v1: https://api.anthropic.com (the default). */
  ANTHROPIC_BASE_URL: optionalUrl,
  /**
   * Named OpenAI-compatible endpoints, reachable as `compat:<name>/<model>`: `ollama=http://127.0.0.1:11434/v1,vllm=http://gpu:8000/v1`
   * (keys in AI_COMPAT_<NAME>_API_KEY), or JSON `{"vllm":{"baseUrl":"...","apiKey":"..."}}`.
   */
  AI_COMPAT_ENDPOINTS: optionalString,
  /** The offline demo model (scripted, not an AI): auto = on when no provider is configured and the database is embedded or --dev. */
  AI_DEMO_MODEL: z.enum(["auto", "on", "off"]).default("auto"),
  /** Let users point their credentials at base URLs of their own. Turn off on shared servers (SSRF). */
  AI_ALLOW_USER_BASE_URLS: booleanish.default(true),
  /** Exact-match cache lifetime for deterministic calls (temperature 0 or a seed); 0 turns the cache off. */
  AI_CACHE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(365 * 24 * 3600)
    .default(7 * 24 * 3600),
  AI_FIRST_TOKEN_TIMEOUT_SECONDS: z.coerce.number().min(1).max(3600).default(120),
  AI_IDLE_TIMEOUT_SECONDS: z.coerce.number().min(1).max(3600).default(60),
  AI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  /** A model catalog of your own (JSON like app/modules/ai/catalog/models.json), merged over the shipped one by id. */
  AI_MODELS_FILE: optionalString,
  /**
   * AES-256-GCM key (32 bytes, base64) for stored provider credentials. Unset: generated in AGENTRY_DATA_DIR.
   * Rotate by moving the old key to AGENTRY_ENCRYPTION_KEY_PREVIOUS (comma-separated).
   */
  AGENTRY_ENCRYPTION_KEY: optionalString,
  AGENTRY_ENCRYPTION_KEY_PREVIOUS: optionalString,
  /**
   * Run sandboxed commands (workflow `command` steps, the agent's run_command) WITHOUT isolation when
   * bubblewrap is missing or unusable. Local development only: the UI shows a warning banner. Default false:
   * such commands are refused.
   */
  AGENTRY_UNSAFE_NO_SANDBOX: booleanish.default(false),
  /** Where runs get their private copy of the project's files. Default AGENTRY_DATA_DIR/workspaces. */
  AGENTRY_WORKSPACES_DIR: optionalString,
  /**
   * Bearer token for `GET /metrics` (Prometheus). Unset: metrics are off (the route answers 404). At least 16
   * characters.
   */
  METRICS_TOKEN: z.preprocess(
    blankAsUnset,
    z.string().trim().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
  ),
  /** A worker-only process (AGENTRY_ROLE=worker) serves its own /metrics on this port when set. */
  METRICS_PORT: z.preprocess(blankAsUnset, z.coerce.number().int().min(1).max(65535).optional()),
  /** OpenTelemetry: the OTLP/HTTP collector (e.g. http://otel-collector:4318). Unset: no traces. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  /** Extra headers for the collector, `key=value,key2=value2` (e.g. an API key of a tracing vendor). */
  OTEL_EXPORTER_OTLP_HEADERS: optionalString,
  /** The `service.name` of the spans. Default agentry. */
  OTEL_SERVICE_NAME: optionalString,
  /** Seconds web and worker get to finish in-flight work on SIGTERM before they are stopped hard. */
  SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(600).default(25),
});

export type Env = z.infer<typeof ZEnv> & {
  dataDir: string;
  /** AI_COMPAT_<NAME>_API_KEY values, by variable name (keys of named OpenAI-compatible endpoints). */
  compatApiKeys: Record<string, string>;
};

/** Parse the environment once at boot; throws a readable error listing every bad variable. */
export function loadEnv(
  source: Record<string, string | undefined> = process.env,
  cwd = process.cwd(),
  {
    defaults = {},
    overrides = {},
  }: {
    /** Used when the environment does not set them (e.g. NODE_ENV=development for --dev). */
    defaults?: Record<string, string>;
    /** Win over the environment (command-line flags such as --role). */
    overrides?: Record<string, string>;
  } = {},
): Env {
  const parsed = ZEnv.superRefine((env, ctx) => {
    if (env.WORKER_DEAD_AFTER_MS !== 0 && env.WORKER_DEAD_AFTER_MS < 3 * env.WORKER_HEARTBEAT_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["WORKER_DEAD_AFTER_MS"],
        message:
          "must be 0 (off) or at least 3 × WORKER_HEARTBEAT_MS, or a healthy worker that misses a beat is declared dead",
      });
    }
  }).safeParse({ ...defaults, ...source, ...overrides });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join("\n")}`);
  }
  const merged = { ...defaults, ...source, ...overrides };
  const compatApiKeys: Record<string, string> = {};
  for (const [name, value] of Object.entries(merged)) {
    if (/^AI_COMPAT_[A-Z0-9_]+_API_KEY$/.test(name) && value) compatApiKeys[name] = value;
  }
  return { ...parsed.data, dataDir: path.resolve(cwd, parsed.data.AGENTRY_DATA_DIR), compatApiKeys };
}

/**
 * The `agentry` CLI's environment (a client, not the server): the few variables it reads, trimmed, blank
 * counting as unset. URLs and keys are checked where they are used, with the CLI's own messages.
 */
export const ZCliEnv = z.object({
  /** Server URL (overridden by --url). */
  AGENTRY_URL: optionalString,
  /** API key to use instead of the stored one. */
  AGENTRY_API_KEY: optionalString,
  /** Print the stack of an unexpected error. */
  AGENTRY_DEBUG: optionalString,
  /** Where the CLI keeps its config (`$XDG_CONFIG_HOME/agentry`, else `~/.config/agentry`). */
  XDG_CONFIG_HOME: optionalString,
  HOME: optionalString,
});
export type CliEnv = z.infer<typeof ZCliEnv>;

/** The CLI's environment from `source` (default: this process's). */
export function loadCliEnv(source: Record<string, string | undefined> = process.env): CliEnv {
  return ZCliEnv.parse(source);
}
