/**
 * API keys: `agt_` + 33 base62 characters of randomness (24 bytes, 192 bits) + 6 base62 characters
 * of CRC32 over those 33 characters, 43 characters in all. The fixed prefix and checksum let leak
 * scanners (GitHub secret scanning and the like) match our keys without false positives, and let us
 * refuse a mistyped key before touching the database. Only the sha256 of a key is stored.
 */
import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import type { Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { recordAuditEvent } from "./audit.server.ts";
import {
  type ApiKeyView,
  type CreatedApiKey,
  isScope,
  type Scope,
  type TCreateApiKeyInput,
  ZCreateApiKeyInput,
} from "./auth.types.ts";
import {
  type AuthDeps,
  clock,
  isUniqueViolation,
  isUuid,
  parseInput,
  requestContext,
} from "./deps.server.ts";

export const API_KEY_PREFIX = "agt_";
const RANDOM_BYTES = 24;
/** ceil(192 / log2(62)) */
const RANDOM_CHARS = 33;
/** ceil(32 / log2(62)) */
const CHECKSUM_CHARS = 6;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + RANDOM_CHARS + CHECKSUM_CHARS;
/** What lists and logs show: `agt_` + 8 characters. */
const DISPLAY_PREFIX_LENGTH = 12;
/** lastUsedAt is written at most this often per key: one write per request would make every call a write. */
export const LAST_USED_THROTTLE_MS = 60_000;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_SHAPE = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${RANDOM_CHARS + CHECKSUM_CHARS}}$`);

/** Fixed-width base62 (zero-padded), so every key has the same length. */
function base62(value: bigint, width: number): string {
  let out = "";
  let rest = value;
  while (rest > 0n) {
    out = BASE62[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  if (out.length > width) throw new Error(`value does not fit in ${width} base62 characters`);
  return out.padStart(width, "0");
}

const checksumOf = (randomPart: string) => base62(BigInt(crc32(randomPart)), CHECKSUM_CHARS);

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** A new key, its display prefix and its hash. The key itself must be shown once and never stored. */
export function generateApiKey(): { key: string; prefix: string; keyHash: string } {
  const randomPart = base62(BigInt(`0x${randomBytes(RANDOM_BYTES).toString("hex")}`), RANDOM_CHARS);
  const key = `${API_KEY_PREFIX}${randomPart}${checksumOf(randomPart)}`;
  return { key, prefix: key.slice(0, DISPLAY_PREFIX_LENGTH), keyHash: hashApiKey(key) };
}

/**
 * True when `key` has our shape and its checksum matches: a cheap test before any database lookup.
 * CRC32 catches every single-character typo (and any burst of up to 32 bits).
 */
export function hasValidChecksum(key: string): boolean {
  if (typeof key !== "string" || key.length !== API_KEY_LENGTH || !KEY_SHAPE.test(key)) return false;
  const randomPart = key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + RANDOM_CHARS);
  return key.slice(API_KEY_PREFIX.length + RANDOM_CHARS) === checksumOf(randomPart);
}

const VIEW_SELECT = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  createdAt: true,
  lastUsedAt: true,
  expiresAt: true,
  revokedAt: true,
} as const satisfies Prisma.ApiKeySelect;

type ViewRow = Prisma.ApiKeyGetPayload<{ select: typeof VIEW_SELECT }>;

/** Scopes this version no longer knows grant nothing, so they are not shown either. */
const knownScopes = (scopes: string[]): Scope[] => scopes.filter(isScope);
const toView = (row: ViewRow): ApiKeyView => ({ ...row, scopes: knownScopes(row.scopes) });

/**
 * Create a key for the user (name 1–100, ≥ 1 scope, optional future expiry). The returned `key` is
 * the only time it is ever available. Audit "api_key.created".
 */
export async function createApiKey(
  input: { userId: string } & TCreateApiKeyInput & { ip?: string; userAgent?: string },
  deps: AuthDeps,
): Promise<CreatedApiKey> {
  const { name, scopes, expiresAt } = parseInput(ZCreateApiKeyInput, input);
  const now = clock(deps);
  if (expiresAt && expiresAt.getTime() <= now.getTime()) {
    throw new AppError("BAD_REQUEST", "Expiry must be in the future");
  }
  const context = requestContext(input, deps);
  // The 8 characters of the display prefix are unique in the table; a collision (about 2^-43 per
  // pair) is retried with a new key rather than failing the request.
  for (let attempt = 1; ; attempt++) {
    const generated = generateApiKey();
    try {
      const row = await deps.db.$transaction(async (tx) => {
        const created = await tx.apiKey.create({
          data: {
            userId: input.userId,
            name,
            prefix: generated.prefix,
            keyHash: generated.keyHash,
            scopes,
            createdAt: now,
            expiresAt: expiresAt ?? null,
          },
          select: VIEW_SELECT,
        });
        await recordAuditEvent(tx, {
          userId: input.userId,
          action: "api_key.created",
          targetType: "api_key",
          targetId: created.id,
          ...context,
          data: {
            name,
            prefix: created.prefix,
            scopes,
            expiresAt: created.expiresAt?.toISOString() ?? null,
          },
        });
        return created;
      });
      return { ...toView(row), key: generated.key };
    } catch (error) {
      if (attempt < 3 && (isUniqueViolation(error, "prefix") || isUniqueViolation(error, "keyHash")))
        continue;
      throw error;
    }
  }
}

/** The user's keys (revoked and expired ones too, so the list explains itself), newest first. */
export async function listApiKeys(
  input: { userId: string },
  deps: Pick<AuthDeps, "db">,
): Promise<ApiKeyView[]> {
  if (!isUuid(input.userId)) return [];
  const rows = await deps.db.apiKey.findMany({
    where: { userId: input.userId },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    select: VIEW_SELECT,
  });
  return rows.map(toView);
}

/**
 * Revoke one of the user's keys. NOT_FOUND when it is not theirs; revoking twice changes nothing
 * (and records nothing the second time). Audit "api_key.revoked".
 */
export async function revokeApiKey(
  input: { userId: string; id: string; ip?: string; userAgent?: string },
  deps: AuthDeps,
): Promise<ApiKeyView> {
  const notFound = () => new AppError("NOT_FOUND", "API key not found");
  if (!isUuid(input.id) || !isUuid(input.userId)) throw notFound();
  const now = clock(deps);
  const context = requestContext(input, deps);
  const row = await deps.db.$transaction(async (tx) => {
    // Ownership is part of the update's filter: another user's key id changes nothing.
    const { count } = await tx.apiKey.updateMany({
      where: { id: input.id, userId: input.userId, revokedAt: null },
      data: { revokedAt: now },
    });
    const key = await tx.apiKey.findFirst({
      where: { id: input.id, userId: input.userId },
      select: VIEW_SELECT,
    });
    if (!key) throw notFound();
    if (count > 0) {
      await recordAuditEvent(tx, {
        userId: input.userId,
        action: "api_key.revoked",
        targetType: "api_key",
        targetId: key.id,
        ...context,
        data: { name: key.name, prefix: key.prefix },
      });
    }
    return key;
  });
  return toView(row);
}

export type ApiKeyPrincipal = {
  userId: string;
  apiKeyId: string;
  scopes: Scope[];
  /** The key's own requests-per-minute limit; null = the server default. */
  rateLimitPerMinute: number | null;
};

/**
 * Who a Bearer `agt_…` key belongs to. UNAUTHORIZED "Invalid API key" when malformed or the
 * checksum fails (no database query then), unknown, revoked or expired. Updates `lastUsedAt` at
 * most once per `lastUsedThrottleMs` (default 60 s) per key, across processes.
 */
export async function authenticateApiKey(
  input: { key: string },
  deps: Pick<AuthDeps, "db" | "now"> & { lastUsedThrottleMs?: number },
): Promise<ApiKeyPrincipal> {
  const invalid = () => new AppError("UNAUTHORIZED", "Invalid API key");
  if (!hasValidChecksum(input.key)) throw invalid();
  const row = await deps.db.apiKey.findUnique({
    where: { keyHash: hashApiKey(input.key) },
    select: {
      id: true,
      userId: true,
      scopes: true,
      rateLimitPerMinute: true,
      lastUsedAt: true,
      expiresAt: true,
      revokedAt: true,
    },
  });
  const now = clock(deps);
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= now.getTime())) throw invalid();

  const throttleMs = deps.lastUsedThrottleMs ?? LAST_USED_THROTTLE_MS;
  const staleBefore = new Date(now.getTime() - throttleMs);
  if (!row.lastUsedAt || row.lastUsedAt.getTime() <= staleBefore.getTime()) {
    // Conditional: of concurrent requests (in any process) only the first in a window writes.
    await deps.db.apiKey.updateMany({
      where: { id: row.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lte: staleBefore } }] },
      data: { lastUsedAt: now },
    });
  }
  return {
    userId: row.userId,
    apiKeyId: row.id,
    scopes: knownScopes(row.scopes),
    rateLimitPerMinute: row.rateLimitPerMinute,
  };
}
