export { clock, isUuid, parseInput } from "#app/lib/use-case.ts";

/**
 * What every auth use case takes as its second argument, and small helpers they share.
 */
import type { Db } from "#app/db/client.server.ts";
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
