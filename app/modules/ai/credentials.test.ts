import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AppErrorCode, isAppError } from "#app/lib/app-error.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { SCOPES, type Scope } from "#app/modules/auth/auth.types.ts";
import type { Principal } from "#app/modules/auth/authenticate.server.ts";
import { createCallerFactory, type TrpcContext } from "#app/trpc/init.server.ts";
import { createUser } from "#tests/factories/index.ts";
import { type MockLlm, startMockLlm } from "#tests/mocks/llm/server.ts";
import { createTestAiRuntime, TEST_ENCRYPTION_KEY } from "#tests/setup/ai.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { type ModelRef, type ProviderKind, parseModelId } from "./ai.types.ts";
import { type AiConfig, DEFAULT_AI_CONFIG } from "./config.server.ts";
import { credentialsRouter } from "./credentials.router.server.ts";
import {
  addCredential,
  type CredentialsDeps,
  credentialAad,
  deleteCredential,
  hintFor,
  listCredentials,
  reencryptCredentials,
  resolveConnection,
  rotateCredential,
  serverProviders,
  testConnection,
  testCredential,
} from "./credentials.server.ts";
import { createKeyring, decryptSecret } from "./crypto.server.ts";
import { type ProviderAdapter, type ProviderConnection, ProviderError } from "./providers/types.server.ts";

const database = setupTestDatabase();
const db = () => database.db;

const KEY_1 = randomBytes(32).toString("base64");
const KEY_2 = randomBytes(32).toString("base64");
const keyring = createKeyring(KEY_1);
const OPENAI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123";
const ANTHROPIC_KEY = "sk-ant-api03-zyxwvutsrqponmlkjihgfedcba9876";

/** A scripted adapter: records every connection it was asked to list models for. */
function fakeAdapter(
  listModels: (connection: ProviderConnection, signal: AbortSignal) => Promise<string[]> = async () => [
    "model-a",
    "model-b",
  ],
) {
  const calls: ProviderConnection[] = [];
  const adapter: ProviderAdapter = {
    kind: "openai",
    stream: () => {
      throw new Error("not used");
    },
    listModels: (connection, { signal }) => {
      calls.push(connection);
      return listModels(connection, signal);
    },
  };
  return { calls, adapterFor: (_kind: ProviderKind) => adapter };
}

function depsWith(overrides: Partial<CredentialsDeps> = {}, config: Partial<AiConfig> = {}): CredentialsDeps {
  return {
    db: db(),
    keyring,
    config: { ...DEFAULT_AI_CONFIG, ...config },
    adapterFor: fakeAdapter().adapterFor,
    ...overrides,
  };
}

async function expectAppError(promise: Promise<unknown>, code: AppErrorCode, message?: RegExp) {
  const error = await promise.then(
    () => {
      throw new Error(`expected AppError ${code}`);
    },
    (e: unknown) => e,
  );
  if (!isAppError(error)) throw error;
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
  return error;
}

function ref(id: string): ModelRef {
  const parsed = parseModelId(id);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.ref;
}

/** Audit events of this test's users with `action`. */
const auditCount = (action: string | { startsWith: string }) =>
  db().auditEvent.count({ where: { action, userId: { in: [userA, userB] } } });

/** Every audit event of the database, as one JSON text: secrets must not appear in it. */
async function allAuditText(): Promise<string> {
  return JSON.stringify(await db().auditEvent.findMany());
}

let userA: string;
let userB: string;
beforeEach(async () => {
  // Credentials of earlier tests would count in counts and re-encryption; audit events cannot be deleted
  // (append-only), so their counts are scoped to this test's users instead.
  await db().providerCredential.deleteMany();
  userA = (await createUser(db())).id;
  userB = (await createUser(db())).id;
});

describe("hintFor", () => {
  it("shows the last four characters of real keys, nothing of short ones, null for none", () => {
    expect(hintFor(OPENAI_KEY)).toBe("…0123");
    expect(hintFor("abc1234")).toBe("…");
    expect(hintFor("")).toBeNull();
  });
});

describe("addCredential / listCredentials", () => {
  it("stores the key encrypted and bound to its row, and lists it with a hint only", async () => {
    const view = await addCredential(
      { userId: userA, provider: "openai", apiKey: OPENAI_KEY, ip: "203.0.113.9" },
      depsWith(),
    );
    expect(view).toMatchObject({ provider: "openai", name: "default", baseUrl: null, hint: "…0123" });
    expect(view.lastTestedAt).toBeNull();
    expect(Object.keys(view).sort()).toEqual(
      ["baseUrl", "createdAt", "hint", "id", "lastTestedAt", "name", "provider", "updatedAt"].sort(),
    );

    const row = await db().providerCredential.findUniqueOrThrow({ where: { id: view.id } });
    expect(Buffer.from(row.ciphertext).toString("utf8")).not.toContain("abcdefghij");
    expect(row.keyVersion).toBe(keyring.current.version);
    expect(row.iv).toHaveLength(12);
    expect(decryptSecret(keyring, row, credentialAad(row))).toBe(OPENAI_KEY);

    const list = await listCredentials({ userId: userA }, depsWith());
    expect(list).toEqual([view]);
    expect(JSON.stringify(list)).not.toContain(OPENAI_KEY);
    expect(await listCredentials({ userId: userB }, depsWith())).toEqual([]);
    expect(await listCredentials({ userId: "not-a-uuid" }, depsWith())).toEqual([]);

    const events = await db().auditEvent.findMany({ where: { userId: userA, action: "credential.added" } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      targetType: "provider_credential",
      targetId: view.id,
      ip: "203.0.113.9",
      data: { provider: "openai", name: "default", baseUrl: null },
    });
    expect(await allAuditText()).not.toContain(OPENAI_KEY);
  });

  it("lists by provider then name", async () => {
    const deps = depsWith();
    await addCredential(
      { userId: userA, provider: "compat", name: "ollama", baseUrl: "http://127.0.0.1:11434/v1" },
      deps,
    );
    await addCredential({ userId: userA, provider: "openai", name: "work", apiKey: OPENAI_KEY }, deps);
    await addCredential({ userId: userA, provider: "anthropic", apiKey: ANTHROPIC_KEY }, deps);
    await addCredential({ userId: userA, provider: "openai", apiKey: OPENAI_KEY }, deps);
    const list = await listCredentials({ userId: userA }, deps);
    expect(list.map((c) => `${c.provider}/${c.name}`)).toEqual([
      "openai/default",
      "openai/work",
      "anthropic/default",
      "compat/ollama",
    ]);
  });

  it("accepts keyless OpenAI-compatible endpoints (hint null) and normalises the base URL", async () => {
    const view = await addCredential(
      { userId: userA, provider: "compat", name: "ollama", baseUrl: "http://127.0.0.1:11434/v1/" },
      depsWith(),
    );
    expect(view).toMatchObject({ name: "ollama", baseUrl: "http://127.0.0.1:11434/v1", hint: null });
  });

  it("refuses invalid input with BAD_REQUEST", async () => {
    const deps = depsWith();
    await expectAppError(
      addCredential({ userId: userA, provider: "compat", name: "ollama" }, deps),
      "BAD_REQUEST",
      /needs a base URL/,
    );
    await expectAppError(
      addCredential({ userId: userA, provider: "openai" }, deps),
      "BAD_REQUEST",
      /API key/,
    );
    await expectAppError(
      addCredential({ userId: userA, provider: "openai", name: "Has Spaces", apiKey: OPENAI_KEY }, deps),
      "BAD_REQUEST",
      /lower-case/,
    );
    await expectAppError(
      addCredential(
        { userId: userA, provider: "compat", name: "x", baseUrl: "ftp://host/v1" as string },
        deps,
      ),
      "BAD_REQUEST",
      /http/,
    );
    await expectAppError(
      addCredential(
        {
          userId: userA,
          provider: "compat",
          name: "x",
          apiKey: "k",
          baseUrl: "http://user:hunter2hunter2@127.0.0.1:8000/v1",
        },
        deps,
      ),
      "BAD_REQUEST",
      /API key field/,
    );
    expect(await db().providerCredential.count()).toBe(0);
  });

  it("answers CONFLICT for a second credential with the same provider and name, but not across users", async () => {
    const deps = depsWith();
    await addCredential({ userId: userA, provider: "openai", apiKey: OPENAI_KEY }, deps);
    await expectAppError(
      addCredential({ userId: userA, provider: "openai", apiKey: `${OPENAI_KEY}x` }, deps),
      "CONFLICT",
      /already have OpenAI credentials named "default"/,
    );
    await addCredential({ userId: userA, provider: "anthropic", apiKey: ANTHROPIC_KEY }, deps);
    await addCredential({ userId: userB, provider: "openai", apiKey: OPENAI_KEY }, deps);
    expect(await db().providerCredential.count()).toBe(3);
    expect(await auditCount("credential.added")).toBe(3);
  });

  it("refuses user base URLs when the operator disallows them", async () => {
    const deps = depsWith({}, { allowUserBaseUrls: false });
    await expectAppError(
      addCredential(
        { userId: userA, provider: "openai", apiKey: OPENAI_KEY, baseUrl: "http://10.0.0.1/v1" },
        deps,
      ),
      "BAD_REQUEST",
      /does not allow custom base URLs/,
    );
    await expectAppError(
      addCredential({ userId: userA, provider: "compat", name: "vllm", baseUrl: "http://10.0.0.1/v1" }, deps),
      "BAD_REQUEST",
      /OpenAI-compatible endpoints cannot be added/,
    );
    const view = await addCredential({ userId: userA, provider: "openai", apiKey: OPENAI_KEY }, deps);
    expect(view.baseUrl).toBeNull();
  });
});

describe("rotateCredential", () => {
  it("replaces the secret under the current key, clears lastTestedAt and records the rotation", async () => {
    const oldKeyring = createKeyring(KEY_2);
    const created = await addCredential(
      { userId: userA, provider: "openai", apiKey: OPENAI_KEY },
      depsWith({ keyring: oldKeyring }),
    );
    await db().providerCredential.update({ where: { id: created.id }, data: { lastTestedAt: new Date() } });
    const newKey = "sk-proj-NEWNEWNEWNEWNEWNEWNEW9999";
    const rotatedKeyring = createKeyring(KEY_1, [KEY_2]);
    const later = new Date(Date.now() + 60_000);
    const view = await rotateCredential(
      { userId: userA, id: created.id, apiKey: newKey },
      depsWith({ keyring: rotatedKeyring, now: () => later }),
    );
    expect(view).toMatchObject({ id: created.id, hint: "…9999", lastTestedAt: null, updatedAt: later });

    const row = await db().providerCredential.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.keyVersion).toBe(rotatedKeyring.current.version);
    expect(decryptSecret(createKeyring(KEY_1), row, credentialAad(row))).toBe(newKey);
    const events = await db().auditEvent.findMany({ where: { action: "credential.rotated", userId: userA } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ userId: userA, targetId: created.id, data: { provider: "openai" } });
    const audit = await allAuditText();
    expect(audit).not.toContain(newKey);
    expect(audit).not.toContain("NEWNEW");
  });

  it("answers NOT_FOUND for another user's credential or a malformed id, and BAD_REQUEST for an empty key", async () => {
    const deps = depsWith();
    const created = await addCredential({ userId: userA, provider: "openai", apiKey: OPENAI_KEY }, deps);
    await expectAppError(
      rotateCredential({ userId: userB, id: created.id, apiKey: "sk-stolen-000000000" }, deps),
      "NOT_FOUND",
    );
    await expectAppError(
      rotateCredential({ userId: userA, id: randomUUID(), apiKey: "sk-x-123456789" }, deps),
      "NOT_FOUND",
    );
    await expectAppError(
      rotateCredential({ userId: userA, id: "nope", apiKey: "sk-x-123456789" }, deps),
      "BAD_REQUEST",
    );
    await expectAppError(
      rotateCredential({ userId: userA, id: created.id, apiKey: "   " }, deps),
      "BAD_REQUEST",
    );
    const row = await db().providerCredential.findUniqueOrThrow({ where: { id: created.id } });
    expect(decryptSecret(keyring, row, credentialAad(row))).toBe(OPENAI_KEY);
    expect(await auditCount("credential.rotated")).toBe(0);
  });
});

describe("deleteCredential", () => {
  it("deletes the caller's credential, records it, and answers NOT_FOUND for anyone else's", async () => {
    const deps = depsWith();
    const created = await addCredential(
      { userId: userA, provider: "anthropic", apiKey: ANTHROPIC_KEY },
      deps,
    );
    await expectAppError(deleteCredential({ userId: userB, id: created.id }, deps), "NOT_FOUND");
    await expectAppError(deleteCredential({ userId: userB, id: "not-a-uuid" }, deps), "NOT_FOUND");
    expect(await db().providerCredential.count({ where: { id: created.id } })).toBe(1);

    expect(await deleteCredential({ userId: userA, id: created.id }, deps)).toEqual({ ok: true });
    expect(await db().providerCredential.count({ where: { id: created.id } })).toBe(0);
    await expectAppError(deleteCredential({ userId: userA, id: created.id }, deps), "NOT_FOUND");
    const events = await db().auditEvent.findMany({ where: { action: "credential.deleted", userId: userA } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      userId: userA,
      targetId: created.id,
      data: { provider: "anthropic", name: "default" },
    });
  });
});

describe("testCredential", () => {
  it("lists models with the decrypted key and base URL, and records lastTestedAt (not updatedAt)", async () => {
    const fake = fakeAdapter();
    const testedAt = new Date("2030-01-02T03:04:05.000Z");
    const created = await addCredential(
      {
        userId: userA,
        provider: "compat",
        name: "vllm",
        apiKey: "vllm-token-12345678",
        baseUrl: "http://127.0.0.1:8000/v1",
      },
      depsWith(),
    );
    const result = await testCredential(
      { userId: userA, id: created.id },
      depsWith({ adapterFor: fake.adapterFor, now: () => testedAt }),
    );
    expect(result).toMatchObject({ ok: true, models: ["model-a", "model-b"], error: null });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(fake.calls).toEqual([
      { provider: "compat", apiKey: "vllm-token-12345678", baseUrl: "http://127.0.0.1:8000/v1" },
    ]);
    const [view] = await listCredentials({ userId: userA }, depsWith());
    expect(view?.lastTestedAt).toEqual(testedAt);
    expect(view?.updatedAt).toEqual(created.updatedAt);
  });

  it("caps the model list at 200", async () => {
    const many = Array.from({ length: 250 }, (_, i) => `m-${i}`);
    const fake = fakeAdapter(async () => many);
    const created = await addCredential(
      { userId: userA, provider: "openai", apiKey: OPENAI_KEY },
      depsWith(),
    );
    const result = await testCredential(
      { userId: userA, id: created.id },
      depsWith({ adapterFor: fake.adapterFor }),
    );
    expect(result.models).toEqual(many.slice(0, 200));
  });

  it("reports a provider's refusal as ok:false with its message, without recording a test", async () => {
    const fake = fakeAdapter(async () => {
      throw new ProviderError("auth", "OpenAI rejected the API key (401)", { status: 401 });
    });
    const created = await addCredential(
      { userId: userA, provider: "openai", apiKey: OPENAI_KEY },
      depsWith(),
    );
    const result = await testCredential(
      { userId: userA, id: created.id },
      depsWith({ adapterFor: fake.adapterFor }),
    );
    expect(result).toMatchObject({ ok: false, models: [], error: "OpenAI rejected the API key (401)" });
    const row = await db().providerCredential.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.lastTestedAt).toBeNull();
  });

  it("gives up after the timeout and aborts the request, even when the adapter ignores its signal", async () => {
    let signal: AbortSignal | undefined;
    const fake = fakeAdapter((_connection, s) => {
      signal = s;
      return new Promise<string[]>(() => undefined);
    });
    const created = await addCredential(
      { userId: userA, provider: "anthropic", apiKey: ANTHROPIC_KEY },
      depsWith(),
    );
    const result = await testCredential(
      { userId: userA, id: created.id },
      depsWith({ adapterFor: fake.adapterFor, testTimeoutMs: 50 }),
    );
    expect(result).toMatchObject({ ok: false, error: "Anthropic did not answer within 0 s" });
    expect(result.latencyMs).toBeGreaterThanOrEqual(45);
    expect(signal?.aborted).toBe(true);
  });

  it("never shows the key: an echoing error is redacted, an unexpected one is replaced", async () => {
    const created = await addCredential(
      { userId: userA, provider: "openai", apiKey: OPENAI_KEY },
      depsWith(),
    );
    const echoing = fakeAdapter(async (connection) => {
      throw new ProviderError("bad_request", `Invalid key ${connection.apiKey} for this project`);
    });
    const first = await testCredential(
      { userId: userA, id: created.id },
      depsWith({ adapterFor: echoing.adapterFor }),
    );
    expect(first.error).toBe("Invalid key [redacted] for this project");

    const warnings: unknown[] = [];
    const logger = { warn: (obj: unknown) => warnings.push(obj) } as unknown as CredentialsDeps["logger"];
    const buggy = fakeAdapter(async (connection) => {
      throw new TypeError(`cannot read ${connection.apiKey}`);
    });
    const second = await testCredential(
      { userId: userA, id: created.id },
      depsWith({ adapterFor: buggy.adapterFor, logger }),
    );
    expect(second).toMatchObject({ ok: false, error: "Unexpected error while contacting the provider" });
    expect(JSON.stringify(warnings)).not.toContain(OPENAI_KEY);
    expect(warnings).toEqual([{ provider: "openai", errorName: "TypeError" }]);
  });

  it("answers NOT_FOUND for another user's credential", async () => {
    const fake = fakeAdapter();
    const created = await addCredential(
      { userId: userA, provider: "openai", apiKey: OPENAI_KEY },
      depsWith(),
    );
    await expectAppError(
      testCredential({ userId: userB, id: created.id }, depsWith({ adapterFor: fake.adapterFor })),
      "NOT_FOUND",
    );
    await expectAppError(
      testCredential({ userId: userB, id: "x" }, depsWith({ adapterFor: fake.adapterFor })),
      "NOT_FOUND",
    );
    expect(fake.calls).toEqual([]);
  });

  it("reports a credential encrypted with a lost key as ok:false, naming what to do", async () => {
    const created = await addCredential(
      { userId: userA, provider: "openai", apiKey: OPENAI_KEY },
      depsWith({ keyring: createKeyring(KEY_2) }),
    );
    const fake = fakeAdapter();
    const result = await testCredential(
      { userId: userA, id: created.id },
      depsWith({ adapterFor: fake.adapterFor }),
    );
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/encrypted with a key this server no longer has: rotate the API key/);
    expect(fake.calls).toEqual([]);
  });
});

describe("testConnection (before saving)", () => {
  it("probes with the given key and base URL and stores nothing", async () => {
    const fake = fakeAdapter();
    const result = await testConnection(
      { userId: userA, provider: "openai", apiKey: OPENAI_KEY, baseUrl: "https://proxy.example.test/v1/" },
      depsWith({ adapterFor: fake.adapterFor }),
    );
    expect(result).toMatchObject({ ok: true, models: ["model-a", "model-b"] });
    expect(fake.calls).toEqual([
      { provider: "openai", apiKey: OPENAI_KEY, baseUrl: "https://proxy.example.test/v1" },
    ]);
    expect(await db().providerCredential.count()).toBe(0);
    expect(await auditCount({ startsWith: "credential." })).toBe(0);
  });

  it("applies the same rules as saving", async () => {
    const fake = fakeAdapter();
    await expectAppError(
      testConnection(
        { userId: userA, provider: "compat", apiKey: "" },
        depsWith({ adapterFor: fake.adapterFor }),
      ),
      "BAD_REQUEST",
      /base URL/,
    );
    await expectAppError(
      testConnection(
        { userId: userA, provider: "compat", apiKey: "", baseUrl: "http://127.0.0.1:1/v1" },
        depsWith({ adapterFor: fake.adapterFor }, { allowUserBaseUrls: false }),
      ),
      "BAD_REQUEST",
      /does not allow custom base URLs/,
    );
    expect(fake.calls).toEqual([]);
  });
});

describe("resolveConnection", () => {
  const serverConfig: Partial<AiConfig> = {
    server: {
      openai: { apiKey: "sk-server-openai-000000" },
      anthropic: { apiKey: "sk-server-anthropic-0000", baseUrl: "https://anthropic.proxy.test" },
      compat: { ollama: { baseUrl: "http://127.0.0.1:11434/v1", apiKey: "" } },
    },
    demo: { baseUrl: "http://127.0.0.1:5999/v1" },
  };

  it("prefers the user's credential named default, else the most recently updated", async () => {
    const t0 = new Date("2030-01-01T00:00:00Z");
    const t1 = new Date("2030-01-02T00:00:00Z");
    const t2 = new Date("2030-01-03T00:00:00Z");
    const old = await addCredential(
      { userId: userA, provider: "openai", name: "old", apiKey: "sk-old-000000000" },
      depsWith({ now: () => t0 }),
    );
    const newer = await addCredential(
      { userId: userA, provider: "openai", name: "newer", apiKey: "sk-newer-0000000" },
      depsWith({ now: () => t1 }),
    );
    const deps = depsWith({}, serverConfig);
    expect(await resolveConnection({ userId: userA, ref: ref("openai:gpt-4.1-mini") }, deps)).toEqual({
      connection: { provider: "openai", apiKey: "sk-newer-0000000" },
      source: "user",
      credentialId: newer.id,
    });
    await rotateCredential(
      { userId: userA, id: old.id, apiKey: "sk-old-rotated-00" },
      depsWith({ now: () => t2 }),
    );
    expect((await resolveConnection({ userId: userA, ref: ref("openai:gpt-4.1") }, deps)).credentialId).toBe(
      old.id,
    );

    const preferred = await addCredential(
      {
        userId: userA,
        provider: "openai",
        apiKey: "sk-default-000000",
        baseUrl: "https://gateway.example.test/v1",
      },
      depsWith({ now: () => t0 }),
    );
    expect(await resolveConnection({ userId: userA, ref: ref("openai:gpt-4.1") }, deps)).toEqual({
      connection: {
        provider: "openai",
        apiKey: "sk-default-000000",
        baseUrl: "https://gateway.example.test/v1",
      },
      source: "user",
      credentialId: preferred.id,
    });
  });

  it("matches compat credentials by endpoint name", async () => {
    const deps = depsWith({}, serverConfig);
    const mine = await addCredential(
      {
        userId: userA,
        provider: "compat",
        name: "vllm",
        apiKey: "tok-12345678",
        baseUrl: "http://10.1.1.1:8000/v1",
      },
      deps,
    );
    expect(
      await resolveConnection({ userId: userA, ref: ref("compat:vllm/meta-llama/Llama-3.1-8B") }, deps),
    ).toEqual({
      connection: { provider: "compat", apiKey: "tok-12345678", baseUrl: "http://10.1.1.1:8000/v1" },
      source: "user",
      credentialId: mine.id,
    });
    // B has no vllm credential and the server none either.
    await expectAppError(
      resolveConnection({ userId: userB, ref: ref("compat:vllm/x") }, deps),
      "BAD_REQUEST",
      /^No credentials for compat\/vllm: add one in Settings → Providers$/,
    );
  });

  it("falls back to the operator's credentials, then to the demo", async () => {
    const deps = depsWith({}, serverConfig);
    await addCredential({ userId: userA, provider: "openai", apiKey: OPENAI_KEY }, deps);
    // A's own key does not leak to B: B gets the server's.
    expect(await resolveConnection({ userId: userB, ref: ref("openai:gpt-4.1-mini") }, deps)).toEqual({
      connection: { provider: "openai", apiKey: "sk-server-openai-000000" },
      source: "server",
      credentialId: null,
    });
    expect(await resolveConnection({ userId: userB, ref: ref("anthropic:claude-sonnet-4-5") }, deps)).toEqual(
      {
        connection: {
          provider: "anthropic",
          apiKey: "sk-server-anthropic-0000",
          baseUrl: "https://anthropic.proxy.test",
        },
        source: "server",
        credentialId: null,
      },
    );
    expect(
      await resolveConnection({ userId: userB, ref: ref("compat:ollama/qwen2.5-coder:7b") }, deps),
    ).toEqual({
      connection: { provider: "compat", apiKey: "", baseUrl: "http://127.0.0.1:11434/v1" },
      source: "server",
      credentialId: null,
    });
    expect(await resolveConnection({ userId: userB, ref: ref("compat:demo/agentry-demo") }, deps)).toEqual({
      connection: { provider: "compat", apiKey: "demo", baseUrl: "http://127.0.0.1:5999/v1" },
      source: "demo",
      credentialId: null,
    });
  });

  it("answers BAD_REQUEST naming the provider when nothing is configured", async () => {
    const deps = depsWith();
    await expectAppError(
      resolveConnection({ userId: userA, ref: ref("anthropic:claude-sonnet-4-5") }, deps),
      "BAD_REQUEST",
      /^No credentials for anthropic: add one in Settings → Providers$/,
    );
    await expectAppError(
      resolveConnection({ userId: userA, ref: ref("compat:demo/agentry-demo") }, deps),
      "BAD_REQUEST",
      /compat\/demo/,
    );
  });

  it("refuses a ciphertext copied onto another user's row", async () => {
    const deps = depsWith();
    const a = await addCredential({ userId: userA, provider: "openai", apiKey: OPENAI_KEY }, deps);
    const b = await addCredential({ userId: userB, provider: "openai", apiKey: "sk-b-own-key-00000" }, deps);
    const rowA = await db().providerCredential.findUniqueOrThrow({ where: { id: a.id } });
    await db().providerCredential.update({
      where: { id: b.id },
      data: { ciphertext: rowA.ciphertext, iv: rowA.iv, authTag: rowA.authTag, keyVersion: rowA.keyVersion },
    });
    const error = await expectAppError(
      resolveConnection({ userId: userB, ref: ref("openai:gpt-4.1-mini") }, deps),
      "BAD_REQUEST",
      /cannot be decrypted .*rotate the API key/,
    );
    expect(error.message).not.toContain(OPENAI_KEY);
    const tested = await testCredential({ userId: userB, id: b.id }, deps);
    expect(tested.ok).toBe(false);
    expect(tested.error).not.toContain(OPENAI_KEY);
  });
});

describe("reencryptCredentials", () => {
  it("moves every row to the current key, keeps updatedAt, skips undecryptable rows, and is idempotent", async () => {
    const oldKeyring = createKeyring(KEY_2);
    const deps = depsWith({ keyring: oldKeyring });
    const a = await addCredential({ userId: userA, provider: "openai", apiKey: OPENAI_KEY }, deps);
    const b = await addCredential({ userId: userB, provider: "anthropic", apiKey: ANTHROPIC_KEY }, deps);
    const current = await addCredential(
      { userId: userB, provider: "openai", apiKey: "sk-current-00000000" },
      depsWith({ keyring: createKeyring(KEY_1) }),
    );
    const lost = await addCredential(
      { userId: userA, provider: "anthropic", apiKey: "sk-ant-lost-0000000" },
      depsWith({ keyring: createKeyring(randomBytes(32).toString("base64")) }),
    );

    const rotated = createKeyring(KEY_1, [KEY_2]);
    const warnings: unknown[] = [];
    const logger = { warn: (obj: unknown) => warnings.push(obj) } as unknown as CredentialsDeps["logger"];
    expect(await reencryptCredentials({ db: db(), keyring: rotated, logger })).toBe(2);
    expect(warnings).toEqual([expect.objectContaining({ credentialId: lost.id, reason: "unknown_key" })]);

    // The old key is no longer needed for a or b.
    const onlyNew = depsWith({ keyring: createKeyring(KEY_1) });
    for (const [view, userId, secret] of [
      [a, userA, OPENAI_KEY],
      [b, userB, ANTHROPIC_KEY],
      [current, userB, "sk-current-00000000"],
    ] as const) {
      const row = await db().providerCredential.findUniqueOrThrow({ where: { id: view.id } });
      expect(row.keyVersion).toBe(rotated.current.version);
      expect(row.updatedAt).toEqual(view.updatedAt);
      expect(decryptSecret(onlyNew.keyring, row, credentialAad({ ...row, userId }))).toBe(secret);
    }
    expect(await reencryptCredentials({ db: db(), keyring: rotated })).toBe(0);
  });
});

describe("serverProviders", () => {
  it("says which providers the operator configured, never the keys", () => {
    const summary = serverProviders({
      ...DEFAULT_AI_CONFIG,
      server: {
        anthropic: { apiKey: "sk-ant-secret" },
        compat: {
          vllm: { baseUrl: "http://x/v1", apiKey: "k" },
          hf: { baseUrl: "https://router.huggingface.co/v1", apiKey: "hf_x" },
        },
      },
      demo: { baseUrl: "http://127.0.0.1:1/v1" },
    });
    expect(summary).toEqual({ openai: false, anthropic: true, compat: ["hf", "vllm"], demo: true });
    expect(JSON.stringify(summary)).not.toContain("secret");
  });
});

describe("against the mock provider with the real adapters", () => {
  const MOCK_KEY = "sk-mock-correct-key-0001";
  let mock: MockLlm;
  beforeAll(async () => {
    mock = await startMockLlm({ apiKey: MOCK_KEY, models: ["gpt-4.1-mini", "claude-sonnet-4-5", "echo"] });
  });
  afterAll(() => mock.close());

  it("tests an OpenAI credential and records the test", async () => {
    const deps: CredentialsDeps = { db: db(), keyring, config: DEFAULT_AI_CONFIG };
    const created = await addCredential(
      { userId: userA, provider: "openai", apiKey: MOCK_KEY, baseUrl: `${mock.url}/v1` },
      deps,
    );
    const result = await testCredential({ userId: userA, id: created.id }, deps);
    expect(result).toMatchObject({ ok: true, error: null });
    expect(result.models).toEqual(expect.arrayContaining(["gpt-4.1-mini", "echo"]));
    const row = await db().providerCredential.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.lastTestedAt).not.toBeNull();
    const request = mock.requests.at(-1);
    expect(request).toMatchObject({ protocol: "openai", path: "/v1/models", status: 200 });
    expect(request?.headers.authorization).toBe(`Bearer ${MOCK_KEY}`);
  });

  it("tests Anthropic and OpenAI-compatible keys before saving, and reports a wrong key without showing it", async () => {
    const deps: CredentialsDeps = { db: db(), keyring, config: DEFAULT_AI_CONFIG };
    const anthropic = await testConnection(
      { userId: userA, provider: "anthropic", apiKey: MOCK_KEY, baseUrl: mock.url },
      deps,
    );
    expect(anthropic).toMatchObject({ ok: true, error: null });
    expect(anthropic.models).toContain("claude-sonnet-4-5");
    // The Anthropic SDK sends the key as x-api-key or (1.x) as a bearer token; either way, this key.
    const sent = mock.requests.at(-1)?.headers;
    expect([sent?.["x-api-key"], sent?.authorization]).toContainEqual(expect.stringContaining(MOCK_KEY));

    const wrongKey = "sk-mock-WRONG-key-9999";
    const wrong = await testConnection(
      { userId: userA, provider: "compat", apiKey: wrongKey, baseUrl: `${mock.url}/v1` },
      deps,
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.models).toEqual([]);
    expect(wrong.error).toBeTruthy();
    expect(wrong.error).not.toContain(wrongKey);
    expect(mock.requests.at(-1)?.status).toBe(401);
    expect(await db().providerCredential.count()).toBe(0);
  });

  it("reports an unreachable endpoint as ok:false", async () => {
    const deps: CredentialsDeps = { db: db(), keyring, config: DEFAULT_AI_CONFIG };
    // A port nothing listens on: the mock's, after a server on it closed, is not guaranteed free; port 9 (discard) is.
    const result = await testConnection(
      { userId: userA, provider: "compat", apiKey: "", baseUrl: "http://127.0.0.1:9/v1" },
      deps,
    );
    expect(result.ok).toBe(false);
    expect(result.error).toBeTruthy();
  });
});

describe("credentialsRouter", () => {
  function callerFor(userId: string, options: { scopes?: readonly Scope[]; apiKeyId?: string | null } = {}) {
    const ai = createTestAiRuntime(db(), { demo: { baseUrl: "http://127.0.0.1:1/v1" } });
    const invalidated: string[] = [];
    ai.service.invalidateUser = (id) => void invalidated.push(id);
    const statuses: number[] = [];
    const auth: Principal = {
      userId,
      kind: options.apiKeyId ? "api_key" : "session",
      sessionId: options.apiKeyId ? null : randomUUID(),
      apiKeyId: options.apiKeyId ?? null,
      scopes: options.scopes ?? SCOPES,
      rateLimitPerMinute: null,
    };
    const ctx = {
      db: db(),
      logger: createLogger({ level: "silent" }),
      requestId: "test",
      auth,
      runtime: { rateLimits: { apiKey: async () => undefined, apiUser: async () => undefined } },
      ai,
      client: {
        ip: "198.51.100.7",
        userAgent: "vitest",
        refreshCookie: null,
        cookieContext: { secure: false },
      },
      response: {
        setCookies: () => undefined,
        setHeader: () => undefined,
        setStatus: (status: number) => void statuses.push(status),
        successStatus: () => statuses.at(-1),
      },
    } as unknown as TrpcContext;
    return { caller: createCallerFactory(credentialsRouter)(ctx), invalidated, statuses };
  }

  it("adds (201), lists with the server's providers, rotates, tests and deletes; forgets cached connections", async () => {
    const { caller, invalidated, statuses } = callerFor(userA);
    const added = await caller.add({ provider: "anthropic", apiKey: ANTHROPIC_KEY });
    expect(statuses).toEqual([201]);
    expect(added).toMatchObject({ provider: "anthropic", name: "default", hint: "…9876" });
    expect(await caller.list()).toEqual({
      items: [added],
      server: { openai: false, anthropic: false, compat: [], demo: true },
    });
    const rotated = await caller.rotate({ id: added.id, apiKey: "sk-ant-rotated-00004321" });
    expect(rotated.hint).toBe("…4321");
    // The stored base URL is the SDK default (api.anthropic.com): no network here, so point a fresh key
    // at a closed port through testUnsaved instead; it answers ok:false, never a 500.
    const unsaved = await caller.testUnsaved({ provider: "compat", baseUrl: "http://127.0.0.1:9/v1" });
    expect(unsaved).toMatchObject({ ok: false, models: [] });
    expect(await caller.delete({ id: added.id })).toEqual({ ok: true });
    expect(invalidated).toEqual([userA, userA, userA]);
    const audit = await db().auditEvent.findMany({
      where: { userId: userA, action: { startsWith: "credential." } },
      orderBy: { createdAt: "asc" },
    });
    expect(audit.map((e) => [e.action, e.ip, e.actorType])).toEqual([
      ["credential.added", "198.51.100.7", "user"],
      ["credential.rotated", "198.51.100.7", "user"],
      ["credential.deleted", "198.51.100.7", "user"],
    ]);
  });

  it("answers NOT_FOUND for another user's credential and shows them none of it", async () => {
    const a = callerFor(userA);
    const b = callerFor(userB);
    const added = await a.caller.add({ provider: "openai", apiKey: OPENAI_KEY });
    expect((await b.caller.list()).items).toEqual([]);
    for (const attempt of [
      () => b.caller.rotate({ id: added.id, apiKey: "sk-stolen-000000000" }),
      () => b.caller.test({ id: added.id }),
      () => b.caller.delete({ id: added.id }),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: "NOT_FOUND" });
    }
    const row = await db().providerCredential.findUniqueOrThrow({ where: { id: added.id } });
    expect(decryptSecret(createKeyring(TEST_ENCRYPTION_KEY), row, credentialAad(row))).toBe(OPENAI_KEY);
  });

  it("needs the providers:manage scope for API keys, and names the key on audit events", async () => {
    const apiKeyId = (
      await db().apiKey.create({
        data: {
          userId: userA,
          name: "ci",
          prefix: `agt_${randomUUID().slice(0, 8)}`,
          keyHash: randomUUID(),
          scopes: [],
        },
      })
    ).id;
    const narrow = callerFor(userA, { scopes: ["projects:read"], apiKeyId });
    await expect(narrow.caller.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(narrow.caller.add({ provider: "openai", apiKey: OPENAI_KEY })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    const allowed = callerFor(userA, { scopes: ["providers:manage"], apiKeyId });
    const added = await allowed.caller.add({ provider: "openai", apiKey: OPENAI_KEY });
    const event = await db().auditEvent.findFirstOrThrow({ where: { targetId: added.id } });
    expect(event).toMatchObject({ actorType: "api_key", apiKeyId });
  });

  it("answers CONFLICT and BAD_REQUEST with the service's messages", async () => {
    const { caller } = callerFor(userA);
    await caller.add({ provider: "openai", apiKey: OPENAI_KEY });
    await expect(caller.add({ provider: "openai", apiKey: OPENAI_KEY })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining('named "default"'),
    });
    await expect(caller.add({ provider: "compat", name: "ollama" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });
});
