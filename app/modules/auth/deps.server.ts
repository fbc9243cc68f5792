/**
 * What every auth use case takes as its second argument, and small helpers they share.
 */
import type { z } from "zod";
import type { Db } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import type { Logger } from "#app/lib/logger.server.ts";

export type AuthDeps = {
  db: Db;
  logger?: Logger;
  /** The clock. Default `() => new Date()`; tests pass a fixed or advancing one. */
  now?: () => Date;
  /**
   * The request's client address and user agent, recorded on audit events. A use case's own `ip` /
   * `userAgent` input wins over these.
   */
  ip?: string;
  userAgent?: string;
  /** The API key the caller authenticated with, if any: audit events then name it as the actor. */
  actorApiKeyId?: string | null;
};

export const clock = (deps: { now?: () => Date }): Date => (deps.now ? deps.now() : new Date());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed id would make PostgreSQL reject the query (uuid column); callers turn it into NOT_FOUND. */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/**
 * Parse a use case's input with its schema. The transports parse first; this makes a use case safe
 * (normalised email, bounded lengths) when called from anywhere else too.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new AppError("BAD_REQUEST", result.error.issues[0]?.message ?? "Invalid input", {
      issues: result.error.issues.map((issue) => ({ path: issue.path, message: issue.message })),
    });
  }
  return result.data;
}

/** The request context an audit event records: ip and user agent (input first, then deps), and the actor. */
export function requestContext(
  input: { ip?: string | null; userAgent?: string | null },
  deps: Omit<AuthDeps, "db">,
): { ip: string | null; userAgent: string | null; actorType: "user" | "api_key"; apiKeyId: string | null } {
  return {
    ip: input.ip ?? deps.ip ?? null,
    userAgent: input.userAgent ?? deps.userAgent ?? null,
    actorType: deps.actorApiKeyId ? "api_key" : "user",
    apiKeyId: deps.actorApiKeyId ?? null,
  };
}

/** Prisma's unique-constraint violation (P2002), optionally on a given column. */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, meta } = error as { code?: unknown; meta?: Record<string, unknown> };
  if (code !== "P2002") return false;
  if (!column) return true;
  // Without a driver adapter Prisma names the columns in meta.target; through @prisma/adapter-pg it
  // reports the constraint: meta.driverAdapterError.cause.constraint = { fields } or { index }.
  const target = meta?.target;
  if (Array.isArray(target) && target.includes(column)) return true;
  const constraint = (
    meta?.driverAdapterError as { cause?: { constraint?: { fields?: unknown; index?: unknown } } }
  )?.cause?.constraint;
  if (Array.isArray(constraint?.fields) && constraint.fields.includes(column)) return true;
  // Prisma's index names: <Table>_<column>_key.
  return typeof constraint?.index === "string" && constraint.index.endsWith(`_${column}_key`);
}
