/**
 * Exact-match response cache for deterministic requests (temperature 0 or a seed), per user, in PostgreSQL.
 * The key is a sha256 over a canonical JSON of everything that shapes the answer: provider, endpoint, model,
 * messages, tools, tool choice and parameters. Never shared across users: that would leak prompts and answers.
 */
import { createHash } from "node:crypto";
import type { DbOrTx } from "#app/db/client.server.ts";
import type { ChatRequest, FinishReason, ModelRef, ToolCall, Usage } from "./ai.types.ts";

/** What a cache entry holds and a hit replays. */
export type CachedAnswer = {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
  /** What the original call cost (hits are recorded at zero). */
  costMicros: number;
};

/** Only requests whose answer is meant to be reproducible are cached. */
export function isDeterministic(request: Pick<ChatRequest, "temperature" | "seed">): boolean {
  return request.temperature === 0 || request.seed !== undefined;
}

/** JSON with object keys sorted at every level, so equal requests hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const keys = Object.keys(value as Record<string, unknown>)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

export function requestHash(ref: ModelRef, request: ChatRequest): string {
  const { model: _model, ...rest } = request;
  const material = canonicalJson({
    v: 1,
    provider: ref.provider,
    endpoint: ref.endpoint,
    model: ref.model,
    ...rest,
  });
  return createHash("sha256").update(material).digest("hex");
}

export async function readCache(
  db: DbOrTx,
  { userId, key, now }: { userId: string; key: string; now: Date },
): Promise<(CachedAnswer & { entryId: string; expiresAt: Date | null }) | null> {
  const row = await db.aiCache.findUnique({
    where: { userId_key: { userId, key } },
    select: { id: true, response: true, tokensIn: true, tokensOut: true, costMicros: true, expiresAt: true },
  });
  if (!row || (row.expiresAt && row.expiresAt <= now)) return null;
  const response = row.response as { text?: unknown; toolCalls?: unknown; finishReason?: unknown };
  if (typeof response.text !== "string" || !Array.isArray(response.toolCalls)) return null;
  return {
    entryId: row.id,
    expiresAt: row.expiresAt,
    text: response.text,
    toolCalls: response.toolCalls as ToolCall[],
    finishReason: (response.finishReason as FinishReason) ?? "stop",
    usage: { tokensIn: row.tokensIn, tokensOut: row.tokensOut },
    costMicros: Number(row.costMicros),
  };
}

export async function writeCache(
  db: DbOrTx,
  entry: {
    userId: string;
    key: string;
    ref: ModelRef;
    answer: CachedAnswer;
    ttlSeconds: number;
    now: Date;
  },
): Promise<{ entryId: string; expiresAt: Date }> {
  const { answer } = entry;
  const data = {
    provider: entry.ref.provider,
    model: entry.ref.endpoint ? `${entry.ref.endpoint}/${entry.ref.model}` : entry.ref.model,
    response: { text: answer.text, toolCalls: answer.toolCalls, finishReason: answer.finishReason },
    tokensIn: answer.usage.tokensIn,
    tokensOut: answer.usage.tokensOut,
    costMicros: BigInt(answer.costMicros),
    createdAt: entry.now,
    expiresAt: new Date(entry.now.getTime() + entry.ttlSeconds * 1000),
  };
  const row = await db.aiCache.upsert({
    where: { userId_key: { userId: entry.userId, key: entry.key } },
    create: { userId: entry.userId, key: entry.key, ...data },
    update: { ...data, hits: 0, lastHitAt: null },
    select: { id: true },
  });
  return { entryId: row.id, expiresAt: data.expiresAt };
}

/** Delete expired entries; returns how many. (Run periodically by the worker.) */
export async function purgeExpiredCache(db: DbOrTx, now: Date): Promise<number> {
  const { count } = await db.aiCache.deleteMany({ where: { expiresAt: { lte: now } } });
  return count;
}

/**
 * The hottest entries in process memory, in front of PostgreSQL: a repeated deterministic call (a replayed
 * run, an eval re-run) is answered without a database round trip. Bounded by entry count and by answer size;
 * an entry is only kept until it expires. Per process and per user key, like the table.
 */
export class CacheMemory {
  private readonly entries = new Map<
    string,
    { answer: CachedAnswer & { entryId: string }; expiresAt: number }
  >();

  constructor(
    private readonly maxEntries = 1_000,
    /** Answers larger than this (characters of text and tool arguments) stay in PostgreSQL only. */
    private readonly maxChars = 64 * 1024,
  ) {}

  get(userId: string, key: string, now: Date): (CachedAnswer & { entryId: string }) | null {
    const id = `${userId}|${key}`;
    const hit = this.entries.get(id);
    if (!hit) return null;
    if (hit.expiresAt <= now.getTime()) {
      this.entries.delete(id);
      return null;
    }
    // Most recently used last: re-insert.
    this.entries.delete(id);
    this.entries.set(id, hit);
    return hit.answer;
  }

  set(userId: string, key: string, answer: CachedAnswer & { entryId: string }, expiresAt: Date): void {
    const size = answer.text.length + answer.toolCalls.reduce((n, c) => n + c.arguments.length, 0);
    if (size > this.maxChars) return;
    const id = `${userId}|${key}`;
    this.entries.delete(id);
    this.entries.set(id, { answer, expiresAt: expiresAt.getTime() });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
