/**
 * The quick task over real HTTP: SSE out, cancellation in, JSON errors before the stream starts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createFile, createProject } from "#tests/factories/index.ts";
import { type MockLlm, startMockLlm } from "#tests/mocks/llm/server.ts";
import { postJson, signupViaApi, startTestServer, type TestServer } from "#tests/setup/http-server.ts";
import { createTemplate } from "./templates.server.ts";

let mock: MockLlm;
let server: TestServer;

beforeAll(async () => {
  mock = await startMockLlm();
  server = await startTestServer(
    {},
    {
      server: { compat: { mock: { baseUrl: `${mock.url}/v1`, apiKey: "" } } },
      demo: { baseUrl: `${mock.url}/v1` },
    },
  );
});
afterAll(async () => {
  await server.close();
  await mock.close();
});
beforeEach(() => mock.reset());

type SseEvent = { event: string; data: Record<string, unknown> };

function parseSse(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("event:"))
    .map((block) => {
      const [eventLine, dataLine] = block.split("\n");
      return {
        event: eventLine!.slice("event: ".length),
        data: JSON.parse(dataLine!.slice("data: ".length)),
      };
    });
}

async function setup() {
  const account = await signupViaApi(server.base);
  const project = await createProject(server.database.db, { userId: account.userId, name: "Quick" });
  await createFile(server.database.db, {
    userId: account.userId,
    projectId: project.id,
    path: "src/a.ts",
    content: "export const a = 1;\n",
  });
  await createFile(server.database.db, {
    userId: account.userId,
    projectId: project.id,
    path: "src/b.ts",
    content: "export const b = 2;\n",
  });
  const auth = { authorization: `Bearer ${account.accessToken}` };
  const url = `${server.base}/api/v1/projects/${project.id}/quick-task`;
  return { account, project, auth, url };
}

describe("POST /api/v1/projects/:id/quick-task", () => {
  it("streams the answer as SSE: start, text deltas, done with usage and cost; the call is recorded", async () => {
    const { auth, url, project, account } = await setup();
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({
        prompt: "What do these export?",
        files: ["src/a.ts", "src/b.ts"],
        model: "compat:demo/demo",
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(res.headers.get("cache-control")).toContain("no-transform");
    const events = parseSse(await res.text());
    expect(events[0]).toEqual({
      event: "start",
      data: { model: "compat:demo/demo", label: expect.stringContaining("Offline demo model"), demo: true },
    });
    const texts = events.filter((e) => e.event === "text");
    expect(texts.length).toBeGreaterThan(3);
    const answer = texts.map((e) => e.data.delta).join("");
    expect(answer).toContain("src/a.ts");
    expect(answer).toContain("src/b.ts");
    const done = events.at(-1)!;
    expect(done.event).toBe("done");
    expect(done.data).toMatchObject({ finishReason: "stop", cached: false, costMicros: 0 });
    const call = await server.database.db.aiCall.findUniqueOrThrow({
      where: { id: String(done.data.callId) },
    });
    expect(call).toMatchObject({
      userId: account.userId,
      projectId: project.id,
      provider: "compat",
      model: "demo/demo",
    });
    // What went upstream: the files and the prompt, in a system + user exchange.
    const body = mock.requests.at(-1)?.body as { messages: Array<{ role: string; content: string }> };
    expect(body.messages.map((m) => m.role)).toEqual(["system", "user"]);
    expect(body.messages[1]?.content).toContain("--- src/a.ts ---\nexport const a = 1;");
    expect(body.messages[1]?.content).toContain("What do these export?");
  });

  it("cancels the upstream call when the client disconnects", async () => {
    const { auth, url, account } = await setup();
    const controller = new AbortController();
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ prompt: "Go slowly", model: "compat:mock/slow" }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let seen = "";
    while (!seen.includes("event: text")) {
      const { value } = await reader.read();
      seen += decoder.decode(value);
    }
    controller.abort();
    await mock.waitFor((requests) => requests.some((r) => r.clientClosed));
    await expect
      .poll(
        async () => (await server.database.db.aiCall.findFirst({ where: { userId: account.userId } }))?.error,
      )
      .toMatch(/abort|cancel/i);
  });

  it("answers JSON errors before streaming: validation, ownership, files, credentials, scopes", async () => {
    const { auth, url, project } = await setup();
    const bad = await postJson(url, { prompt: "", model: "compat:demo/demo" }, auth);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: "BAD_REQUEST", message: "Write what you want done" } });

    const badModel = await postJson(url, { prompt: "x", model: "gpt-4" }, auth);
    expect(badModel.status).toBe(400);
    expect(JSON.stringify(badModel.body)).toContain("provider:model");

    const missingFile = await postJson(
      url,
      { prompt: "x", files: ["nope.ts"], model: "compat:demo/demo" },
      auth,
    );
    expect(missingFile.status).toBe(404);

    const noCredentials = await postJson(url, { prompt: "x", model: "openai:gpt-4.1-mini" }, auth);
    expect(noCredentials.status).toBe(400);
    expect(noCredentials.body).toMatchObject({ error: { message: expect.stringMatching(/No credentials/) } });

    const other = await signupViaApi(server.base);
    const foreign = await postJson(
      url,
      { prompt: "x", model: "compat:demo/demo" },
      { authorization: `Bearer ${other.accessToken}` },
    );
    expect(foreign.status).toBe(404);
    expect(foreign.body).toMatchObject({ error: { code: "NOT_FOUND", message: "Project not found" } });

    expect((await postJson(url, { prompt: "x", model: "compat:demo/demo" })).status).toBe(401);
    expect(
      (
        await postJson(
          `${server.base}/api/v1/projects/not-a-uuid/quick-task`,
          { prompt: "x", model: "compat:demo/demo" },
          auth,
        )
      ).status,
    ).toBe(404);

    const created = await postJson(
      `${server.base}/api/v1/api-keys`,
      { name: "read only", scopes: ["projects:read"] },
      auth,
    );
    const key = (created.body as { key: string }).key;
    const scoped = await postJson(
      url,
      { prompt: "x", model: "compat:demo/demo" },
      { authorization: `Bearer ${key}` },
    );
    expect(scoped.status).toBe(403);
    expect(project.id).toBeTruthy();
  });

  it("renders a saved prompt, reports missing variables before any call, and links the call to the version", async () => {
    const { auth, url, account, project } = await setup();
    const template = await createTemplate(
      { userId: account.userId, name: "Review", body: "Review {{project.name}} for {{goal}}." },
      { db: server.database.db },
    );
    const missing = await postJson(url, { template: { id: template.id }, model: "compat:mock/echo" }, auth);
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: { message: "Missing template variables: goal" } });
    expect(mock.requests).toHaveLength(0);

    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({
        template: { id: template.id, variables: { goal: "bugs" } },
        model: "compat:mock/echo",
      }),
    });
    const events = parseSse(await res.text());
    expect(
      events
        .filter((e) => e.event === "text")
        .map((e) => e.data.delta)
        .join(""),
    ).toBe("Echo: Review Quick for bugs.");
    const done = events.at(-1)!;
    const call = await server.database.db.aiCall.findUniqueOrThrow({
      where: { id: String(done.data.callId) },
    });
    const version = await server.database.db.promptTemplateVersion.findFirstOrThrow({
      where: { templateId: template.id, number: 1 },
    });
    expect(call.templateVersionId).toBe(version.id);
    expect(project.id).toBeTruthy();

    // Another user's prompt is not found.
    const other = await signupViaApi(server.base);
    const theirs = await createTemplate(
      { userId: other.userId, name: "Theirs", body: "x" },
      { db: server.database.db },
    );
    const foreign = await postJson(url, { template: { id: theirs.id }, model: "compat:mock/echo" }, auth);
    expect(foreign.status).toBe(404);
  });

  it("passes a provider's rate limit on as 429 with Retry-After", async () => {
    const { auth, url } = await setup();
    const res = await postJson(url, { prompt: "x", model: "compat:mock/rate-limit" }, auth);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.body).toMatchObject({ error: { code: "TOO_MANY_REQUESTS" } });
  });
});
