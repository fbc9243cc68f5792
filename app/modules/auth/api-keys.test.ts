import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Db } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { createUser } from "#tests/factories/index.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import {
  API_KEY_LENGTH,
  authenticateApiKey,
  createApiKey,
  generateApiKey,
  hasValidChecksum,
  listApiKeys,
  revokeApiKey,
} from "./api-keys.server.ts";

const database = setupTestDatabase();
const deps = (now?: Date) => ({ db: database.db, ...(now ? { now: () => now } : {}) });
const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

async function caught(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** A db that fails the test if anything touches it. */
const untouchableDb = new Proxy({} as Db, {
  get(_target, property) {
    throw new Error(`the database was used (${String(property)}) for a key that fails its checksum`);
  },
});

describe("key format", () => {
  it("is agt_ + 33 base62 random characters + a 6-character base62 CRC32, 43 in all", () => {
    const keys = Array.from({ length: 200 }, () => generateApiKey());
    for (const { key, prefix, keyHash } of keys) {
      expect(key).toMatch(/^agt_[0-9A-Za-z]{39}$/);
      expect(key).toHaveLength(API_KEY_LENGTH);
      expect(API_KEY_LENGTH).toBe(43);
      expect(prefix).toBe(key.slice(0, 12));
      expect(keyHash).toBe(sha256(key));
      expect(hasValidChecksum(key)).toBe(true);
    }
    expect(new Set(keys.map((k) => k.key)).size).toBe(200);
    expect(new Set(keys.map((k) => k.prefix)).size).toBe(200);
  });

  it("rejects every one-character typo, wrong lengths and foreign prefixes", () => {
    const { key } = generateApiKey();
    let typos = 0;
    for (let i = 4; i < key.length; i++) {
      for (const replacement of [
        BASE62[(BASE62.indexOf(key[i]!) + 1) % 62]!,
        BASE62[(BASE62.indexOf(key[i]!) + 31) % 62]!,
      ]) {
        const typo = key.slice(0, i) + replacement + key.slice(i + 1);
        expect(hasValidChecksum(typo), `typo at ${i}`).toBe(false);
        typos++;
      }
    }
    expect(typos).toBe(78);
    expect(hasValidChecksum(key.slice(0, -1))).toBe(false);
    expect(hasValidChecksum(`${key}0`)).toBe(false);
    expect(hasValidChecksum(`agx_${key.slice(4)}`)).toBe(false);
    expect(hasValidChecksum(`${key.slice(0, 10)}-${key.slice(11)}`)).toBe(false);
    // Two swapped neighbours, the other common typo.
    const swapped = key.slice(0, 10) + key[11] + key[10] + key.slice(12);
    if (swapped !== key) expect(hasValidChecksum(swapped)).toBe(false);
  });

  it("refuses a mistyped key without a database query", async () => {
    const { key } = generateApiKey();
    const typo = key.slice(0, 20) + (key[20] === "a" ? "b" : "a") + key.slice(21);
    const error = await caught(authenticateApiKey({ key: typo }, { db: untouchableDb }));
    expect(error).toMatchObject({ code: "UNAUTHORIZED", message: "Invalid API key" });
    expect((await caught(authenticateApiKey({ key: "agt_short" }, { db: untouchableDb }))).code).toBe(
      "UNAUTHORIZED",
    );
    // And the proxy does catch a lookup: a well-formed key reaches it.
    await expect(authenticateApiKey({ key }, { db: untouchableDb })).rejects.toThrow(/database was used/);
  });
});

describe("API keys", () => {
  it("creates a key shown once: stores its hash, deduped scopes, and records api_key.created", async () => {
    const user = await createUser(database.db);
    const created = await createApiKey(
      { userId: user.id, name: " CI ", scopes: ["runs:read", "projects:read", "runs:read"] },
      { ...deps(), ip: "192.0.2.5" },
    );
    expect(created).toMatchObject({
      name: "CI",
      scopes: ["runs:read", "projects:read"],
      prefix: created.key.slice(0, 12),
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
    });
    expect(hasValidChecksum(created.key)).toBe(true);

    const row = await database.db.apiKey.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.keyHash).toBe(sha256(created.key));
    expect(row.scopes).toEqual(["runs:read", "projects:read"]);
    expect(row.rateLimitPerMinute).toBeNull();
    const everything = JSON.stringify([
      await database.db.apiKey.findMany({ where: { userId: user.id } }),
      await database.db.auditEvent.findMany({ where: { userId: user.id } }),
      await listApiKeys({ userId: user.id }, deps()),
    ]);
    expect(everything).not.toContain(created.key);

    const [event] = await database.db.auditEvent.findMany({
      where: { userId: user.id, action: "api_key.created" },
    });
    expect(event).toMatchObject({ targetType: "api_key", targetId: created.id, ip: "192.0.2.5" });
    expect(event?.data).toMatchObject({
      name: "CI",
      prefix: created.prefix,
      scopes: ["runs:read", "projects:read"],
    });
  });

  it("validates its input: no scopes, unknown scope, past expiry → BAD_REQUEST", async () => {
    const user = await createUser(database.db);
    for (const input of [
      { name: "x", scopes: [] },
      { name: "x", scopes: ["admin:everything"] },
      { name: "", scopes: ["runs:read"] },
      { name: "x", scopes: ["runs:read"], expiresAt: new Date(Date.now() - 1000) },
    ]) {
      // biome-ignore lint/suspicious/noExplicitAny: deliberately invalid input
      const error = await caught(createApiKey({ userId: user.id, ...(input as any) }, deps()));
      expect(error.code).toBe("BAD_REQUEST");
    }
    expect(await database.db.apiKey.count({ where: { userId: user.id } })).toBe(0);
  });

  it("authenticates a key to its user and scopes; unknown, revoked and expired keys are refused", async () => {
    const user = await createUser(database.db);
    const t0 = new Date();
    const created = await createApiKey(
      {
        userId: user.id,
        name: "deploy",
        scopes: ["workflows:write"],
        expiresAt: new Date(t0.getTime() + 3_600_000),
      },
      deps(),
    );
    expect(await authenticateApiKey({ key: created.key }, deps(t0))).toEqual({
      userId: user.id,
      apiKeyId: created.id,
      scopes: ["workflows:write"],
      rateLimitPerMinute: null,
    });

    const unknown = generateApiKey().key; // valid checksum, never stored
    expect(await caught(authenticateApiKey({ key: unknown }, deps()))).toMatchObject({
      code: "UNAUTHORIZED",
      message: "Invalid API key",
    });

    const expired = await caught(
      authenticateApiKey({ key: created.key }, deps(new Date(t0.getTime() + 3_600_000))),
    );
    expect(expired).toMatchObject({ code: "UNAUTHORIZED", message: "Invalid API key" });

    await revokeApiKey({ userId: user.id, id: created.id }, deps());
    expect(await caught(authenticateApiKey({ key: created.key }, deps(t0)))).toMatchObject({
      code: "UNAUTHORIZED",
      message: "Invalid API key",
    });
  });

  it("writes lastUsedAt at most once a minute per key", async () => {
    const user = await createUser(database.db);
    const created = await createApiKey({ userId: user.id, name: "busy", scopes: ["runs:read"] }, deps());
    const lastUsed = async () =>
      (await database.db.apiKey.findUniqueOrThrow({ where: { id: created.id } })).lastUsedAt?.getTime();
    const t0 = new Date(Math.floor(Date.now() / 1000) * 1000);

    await authenticateApiKey({ key: created.key }, deps(t0));
    expect(await lastUsed()).toBe(t0.getTime());
    // Concurrent requests 30 s later: no write.
    await Promise.all(
      [1, 2, 3].map(() => authenticateApiKey({ key: created.key }, deps(new Date(t0.getTime() + 30_000)))),
    );
    expect(await lastUsed()).toBe(t0.getTime());
    await authenticateApiKey({ key: created.key }, deps(new Date(t0.getTime() + 59_999)));
    expect(await lastUsed()).toBe(t0.getTime());
    await authenticateApiKey({ key: created.key }, deps(new Date(t0.getTime() + 60_000)));
    expect(await lastUsed()).toBe(t0.getTime() + 60_000);
    expect((await listApiKeys({ userId: user.id }, deps()))[0]?.lastUsedAt).toEqual(
      new Date(t0.getTime() + 60_000),
    );
  });

  it("revoke: NOT_FOUND for another user's key (which keeps working), idempotent, audited once", async () => {
    const [alice, mallory] = [await createUser(database.db), await createUser(database.db)];
    const key = await createApiKey({ userId: alice.id, name: "mine", scopes: ["keys:manage"] }, deps());

    expect(await caught(revokeApiKey({ userId: mallory.id, id: key.id }, deps()))).toMatchObject({
      code: "NOT_FOUND",
      message: "API key not found",
    });
    expect((await caught(revokeApiKey({ userId: alice.id, id: "not-a-uuid" }, deps()))).code).toBe(
      "NOT_FOUND",
    );
    await expect(authenticateApiKey({ key: key.key }, deps())).resolves.toMatchObject({ userId: alice.id });
    expect(await database.db.auditEvent.count({ where: { userId: mallory.id } })).toBe(0);

    const first = await revokeApiKey({ userId: alice.id, id: key.id }, deps());
    expect(first.revokedAt).toBeInstanceOf(Date);
    const second = await revokeApiKey({ userId: alice.id, id: key.id }, deps());
    expect(second.revokedAt).toEqual(first.revokedAt);
    expect(
      await database.db.auditEvent.count({ where: { userId: alice.id, action: "api_key.revoked" } }),
    ).toBe(1);
  });

  it("lists only the user's keys, newest first, never the key itself", async () => {
    const [alice, bob] = [await createUser(database.db), await createUser(database.db)];
    const t0 = Date.now();
    const a1 = await createApiKey(
      { userId: alice.id, name: "one", scopes: ["runs:read"] },
      deps(new Date(t0 - 1000)),
    );
    const a2 = await createApiKey(
      { userId: alice.id, name: "two", scopes: ["runs:write"] },
      deps(new Date(t0)),
    );
    await createApiKey({ userId: bob.id, name: "bob's", scopes: ["runs:read"] }, deps());
    const list = await listApiKeys({ userId: alice.id }, deps());
    expect(list.map((k) => k.id)).toEqual([a2.id, a1.id]);
    for (const view of list) {
      expect(Object.keys(view).sort()).toEqual(
        ["createdAt", "expiresAt", "id", "lastUsedAt", "name", "prefix", "revokedAt", "scopes"].sort(),
      );
    }
  });
});
