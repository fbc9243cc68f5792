/**
 * The audit trail: append-only AuditEvent rows (a trigger refuses UPDATE, DELETE and TRUNCATE).
 * Write them in the same transaction as the change they describe, so neither exists without the other.
 */
import type { DbOrTx, Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { type AuditEventPage, type AuditEventView, ZPageInput } from "./auth.types.ts";
import { type AuthDeps, isUuid, parseInput } from "./deps.server.ts";

/** Actions written by the auth module (other modules add their own). */
export type AuditAction =
  | "auth.signup"
  | "auth.login.success"
  | "auth.login.failed"
  | "auth.logout"
  | "auth.logout_all"
  | "auth.session.revoked"
  | "auth.refresh.reuse"
  | "auth.password.changed"
  | "auth.oauth.linked"
  | "api_key.created"
  | "api_key.revoked";

export type AuditEventInput = {
  /** The user the event is about; null for a failed login naming no account. */
  userId?: string | null;
  action: AuditAction | (string & {});
  /** Default "user". */
  actorType?: "user" | "api_key" | "system";
  apiKeyId?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Never secrets: no passwords, tokens or keys. */
  data?: Prisma.InputJsonObject;
};

/** Append one event. Pass the transaction client to tie it to the change it records. */
export async function recordAuditEvent(db: DbOrTx, event: AuditEventInput): Promise<{ id: string }> {
  return db.auditEvent.create({
    data: {
      userId: event.userId ?? null,
      action: event.action,
      actorType: event.actorType ?? "user",
      apiKeyId: event.apiKeyId ?? null,
      targetType: event.targetType ?? null,
      targetId: event.targetId ?? null,
      // Headers are attacker-controlled: keep what a human needs, not an unbounded string.
      ip: event.ip?.slice(0, 100) ?? null,
      userAgent: event.userAgent?.slice(0, 512) ?? null,
      data: event.data,
    },
    select: { id: true },
  });
}

const VIEW_SELECT = {
  id: true,
  action: true,
  ip: true,
  userAgent: true,
  targetType: true,
  targetId: true,
  data: true,
  createdAt: true,
} as const satisfies Prisma.AuditEventSelect;

/**
 * The user's own audit events, newest first, `limit` (default 50, 1–100) per page. `cursor` is the
 * previous page's `nextCursor`; a cursor that is not one of this user's events is a BAD_REQUEST.
 */
export async function listAuditEvents(
  input: { userId: string; cursor?: string; limit?: number },
  deps: Pick<AuthDeps, "db">,
): Promise<AuditEventPage> {
  const { cursor, limit } = parseInput(ZPageInput, { cursor: input.cursor, limit: input.limit });
  const { db } = deps;
  if (!isUuid(input.userId)) return { items: [], nextCursor: null };

  // Keyset pagination on (createdAt, id): stable while new events arrive, unlike OFFSET.
  let after: Prisma.AuditEventWhereInput = {};
  if (cursor) {
    const last = await db.auditEvent.findFirst({
      where: { id: cursor, userId: input.userId },
      select: { id: true, createdAt: true },
    });
    if (!last) throw new AppError("BAD_REQUEST", "Unknown cursor");
    after = {
      OR: [{ createdAt: { lt: last.createdAt } }, { createdAt: last.createdAt, id: { lt: last.id } }],
    };
  }

  const rows: AuditEventView[] = await db.auditEvent.findMany({
    where: { userId: input.userId, ...after },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit + 1,
    select: VIEW_SELECT,
  });
  const items = rows.slice(0, limit);
  const nextCursor = rows.length > limit ? (items.at(-1)?.id ?? null) : null;
  return { items, nextCursor };
}
