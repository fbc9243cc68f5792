/**
 * Refresh tokens. A "session" is a family of tokens descended from one sign-in: each use exchanges
 * the token for its successor (rotation), and presenting an already-exchanged token again means two
 * parties hold it, one of them a thief, so the whole family is revoked (OAuth 2.0 Security BCP,
 * "refresh token rotation" with reuse detection).
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { DbOrTx } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { recordAuditEvent } from "./audit.server.ts";
import type { SessionView } from "./auth.types.ts";
import { type AuthDeps, clock, isUuid, requestContext } from "./deps.server.ts";

/** Lifetime of each refresh token (sliding: every rotation starts a new one). 30 days. */
export const REFRESH_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** Why a family was revoked; stored in RefreshToken.revokedReason. */
export type RevokeReason =
  | "logout"
  | "logout_all"
  | "revoked"
  | "password_changed"
  | "reuse_detected"
  | (string & {});

type SessionDeps = AuthDeps & {
  /** Lifetime of new refresh tokens. Default REFRESH_TTL_MS (30 days). */
  refreshTtlMs?: number;
};

const unauthorized = () => new AppError("UNAUTHORIZED", "Invalid or expired refresh token");

/** sha256 hex: a refresh token is 256 random bits, so a fast hash is enough (no guessing to slow down). */
export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function newRefreshToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, tokenHash: hashRefreshToken(token) };
}

const clip = (value: string | null, max: number) => (value === null ? null : value.slice(0, max));

/** Sign in: a new family with its first refresh token. */
export async function startSession(
  input: { userId: string; userAgent?: string; ip?: string },
  deps: SessionDeps,
): Promise<{ sessionId: string; refreshToken: string; expiresAt: Date }> {
  const now = clock(deps);
  const sessionId = randomUUID();
  const { token, tokenHash } = newRefreshToken();
  const expiresAt = new Date(now.getTime() + (deps.refreshTtlMs ?? REFRESH_TTL_MS));
  const context = requestContext(input, deps);
  await deps.db.refreshToken.create({
    data: {
      userId: input.userId,
      familyId: sessionId,
      tokenHash,
      createdAt: now,
      expiresAt,
      lastUsedAt: now,
      userAgent: clip(context.userAgent, 512),
      ip: clip(context.ip, 100),
    },
  });
  return { sessionId, refreshToken: token, expiresAt };
}

type RotateOutcome =
  | { kind: "rotated"; userId: string; sessionId: string; refreshToken: string | null; expiresAt: Date }
  | { kind: "invalid" }
  | { kind: "reuse"; userId: string; sessionId: string };

/**
 * Exchange a refresh token for its successor.
 *
 * - unknown, expired or revoked → UNAUTHORIZED;
 * - already exchanged less than `reuseLeewayMs` ago (default 0: never) while its family is still
 *   alive → `refreshToken: null` (two tabs refreshing at once: the caller issues only an access token);
 * - already exchanged otherwise → reuse: the family is revoked ("reuse_detected"), an
 *   "auth.refresh.reuse" audit event is written, UNAUTHORIZED;
 * - else the successor, in the same family.
 *
 * The token's row is locked (SELECT ... FOR UPDATE) for the transaction, so two concurrent
 * rotations of one token are serialised: the second sees the first one's `rotatedAt`.
 */
export async function rotateRefreshToken(
  input: { refreshToken: string; userAgent?: string; ip?: string; reuseLeewayMs?: number },
  deps: SessionDeps,
): Promise<{ userId: string; sessionId: string; refreshToken: string | null; expiresAt: Date }> {
  const { refreshToken, reuseLeewayMs = 0 } = input;
  if (typeof refreshToken !== "string" || refreshToken.length === 0 || refreshToken.length > 200) {
    throw unauthorized();
  }
  const tokenHash = hashRefreshToken(refreshToken);
  const context = requestContext(input, deps);

  const outcome = await deps.db.$transaction(async (tx): Promise<RotateOutcome> => {
    const locked = await tx.$queryRaw<{ id: string }[]>`
      SELECT id FROM "RefreshToken" WHERE "tokenHash" = ${tokenHash} FOR UPDATE`;
    const id = locked[0]?.id;
    if (!id) return { kind: "invalid" };
    const current = await tx.refreshToken.findUniqueOrThrow({ where: { id } });
    // Read the clock after the lock: a rotation that waited for another one is judged at its own time.
    const now = clock(deps);

    if (current.revokedAt) return { kind: "invalid" };
    // An expired token proves nothing about theft (its successors outlive it); refuse it quietly.
    if (current.expiresAt.getTime() <= now.getTime()) return { kind: "invalid" };

    if (current.rotatedAt) {
      const age = now.getTime() - current.rotatedAt.getTime();
      if (reuseLeewayMs > 0 && age < reuseLeewayMs) {
        const live = await activeToken(tx, current.familyId, current.userId, now);
        if (!live) return { kind: "invalid" };
        return {
          kind: "rotated",
          userId: current.userId,
          sessionId: current.familyId,
          refreshToken: null,
          expiresAt: live.expiresAt,
        };
      }
      await revokeFamily(tx, current.familyId, "reuse_detected", now);
      await recordAuditEvent(tx, {
        userId: current.userId,
        action: "auth.refresh.reuse",
        targetType: "session",
        targetId: current.familyId,
        ...context,
        data: { sessionId: current.familyId, rotatedAt: current.rotatedAt.toISOString() },
      });
      return { kind: "reuse", userId: current.userId, sessionId: current.familyId };
    }

    const next = newRefreshToken();
    const expiresAt = new Date(now.getTime() + (deps.refreshTtlMs ?? REFRESH_TTL_MS));
    await tx.refreshToken.update({ where: { id }, data: { rotatedAt: now, lastUsedAt: now } });
    await tx.refreshToken.create({
      data: {
        userId: current.userId,
        familyId: current.familyId,
        tokenHash: next.tokenHash,
        createdAt: now,
        expiresAt,
        lastUsedAt: now,
        // The device and address of the latest use: what the sessions page shows.
        userAgent: clip(context.userAgent ?? current.userAgent, 512),
        ip: clip(context.ip ?? current.ip, 100),
      },
    });
    return {
      kind: "rotated",
      userId: current.userId,
      sessionId: current.familyId,
      refreshToken: next.token,
      expiresAt,
    };
  });

  if (outcome.kind === "rotated") {
    const { kind: _, ...result } = outcome;
    return result;
  }
  if (outcome.kind === "reuse") {
    // Thrown after the commit: the revocation and its audit event must survive the error.
    deps.logger?.warn(
      { userId: outcome.userId, sessionId: outcome.sessionId },
      "refresh token reused; session family revoked",
    );
  }
  throw unauthorized();
}

/** The family's current token (not exchanged, not revoked, not expired), if any. */
function activeToken(db: DbOrTx, familyId: string, userId: string, now: Date) {
  return db.refreshToken.findFirst({
    where: { familyId, userId, rotatedAt: null, revokedAt: null, expiresAt: { gt: now } },
    select: { id: true, expiresAt: true },
  });
}

async function revokeFamily(db: DbOrTx, familyId: string, reason: RevokeReason, now: Date): Promise<number> {
  const { count } = await db.refreshToken.updateMany({
    where: { familyId, revokedAt: null },
    data: { revokedAt: now, revokedReason: reason },
  });
  return count;
}

/** True while the family has a token that can still be exchanged: for access tokens to die with their session. */
export async function isSessionActive(
  input: { sessionId: string; userId: string },
  deps: Pick<AuthDeps, "db" | "now">,
): Promise<boolean> {
  if (!isUuid(input.sessionId) || !isUuid(input.userId)) return false;
  return (await activeToken(deps.db, input.sessionId, input.userId, clock(deps))) !== null;
}

function revokeAction(reason: RevokeReason) {
  if (reason === "logout") return "auth.logout";
  if (reason === "logout_all") return "auth.logout_all";
  return "auth.session.revoked";
}

/**
 * End one of the user's sessions. NOT_FOUND when the family is not theirs (or does not exist);
 * revoking an already revoked session is a no-op. Audit: "auth.logout" for reason "logout", else
 * "auth.session.revoked".
 */
export async function revokeSession(
  input: { userId: string; sessionId: string; reason: RevokeReason; ip?: string; userAgent?: string },
  deps: AuthDeps,
): Promise<{ revoked: number }> {
  const notFound = () => new AppError("NOT_FOUND", "Session not found");
  if (!isUuid(input.sessionId) || !isUuid(input.userId)) throw notFound();
  const now = clock(deps);
  const context = requestContext(input, deps);
  return deps.db.$transaction(async (tx) => {
    // The owner check is inside the query: another user's family id finds nothing.
    const owned = await tx.refreshToken.findFirst({
      where: { familyId: input.sessionId, userId: input.userId },
      select: { id: true },
    });
    if (!owned) throw notFound();
    const revoked = await revokeFamily(tx, input.sessionId, input.reason, now);
    if (revoked > 0) {
      await recordAuditEvent(tx, {
        userId: input.userId,
        action: revokeAction(input.reason),
        targetType: "session",
        targetId: input.sessionId,
        ...context,
        data: { reason: input.reason },
      });
    }
    return { revoked };
  });
}

/**
 * End every session of the user, except `exceptSessionId` when given ("sign out other devices").
 * Returns how many live families were revoked. Audit: "auth.logout_all" for reason "logout_all",
 * else "auth.session.revoked".
 */
export async function revokeAllSessions(
  input: { userId: string; reason: RevokeReason; exceptSessionId?: string; ip?: string; userAgent?: string },
  deps: AuthDeps,
): Promise<{ revoked: number }> {
  if (!isUuid(input.userId)) return { revoked: 0 };
  const now = clock(deps);
  const context = requestContext(input, deps);
  return deps.db.$transaction(async (tx) => {
    const revoked = await revokeUserSessions(tx, input, now);
    await recordAuditEvent(tx, {
      userId: input.userId,
      action: revokeAction(input.reason),
      targetType: "user",
      targetId: input.userId,
      ...context,
      data: { reason: input.reason, sessions: revoked },
    });
    return { revoked };
  });
}

/**
 * revokeAllSessions without its audit event, to join a caller's transaction (a password change
 * records its own event). Returns how many live families it ended.
 */
export async function revokeUserSessions(
  db: DbOrTx,
  input: { userId: string; reason: RevokeReason; exceptSessionId?: string | null },
  now: Date,
): Promise<number> {
  const where = {
    userId: input.userId,
    revokedAt: null,
    // A malformed id matches no family, so there is nothing to keep (and PostgreSQL would reject it).
    ...(isUuid(input.exceptSessionId) ? { familyId: { not: input.exceptSessionId } } : {}),
  };
  const live = await db.refreshToken.findMany({
    where: { ...where, rotatedAt: null, expiresAt: { gt: now } },
    select: { familyId: true },
    distinct: ["familyId"],
  });
  await db.refreshToken.updateMany({ where, data: { revokedAt: now, revokedReason: input.reason } });
  return live.length;
}

/** The user's live sessions, most recently started first; `current` marks `currentSessionId`. */
export async function listSessions(
  input: { userId: string; currentSessionId?: string | null },
  deps: Pick<AuthDeps, "db" | "now">,
): Promise<SessionView[]> {
  if (!isUuid(input.userId)) return [];
  const now = clock(deps);
  // One current token per live family: its row carries the latest use.
  const heads = await deps.db.refreshToken.findMany({
    where: { userId: input.userId, rotatedAt: null, revokedAt: null, expiresAt: { gt: now } },
    select: { familyId: true, userAgent: true, ip: true, createdAt: true, lastUsedAt: true },
  });
  if (heads.length === 0) return [];
  // When the family began = sign-in time.
  const starts = await deps.db.refreshToken.groupBy({
    by: ["familyId"],
    where: { userId: input.userId, familyId: { in: heads.map((h) => h.familyId) } },
    _min: { createdAt: true },
  });
  const startedAt = new Map(starts.map((s) => [s.familyId, s._min.createdAt]));
  return heads
    .map((head) => ({
      id: head.familyId,
      userAgent: head.userAgent,
      ip: head.ip,
      createdAt: startedAt.get(head.familyId) ?? head.createdAt,
      lastUsedAt: head.lastUsedAt ?? head.createdAt,
      current: head.familyId === input.currentSessionId,
    }))
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
}
