import pino, { type Logger } from "pino";

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
}: {
  level?: string;
  name?: string;
  pretty?: boolean;
} = {}) {
  return pino({
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    transport: pretty
      ? {
          target: "pino-pretty",
          options: { translateTime: "HH:MM:ss", ignore: "pid,hostname,name", singleLine: true, sync: true },
        }
      : undefined,
  });
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
