import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCallerFactory } from "#app/trpc/init.server.ts";
import { createAiCall, createProject, createUser } from "#tests/factories/index.ts";
import { type Rejection, rejection, trpcRejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import {
  apiCall,
  apiErrorOf,
  sessionPrincipal,
  signupViaApi,
  startTestServer,
  type TestServer,
  testContext,
} from "#tests/setup/http-server.ts";
import { templatesRouter } from "./templates.router.server.ts";
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  getTemplateVersion,
  listTemplates,
  previewTemplateVersion,
  renderTemplateVersion,
  restoreTemplateVersion,
  updateTemplate,
} from "./templates.server.ts";

const database = setupTestDatabase();
const deps = () => ({ db: database.db });
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("createTemplate", () => {
  it("creates version 1 with its variables and sha256; the name is trimmed", async () => {
    const user = await createUser(database.db);
    const at = new Date("2025-03-01T10:00:00Z");
    const body = "Review {{ project.name }}: {{ files.0.path }} {{project.name}}";
    const template = await createTemplate(
      { userId: user.id, name: "  Review  ", body },
      { ...deps(), now: () => at },
    );
    expect(template).toMatchObject({
      name: "Review",
      projectId: null,
      project: null,
      latestVersion: 1,
      createdAt: at,
      updatedAt: at,
      latest: {
        number: 1,
        body,
        variables: ["project.name", "files.0.path"],
        hash: sha256(body),
        createdAt: at,
      },
    });
    const rows = await database.db.promptTemplateVersion.findMany({ where: { templateId: template.id } });
    expect(rows).toEqual([expect.objectContaining({ userId: user.id, number: 1, body })]);
  });

  it("scopes a template to one of the caller's projects; another user's project is NOT_FOUND", async () => {
    const user = await createUser(database.db);
    const stranger = await createUser(database.db);
    const project = await createProject(database.db, { userId: user.id, name: "Shop" });
    const scoped = await createTemplate(
      { userId: user.id, name: "P", body: "x", projectId: project.id },
      deps(),
    );
    expect(scoped).toMatchObject({ projectId: project.id, project: { id: project.id, name: "Shop" } });

    const error = await rejection(
      createTemplate({ userId: stranger.id, name: "Steal", body: "x", projectId: project.id }, deps()),
    );
    expect(error.code).toBe("NOT_FOUND");
    expect(await database.db.promptTemplate.count({ where: { userId: stranger.id } })).toBe(0);
  });

  it("refuses a body with syntax errors, listing each with line:column, and writes nothing", async () => {
    const user = await createUser(database.db);
    const error = await rejection(
      createTemplate({ userId: user.id, name: "Broken", body: "ok {{ a b }}\n{{}}\n{{ open" }, deps()),
    );
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toContain("3 syntax errors");
    expect(error.message).toContain("line 1:9");
    expect(error.message).toContain("line 2:1");
    expect(error.message).toContain("line 3:1");
    expect(error.details).toMatchObject({
      errorCount: 3,
      errors: [
        expect.objectContaining({ line: 1, column: 9 }),
        expect.objectContaining({ line: 2, column: 1, message: expect.stringContaining("Empty tag") }),
        expect.objectContaining({ line: 3, column: 1, message: expect.stringContaining("Unclosed") }),
      ],
    });
    expect(await database.db.promptTemplate.count({ where: { userId: user.id } })).toBe(0);
  });

  it("refuses an empty or overlong name and an overlong body", async () => {
    const user = await createUser(database.db);
    for (const input of [
      { name: "  ", body: "x" },
      { name: "n".repeat(101), body: "x" },
      { name: "ok", body: "b".repeat(200_001) },
    ]) {
      expect((await rejection(createTemplate({ userId: user.id, ...input }, deps()))).code).toBe(
        "BAD_REQUEST",
      );
    }
    // An empty body is fine: write it later.
    expect(
      (await createTemplate({ userId: user.id, name: "Empty", body: "" }, deps())).latest.variables,
    ).toEqual([]);
  });

  it("names are unique per user and scope, without case: CONFLICT names the existing one", async () => {
    const user = await createUser(database.db);
    const other = await createUser(database.db);
    const project = await createProject(database.db, { userId: user.id });
    const first = await createTemplate({ userId: user.id, name: "Summary", body: "a" }, deps());

    const clash = await rejection(createTemplate({ userId: user.id, name: "summary ", body: "b" }, deps()));
    expect(clash).toMatchObject({ code: "CONFLICT", details: { templateId: first.id } });
    expect(clash.message).toContain('"Summary" already exists for all projects');

    // Another scope (a project), and another user, may use the name.
    await createTemplate({ userId: user.id, name: "Summary", body: "c", projectId: project.id }, deps());
    const inProject = await rejection(
      createTemplate({ userId: user.id, name: "SUMMARY", body: "d", projectId: project.id }, deps()),
    );
    expect(inProject.code).toBe("CONFLICT");
    expect(inProject.message).toContain("in this project");
    await createTemplate({ userId: other.id, name: "Summary", body: "e" }, deps());
  });

  it("concurrent creates of the same name: exactly one wins", async () => {
    const user = await createUser(database.db);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) =>
        createTemplate({ userId: user.id, name: "Race", body: `b${i}` }, deps()),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect((r.reason as Rejection).code).toBe("CONFLICT");
    }
    expect(await database.db.promptTemplate.count({ where: { userId: user.id } })).toBe(1);
  });
});

describe("updateTemplate", () => {
  it("a changed body makes a new version; the same body or a rename alone makes none", async () => {
    const user = await createUser(database.db);
    const t0 = new Date("2025-01-01T00:00:00Z");
    const t1 = new Date("2025-01-02T00:00:00Z");
    const t2 = new Date("2025-01-03T00:00:00Z");
    const t3 = new Date("2025-01-04T00:00:00Z");
    const template = await createTemplate(
      { userId: user.id, name: "Draft", body: "v1 {{a}}" },
      { ...deps(), now: () => t0 },
    );

    const v2 = await updateTemplate(
      { userId: user.id, templateId: template.id, body: "v2 {{ b }} {{a}}" },
      { ...deps(), now: () => t1 },
    );
    expect(v2).toMatchObject({
      latestVersion: 2,
      updatedAt: t1,
      latest: { number: 2, body: "v2 {{ b }} {{a}}", variables: ["b", "a"], createdAt: t1 },
    });

    const same = await updateTemplate(
      { userId: user.id, templateId: template.id, body: "v2 {{ b }} {{a}}" },
      { ...deps(), now: () => t2 },
    );
    expect(same).toMatchObject({ latestVersion: 2, updatedAt: t1 });

    const renamed = await updateTemplate(
      { userId: user.id, templateId: template.id, name: "Final" },
      { ...deps(), now: () => t3 },
    );
    expect(renamed).toMatchObject({ name: "Final", latestVersion: 2, updatedAt: t3, latest: { number: 2 } });
    expect(await database.db.promptTemplateVersion.count({ where: { templateId: template.id } })).toBe(2);

    // Old versions are untouched.
    const v1 = await getTemplateVersion({ userId: user.id, templateId: template.id, number: 1 }, deps());
    expect(v1).toMatchObject({ body: "v1 {{a}}", variables: ["a"], hash: sha256("v1 {{a}}") });
  });

  it("rename and body together; a rename onto a taken name is a CONFLICT and changes nothing", async () => {
    const user = await createUser(database.db);
    await createTemplate({ userId: user.id, name: "Taken", body: "x" }, deps());
    const template = await createTemplate({ userId: user.id, name: "Mine", body: "x" }, deps());
    const both = await updateTemplate(
      { userId: user.id, templateId: template.id, name: "Mine too", body: "y" },
      deps(),
    );
    expect(both).toMatchObject({ name: "Mine too", latestVersion: 2 });

    const clash = await rejection(
      updateTemplate({ userId: user.id, templateId: template.id, name: "taken", body: "z" }, deps()),
    );
    expect(clash.code).toBe("CONFLICT");
    const detail = await getTemplate({ userId: user.id, templateId: template.id }, deps());
    expect(detail).toMatchObject({ name: "Mine too", latestVersion: 2 });
    // Changing only the case of one's own name is fine.
    const recased = await updateTemplate(
      { userId: user.id, templateId: template.id, name: "MINE TOO" },
      deps(),
    );
    expect(recased.name).toBe("MINE TOO");
  });

  it("baseVersion: CONFLICT with the latest version when someone saved in between", async () => {
    const user = await createUser(database.db);
    const template = await createTemplate({ userId: user.id, name: "Shared", body: "1" }, deps());
    await updateTemplate({ userId: user.id, templateId: template.id, body: "2", baseVersion: 1 }, deps());
    const stale = await rejection(
      updateTemplate({ userId: user.id, templateId: template.id, body: "other 2", baseVersion: 1 }, deps()),
    );
    expect(stale).toMatchObject({ code: "CONFLICT", details: { latestVersion: 2 } });
    const detail = await getTemplate({ userId: user.id, templateId: template.id }, deps());
    expect(detail.latest.body).toBe("2");
  });

  it("a body with errors is refused and nothing changes", async () => {
    const user = await createUser(database.db);
    const template = await createTemplate({ userId: user.id, name: "T", body: "fine" }, deps());
    const error = await rejection(
      updateTemplate({ userId: user.id, templateId: template.id, name: "Renamed", body: "{{#if}}" }, deps()),
    );
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toContain("line 1:3");
    expect(await getTemplate({ userId: user.id, templateId: template.id }, deps())).toMatchObject({
      name: "T",
      latestVersion: 1,
    });
  });

  it("concurrent saves of different bodies get gap-free version numbers", async () => {
    const user = await createUser(database.db);
    const template = await createTemplate({ userId: user.id, name: "Busy", body: "0" }, deps());
    await Promise.all(
      ["1", "2", "3", "4"].map((body) =>
        updateTemplate({ userId: user.id, templateId: template.id, body }, deps()),
      ),
    );
    const detail = await getTemplate({ userId: user.id, templateId: template.id }, deps());
    expect(detail.latestVersion).toBe(5);
    expect(detail.versions.map((v) => v.number)).toEqual([5, 4, 3, 2, 1]);
  });

  it("another user's template (or a malformed id) is NOT_FOUND and untouched", async () => {
    const owner = await createUser(database.db);
    const stranger = await createUser(database.db);
    const template = await createTemplate({ userId: owner.id, name: "Private", body: "secret" }, deps());
    for (const templateId of [template.id, "not-a-uuid"]) {
      const error = await rejection(
        updateTemplate({ userId: stranger.id, templateId, name: "Mine now", body: "stolen" }, deps()),
      );
      expect(error.code).toBe("NOT_FOUND");
    }
    expect(await getTemplate({ userId: owner.id, templateId: template.id }, deps())).toMatchObject({
      name: "Private",
      latestVersion: 1,
      latest: { body: "secret" },
    });
  });
});

describe("listTemplates", () => {
  it("lists the caller's templates, latest change first, with the latest version's variables", async () => {
    const user = await createUser(database.db);
    const other = await createUser(database.db);
    const project = await createProject(database.db, { userId: user.id, name: "Web" });
    const otherProject = await createProject(database.db, { userId: user.id, name: "Api" });
    const day = (d: number) => ({ ...deps(), now: () => new Date(Date.UTC(2025, 0, d)) });
    const global = await createTemplate({ userId: user.id, name: "Global", body: "{{a}}" }, day(1));
    const web = await createTemplate(
      { userId: user.id, name: "Web", body: "{{b}}", projectId: project.id },
      day(2),
    );
    const api = await createTemplate(
      { userId: user.id, name: "Api", body: "{{c}}", projectId: otherProject.id },
      day(3),
    );
    await createTemplate({ userId: other.id, name: "Not mine", body: "x" }, day(4));
    await updateTemplate({ userId: user.id, templateId: global.id, body: "{{ a }} {{ z.0 }}" }, day(5));

    const all = await listTemplates({ userId: user.id }, deps());
    expect(all.map((t) => t.name)).toEqual(["Global", "Api", "Web"]);
    expect(all[0]).toMatchObject({ id: global.id, latestVersion: 2, variables: ["a", "z.0"], project: null });
    expect(all[1]).toMatchObject({
      id: api.id,
      project: { id: otherProject.id, name: "Api" },
      variables: ["c"],
    });
    expect(all[0]).not.toHaveProperty("body");

    const inWeb = await listTemplates({ userId: user.id, projectId: project.id }, deps());
    expect(inWeb.map((t) => t.id)).toEqual([global.id, web.id]);

    expect(await listTemplates({ userId: other.id, projectId: undefined }, deps())).toHaveLength(1);
    expect((await rejection(listTemplates({ userId: other.id, projectId: project.id }, deps()))).code).toBe(
      "NOT_FOUND",
    );
  });
});

describe("getTemplate and getTemplateVersion", () => {
  it("every version newest first, each with the number of model calls that used it", async () => {
    const user = await createUser(database.db);
    const template = await createTemplate({ userId: user.id, name: "Counted", body: "one {{x}}" }, deps());
    const v2 = await updateTemplate({ userId: user.id, templateId: template.id, body: "two {{y}}" }, deps());
    await createAiCall(database.db, { userId: user.id, templateVersionId: template.latest.id });
    await createAiCall(database.db, { userId: user.id, templateVersionId: v2.latest.id });
    await createAiCall(database.db, { userId: user.id, templateVersionId: v2.latest.id });
    await createAiCall(database.db, { userId: user.id, templateVersionId: null });

    const detail = await getTemplate({ userId: user.id, templateId: template.id }, deps());
    expect(detail).toMatchObject({
      id: template.id,
      latestVersion: 2,
      latest: { number: 2, body: "two {{y}}" },
    });
    expect(detail.latest).not.toHaveProperty("usage");
    expect(detail.versions.map((v) => [v.number, v.usage, v.body, v.variables])).toEqual([
      [2, 2, "two {{y}}", ["y"]],
      [1, 1, "one {{x}}", ["x"]],
    ]);
    expect(
      await getTemplateVersion({ userId: user.id, templateId: template.id, number: 1 }, deps()),
    ).toMatchObject({
      id: template.latest.id,
      number: 1,
      usage: 1,
    });
  });

  it("a missing version, another user's template and a malformed id are NOT_FOUND", async () => {
    const owner = await createUser(database.db);
    const stranger = await createUser(database.db);
    const template = await createTemplate({ userId: owner.id, name: "Mine", body: "x" }, deps());
    const missing = await rejection(
      getTemplateVersion({ userId: owner.id, templateId: template.id, number: 9 }, deps()),
    );
    expect(missing).toMatchObject({ code: "NOT_FOUND", message: "Prompt template version 9 not found" });
    expect(
      (await rejection(getTemplate({ userId: stranger.id, templateId: template.id }, deps()))).code,
    ).toBe("NOT_FOUND");
    expect(
      (
        await rejection(
          getTemplateVersion({ userId: stranger.id, templateId: template.id, number: 1 }, deps()),
        )
      ).code,
    ).toBe("NOT_FOUND");
    expect((await rejection(getTemplate({ userId: owner.id, templateId: "nope" }, deps()))).code).toBe(
      "NOT_FOUND",
    );
    expect(
      (await rejection(getTemplateVersion({ userId: owner.id, templateId: template.id, number: 0 }, deps())))
        .code,
    ).toBe("BAD_REQUEST");
  });
});

describe("restoreTemplateVersion", () => {
  it("makes an old body the newest version; restoring the current body changes nothing", async () => {
    const user = await createUser(database.db);
    const template = await createTemplate({ userId: user.id, name: "R", body: "first {{a}}" }, deps());
    await updateTemplate({ userId: user.id, templateId: template.id, body: "second" }, deps());

    const restored = await restoreTemplateVersion(
      { userId: user.id, templateId: template.id, number: 1 },
      deps(),
    );
    expect(restored).toMatchObject({
      latestVersion: 3,
      latest: { number: 3, body: "first {{a}}", variables: ["a"], hash: sha256("first {{a}}") },
    });
    const again = await restoreTemplateVersion(
      { userId: user.id, templateId: template.id, number: 1 },
      deps(),
    );
    expect(again).toMatchObject({ latestVersion: 3, latest: { number: 3 } });
    expect(await database.db.promptTemplateVersion.count({ where: { templateId: template.id } })).toBe(3);
  });

  it("a missing version or another user's template is NOT_FOUND", async () => {
    const owner = await createUser(database.db);
    const stranger = await createUser(database.db);
    const template = await createTemplate({ userId: owner.id, name: "R", body: "a" }, deps());
    await updateTemplate({ userId: owner.id, templateId: template.id, body: "b" }, deps());
    expect(
      (
        await rejection(
          restoreTemplateVersion({ userId: owner.id, templateId: template.id, number: 7 }, deps()),
        )
      ).code,
    ).toBe("NOT_FOUND");
    expect(
      (
        await rejection(
          restoreTemplateVersion({ userId: stranger.id, templateId: template.id, number: 1 }, deps()),
        )
      ).code,
    ).toBe("NOT_FOUND");
    expect((await getTemplate({ userId: owner.id, templateId: template.id }, deps())).latestVersion).toBe(2);
  });
});

describe("deleteTemplate", () => {
  it("removes the template and its versions; model calls keep their spend", async () => {
    const user = await createUser(database.db);
    const stranger = await createUser(database.db);
    const template = await createTemplate({ userId: user.id, name: "Gone", body: "x" }, deps());
    const call = await createAiCall(database.db, {
      userId: user.id,
      templateVersionId: template.latest.id,
      costMicros: 7n,
    });

    expect(
      (await rejection(deleteTemplate({ userId: stranger.id, templateId: template.id }, deps()))).code,
    ).toBe("NOT_FOUND");
    expect(await deleteTemplate({ userId: user.id, templateId: template.id }, deps())).toEqual({ ok: true });
    expect(await database.db.promptTemplate.count({ where: { id: template.id } })).toBe(0);
    expect(await database.db.promptTemplateVersion.count({ where: { templateId: template.id } })).toBe(0);
    expect(await database.db.aiCall.findUniqueOrThrow({ where: { id: call.id } })).toMatchObject({
      templateVersionId: null,
      costMicros: 7n,
    });
    expect((await rejection(deleteTemplate({ userId: user.id, templateId: template.id }, deps()))).code).toBe(
      "NOT_FOUND",
    );
  });
});

describe("renderTemplateVersion and previewTemplateVersion", () => {
  it("renders the latest version, or a pinned one, and names the version it used", async () => {
    const user = await createUser(database.db);
    const template = await createTemplate(
      { userId: user.id, name: "Greet", body: "Hi {{ user.name }} ({{ user.tags.0 }})" },
      deps(),
    );
    const v2 = await updateTemplate(
      { userId: user.id, templateId: template.id, body: "Bye {{ user.name }}" },
      deps(),
    );
    const variables = { user: { name: "Ada", tags: ["admin"] } };

    expect(
      await renderTemplateVersion({ userId: user.id, templateId: template.id, variables }, deps()),
    ).toEqual({
      text: "Bye Ada",
      templateVersionId: v2.latest.id,
      number: 2,
    });
    expect(
      await renderTemplateVersion(
        { userId: user.id, templateId: template.id, version: 1, variables },
        deps(),
      ),
    ).toEqual({ text: "Hi Ada (admin)", templateVersionId: template.latest.id, number: 1 });
  });

  it("every missing variable at once: BAD_REQUEST 'Missing template variables: a, b' with details.missing", async () => {
    const user = await createUser(database.db);
    const template = await createTemplate(
      { userId: user.id, name: "Needs", body: "{{ task }} in {{ project.name }} by {{ who }} {{ task }}" },
      deps(),
    );
    const error = await rejection(
      renderTemplateVersion(
        { userId: user.id, templateId: template.id, variables: { who: "me", project: {} } },
        deps(),
      ),
    );
    expect(error).toMatchObject({
      code: "BAD_REQUEST",
      message: "Missing template variables: task, project.name",
      details: { missing: ["task", "project.name"] },
    });
  });

  it("the preview keeps missing tags and lists them; another user's template is NOT_FOUND", async () => {
    const user = await createUser(database.db);
    const stranger = await createUser(database.db);
    const template = await createTemplate({ userId: user.id, name: "P", body: "{{ a }} and {{b}}" }, deps());
    expect(
      await previewTemplateVersion(
        { userId: user.id, templateId: template.id, variables: { b: [1] } },
        deps(),
      ),
    ).toEqual({
      text: "{{ a }} and [\n  1\n]",
      missing: ["a"],
      templateVersionId: template.latest.id,
      number: 1,
    });
    // Thunks: a promise made before its turn would reject unobserved.
    for (const call of [
      () => previewTemplateVersion({ userId: stranger.id, templateId: template.id, variables: {} }, deps()),
      () => renderTemplateVersion({ userId: stranger.id, templateId: template.id, variables: {} }, deps()),
    ]) {
      expect((await rejection(call())).code).toBe("NOT_FOUND");
    }
    expect(
      (
        await rejection(
          previewTemplateVersion(
            { userId: user.id, templateId: template.id, version: 4, variables: {} },
            deps(),
          ),
        )
      ).code,
    ).toBe("NOT_FOUND");
  });
});

describe("templatesRouter", () => {
  let server: TestServer;
  let owner: Awaited<ReturnType<typeof signupViaApi>>;
  const createCaller = createCallerFactory(templatesRouter);
  const asSession = (userId: string) => createCaller(testContext(server, sessionPrincipal(userId, "s")));
  const asKey = (userId: string, scopes: Array<"workflows:read" | "workflows:write">) =>
    createCaller(
      testContext(server, {
        userId,
        kind: "api_key",
        sessionId: null,
        apiKeyId: "00000000-0000-7000-8000-000000000000",
        scopes,
        rateLimitPerMinute: null,
      }),
    );

  beforeAll(async () => {
    server = await startTestServer();
    owner = await signupViaApi(server.base);
  });
  afterAll(() => server.close());

  it("create, update, versions, restore, render preview and delete through the procedures", async () => {
    const api = asSession(owner.userId);
    const created = await api.create({ name: "Router", body: "Fix {{ issue.title }}" });
    expect(created).toMatchObject({
      name: "Router",
      latestVersion: 1,
      latest: { variables: ["issue.title"] },
    });

    const updated = await api.update({
      id: created.id,
      body: "Fix {{ issue.title }} in {{ repo }}",
      baseVersion: 1,
    });
    expect(updated.latestVersion).toBe(2);
    expect((await api.list()).items.map((t) => t.id)).toContain(created.id);
    expect((await api.get({ id: created.id })).versions.map((v) => v.number)).toEqual([2, 1]);
    expect((await api.getVersion({ id: created.id, number: 1 })).body).toBe("Fix {{ issue.title }}");
    expect((await api.restoreVersion({ id: created.id, number: 1 })).latestVersion).toBe(3);

    expect(await api.render({ id: created.id, variables: { issue: { title: "bug" } }, version: 2 })).toEqual({
      text: "Fix bug in {{ repo }}",
      missing: ["repo"],
      templateVersionId: updated.latest.id,
      number: 2,
    });
    expect(await api.delete({ id: created.id })).toEqual({ ok: true });
    expect((await trpcRejection(api.get({ id: created.id }))).code).toBe("NOT_FOUND");
  });

  it("maps service errors: BAD_REQUEST with the parse errors, CONFLICT for a taken name", async () => {
    const api = asSession(owner.userId);
    const bad = await trpcRejection(api.create({ name: "Bad", body: "{{ x" }));
    expect(bad.code).toBe("BAD_REQUEST");
    expect(bad.message).toContain("line 1:1");
    await api.create({ name: "Once", body: "x" });
    expect((await trpcRejection(api.create({ name: "once", body: "y" }))).code).toBe("CONFLICT");
  });

  it("an API key needs workflows:read to read and workflows:write to write", async () => {
    const template = await asSession(owner.userId).create({ name: "Scoped", body: "{{a}}" });
    const reader = asKey(owner.userId, ["workflows:read"]);
    expect((await reader.get({ id: template.id })).name).toBe("Scoped");
    expect((await reader.render({ id: template.id, variables: { a: 1 } })).text).toBe("1");
    for (const attempt of [
      () => reader.create({ name: "No", body: "x" }),
      () => reader.update({ id: template.id, body: "changed" }),
      () => reader.delete({ id: template.id }),
      () => reader.restoreVersion({ id: template.id, number: 1 }),
    ]) {
      expect((await trpcRejection(attempt())).code).toBe("FORBIDDEN");
    }
    const writer = asKey(owner.userId, ["workflows:write"]);
    expect((await trpcRejection(writer.list())).code).toBe("FORBIDDEN");
    expect((await writer.update({ id: template.id, body: "changed" })).latestVersion).toBe(2);
  });

  it("another user's template answers NOT_FOUND on every procedure and stays as it was", async () => {
    const template = await asSession(owner.userId).create({ name: "Owned", body: "{{a}}" });
    const intruder = await signupViaApi(server.base);
    const api = asSession(intruder.userId);
    const id = template.id;
    for (const attempt of [
      () => api.get({ id }),
      () => api.update({ id, name: "Mine", body: "stolen" }),
      () => api.delete({ id }),
      () => api.getVersion({ id, number: 1 }),
      () => api.restoreVersion({ id, number: 1 }),
      () => api.render({ id, variables: {} }),
    ]) {
      expect((await trpcRejection(attempt())).code).toBe("NOT_FOUND");
    }
    expect((await api.list()).items).toEqual([]);
    const intact = await asSession(owner.userId).get({ id });
    expect(intact).toMatchObject({ name: "Owned", latestVersion: 1, latest: { body: "{{a}}" } });
  });
});

describe("REST /api/v1/prompts", () => {
  let server: TestServer;
  let alice: Awaited<ReturnType<typeof signupViaApi>>;
  let bob: Awaited<ReturnType<typeof signupViaApi>>;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await signupViaApi(server.base);
    bob = await signupViaApi(server.base);
  });
  afterAll(() => server.close());
  const call = (method: string, path: string, token: string, body?: unknown) =>
    apiCall(server.base, method, path, token, body);
  const errorOf = apiErrorOf;

  it("create (201), list, get, update, versions, restore, render preview and delete", async () => {
    const token = alice.accessToken;
    const created = await call("POST", "/prompts", token, { name: "REST", body: "Fix {{ issue.title }}" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "REST", projectId: null, latestVersion: 1 });
    const id = (created.body as { id: string }).id;
    expect(typeof created.body?.createdAt).toBe("string");

    const updated = await call("PUT", `/prompts/${id}`, token, {
      body: "Fix {{ issue.title }} in {{ repo }}",
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      latestVersion: 2,
      latest: { number: 2, variables: ["issue.title", "repo"] },
    });

    const list = await call("GET", "/prompts", token);
    expect(list.status).toBe(200);
    expect(list.body?.items).toEqual([
      expect.objectContaining({ id, name: "REST", latestVersion: 2, variables: ["issue.title", "repo"] }),
    ]);

    const detail = await call("GET", `/prompts/${id}`, token);
    expect((detail.body as { versions: Array<{ number: number; usage: number }> }).versions).toEqual([
      expect.objectContaining({ number: 2, usage: 0 }),
      expect.objectContaining({ number: 1, usage: 0 }),
    ]);

    const v1 = await call("GET", `/prompts/${id}/versions/1`, token);
    expect(v1).toMatchObject({ status: 200, body: { number: 1, body: "Fix {{ issue.title }}" } });
    expect((await call("GET", `/prompts/${id}/versions/9`, token)).status).toBe(404);

    const preview = await call("POST", `/prompts/${id}/render`, token, {
      variables: { issue: { title: "a bug" } },
    });
    expect(preview).toMatchObject({
      status: 200,
      body: { text: "Fix a bug in {{ repo }}", missing: ["repo"], number: 2 },
    });

    const restored = await call("POST", `/prompts/${id}/versions/1/restore`, token, {});
    expect(restored).toMatchObject({
      status: 200,
      body: { latestVersion: 3, latest: { body: "Fix {{ issue.title }}" } },
    });

    expect(await call("DELETE", `/prompts/${id}`, token)).toMatchObject({ status: 200, body: { ok: true } });
    expect((await call("GET", `/prompts/${id}`, token)).status).toBe(404);
  });

  it("400 with line:column for a body that does not parse; 409 for a taken name", async () => {
    const bad = await call("POST", "/prompts", alice.accessToken, { name: "Bad", body: "ok\n  {{ a b }}" });
    expect(bad.status).toBe(400);
    expect(errorOf(bad)).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("line 2:8") });

    expect((await call("POST", "/prompts", alice.accessToken, { name: "Dup", body: "x" })).status).toBe(201);
    const dup = await call("POST", "/prompts", alice.accessToken, { name: "dup", body: "y" });
    expect(dup.status).toBe(409);
    expect(errorOf(dup).code).toBe("CONFLICT");
  });

  it("another user's prompt is 404 on every route; a read-only key cannot write (403)", async () => {
    const created = await call("POST", "/prompts", alice.accessToken, { name: "Alice's", body: "{{a}}" });
    const id = (created.body as { id: string }).id;
    for (const [method, path, body] of [
      ["GET", `/prompts/${id}`],
      ["PUT", `/prompts/${id}`, { body: "stolen" }],
      ["DELETE", `/prompts/${id}`],
      ["GET", `/prompts/${id}/versions/1`],
      ["POST", `/prompts/${id}/versions/1/restore`, {}],
      ["POST", `/prompts/${id}/render`, { variables: {} }],
    ] as Array<[string, string, unknown?]>) {
      expect((await call(method, path, bob.accessToken, body)).status, `${method} ${path}`).toBe(404);
    }

    const key = await call("POST", "/api-keys", alice.accessToken, {
      name: "ro",
      scopes: ["workflows:read"],
    });
    const readOnly = (key.body as { key: string }).key;
    expect((await call("GET", `/prompts/${id}`, readOnly)).status).toBe(200);
    expect((await call("PUT", `/prompts/${id}`, readOnly, { body: "changed" })).status).toBe(403);
    expect((await call("GET", `/prompts/${id}`, alice.accessToken)).body).toMatchObject({ latestVersion: 1 });
  });

  it("appears in the OpenAPI document", async () => {
    const res = await fetch(`${server.base}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths["/prompts"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/prompts/{id}"] ?? {}).sort()).toEqual(["delete", "get", "put"]);
    expect(doc.paths["/prompts/{id}/versions/{number}"]).toHaveProperty("get");
    expect(doc.paths["/prompts/{id}/versions/{number}/restore"]).toHaveProperty("post");
    expect(doc.paths["/prompts/{id}/render"]).toHaveProperty("post");
  });
});
