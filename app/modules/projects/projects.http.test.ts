import { strToU8, unzipSync, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildZip } from "#tests/factories/projects.ts";
import {
  apiCall,
  apiErrorOf,
  postJson,
  signupViaApi,
  startTestServer,
  type TestServer,
} from "#tests/setup/http-server.ts";

/** The REST contract of issue 4, over real HTTP on a real database. */
let server: TestServer;
let base: string;
let alice: Awaited<ReturnType<typeof signupViaApi>>;
let bob: Awaited<ReturnType<typeof signupViaApi>>;

beforeAll(async () => {
  server = await startTestServer();
  base = server.base;
  alice = await signupViaApi(base);
  bob = await signupViaApi(base);
});
afterAll(() => server.close());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const call = (method: string, path: string, token: string, body?: unknown) =>
  apiCall(base, method, path, token, body);
const errorOf = apiErrorOf;

async function newProject(token = alice.accessToken, name = "REST project"): Promise<string> {
  const res = await call("POST", "/projects", token, { name });
  expect(res.status).toBe(201);
  return (res.body as { id: string }).id;
}

async function apiKey(scopes: string[]): Promise<string> {
  const res = await postJson(`${base}/api/v1/api-keys`, { name: "test", scopes }, bearer(alice.accessToken));
  expect(res.status).toBe(201);
  return (res.body as { key: string }).key;
}

const q = (path: string) => encodeURIComponent(path);

describe("projects", () => {
  it("POST /projects: 201 with the project; 400 with issues for a bad name", async () => {
    const res = await call("POST", "/projects", alice.accessToken, {
      name: "  Shop ",
      description: "Online shop",
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "Shop", description: "Online shop", archivedAt: null });
    expect(typeof res.body?.id).toBe("string");
    expect(typeof res.body?.createdAt).toBe("string");

    const bad = await call("POST", "/projects", alice.accessToken, { name: "" });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).code).toBe("BAD_REQUEST");
  });

  it("GET /projects lists summaries; archived only with ?includeArchived=true; PATCH, DELETE", async () => {
    const user = await signupViaApi(base);
    const id = await newProject(user.accessToken, "Listed");
    const list = await call("GET", "/projects", user.accessToken);
    expect(list.status).toBe(200);
    expect(list.body?.items).toEqual([
      expect.objectContaining({ id, name: "Listed", fileCount: 0, lastRun: null, monthToDateCostMicros: 0 }),
    ]);

    const patched = await call("PATCH", `/projects/${id}`, user.accessToken, {
      name: "Renamed",
      archived: true,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: "Renamed" });
    expect(patched.body?.archivedAt).not.toBeNull();
    expect((await call("GET", "/projects", user.accessToken)).body?.items).toEqual([]);
    expect((await call("GET", "/projects?includeArchived=false", user.accessToken)).body?.items).toEqual([]);
    expect((await call("GET", "/projects?includeArchived=true", user.accessToken)).body?.items).toHaveLength(
      1,
    );

    const one = await call("GET", `/projects/${id}`, user.accessToken);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id, name: "Renamed", fileCount: 0 });

    expect((await call("DELETE", `/projects/${id}`, user.accessToken)).status).toBe(200);
    expect((await call("GET", `/projects/${id}`, user.accessToken)).status).toBe(404);
  });

  it("another user's project is 404 for every route, and survives", async () => {
    const id = await newProject();
    await call("PUT", `/projects/${id}/files`, alice.accessToken, { path: "a.txt", content: "alice" });
    const attempts: Array<[string, string, unknown?]> = [
      ["GET", `/projects/${id}`],
      ["PATCH", `/projects/${id}`, { name: "mine now" }],
      ["DELETE", `/projects/${id}`],
      ["GET", `/projects/${id}/files`],
      ["GET", `/projects/${id}/files/content?path=a.txt`],
      ["PUT", `/projects/${id}/files`, { path: "a.txt", content: "bob", baseVersion: 1 }],
      ["DELETE", `/projects/${id}/files?path=a.txt`],
      ["POST", `/projects/${id}/files/move`, { from: "a.txt", to: "b.txt" }],
      ["GET", `/projects/${id}/files/versions?path=a.txt`],
      ["GET", `/projects/${id}/files/versions/1?path=a.txt`],
      ["GET", `/projects/${id}/files/diff?path=a.txt&from=1&to=1`],
      ["POST", `/projects/${id}/files/restore`, { path: "a.txt", version: 1, baseVersion: 1 }],
      ["GET", `/projects/${id}/export`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await call(method, path, bob.accessToken, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(errorOf(res).code).toBe("NOT_FOUND");
    }
    const importing = await fetch(`${base}/api/v1/projects/${id}/import`, {
      method: "POST",
      headers: { ...bearer(bob.accessToken), "content-type": "application/zip" },
      body: zipSync({ "evil.txt": strToU8("bob") }),
    });
    expect(importing.status).toBe(404);
    const content = await call("GET", `/projects/${id}/files/content?path=a.txt`, alice.accessToken);
    expect(content.body).toMatchObject({ content: "alice", version: 1 });
  });

  it("API keys: projects:read may read but not write (403); no projects scope may not read; anonymous is 401", async () => {
    const id = await newProject();
    const reader = await apiKey(["projects:read"]);
    const stranger = await apiKey(["runs:read"]);
    const create = await call("POST", "/projects", reader, { name: "nope" });
    expect(create.status).toBe(403);
    expect(errorOf(create)).toMatchObject({ code: "FORBIDDEN" });
    expect(errorOf(create).message).toContain("projects:write");
    expect((await call("PUT", `/projects/${id}/files`, reader, { path: "a", content: "x" })).status).toBe(
      403,
    );
    expect((await call("GET", "/projects", reader)).status).toBe(200);
    expect((await call("GET", `/projects/${id}/files`, reader)).status).toBe(200);
    expect((await call("GET", "/projects", stranger)).status).toBe(403);

    const upload = await fetch(`${base}/api/v1/projects/${id}/import`, {
      method: "POST",
      headers: { ...bearer(reader), "content-type": "application/zip" },
      body: zipSync({ "a.txt": strToU8("a") }),
    });
    expect(upload.status).toBe(403);
    expect((await fetch(`${base}/api/v1/projects/${id}/export`, { headers: bearer(reader) })).status).toBe(
      200,
    );
    expect((await fetch(`${base}/api/v1/projects/${id}/export`, { headers: bearer(stranger) })).status).toBe(
      403,
    );

    expect((await fetch(`${base}/api/v1/projects`)).status).toBe(401);
    expect((await fetch(`${base}/api/v1/projects/${id}/export`)).status).toBe(401);
  });
});

describe("files", () => {
  it("PUT creates then updates; GET lists and reads; stale baseVersion is 409 with the current version", async () => {
    const id = await newProject();
    const created = await call("PUT", `/projects/${id}/files`, alice.accessToken, {
      path: "src/main.ts",
      content: "v1",
    });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ path: "src/main.ts", version: 1 });
    const updated = await call("PUT", `/projects/${id}/files`, alice.accessToken, {
      path: "src/main.ts",
      content: "v2",
      baseVersion: 1,
    });
    expect(updated.body).toEqual({ path: "src/main.ts", version: 2 });

    const stale = await call("PUT", `/projects/${id}/files`, alice.accessToken, {
      path: "src/main.ts",
      content: "an old edit",
      baseVersion: 1,
    });
    expect(stale.status).toBe(409);
    expect(errorOf(stale).code).toBe("CONFLICT");
    expect(errorOf(stale).message).toContain("the current version is 2");

    const files = await call("GET", `/projects/${id}/files`, alice.accessToken);
    expect(files.body?.files).toEqual([
      expect.objectContaining({ path: "src/main.ts", version: 2, size: 2, language: "typescript" }),
    ]);
    const content = await call(
      "GET",
      `/projects/${id}/files/content?path=${q("src/main.ts")}`,
      alice.accessToken,
    );
    expect(content.body).toMatchObject({ path: "src/main.ts", content: "v2", version: 2 });
    const missing = await call("GET", `/projects/${id}/files/content?path=nope.ts`, alice.accessToken);
    expect(missing.status).toBe(404);
  });

  it("two concurrent PUTs from the same base: one 200, one 409", async () => {
    const id = await newProject();
    await call("PUT", `/projects/${id}/files`, alice.accessToken, { path: "race.md", content: "base" });
    const answers = await Promise.all(
      ["mine", "theirs"].map((content) =>
        call("PUT", `/projects/${id}/files`, alice.accessToken, { path: "race.md", content, baseVersion: 1 }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
  });

  it.each(["../etc/passwd", "/abs/path", "C:\\Windows\\x", "a\u0000b", "..\\..\\evil"])(
    "unsafe path %j is a 400",
    async (path) => {
      const id = await newProject();
      const res = await call("PUT", `/projects/${id}/files`, alice.accessToken, { path, content: "x" });
      expect(res.status).toBe(400);
      expect(errorOf(res).code).toBe("BAD_REQUEST");
      expect(JSON.stringify(res.body)).toContain("Unsafe path");
      const read = await call("GET", `/projects/${id}/files/content?path=${q(path)}`, alice.accessToken);
      expect(read.status).toBe(400);
    },
  );

  it("unicode paths round-trip through the query string", async () => {
    const id = await newProject();
    const path = "docs/日本語/café 🚀.md";
    expect(
      (await call("PUT", `/projects/${id}/files`, alice.accessToken, { path, content: "✓" })).status,
    ).toBe(200);
    const read = await call("GET", `/projects/${id}/files/content?path=${q(path)}`, alice.accessToken);
    expect(read.body).toMatchObject({ path, content: "✓" });
  });

  it("move (409 on collision), versions, diff, restore, delete", async () => {
    const id = await newProject();
    const put = (path: string, content: string, baseVersion?: number) =>
      call("PUT", `/projects/${id}/files`, alice.accessToken, { path, content, baseVersion });
    await put("a.txt", "one\n");
    await put("a.txt", "two\n", 1);
    await put("b.txt", "b\n");

    const collision = await call("POST", `/projects/${id}/files/move`, alice.accessToken, {
      from: "a.txt",
      to: "b.txt",
    });
    expect(collision.status).toBe(409);
    const moved = await call("POST", `/projects/${id}/files/move`, alice.accessToken, {
      from: "a.txt",
      to: "dir/a.txt",
    });
    expect(moved.body).toEqual({ moved: [{ from: "a.txt", to: "dir/a.txt" }] });

    const versions = await call("GET", `/projects/${id}/files/versions?path=dir/a.txt`, alice.accessToken);
    expect(
      (versions.body as { versions: Array<{ version: number }> }).versions.map((v) => v.version),
    ).toEqual([2, 1]);
    const v1 = await call("GET", `/projects/${id}/files/versions/1?path=dir/a.txt`, alice.accessToken);
    expect(v1.body).toMatchObject({ version: 1, content: "one\n", source: "create" });
    const diff = await call(
      "GET",
      `/projects/${id}/files/diff?path=dir/a.txt&from=1&to=2`,
      alice.accessToken,
    );
    expect(diff.body?.diff).toContain("-one\n+two");

    const restored = await call("POST", `/projects/${id}/files/restore`, alice.accessToken, {
      path: "dir/a.txt",
      version: 1,
      baseVersion: 2,
    });
    expect(restored.body).toEqual({ path: "dir/a.txt", version: 3 });

    const deleted = await call("DELETE", `/projects/${id}/files?path=dir`, alice.accessToken);
    expect(deleted.body).toEqual({ deleted: 1 });
    expect((await call("DELETE", `/projects/${id}/files?path=dir`, alice.accessToken)).status).toBe(404);
  });
});

describe("zip import and export", () => {
  const upload = (
    id: string,
    body: Uint8Array | Buffer,
    contentType = "application/zip",
    token = alice.accessToken,
  ) =>
    fetch(`${base}/api/v1/projects/${id}/import`, {
      method: "POST",
      headers: { ...bearer(token), "content-type": contentType },
      // A copy backed by a plain ArrayBuffer, which is what fetch's BodyInit types accept.
      body: new Uint8Array(body),
    });

  it("POST /import answers the counts; GET /export returns a zip attachment of the files", async () => {
    const id = await newProject(alice.accessToken, "Café project/1");
    const res = await upload(
      id,
      zipSync({
        "repo-main/src/a.ts": strToU8("export const a = 1;\n"),
        "repo-main/node_modules/x/i.js": strToU8("x"),
      }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      created: 1,
      updated: 0,
      unchanged: 0,
      skipped: [{ path: "node_modules/", reason: "ignored folder (node_modules/)" }],
    });

    const exported = await fetch(`${base}/api/v1/projects/${id}/export`, {
      headers: bearer(alice.accessToken),
    });
    expect(exported.status).toBe(200);
    expect(exported.headers.get("content-type")).toBe("application/zip");
    const disposition = exported.headers.get("content-disposition") ?? "";
    expect(disposition).toContain('attachment; filename="Cafe-project-1.zip"');
    expect(disposition).toContain(`filename*=UTF-8''${encodeURIComponent("Café project/1.zip")}`);
    const files = unzipSync(new Uint8Array(await exported.arrayBuffer()));
    expect(Object.keys(files)).toEqual(["src/a.ts"]);

    const past = await fetch(`${base}/api/v1/projects/${id}/export?at=2000-01-01T00:00:00Z`, {
      headers: bearer(alice.accessToken),
    });
    expect(past.status).toBe(200);
    expect(past.headers.get("content-disposition")).toContain("-at-20000101T000000Z.zip");
    expect(Object.keys(unzipSync(new Uint8Array(await past.arrayBuffer())))).toEqual([]);
    const badAt = await fetch(`${base}/api/v1/projects/${id}/export?at=yesterday`, {
      headers: bearer(alice.accessToken),
    });
    expect(badAt.status).toBe(400);
  });

  it("zip slip is 400, a wrong content type 415, and nothing is written", async () => {
    const id = await newProject();
    const slip = await upload(id, buildZip([{ name: "../../evil.sh", data: "rm -rf /" }]));
    expect(slip.status).toBe(400);
    const body = (await slip.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("BAD_REQUEST");
    expect(body.error.message).toContain("Unsafe path");
    expect((await upload(id, Buffer.from("{}"), "application/json")).status).toBe(415);
    expect((await call("GET", `/projects/${id}/files`, alice.accessToken)).body?.files).toEqual([]);
  });

  it("import-local is 403 unless the operator enabled it", async () => {
    const id = await newProject();
    const res = await call("POST", `/projects/${id}/import-local`, alice.accessToken, { dir: "/etc" });
    expect(res.status).toBe(403);
    expect(errorOf(res).message).toContain("AGENTRY_LOCAL_IMPORT_ROOT");
  });

  it("an archive over 50 MB is 413", async () => {
    const id = await newProject();
    const res = await upload(id, Buffer.alloc(50 * 1024 * 1024 + 1));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });
});

describe("OpenAPI", () => {
  it("documents the project routes", async () => {
    const res = await fetch(`${base}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/projects",
        "/projects/{id}",
        "/projects/{id}/files",
        "/projects/{id}/files/content",
        "/projects/{id}/files/move",
        "/projects/{id}/files/versions",
        "/projects/{id}/files/versions/{version}",
        "/projects/{id}/files/diff",
        "/projects/{id}/files/restore",
      ]),
    );
    expect(Object.keys(doc.paths["/projects/{id}/files"] ?? {}).sort()).toEqual(["delete", "get", "put"]);
  });
});
