/**
 * The AIServiceProxy end to end: real PostgreSQL, the official SDKs, and the mock provider at the network edge.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import {
  createAiCall,
  createProject,
  createRun,
  createUser,
  createWorkflow,
} from "#tests/factories/index.ts";
import { type MockLlm, startMockLlm } from "#tests/mocks/llm/server.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import type { ChatRequest, StreamEvent } from "./ai.types.ts";
import { loadCatalog } from "./catalog.server.ts";
import { type AiConfig, DEFAULT_AI_CONFIG } from "./config.server.ts";
import { createKeyring } from "./crypto.server.ts";
import { type AiService, createAiService } from "./service.server.ts";

const database = setupTestDatabase();
const CANARY_KEY = "sk-canary-7f3a9c1e5b2d4f6a8c0e";
let mock: MockLlm;

beforeAll(async () => {
  mock = await startMockLlm();
});
afterAll(async () => {
  await mock.close();
});
beforeEach(() => mock.reset());

function config(overrides: Partial<AiConfig> = {}): AiConfig {
  return {
    ...DEFAULT_AI_CONFIG,
    server: {
      openai: { apiKey: CANARY_KEY, baseUrl: `${mock.url}/v1` },
      anthropic: { apiKey: CANARY_KEY, baseUrl: mock.url },
      compat: { local: { baseUrl: `${mock.url}/v1`, apiKey: "" } },
    },
    maxRetries: 0,
    ...overrides,
  };
}

function service(db: Db, overrides: Partial<AiConfig> = {}, now?: () => Date): AiService {
  return createAiService({
    db,
    logger: createLogger({ level: "silent" }),
    config: config(overrides),
    keyring: createKeyring(Buffer.alloc(32, 3).toString("base64")),
    catalog: loadCatalog(),
    now,
  });
}

const ask = (model: string, content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model,
  messages: [{ role: "user", content }],
  ...extra,
});

async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe("streaming and recording", () => {
  it.each([
    ["openai:gpt-4.1-mini", "openai", "gpt-4.1-mini", 0.4, 1.6],
    ["anthropic:claude-haiku-4-5", "anthropic", "claude-haiku-4-5", 1, 5],
    ["compat:local/echo", "compat", "local/echo", 0, 0],
  ])(
    "%s: streams deltas, records tokens and cost from the catalog",
    async (model, provider, stored, inPrice, outPrice) => {
      const user = await createUser(database.db);
      const ai = service(database.db);
      const stream = ai.stream(ask(model, "hello there friend"), { userId: user.id });
      const events = await collect(stream);
      const texts = events.filter((e) => e.type === "text");
      expect(texts.length).toBeGreaterThan(1);
      const finish = events.at(-1);
      expect(finish?.type).toBe("finish");
      if (finish?.type !== "finish") throw new Error("no finish");
      expect(texts.map((e) => (e.type === "text" ? e.delta : "")).join("")).toBe("Echo: hello there friend");
      const result = await stream.result;
      expect(result.usage).toEqual(finish.usage);
      expect(result.costMicros).toBe(
        Math.ceil(finish.usage.tokensIn * inPrice + finish.usage.tokensOut * outPrice),
      );
      const row = await database.db.aiCall.findUniqueOrThrow({ where: { id: result.callId } });
      expect(row).toMatchObject({
        userId: user.id,
        provider,
        model: stored,
        tokensIn: finish.usage.tokensIn,
        tokensOut: finish.usage.tokensOut,
        cached: false,
        error: null,
      });
      expect(Number(row.costMicros)).toBe(result.costMicros);
      expect(row.ttftMs).not.toBeNull();
      expect(row.latencyMs).toBeGreaterThanOrEqual(row.ttftMs ?? 0);
      expect(row.promptHash).toMatch(/^[0-9a-f]{64}$/);
    },
  );

  it("a ledger write that fails after a whole answer still settles result (no caller waits forever)", async () => {
    const user = await createUser(database.db);
    const real = database.db;
    // The database goes away just as the answer ends: only the AiCall insert fails.
    const failingCalls = new Proxy(real.aiCall, {
      get: (target, key) =>
        key === "create"
          ? () => Promise.reject(new Error("Connection terminated unexpectedly"))
          : Reflect.get(target, key),
    });
    const db = new Proxy(real, {
      get: (target, key) => (key === "aiCall" ? failingCalls : Reflect.get(target, key)),
    }) as Db;
    const stream = service(db).stream(ask("compat:local/echo", "still here"), { userId: user.id });
    await collect(stream);
    const result = await stream.result;
    expect(result.text).toBe("Echo: still here");
    expect(result.callId).toBe("");
    expect(await real.aiCall.count({ where: { userId: user.id } })).toBe(0);
  });

  it("links the call to project, run, API key and template version", async () => {
    const user = await createUser(database.db);
    const project = await createProject(database.db, { userId: user.id });
    const { workflow, version } = await createWorkflow(database.db, {
      userId: user.id,
      projectId: project.id,
    });
    const run = await createRun(database.db, {
      userId: user.id,
      projectId: project.id,
      workflowId: workflow.id,
      workflowVersionId: version.id,
    });
    const template = await database.db.promptTemplate.create({
      data: { userId: user.id, name: "t", latestVersion: 1 },
    });
    const templateVersion = await database.db.promptTemplateVersion.create({
      data: {
        userId: user.id,
        templateId: template.id,
        number: 1,
        body: "Hi {{name}}",
        variables: ["name"],
        hash: "x",
      },
    });
    const result = await service(database.db).complete(ask("openai:gpt-4.1-mini", "hi"), {
      userId: user.id,
      projectId: project.id,
      runId: run.id,
      templateVersionId: templateVersion.id,
    });
    const row = await database.db.aiCall.findUniqueOrThrow({ where: { id: result.callId } });
    expect(row).toMatchObject({
      projectId: project.id,
      runId: run.id,
      templateVersionId: templateVersion.id,
    });
  });

  it("refuses a model id it cannot parse and a model without credentials, before any upstream call", async () => {
    const user = await createUser(database.db);
    const ai = service(database.db, { server: { compat: {} } });
    expect((await rejection(ai.complete(ask("gpt-4", "x"), { userId: user.id }))).code).toBe("BAD_REQUEST");
    const missing = await rejection(ai.complete(ask("openai:gpt-4.1-mini", "x"), { userId: user.id }));
    expect(missing.code).toBe("BAD_REQUEST");
    expect(missing.message).toMatch(/No credentials/);
    expect(mock.requests).toHaveLength(0);
    expect(await database.db.aiCall.count({ where: { userId: user.id } })).toBe(0);
  });

  it("maps a provider's 429 to TOO_MANY_REQUESTS with the retry delay, records the failure, and never leaks the key", async () => {
    const user = await createUser(database.db);
    const ai = service(database.db);
    const error = await rejection(
      ai.complete(ask("openai:gpt-4.1-mini", "x"), {
        userId: user.id,
        upstreamHeaders: { "x-mock-scenario": "rate-limit", "x-mock-retry-after": "7" },
      }),
    );
    expect(error.code).toBe("TOO_MANY_REQUESTS");
    expect(error.details?.retryAfterSeconds).toBe(7);
    expect(JSON.stringify(error)).not.toContain(CANARY_KEY);
    expect(error.message).not.toContain(CANARY_KEY);
    const row = await database.db.aiCall.findFirstOrThrow({ where: { userId: user.id } });
    expect(row.error).toMatch(/rate_limited/);
    expect(JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? Number(v) : v))).not.toContain(CANARY_KEY);
  });

  it("retries a 429 honouring Retry-After before any output, then succeeds", async () => {
    const user = await createUser(database.db);
    mock.script("flaky", [{ status: 429, retryAfter: 0.05 }, { reply: "second time lucky" }]);
    const ai = service(database.db, { maxRetries: 2 });
    const result = await ai.complete(ask("openai:gpt-4.1-mini", "x"), {
      userId: user.id,
      upstreamHeaders: { "x-mock-script": "flaky" },
    });
    expect(result.text).toBe("second time lucky");
    expect(mock.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(2);
    expect(await database.db.aiCall.count({ where: { userId: user.id } })).toBe(1);
  });

  it("cancels upstream when the caller aborts, and records the cancelled call with what it cost so far", async () => {
    const user = await createUser(database.db);
    const ai = service(database.db);
    const controller = new AbortController();
    const stream = ai.stream(ask("openai:gpt-4.1-mini", "x"), {
      userId: user.id,
      signal: controller.signal,
      upstreamHeaders: { "x-mock-scenario": "slow", "x-mock-chunks": "200", "x-mock-chunk-delay-ms": "10" },
    });
    let seen = 0;
    const consumed = (async () => {
      for await (const event of stream) {
        if (event.type === "text" && ++seen === 3) controller.abort();
      }
    })();
    const error = await rejection(consumed);
    expect(error.code).toBe("SERVICE_UNAVAILABLE");
    await mock.waitFor((requests) => requests.some((r) => r.clientClosed));
    const row = await database.db.aiCall.findFirstOrThrow({ where: { userId: user.id } });
    expect(row.error).toMatch(/abort/i);
    expect(row.tokensOut).toBeGreaterThan(0);
    expect(Number(row.costMicros)).toBeGreaterThan(0);
  });

  it("a consumer that stops iterating early cancels the upstream request", async () => {
    const user = await createUser(database.db);
    const ai = service(database.db);
    const stream = ai.stream(ask("openai:gpt-4.1-mini", "x"), {
      userId: user.id,
      upstreamHeaders: { "x-mock-scenario": "slow", "x-mock-chunks": "200", "x-mock-chunk-delay-ms": "10" },
    });
    for await (const event of stream) if (event.type === "text") break;
    await mock.waitFor((requests) => requests.some((r) => r.clientClosed));
    const row = await database.db.aiCall.findFirstOrThrow({ where: { userId: user.id } });
    expect(row.error).toBe("cancelled by the caller");
  });
});

describe("cache", () => {
  it("serves a deterministic request from the cache at zero cost, per user, until it expires", async () => {
    const user = await createUser(database.db);
    const other = await createUser(database.db);
    let now = new Date("2026-03-01T00:00:00Z");
    const ai = service(database.db, { cacheTtlSeconds: 60 }, () => now);
    const request = ask("openai:gpt-4.1-mini", "cache me", { temperature: 0 });

    const first = await ai.complete(request, { userId: user.id });
    const second = await ai.complete(request, { userId: user.id });
    expect(first.cached).toBe(false);
    expect(first.costMicros).toBeGreaterThan(0);
    expect(second).toMatchObject({ cached: true, costMicros: 0, text: first.text, usage: first.usage });
    expect(mock.requests).toHaveLength(1);

    // Another user never sees this user's cache.
    expect((await ai.complete(request, { userId: other.id })).cached).toBe(false);
    expect(mock.requests).toHaveLength(2);

    // Opting out, and a different parameter, both go upstream.
    expect((await ai.complete(request, { userId: user.id, cache: false })).cached).toBe(false);
    expect((await ai.complete({ ...request, maxTokens: 50 }, { userId: user.id })).cached).toBe(false);
    expect(mock.requests).toHaveLength(4);

    const rows = await database.db.aiCall.findMany({ where: { userId: user.id } });
    expect(rows).toHaveLength(4);
    const hits = rows.filter((r) => r.cached);
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({
      id: second.callId,
      tokensIn: first.usage.tokensIn,
      tokensOut: first.usage.tokensOut,
    });
    expect(Number(hits[0]?.costMicros)).toBe(0);
    expect(hits[0]?.createdAt).toEqual(now);
    const entry = await database.db.aiCache.findFirstOrThrow({
      where: { userId: user.id, key: hits[0]?.promptHash },
    });
    expect(entry.hits).toBe(1);

    now = new Date(now.getTime() + 61_000);
    expect((await ai.complete(request, { userId: user.id })).cached).toBe(false);
  });

  it("never caches a non-deterministic request", async () => {
    const user = await createUser(database.db);
    const ai = service(database.db);
    const request = ask("openai:gpt-4.1-mini", "random please", { temperature: 0.7 });
    await ai.complete(request, { userId: user.id });
    expect((await ai.complete(request, { userId: user.id })).cached).toBe(false);
    expect(await database.db.aiCache.count({ where: { userId: user.id } })).toBe(0);
  });

  it("makes N identical concurrent requests share one upstream call (single-flight)", async () => {
    const user = await createUser(database.db);
    const ai = service(database.db);
    const request = ask("openai:gpt-4.1-mini", "together", { seed: 42 });
    const headers = { "x-mock-scenario": "slow", "x-mock-chunks": "10", "x-mock-chunk-delay-ms": "10" };
    const results = await Promise.all(
      Array.from({ length: 8 }, () => ai.complete(request, { userId: user.id, upstreamHeaders: headers })),
    );
    expect(mock.requests).toHaveLength(1);
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect(results.filter((r) => !r.cached)).toHaveLength(1);
    expect(results.filter((r) => r.cached && r.costMicros === 0)).toHaveLength(7);
    const rows = await database.db.aiCall.findMany({ where: { userId: user.id } });
    expect(rows).toHaveLength(8);
    expect(rows.filter((r) => Number(r.costMicros) > 0)).toHaveLength(1);
    expect(new Set(results.map((r) => r.callId)).size).toBe(8);
  });

  it("keeps a shared upstream call alive while one subscriber leaves early", async () => {
    const user = await createUser(database.db);
    const ai = service(database.db);
    const request = ask("openai:gpt-4.1-mini", "shared", { temperature: 0 });
    const headers = { "x-mock-scenario": "slow", "x-mock-chunks": "20", "x-mock-chunk-delay-ms": "5" };
    const quitter = new AbortController();
    const leaving = ai.complete(request, {
      userId: user.id,
      signal: quitter.signal,
      upstreamHeaders: headers,
    });
    const staying = ai.complete(request, { userId: user.id, upstreamHeaders: headers });
    quitter.abort();
    await rejection(leaving);
    const result = await staying;
    expect(result.text.split(" ").filter(Boolean)).toHaveLength(20);
    expect(mock.requests).toHaveLength(1);
    expect(mock.requests[0]?.clientClosed).toBe(false);
  });
});

describe("budgets", () => {
  it("refuses a call before it starts when a monthly budget would be exceeded, naming the budget", async () => {
    const user = await createUser(database.db);
    const project = await createProject(database.db, { userId: user.id, name: "Billing" });
    await database.db.budget.create({
      data: { userId: user.id, scope: "project", projectId: project.id, limitMicros: 5_000n },
    });
    await createAiCall(database.db, {
      userId: user.id,
      projectId: project.id,
      costMicros: 4_900n,
    });
    const ai = service(database.db);
    const error = await rejection(
      ai.complete(ask("openai:gpt-4.1-mini", "x", { maxTokens: 200 }), {
        userId: user.id,
        projectId: project.id,
      }),
    );
    expect(error.code).toBe("PAYMENT_REQUIRED");
    expect(error.message).toContain('project "Billing"');
    expect(error.message).toContain("$0.0050");
    expect(error.details?.budget).toMatchObject({ scope: "project", limitMicros: 5_000, spentMicros: 4_900 });
    expect(mock.requests).toHaveLength(0);
    // Other projects of the same user are not capped by it.
    const other = await createProject(database.db, { userId: user.id });
    await expect(
      ai.complete(ask("openai:gpt-4.1-mini", "x", { maxTokens: 200 }), {
        userId: user.id,
        projectId: other.id,
      }),
    ).resolves.toMatchObject({ cached: false });
  });

  it("stops a call mid-stream when the budget runs out, and records what it cost", async () => {
    const user = await createUser(database.db);
    await database.db.budget.create({ data: { userId: user.id, scope: "user", limitMicros: 300n } });
    const ai = service(database.db);
    const stream = ai.stream(ask("openai:gpt-4.1-mini", "x", { maxTokens: 100 }), {
      userId: user.id,
      upstreamHeaders: { "x-mock-scenario": "slow", "x-mock-chunks": "400", "x-mock-chunk-delay-ms": "1" },
    });
    let text = 0;
    const error = await rejection(
      (async () => {
        for await (const event of stream) if (event.type === "text") text++;
      })(),
    );
    expect(error.code).toBe("PAYMENT_REQUIRED");
    expect(error.message).toMatch(
      /Monthly budget for all your usage \(\$0\.0003\) reached while the model was answering/,
    );
    expect(text).toBeGreaterThan(10);
    expect(text).toBeLessThan(400);
    await mock.waitFor((requests) => requests.some((r) => r.clientClosed));
    const row = await database.db.aiCall.findFirstOrThrow({ where: { userId: user.id } });
    expect(row.error).toMatch(/PAYMENT_REQUIRED/);
    expect(Number(row.costMicros)).toBeGreaterThanOrEqual(300);
    expect(Number(row.costMicros)).toBeLessThan(330);
  });

  it("caps a run: the stored per-run budget and the run's own cap", async () => {
    const user = await createUser(database.db);
    const project = await createProject(database.db, { userId: user.id });
    const { workflow, version } = await createWorkflow(database.db, {
      userId: user.id,
      projectId: project.id,
    });
    const run = await createRun(database.db, {
      userId: user.id,
      projectId: project.id,
      workflowId: workflow.id,
      workflowVersionId: version.id,
    });
    await createAiCall(database.db, {
      userId: user.id,
      runId: run.id,
      costMicros: 1_000n,
    });
    const ai = service(database.db);
    const call = () =>
      ai.complete(ask("openai:gpt-4.1-mini", "x", { maxTokens: 10 }), {
        userId: user.id,
        runId: run.id,
        runBudgetMicros: 1_010,
      });
    const error = await rejection(call());
    expect(error.code).toBe("PAYMENT_REQUIRED");
    expect(error.message).toContain("This run's budget");
    // Without a run, per-run caps do not apply.
    await expect(
      ai.complete(ask("openai:gpt-4.1-mini", "x", { maxTokens: 10 }), { userId: user.id }),
    ).resolves.toBeTruthy();
  });

  it("counts concurrent calls of this process against each other", async () => {
    const user = await createUser(database.db);
    await database.db.budget.create({ data: { userId: user.id, scope: "user", limitMicros: 400n } });
    const ai = service(database.db);
    const slow = { "x-mock-scenario": "slow", "x-mock-chunks": "5", "x-mock-chunk-delay-ms": "20" };
    // Each call's estimate (~1 + 160 micro-dollars for 100 output tokens) fits alone; three do not fit together.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 3 }, () =>
        ai.complete(ask("openai:gpt-4.1-mini", "x", { maxTokens: 100 }), {
          userId: user.id,
          upstreamHeaders: slow,
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(2);
    const rejected = outcomes.find((o) => o.status === "rejected");
    expect((rejected as PromiseRejectedResult).reason.code).toBe("PAYMENT_REQUIRED");
  });
});
