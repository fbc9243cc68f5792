import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scope } from "#app/modules/auth/auth.types.ts";
import { createCallerFactory } from "#app/trpc/init.server.ts";
import { createProject } from "#tests/factories/index.ts";
import { trpcRejection } from "#tests/setup/assertions.ts";
import {
  apiCall,
  apiErrorOf,
  signupViaApi,
  startTestServer,
  type TestServer,
  testContext,
} from "#tests/setup/http-server.ts";
import { agentTaskRouter } from "./agent-task.router.server.ts";

const MODEL = "compat:mock/echo";

describe("POST /api/v1/projects/{id}/agent-task", () => {
  let server: TestServer;
  let alice: Awaited<ReturnType<typeof signupViaApi>>;
  let bob: Awaited<ReturnType<typeof signupViaApi>>;
  let projectId: string;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await signupViaApi(server.base);
    bob = await signupViaApi(server.base);
    projectId = (await createProject(server.database.db, { userId: alice.userId })).id;
  });
  afterAll(() => server?.close());

  it("202 {runId, workflowId}; the second call reuses the workflow; the run is readable", async () => {
    const first = await apiCall(server.base, "POST", `/projects/${projectId}/agent-task`, alice.accessToken, {
      kind: "fix-tests",
      model: MODEL,
    });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      runId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      workflowId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      version: 1,
      created: true,
    });
    const second = await apiCall(
      server.base,
      "POST",
      `/projects/${projectId}/agent-task`,
      alice.accessToken,
      {
        kind: "custom",
        task: "Rename the helper",
        model: MODEL,
      },
    );
    expect(second.status).toBe(202);
    const again = await apiCall(server.base, "POST", `/projects/${projectId}/agent-task`, alice.accessToken, {
      kind: "fix-tests",
      model: MODEL,
      testCommand: "npm run test:ci",
    });
    expect(again.body).toMatchObject({ workflowId: first.body?.workflowId, created: false });

    const run = await apiCall(server.base, "GET", `/runs/${again.body?.runId}`, alice.accessToken);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({
      status: "queued",
      workflowName: "Fix failing tests",
      input: { test_command: "npm run test:ci" },
    });
  });

  it("400 for a bad body or no model to use; 404 for another user's project or a bad id", async () => {
    const bad = await apiCall(server.base, "POST", `/projects/${projectId}/agent-task`, alice.accessToken, {
      kind: "custom",
      model: MODEL,
    });
    expect(bad.status).toBe(400);
    expect(apiErrorOf(bad).code).toBe("BAD_REQUEST");

    // No model given and none available to this user (no provider key, no demo model in tests).
    const noModel = await apiCall(
      server.base,
      "POST",
      `/projects/${projectId}/agent-task`,
      alice.accessToken,
      {
        kind: "fix-tests",
      },
    );
    expect(noModel.status).toBe(400);
    expect(apiErrorOf(noModel).message).toMatch(/No model is available/);

    const foreign = await apiCall(server.base, "POST", `/projects/${projectId}/agent-task`, bob.accessToken, {
      kind: "fix-tests",
      model: MODEL,
    });
    expect(foreign.status).toBe(404);
    const malformed = await apiCall(server.base, "POST", "/projects/nope/agent-task", alice.accessToken, {
      kind: "fix-tests",
      model: MODEL,
    });
    expect([400, 404]).toContain(malformed.status);
  });

  it("an API key needs runs:write AND workflows:write", async () => {
    const caller = (scopes: Scope[]) =>
      createCallerFactory(agentTaskRouter)(
        testContext(server, {
          userId: alice.userId,
          kind: "api_key",
          sessionId: null,
          apiKeyId: null,
          scopes,
          rateLimitPerMinute: null,
        }),
      );
    const input = { id: projectId, kind: "fix-tests" as const, model: MODEL };
    expect((await trpcRejection(caller(["runs:write"]).start(input))).code).toBe("FORBIDDEN");
    expect((await trpcRejection(caller(["workflows:write"]).start(input))).code).toBe("FORBIDDEN");
    const started = await caller(["runs:write", "workflows:write"]).start(input);
    expect(started.runId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${server.base}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.paths["/projects/{id}/agent-task"]?.post).toBeDefined();
  });
});
