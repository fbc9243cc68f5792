import { generateOpenApiDocument } from "trpc-to-openapi";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Scope } from "#app/modules/auth/auth.types.ts";
import type { Principal } from "#app/modules/auth/authenticate.server.ts";
import { createCallerFactory } from "#app/trpc/init.server.ts";
import {
  createAiCall,
  createProject,
  createRun,
  createUser,
  createWorkflow,
} from "#tests/factories/index.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import {
  sessionPrincipal,
  signupViaApi,
  startTestServer,
  type TestServer,
  testContext,
} from "#tests/setup/http-server.ts";
import { usageRouter } from "./usage.router.server.ts";
import { hasUsage, usageSummary } from "./usage.server.ts";
import { addDays, daysInRange, parseIsoDay, ZUsageSummary } from "./usage.types.ts";

const database = setupTestDatabase();
const NOW = new Date("2026-03-15T12:00:00.000Z");
const deps = () => ({ db: database.db, now: () => NOW });

const at = (iso: string) => new Date(iso);

describe("date helpers", () => {
  it("parse real days only and count ranges with both ends included", () => {
    expect(parseIsoDay("2024-02-29")?.toISOString()).toBe("2024-02-29T00:00:00.000Z");
    expect(parseIsoDay("2025-02-29")).toBeNull();
    expect(parseIsoDay("2025-13-01")).toBeNull();
    expect(parseIsoDay("2025-1-01")).toBeNull();
    expect(daysInRange("2026-03-01", "2026-03-01")).toBe(1);
    expect(daysInRange("2026-02-01", "2026-03-01")).toBe(29);
    expect(addDays("2026-03-01", -1)).toBe("2026-02-28");
  });
});

describe("usageSummary", () => {
  it("aggregates the user's calls of the range: totals, every day, models, projects, runs and recent calls", async () => {
    const db = database.db;
    const user = await createUser(db);
    const stranger = await createUser(db);
    const shop = await createProject(db, { userId: user.id, name: "Shop" });
    const blog = await createProject(db, { userId: user.id, name: "Blog" });
    const { workflow, version } = await createWorkflow(db, {
      userId: user.id,
      projectId: shop.id,
      name: "Fix bugs",
    });
    const run = await createRun(db, {
      userId: user.id,
      projectId: shop.id,
      workflowId: workflow.id,
      workflowVersionId: version.id,
      status: "succeeded",
      startedAt: at("2026-03-10T08:00:00Z"),
    });
    const template = await db.promptTemplate.create({
      data: { userId: user.id, name: "Reviewer", latestVersion: 2 },
    });
    const templateVersion = await db.promptTemplateVersion.create({
      data: { userId: user.id, templateId: template.id, number: 2, body: "Review {{code}}", hash: "h" },
    });

    // Range: 2026-03-10 .. 2026-03-12.
    await createAiCall(db, {
      userId: user.id,
      projectId: shop.id,
      runId: run.id,
      costMicros: 5_000n,
      tokensIn: 1_000,
      tokensOut: 200,
      latencyMs: 1_000,
      ttftMs: 100,
      createdAt: at("2026-03-10T00:00:00Z"),
    });
    await createAiCall(db, {
      userId: user.id,
      projectId: shop.id,
      runId: run.id,
      costMicros: 3_000n,
      latencyMs: 2_000,
      ttftMs: 300,
      templateVersionId: templateVersion.id,
      createdAt: at("2026-03-10T13:00:00Z"),
    });
    await createAiCall(db, {
      userId: user.id,
      projectId: blog.id,
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      costMicros: 9_000n,
      tokensIn: 500,
      tokensOut: 500,
      latencyMs: 4_000,
      ttftMs: null,
      createdAt: at("2026-03-12T23:59:59.999Z"),
    });
    await createAiCall(db, {
      userId: user.id,
      cached: true,
      costMicros: 0n,
      createdAt: at("2026-03-12T10:00:00Z"),
    });
    await createAiCall(db, {
      userId: user.id,
      error: "upstream 500",
      costMicros: 0n,
      tokensIn: 0,
      tokensOut: 0,
      createdAt: at("2026-03-12T11:00:00Z"),
    });
    // Outside the range on both sides, and another user's call inside it.
    await createAiCall(db, { userId: user.id, costMicros: 77n, createdAt: at("2026-03-09T23:59:59.999Z") });
    await createAiCall(db, { userId: user.id, costMicros: 77n, createdAt: at("2026-03-13T00:00:00Z") });
    await createAiCall(db, {
      userId: stranger.id,
      costMicros: 99_999n,
      createdAt: at("2026-03-11T00:00:00Z"),
    });

    const summary = await usageSummary({ userId: user.id, from: "2026-03-10", to: "2026-03-12" }, deps());
    expect(ZUsageSummary.safeParse(summary).success).toBe(true);
    expect(summary.from).toBe("2026-03-10");
    expect(summary.to).toBe("2026-03-12");
    expect(summary.totals).toEqual({
      calls: 5,
      tokensIn: 1_000 + 100 + 500 + 100 + 0,
      tokensOut: 200 + 20 + 500 + 20 + 0,
      costMicros: 17_000,
      cachedCalls: 1,
      errors: 1,
    });
    expect(summary.perDay).toEqual([
      { day: "2026-03-10", costMicros: 8_000, calls: 2, tokensIn: 1_100, tokensOut: 220 },
      { day: "2026-03-11", costMicros: 0, calls: 0, tokensIn: 0, tokensOut: 0 },
      { day: "2026-03-12", costMicros: 9_000, calls: 3, tokensIn: 600, tokensOut: 520 },
    ]);
    expect(summary.byModel).toEqual([
      {
        model: "anthropic:claude-sonnet-4-5",
        calls: 1,
        tokensIn: 500,
        tokensOut: 500,
        costMicros: 9_000,
        avgLatencyMs: 4_000,
        p50TtftMs: null,
      },
      {
        model: "openai:gpt-4.1-mini",
        calls: 4,
        tokensIn: 1_200,
        tokensOut: 240,
        costMicros: 8_000,
        avgLatencyMs: 1_500,
        p50TtftMs: 200,
      },
    ]);
    expect(summary.byProject).toEqual([
      { projectId: blog.id, projectName: "Blog", calls: 1, tokensIn: 500, tokensOut: 500, costMicros: 9_000 },
      {
        projectId: shop.id,
        projectName: "Shop",
        calls: 2,
        tokensIn: 1_100,
        tokensOut: 220,
        costMicros: 8_000,
      },
      { projectId: null, projectName: null, calls: 2, tokensIn: 100, tokensOut: 20, costMicros: 0 },
    ]);
    expect(summary.topRuns).toEqual([
      {
        runId: run.id,
        projectId: shop.id,
        workflowName: "Fix bugs",
        projectName: "Shop",
        status: "succeeded",
        costMicros: 8_000,
        tokens: 1_320,
        calls: 2,
        startedAt: at("2026-03-10T08:00:00Z"),
      },
    ]);
    expect(summary.recentCalls.map((c) => c.createdAt.toISOString())).toEqual([
      "2026-03-12T23:59:59.999Z",
      "2026-03-12T11:00:00.000Z",
      "2026-03-12T10:00:00.000Z",
      "2026-03-10T13:00:00.000Z",
      "2026-03-10T00:00:00.000Z",
    ]);
    expect(summary.recentCalls[0]).toMatchObject({
      model: "anthropic:claude-sonnet-4-5",
      projectName: "Blog",
      projectId: blog.id,
      costMicros: 9_000,
      ttftMs: null,
      latencyMs: 4_000,
      templateVersion: null,
    });
    expect(summary.recentCalls[1]).toMatchObject({ error: "upstream 500", cached: false, projectName: null });
    expect(summary.recentCalls[2]).toMatchObject({ cached: true });
    expect(summary.recentCalls[3]).toMatchObject({
      runId: run.id,
      templateVersion: { templateName: "Reviewer", number: 2 },
    });

    // One project only.
    const shopOnly = await usageSummary(
      { userId: user.id, from: "2026-03-10", to: "2026-03-12", projectId: shop.id },
      deps(),
    );
    expect(shopOnly.totals).toMatchObject({ calls: 2, costMicros: 8_000 });
    expect(shopOnly.byProject.map((p) => p.projectId)).toEqual([shop.id]);
    expect(shopOnly.recentCalls).toHaveLength(2);

    // The stranger sees only their own call.
    const theirs = await usageSummary({ userId: stranger.id, from: "2026-03-10", to: "2026-03-12" }, deps());
    expect(theirs.totals).toMatchObject({ calls: 1, costMicros: 99_999 });
    expect(theirs.byProject).toEqual([
      { projectId: null, projectName: null, calls: 1, tokensIn: 100, tokensOut: 20, costMicros: 99_999 },
    ]);
    expect(theirs.topRuns).toEqual([]);
  });

  it("ranks the top 10 runs and projects by cost and lists the 50 newest calls", async () => {
    const db = database.db;
    const user = await createUser(db);
    const project = await createProject(db, { userId: user.id });
    const { workflow, version } = await createWorkflow(db, { userId: user.id, projectId: project.id });
    const runs: Awaited<ReturnType<typeof createRun>>[] = [];
    for (let i = 0; i < 12; i++) {
      runs.push(
        await createRun(db, {
          userId: user.id,
          projectId: project.id,
          workflowId: workflow.id,
          workflowVersionId: version.id,
        }),
      );
    }
    const projects = [project];
    for (let i = 0; i < 11; i++) projects.push(await createProject(db, { userId: user.id }));
    await db.aiCall.createMany({
      data: Array.from({ length: 60 }, (_, i) => ({
        userId: user.id,
        projectId: projects[i % 12]!.id,
        runId: i < 12 ? runs[i]!.id : null,
        provider: "openai",
        model: "gpt-4.1-mini",
        promptHash: `h${i}`,
        costMicros: BigInt((i + 1) * 10),
        createdAt: new Date(NOW.getTime() - i * 60_000),
      })),
    });
    const summary = await usageSummary({ userId: user.id }, deps());
    // Default range: the 30 days ending today.
    expect(summary).toMatchObject({ from: "2026-02-14", to: "2026-03-15" });
    expect(summary.perDay).toHaveLength(30);
    expect(summary.totals.calls).toBe(60);
    expect(summary.topRuns).toHaveLength(10);
    expect(summary.topRuns.map((r) => r.costMicros)).toEqual([120, 110, 100, 90, 80, 70, 60, 50, 40, 30]);
    expect(summary.topRuns[0]!.runId).toBe(runs[11]!.id);
    expect(summary.topRuns[0]!.startedAt).toEqual(runs[11]!.createdAt);
    expect(summary.byProject).toHaveLength(10);
    const costs = summary.byProject.map((p) => p.costMicros);
    expect([...costs].sort((a, b) => b - a)).toEqual(costs);
    expect(summary.recentCalls).toHaveLength(50);
    expect(summary.recentCalls[0]!.createdAt).toEqual(NOW);
    expect(summary.recentCalls[49]!.createdAt).toEqual(new Date(NOW.getTime() - 49 * 60_000));
  });

  it("zero-fills an empty range", async () => {
    const user = await createUser(database.db);
    const summary = await usageSummary({ userId: user.id, from: "2024-02-27", to: "2024-03-01" }, deps());
    expect(summary.perDay.map((d) => d.day)).toEqual([
      "2024-02-27",
      "2024-02-28",
      "2024-02-29",
      "2024-03-01",
    ]);
    expect(summary.totals).toEqual({
      calls: 0,
      tokensIn: 0,
      tokensOut: 0,
      costMicros: 0,
      cachedCalls: 0,
      errors: 0,
    });
    expect(summary).toMatchObject({ byModel: [], byProject: [], topRuns: [], recentCalls: [] });
    expect(await hasUsage({ userId: user.id }, deps())).toBe(false);
    await createAiCall(database.db, { userId: user.id, createdAt: at("2020-01-01T00:00:00Z") });
    expect(await hasUsage({ userId: user.id }, deps())).toBe(true);
  });

  it("refuses bad dates and ranges with BAD_REQUEST, and another user's project with NOT_FOUND", async () => {
    const user = await createUser(database.db);
    const other = await createUser(database.db);
    const theirs = await createProject(database.db, { userId: other.id });
    const bad = async (input: Record<string, string>) =>
      rejection(usageSummary({ userId: user.id, ...input }, deps()));
    expect(await bad({ from: "2026-03-10", to: "2026-03-09" })).toMatchObject({
      code: "BAD_REQUEST",
      message: "`from` must not be after `to`",
    });
    expect(await bad({ from: "2025-01-01", to: "2026-01-02" })).toMatchObject({
      code: "BAD_REQUEST",
      message: "A usage range covers at most 366 days",
    });
    expect((await bad({ from: "2025-02-30", to: "2025-03-02" })).code).toBe("BAD_REQUEST");
    expect((await bad({ from: "yesterday" })).code).toBe("BAD_REQUEST");
    expect((await bad({ from: "2026-03-16" })).message).toBe("`from` must not be after `to`");
    expect((await bad({ projectId: "nope" })).code).toBe("BAD_REQUEST");
    expect(await bad({ projectId: theirs.id })).toMatchObject({
      code: "NOT_FOUND",
      message: "Project not found",
    });
    // 366 days is fine (a leap year).
    const year = await usageSummary({ userId: user.id, from: "2024-01-01", to: "2024-12-31" }, deps());
    expect(year.perDay).toHaveLength(366);
  });
});

describe("usageRouter", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  const caller = createCallerFactory(usageRouter);
  const keyPrincipal = (userId: string, scopes: Scope[]): Principal => ({
    userId,
    kind: "api_key",
    sessionId: null,
    apiKeyId: null,
    scopes,
    rateLimitPerMinute: null,
  });

  it("serves summaries and budgets to a session; scopes guard API keys", async () => {
    const a = await signupViaApi(server.base);
    const b = await signupViaApi(server.base);
    const db = server.database.db;
    const project = await createProject(db, { userId: a.userId, name: "A's project" });
    await createAiCall(db, { userId: a.userId, projectId: project.id, createdAt: new Date() });
    const asA = caller(
      testContext(server, sessionPrincipal(a.userId, "00000000-0000-7000-8000-000000000001")),
    );
    const asB = caller(
      testContext(server, sessionPrincipal(b.userId, "00000000-0000-7000-8000-000000000002")),
    );

    const summary = await asA.summary({});
    expect(summary.totals.calls).toBe(1);
    expect(summary.perDay).toHaveLength(30);
    const ranged = await asA.summary({ from: "2026-01-01", to: "2026-01-31", projectId: project.id });
    expect(ranged.perDay).toHaveLength(31);
    await expect(asA.summary({ from: "2026-02-30" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(asA.summary({ from: "2026-01-02", to: "2026-01-01" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(asB.summary({ projectId: project.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await asB.summary({})).totals.calls).toBe(0);

    const invalidate = vi.spyOn(server.ai.service, "invalidateUser");
    const budget = await asA.budgets.set({ scope: "project", projectId: project.id, limitUsd: 12.5 });
    // The AI service's in-memory budget list is dropped, so the new cap applies to the next call.
    expect(invalidate).toHaveBeenCalledWith(a.userId);
    expect(budget).toMatchObject({ targetName: "A's project", limitMicros: 12_500_000, spentMicros: 1_000 });
    expect((await asA.budgets.list()).items.map((item) => item.id)).toEqual([budget.id]);
    expect((await asB.budgets.list()).items).toEqual([]);
    await expect(
      asB.budgets.set({ scope: "project", projectId: project.id, limitUsd: 1 }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(asB.budgets.delete({ id: budget.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(asA.budgets.set({ scope: "user", limitUsd: 0 })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });

    // An API key with usage:read reads but cannot change budgets; one without it reads nothing.
    const reader = caller(testContext(server, keyPrincipal(a.userId, ["usage:read"])));
    expect((await reader.budgets.list()).items).toHaveLength(1);
    expect((await reader.summary({})).totals.calls).toBe(1);
    await expect(reader.budgets.set({ scope: "user", limitUsd: 1 })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(reader.budgets.delete({ id: budget.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const stranger = caller(testContext(server, keyPrincipal(a.userId, ["projects:read"])));
    await expect(stranger.summary({})).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(stranger.budgets.list()).rejects.toMatchObject({ code: "FORBIDDEN" });

    const manager = caller(testContext(server, keyPrincipal(a.userId, ["budgets:manage"])));
    invalidate.mockClear();
    expect(await manager.budgets.delete({ id: budget.id })).toEqual({ ok: true });
    expect(invalidate).toHaveBeenCalledWith(a.userId);
    expect(await db.budget.count({ where: { userId: a.userId } })).toBe(0);
  });

  it("describes its REST endpoints", () => {
    const document = generateOpenApiDocument(usageRouter, { title: "t", version: "1", baseUrl: "http://x" });
    expect(Object.keys(document.paths ?? {}).sort()).toEqual(["/budgets", "/budgets/{id}", "/usage"]);
    const usage = document.paths?.["/usage"]?.get;
    const names = (usage?.parameters ?? []).map((p) => ("name" in p ? p.name : "")).sort();
    expect(names).toEqual(["from", "projectId", "to"]);
    expect(Object.keys(document.paths?.["/budgets"] ?? {}).sort()).toEqual(["get", "put"]);
    expect(Object.keys(document.paths?.["/budgets/{id}"] ?? {})).toEqual(["delete"]);
  });
});
