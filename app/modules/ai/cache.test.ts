import { describe, expect, it } from "vitest";
import { createUser } from "#tests/factories/index.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import type { ChatRequest, ModelRef } from "./ai.types.ts";
import {
  CacheMemory,
  canonicalJson,
  isDeterministic,
  purgeExpiredCache,
  readCache,
  requestHash,
  writeCache,
} from "./cache.server.ts";

const database = setupTestDatabase();
const ref: ModelRef = {
  provider: "openai",
  endpoint: null,
  model: "gpt-4.1-mini",
  id: "openai:gpt-4.1-mini",
};
const request: ChatRequest = { model: ref.id, temperature: 0, messages: [{ role: "user", content: "hi" }] };

describe("cache keys", () => {
  it("canonical JSON ignores key order and undefined fields", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}',
    );
  });

  it("hashes every part that shapes the answer", () => {
    const base = requestHash(ref, request);
    expect(requestHash(ref, { ...request })).toBe(base);
    expect(requestHash(ref, { ...request, maxTokens: 5 })).not.toBe(base);
    expect(requestHash(ref, { ...request, messages: [{ role: "user", content: "hi!" }] })).not.toBe(base);
    expect(
      requestHash(ref, { ...request, tools: [{ name: "t", description: "", parameters: {} }] }),
    ).not.toBe(base);
    expect(requestHash({ ...ref, provider: "compat", endpoint: "x" } as ModelRef, request)).not.toBe(base);
  });

  it("only temperature 0 or a seed make a request deterministic", () => {
    expect(isDeterministic({ temperature: 0 })).toBe(true);
    expect(isDeterministic({ seed: 1 })).toBe(true);
    expect(isDeterministic({ temperature: 0.2 })).toBe(false);
    expect(isDeterministic({})).toBe(false);
  });
});

describe("cache store", () => {
  it("reads back what it wrote until it expires; the hourly purge deletes only expired entries", async () => {
    const user = await createUser(database.db);
    const now = new Date("2026-05-01T10:00:00Z");
    const answer = {
      text: "hello",
      toolCalls: [],
      finishReason: "stop" as const,
      usage: { tokensIn: 3, tokensOut: 1 },
      costMicros: 9,
    };
    await writeCache(database.db, { userId: user.id, key: "k1", ref, answer, ttlSeconds: 60, now });
    await writeCache(database.db, { userId: user.id, key: "k2", ref, answer, ttlSeconds: 3600, now });
    expect(await readCache(database.db, { userId: user.id, key: "k1", now })).toMatchObject({
      text: "hello",
      costMicros: 9,
    });
    const later = new Date(now.getTime() + 120_000);
    expect(await readCache(database.db, { userId: user.id, key: "k1", now: later })).toBeNull();
    expect(await purgeExpiredCache(database.db, later)).toBe(1);
    expect(await database.db.aiCache.count({ where: { userId: user.id } })).toBe(1);
  });
});

describe("CacheMemory", () => {
  const answer = (text: string) => ({
    entryId: "e",
    text,
    toolCalls: [],
    finishReason: "stop" as const,
    usage: { tokensIn: 1, tokensOut: 1 },
    costMicros: 1,
  });
  const now = new Date("2026-05-01T00:00:00Z");
  const later = new Date(now.getTime() + 60_000);

  it("keeps the most recently used entries, per user, until they expire", () => {
    const memory = new CacheMemory(2);
    memory.set("u1", "a", answer("A"), later);
    memory.set("u1", "b", answer("B"), later);
    expect(memory.get("u1", "a", now)?.text).toBe("A");
    memory.set("u1", "c", answer("C"), later);
    // "b" was the least recently used.
    expect(memory.get("u1", "b", now)).toBeNull();
    expect(memory.get("u1", "a", now)?.text).toBe("A");
    expect(memory.get("u2", "a", now)).toBeNull();
    expect(memory.get("u1", "a", later)).toBeNull();
    expect(memory.size).toBe(1);
  });

  it("leaves large answers to PostgreSQL", () => {
    const memory = new CacheMemory(10, 100);
    memory.set("u", "big", answer("x".repeat(101)), later);
    expect(memory.get("u", "big", now)).toBeNull();
  });
});
