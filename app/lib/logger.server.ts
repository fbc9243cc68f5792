import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * Paths that must never reach a log line. Later modules add credentials and
 * API keys here rather than scrubbing at each call site.
 */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "token",
  "*.token",
  "apiKey",
  "*.apiKey",
  "secret",
  "*.secret",
  "connectionString",
  "*.connectionString",
  "ciphertext",
  "*.ciphertext",
  "plaintext",
  "*.plaintext",
  "encryptionKey",
  "*.encryptionKey",
  "connection.apiKey",
  "*.connection.apiKey",
  "headers.authorization",
  'headers["x-api-key"]',
  "*.headers.authorization",
  '*.headers["x-api-key"]',
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "req.headers.cookie",
  'res.headers["set-cookie"]',
];

/**
 * Create the process logger: JSON lines, one per event (what log collectors
 * want), or human-readable lines with `pretty` (a terminal). `level` defaults to info.
 */
export function createLogger({
  level = "info",
  name = "agentry",
  pretty = false,
  destination,
}: {
  level?: string;
  name?: string;
  pretty?: boolean;
  /** Where lines go instead of stdout (tests). */
  destination?: DestinationStream;
} = {}) {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets that are not under a known field name (in a message, an error, a URL) are scrubbed by shape.
    hooks: {
      logMethod(args, method) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === "string" ? scrubSecrets(arg) : arg)) as Parameters<typeof method>,
        );
      },
    },
    formatters: { log: (object) => scrubValue(object, 0) as Record<string, unknown> },
    serializers: {
      err: (error: Error) => scrubValue(pino.stdSerializers.err(error), 0),
      error: (error: unknown) =>
        error instanceof Error ? scrubValue(pino.stdSerializers.err(error), 0) : error,
    },
    transport:
      pretty && !destination
        ? {
            target: "pino-pretty",
            options: { translateTime: "HH:MM:ss", ignore: "pid,hostname,name", singleLine: true, sync: true },
          }
        : undefined,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Shapes of secrets, wherever they appear in a string, and what replaces them. */
const SECRET_SHAPES: Array<[RegExp, string]> = [
  // Our API keys.
  [/\bagt_[A-Za-z0-9_-]{8,}/g, "agt_[redacted]"],
  // OpenAI / Anthropic style keys.
  [/\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}/g, "sk-[redacted]"],
  // Authorization header values.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, "$1 [redacted]"],
  // JWTs (our access tokens, GitHub's, anyone's).
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, "[redacted-jwt]"],
  // Passwords in connection URLs.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi, "$1[redacted]@"],
  // GitHub tokens.
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, "gh_[redacted]"],
];

/** `text` with every secret-shaped substring replaced. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
  return out;
}

/** Strings scrubbed through objects and arrays, a few levels deep (log objects are shallow). */
function scrubValue(value: unknown, depth: number): unknown {
  if (typeof value === "string") return scrubSecrets(value);
  if (depth >= 5 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = scrubValue(item, depth + 1);
  return out;
}

/** Strip the password from a PostgreSQL URL for log lines. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "[unparseable url]";
  }
}
