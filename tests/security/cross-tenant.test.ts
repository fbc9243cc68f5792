import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppMeta } from "#app/trpc/init.server.ts";
import { createCallerFactory } from "#app/trpc/init.server.ts";
import { appRouter } from "#app/trpc/router.server.ts";
import { createFile, createProject } from "#tests/factories/index.ts";
import {
  postJson,
  sessionPrincipal,
  signupViaApi,
  startTestServer,
  type TestServer,
  testContext,
} from "#tests/setup/http-server.ts";

/**
 * The cross-tenant check: every procedure of the router, called as user B against what user A owns, must
 * answer 403/404 (or, for lists, show none of A's rows). A procedure missing from CASES fails the test, so
 * every later feature has to say here how it is scoped.
 */
type Fixtures = {
  sessionId: string;
  apiKeyId: string;
  userId: string;
  /** A project of A, with one file at `filePath` (version 1, content FILE_CONTENT). */
  projectId: string;
  filePath: string;
};
const FILE_CONTENT = "A's secret file\n";
type Case =
  /** Anyone may call it; it touches no one's data by id (sign-up, login, refresh). */
  | { kind: "public" }
  /** Acts on the caller only (me, logout, create-for-myself). */
  | { kind: "self" }
  /** Not user-owned: system information any signed-in user may read. */
  | { kind: "system" }
  /** Takes the id of something A owns: B must get NOT_FOUND or FORBIDDEN, and A's thing must survive. */
  | {
      kind: "owned";
      input: (a: Fixtures) => unknown;
      survives: (server: TestServer, a: Fixtures) => Promise<boolean>;
    }
  /** Lists the caller's things: B's answer must not mention any of A's ids. */
  | { kind: "list"; input?: unknown };

/** A's project still exists, unrenamed and unarchived. */
async function projectIntact(server: TestServer, a: Fixtures): Promise<boolean> {
  const project = await server.database.db.project.findUnique({ where: { id: a.projectId } });
  return project !== null && project.name === "A's project" && project.archivedAt === null;
}

/** A's file is still where it was, at version 1 with its content. */
async function fileIntact(server: TestServer, a: Fixtures): Promise<boolean> {
  const file = await server.database.db.codeSnippet.findFirst({
    where: { projectId: a.projectId, path: a.filePath },
  });
  return (await projectIntact(server, a)) && file?.version === 1 && file.content === FILE_CONTENT;
}

const CASES: Record<string, Case> = {
  "auth.signup": { kind: "public" },
  "auth.login": { kind: "public" },
  "auth.refresh": { kind: "public" },
  "auth.logout": { kind: "self" },
  "auth.logoutAll": { kind: "self" },
  "auth.me": { kind: "self" },
  "auth.changePassword": { kind: "self" },
  "sessions.list": { kind: "list" },
  "sessions.revoke": {
    kind: "owned",
    input: (a) => ({ id: a.sessionId }),
    survives: async (server, a) =>
      (await server.database.db.refreshToken.count({ where: { familyId: a.sessionId, revokedAt: null } })) >
      0,
  },
  "apiKeys.create": { kind: "self" },
  "apiKeys.list": { kind: "list" },
  "apiKeys.revoke": {
    kind: "owned",
    input: (a) => ({ id: a.apiKeyId }),
    survives: async (server, a) =>
      (await server.database.db.apiKey.findUniqueOrThrow({ where: { id: a.apiKeyId } })).revokedAt === null,
  },
  "audit.list": { kind: "list", input: {} },
  "projects.create": { kind: "self" },
  "projects.list": { kind: "list" },
  "projects.get": { kind: "owned", input: (a) => ({ id: a.projectId }), survives: projectIntact },
  "projects.update": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, name: "Taken by B", archived: true }),
    survives: projectIntact,
  },
  "projects.delete": { kind: "owned", input: (a) => ({ id: a.projectId }), survives: projectIntact },
  "projects.listFiles": { kind: "owned", input: (a) => ({ id: a.projectId }), survives: fileIntact },
  "projects.readFile": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, path: a.filePath }),
    survives: fileIntact,
  },
  "projects.saveFile": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, path: a.filePath, content: "overwritten by B", baseVersion: 1 }),
    survives: fileIntact,
  },
  "projects.deleteFile": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, path: a.filePath }),
    survives: fileIntact,
  },
  "projects.moveFile": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, from: a.filePath, to: "stolen/by-b.txt" }),
    survives: fileIntact,
  },
  "projects.listFileVersions": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, path: a.filePath }),
    survives: fileIntact,
  },
  "projects.readFileVersion": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, path: a.filePath, version: 1 }),
    survives: fileIntact,
  },
  "projects.diffFileVersions": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, path: a.filePath, from: 1, to: 1 }),
    survives: fileIntact,
  },
  "projects.restoreFileVersion": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, path: a.filePath, version: 1, baseVersion: 1 }),
    survives: fileIntact,
  },
  "system.status": { kind: "system" },
  "system.createProbe": { kind: "system" },
  "system.probe": { kind: "system" },
};

const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { meta?: AppMeta } }>;
const createCaller = createCallerFactory(appRouter);

let server: TestServer;
let a: Fixtures;
let b: { userId: string; sessionId: string };

/** The session id (refresh family) behind an access token, read from its `sid` claim. */
function sessionIdOf(accessToken: string): string {
  return (JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()) as { sid: string }).sid;
}

function call(path: string, ctx: ReturnType<typeof testContext>, input: unknown): Promise<unknown> {
  // biome-ignore lint/suspicious/noExplicitAny: walking the caller by a runtime path
  let target: any = createCaller(ctx);
  for (const part of path.split(".")) target = target[part];
  return target(input);
}

beforeAll(async () => {
  server = await startTestServer();
  const userA = await signupViaApi(server.base);
  const key = await postJson(
    `${server.base}/api/v1/api-keys`,
    { name: "A's key", scopes: ["runs:read"] },
    { authorization: `Bearer ${userA.accessToken}` },
  );
  const project = await createProject(server.database.db, { userId: userA.userId, name: "A's project" });
  const file = await createFile(server.database.db, {
    userId: userA.userId,
    projectId: project.id,
    path: "a-secret/notes.txt",
    content: FILE_CONTENT,
  });
  a = {
    userId: userA.userId,
    sessionId: sessionIdOf(userA.accessToken),
    apiKeyId: (key.body as { id: string }).id,
    projectId: project.id,
    filePath: file.path,
  };
  const userB = await signupViaApi(server.base);
  b = { userId: userB.userId, sessionId: sessionIdOf(userB.accessToken) };
});

afterAll(() => server.close());

describe("every procedure", () => {
  it("is listed in the cross-tenant cases (add new procedures there)", () => {
    expect(Object.keys(procedures).sort()).toEqual(Object.keys(CASES).sort());
  });

  it("declares who may call it through its builder", () => {
    for (const [path, procedure] of Object.entries(procedures)) {
      expect(procedure._def.meta?.access, path).toBeDefined();
      expect(procedure._def.meta?.access?.kind === "public", path).toBe(CASES[path]?.kind === "public");
    }
  });

  it("that is not public refuses an anonymous caller with UNAUTHORIZED", async () => {
    for (const [path, testCase] of Object.entries(CASES)) {
      if (testCase.kind === "public") continue;
      const error = await call(path, testContext(server, null), undefined).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, path).toBeInstanceOf(TRPCError);
      expect((error as TRPCError).code, path).toBe("UNAUTHORIZED");
    }
  });
});

describe("as another user", () => {
  for (const [path, testCase] of Object.entries(CASES)) {
    if (testCase.kind === "owned") {
      it(`${path}: A's resource is invisible to B (404/403) and untouched`, async () => {
        const error = await call(
          path,
          testContext(server, sessionPrincipal(b.userId, b.sessionId)),
          testCase.input(a),
        ).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, `${path} succeeded for another user`).toBeInstanceOf(TRPCError);
        expect(["NOT_FOUND", "FORBIDDEN"]).toContain((error as TRPCError).code);
        expect(await testCase.survives(server, a)).toBe(true);
      });
    }
    if (testCase.kind === "list") {
      it(`${path}: B's list mentions none of A's ids`, async () => {
        const result = await call(
          path,
          testContext(server, sessionPrincipal(b.userId, b.sessionId)),
          testCase.input,
        );
        const text = JSON.stringify(result);
        for (const id of Object.values(a)) expect(text, `${path} leaks ${id}`).not.toContain(id);
      });
    }
  }
});
