import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, signupViaApi, startTestServer, type TestServer } from "#tests/setup/http-server.ts";

type Schema = { type?: string; properties?: Record<string, Schema>; required?: string[]; items?: Schema };
type Operation = {
  operationId: string;
  parameters?: Array<{ in: string; name: string }>;
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
};

let server: TestServer;
let paths: Record<string, Record<string, Operation>>;
beforeAll(async () => {
  server = await startTestServer();
  paths = ((await (await fetch(`${server.base}/api/openapi.json`)).json()) as { paths: typeof paths }).paths;
});
afterAll(async () => {
  await server?.close();
});

/** Every page of a paged list (`limit=2`), in order: the ids (version numbers for versions) and the page count. */
async function walk(token: string, path: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await apiCall(
      server.base,
      "GET",
      `${path}${sep}limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      token,
    );
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    const body = page.body as { items: Array<{ id?: string; number?: number }>; nextCursor: string | null };
    expect(body.items.length).toBeLessThanOrEqual(2);
    ids.push(...body.items.map((item) => String(item.number ?? item.id)));
    cursor = body.nextCursor;
    pages += 1;
  } while (cursor && pages < 10);
  return { ids, pages };
}

describe("cursor pagination", () => {
  it("every paged list has the same shape: {items[], nextCursor} and ?cursor, ?limit", () => {
    const paged: string[] = [];
    for (const [path, item] of Object.entries(paths)) {
      const op = item.get;
      const schema = op?.responses["200"]?.content?.["application/json"]?.schema;
      if (!op || !schema?.properties?.nextCursor) continue;
      paged.push(op.operationId);
      expect(schema.properties.items?.type, path).toBe("array");
      expect(schema.required, path).toEqual(expect.arrayContaining(["items", "nextCursor"]));
      const query = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      expect(query, path).toEqual(expect.arrayContaining(["cursor", "limit"]));
    }
    expect(paged.sort()).toEqual([
      "audit-list",
      "notifications-list",
      "projects-list",
      "prompts-list",
      "runs-list",
      "workflows-list",
      "workflows-listVersions",
    ]);
  });

  it("GET /projects?limit pages through every project once; a foreign or bad cursor is a 400", async () => {
    const alice = await signupViaApi(server.base);
    const bob = await signupViaApi(server.base);
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await apiCall(server.base, "POST", "/projects", alice.accessToken, { name: `P${i}` });
      created.push(String(res.body?.id));
    }
    expect(await walk(alice.accessToken, "/projects")).toEqual({ ids: [...created].reverse(), pages: 3 });

    // Without limit: everything, as before, and a null cursor.
    const all = await apiCall(server.base, "GET", "/projects", alice.accessToken);
    expect(all.body).toMatchObject({ nextCursor: null });
    expect(all.body?.items).toHaveLength(5);

    const bobsProject = await apiCall(server.base, "POST", "/projects", bob.accessToken, { name: "Bob" });
    for (const bad of [String(bobsProject.body?.id), "not-a-uuid"]) {
      const res = await apiCall(server.base, "GET", `/projects?limit=2&cursor=${bad}`, alice.accessToken);
      expect(res.status).toBe(400);
    }
    expect((await apiCall(server.base, "GET", "/projects?limit=0", alice.accessToken)).status).toBe(400);
    expect((await apiCall(server.base, "GET", "/projects?limit=101", alice.accessToken)).status).toBe(400);
  });

  it("GET /workflows/{id}/versions?limit pages the history newest first", async () => {
    const user = await signupViaApi(server.base);
    const project = await apiCall(server.base, "POST", "/projects", user.accessToken, { name: "History" });
    const definition = (n: number) => ({ steps: [{ id: "t", type: "transform", template: `v${n}` }] });
    const workflow = await apiCall(
      server.base,
      "POST",
      `/projects/${project.body?.id}/workflows`,
      user.accessToken,
      {
        name: "Versions",
        definition: definition(1),
      },
    );
    const id = String(workflow.body?.id);
    for (let n = 2; n <= 5; n++) {
      const saved = await apiCall(server.base, "PUT", `/workflows/${id}`, user.accessToken, {
        definition: definition(n),
        baseVersion: n - 1,
      });
      expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    }
    expect(await walk(user.accessToken, `/workflows/${id}/versions`)).toEqual({
      ids: ["5", "4", "3", "2", "1"],
      pages: 3,
    });
    const all = await apiCall(server.base, "GET", `/workflows/${id}/versions`, user.accessToken);
    expect(all.body).toMatchObject({ nextCursor: null });
    expect(all.body?.items).toHaveLength(5);
    const bad = await apiCall(
      server.base,
      "GET",
      `/workflows/${id}/versions?limit=2&cursor=x`,
      user.accessToken,
    );
    expect(bad.status).toBe(400);
  });

  it("workflows and prompt templates page the same way: every item once, newest first", async () => {
    const user = await signupViaApi(server.base);
    const project = await apiCall(server.base, "POST", "/projects", user.accessToken, { name: "Lists" });
    const projectId = String(project.body?.id);
    const workflowIds: string[] = [];
    const promptIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const workflow = await apiCall(
        server.base,
        "POST",
        `/projects/${projectId}/workflows`,
        user.accessToken,
        {
          name: `W${i}`,
          definition: { steps: [{ id: "t", type: "transform", template: "x" }] },
        },
      );
      workflowIds.push(String(workflow.body?.id));
      const prompt = await apiCall(server.base, "POST", "/prompts", user.accessToken, {
        name: `P${i}`,
        body: "Hello {{name}}",
      });
      expect(prompt.status, JSON.stringify(prompt.body)).toBe(201);
      promptIds.push(String(prompt.body?.id));
    }
    expect(await walk(user.accessToken, `/projects/${projectId}/workflows`)).toEqual({
      ids: [...workflowIds].reverse(),
      pages: 3,
    });
    expect(await walk(user.accessToken, "/prompts")).toEqual({ ids: [...promptIds].reverse(), pages: 3 });
    const bad = await apiCall(
      server.base,
      "GET",
      `/prompts?limit=2&cursor=${workflowIds[0]}`,
      user.accessToken,
    );
    expect(bad.status).toBe(400);
  });
});
