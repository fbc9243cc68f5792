import { TRPCError } from "@trpc/server";
import { createTwoFilesPatch } from "diff";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addCredential, credentialAad } from "#app/modules/ai/credentials.server.ts";
import { decryptSecret } from "#app/modules/ai/crypto.server.ts";
import { createTemplate } from "#app/modules/ai/templates.server.ts";
import { createWorkflow } from "#app/modules/workflows/workflows.server.ts";
import type { AppMeta } from "#app/trpc/init.server.ts";
import { createCallerFactory } from "#app/trpc/init.server.ts";
import { appRouter } from "#app/trpc/router.server.ts";
import { createFile, createProject, createRun, SAMPLE_DEFINITION } from "#tests/factories/index.ts";
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
  /** A's OpenAI credential (secret CREDENTIAL_SECRET). */
  credentialId: string;
  /** A's prompt template "A's prompt", at version 1. */
  templateId: string;
  /** A's monthly budget on A's project, 5 USD. */
  budgetId: string;
  /** A's workflow "A's workflow" in A's project, at version 1. */
  workflowId: string;
  /** A queued run of A's workflow. */
  runId: string;
  /** An unread notification of A's. */
  notificationId: string;
  /** A pending change set of A's run, rewriting A's file. */
  changeSetId: string;
};
const CREDENTIAL_SECRET = "sk-a-secret-credential-0001";
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

/** A's credential still exists and still decrypts to A's secret. */
async function credentialIntact(server: TestServer, a: Fixtures): Promise<boolean> {
  const row = await server.database.db.providerCredential.findUnique({ where: { id: a.credentialId } });
  return row !== null && decryptSecret(server.ai.keyring, row, credentialAad(row)) === CREDENTIAL_SECRET;
}

/** A's budget is there with its limit, and B has none on A's project. */
async function budgetIntact(server: TestServer, a: Fixtures): Promise<boolean> {
  const rows = await server.database.db.budget.findMany({ where: { projectId: a.projectId } });
  return rows.length === 1 && rows[0]?.id === a.budgetId && rows[0].limitMicros === 5_000_000n;
}

/** A's workflow is unrenamed, unarchived, at version 1 with one version. */
async function workflowIntact(server: TestServer, a: Fixtures): Promise<boolean> {
  const db = server.database.db;
  const row = await db.aIWorkflow.findUnique({ where: { id: a.workflowId } });
  return (
    row !== null &&
    row.name === "A's workflow" &&
    row.archivedAt === null &&
    row.latestVersion === 1 &&
    (await db.workflowVersion.count({ where: { workflowId: a.workflowId } })) === 1
  );
}

/** A's project still has exactly A's one workflow. */
async function projectWorkflowsIntact(server: TestServer, a: Fixtures): Promise<boolean> {
  return (
    (await projectIntact(server, a)) &&
    (await workflowIntact(server, a)) &&
    (await server.database.db.aIWorkflow.count({ where: { projectId: a.projectId } })) === 1
  );
}

/** A's workflow has exactly its one run, still queued and not asked to cancel. */
async function runsIntact(server: TestServer, a: Fixtures): Promise<boolean> {
  const runs = await server.database.db.workflowRun.findMany({ where: { workflowId: a.workflowId } });
  return (
    (await workflowIntact(server, a)) &&
    runs.length === 1 &&
    runs[0]?.id === a.runId &&
    runs[0].status === "queued" &&
    runs[0].cancelRequestedAt === null
  );
}

/** A's change set is still pending and undecided, and A's file untouched. */
async function changeSetIntact(server: TestServer, a: Fixtures): Promise<boolean> {
  const row = await server.database.db.changeSet.findUnique({ where: { id: a.changeSetId } });
  return (
    (await fileIntact(server, a)) &&
    row?.status === "pending" &&
    JSON.stringify(row.files).includes('"status":"pending"') &&
    !JSON.stringify(row.files).includes("accepted")
  );
}

/** A's template is unrenamed, at version 1. */
async function templateIntact(server: TestServer, a: Fixtures): Promise<boolean> {
  const row = await server.database.db.promptTemplate.findUnique({ where: { id: a.templateId } });
  return row !== null && row.name === "A's prompt" && row.latestVersion === 1;
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
  "ai.models": { kind: "self" },
  "providers.list": { kind: "list" },
  "providers.add": { kind: "self" },
  "providers.testUnsaved": { kind: "self" },
  "providers.rotate": {
    kind: "owned",
    input: (a) => ({ id: a.credentialId, apiKey: "sk-b-took-over-9999" }),
    survives: credentialIntact,
  },
  "providers.delete": { kind: "owned", input: (a) => ({ id: a.credentialId }), survives: credentialIntact },
  "providers.test": { kind: "owned", input: (a) => ({ id: a.credentialId }), survives: credentialIntact },
  "prompts.list": { kind: "list" },
  "prompts.create": {
    kind: "owned",
    input: (a) => ({ name: "B's prompt in A's project", body: "x", projectId: a.projectId }),
    survives: projectIntact,
  },
  "prompts.get": { kind: "owned", input: (a) => ({ id: a.templateId }), survives: templateIntact },
  "prompts.update": {
    kind: "owned",
    input: (a) => ({ id: a.templateId, name: "Taken by B", body: "stolen" }),
    survives: templateIntact,
  },
  "prompts.delete": { kind: "owned", input: (a) => ({ id: a.templateId }), survives: templateIntact },
  "prompts.getVersion": {
    kind: "owned",
    input: (a) => ({ id: a.templateId, number: 1 }),
    survives: templateIntact,
  },
  "prompts.restoreVersion": {
    kind: "owned",
    input: (a) => ({ id: a.templateId, number: 1 }),
    survives: templateIntact,
  },
  "prompts.render": {
    kind: "owned",
    input: (a) => ({ id: a.templateId, variables: {} }),
    survives: templateIntact,
  },
  "usage.summary": { kind: "list", input: {} },
  "usage.budgets.list": { kind: "list" },
  "usage.budgets.set": {
    kind: "owned",
    input: (a) => ({ scope: "project", period: "monthly", projectId: a.projectId, limitUsd: 1 }),
    survives: budgetIntact,
  },
  "usage.budgets.delete": { kind: "owned", input: (a) => ({ id: a.budgetId }), survives: budgetIntact },
  "workflows.list": { kind: "owned", input: (a) => ({ id: a.projectId }), survives: projectWorkflowsIntact },
  "workflows.create": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, name: "B's", definition: SAMPLE_DEFINITION }),
    survives: projectWorkflowsIntact,
  },
  "workflows.createFromTemplate": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, templateId: "plan-implement-test-review" }),
    survives: projectWorkflowsIntact,
  },
  "workflows.get": {
    kind: "owned",
    input: (a) => ({ id: a.workflowId, version: 1 }),
    survives: workflowIntact,
  },
  "workflows.update": {
    kind: "owned",
    input: (a) => ({
      id: a.workflowId,
      name: "Taken by B",
      archived: true,
      definition: { steps: [{ id: "x", type: "command", run: "echo stolen" }] },
    }),
    survives: workflowIntact,
  },
  "workflows.delete": { kind: "owned", input: (a) => ({ id: a.workflowId }), survives: workflowIntact },
  "workflows.listVersions": { kind: "owned", input: (a) => ({ id: a.workflowId }), survives: workflowIntact },
  "workflows.getVersion": {
    kind: "owned",
    input: (a) => ({ id: a.workflowId, number: 1 }),
    survives: workflowIntact,
  },
  "workflows.restoreVersion": {
    kind: "owned",
    input: (a) => ({ id: a.workflowId, number: 1 }),
    survives: workflowIntact,
  },
  "workflows.diff": {
    kind: "owned",
    input: (a) => ({ id: a.workflowId, from: 1, to: 1 }),
    survives: workflowIntact,
  },
  "workflows.templates": { kind: "system" },
  "workflows.validate": { kind: "self" },
  "runs.create": {
    kind: "owned",
    input: (a) => ({ id: a.workflowId, input: { task: "B's" } }),
    survives: runsIntact,
  },
  "runs.get": { kind: "owned", input: (a) => ({ id: a.runId }), survives: runsIntact },
  "runs.cancel": { kind: "owned", input: (a) => ({ id: a.runId }), survives: runsIntact },
  "runs.list": { kind: "list", input: {} },
  "runs.retry": { kind: "owned", input: (a) => ({ id: a.runId }), survives: runsIntact },
  "runs.rerun": { kind: "owned", input: (a) => ({ id: a.runId }), survives: runsIntact },
  "agentTask.start": {
    kind: "owned",
    input: (a) => ({ id: a.projectId, kind: "fix-tests", model: "compat:mock/echo" }),
    // No workflow made in A's project, no run queued there.
    survives: async (server, a) => (await projectWorkflowsIntact(server, a)) && (await runsIntact(server, a)),
  },
  "notifications.list": { kind: "list", input: {} },
  "changesets.listForRun": { kind: "owned", input: (a) => ({ id: a.runId }), survives: runsIntact },
  "changesets.review": {
    kind: "owned",
    input: (a) => ({ id: a.changeSetId, decisions: [{ path: a.filePath, status: "accepted" }] }),
    survives: changeSetIntact,
  },
  "changesets.applyToProject": {
    kind: "owned",
    input: (a) => ({ id: a.changeSetId, decisions: [{ path: a.filePath, status: "accepted" }] }),
    survives: changeSetIntact,
  },
  "changesets.reject": { kind: "owned", input: (a) => ({ id: a.changeSetId }), survives: changeSetIntact },
  "changesets.followUp": { kind: "owned", input: (a) => ({ id: a.changeSetId }), survives: changeSetIntact },
  // Marks the caller's own notifications only: A's ids in B's call are ignored (notifications.test.ts).
  "notifications.markRead": { kind: "self" },
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
  const credential = await addCredential(
    { userId: userA.userId, provider: "openai", name: "default", apiKey: CREDENTIAL_SECRET },
    { db: server.database.db, keyring: server.ai.keyring, config: server.ai.config },
  );
  const template = await createTemplate(
    { userId: userA.userId, name: "A's prompt", body: "Hello {{name}}" },
    { db: server.database.db },
  );
  const budget = await server.database.db.budget.create({
    data: { userId: userA.userId, scope: "project", projectId: project.id, limitMicros: 5_000_000n },
  });
  await server.database.db.aiCall.create({
    data: {
      userId: userA.userId,
      projectId: project.id,
      provider: "openai",
      model: "gpt-4.1-mini",
      promptHash: "a",
    },
  });
  const workflow = await createWorkflow(
    { userId: userA.userId, projectId: project.id, name: "A's workflow", definition: SAMPLE_DEFINITION },
    { db: server.database.db },
  );
  const run = await createRun(server.database.db, {
    userId: userA.userId,
    projectId: project.id,
    workflowId: workflow.id,
    workflowVersionId: workflow.version.id,
  });
  const notification = await server.database.db.notification.create({
    data: { userId: userA.userId, kind: "run_succeeded", title: "A's run succeeded" },
  });
  const diff = createTwoFilesPatch(`a/${file.path}`, `b/${file.path}`, FILE_CONTENT, "B was here\n");
  const changeSet = await server.database.db.changeSet.create({
    data: {
      userId: userA.userId,
      projectId: project.id,
      runId: run.id,
      diff,
      files: [
        {
          path: file.path,
          baseVersion: 1,
          status: "modified",
          diff,
          additions: 1,
          deletions: 1,
          hunks: [{ index: 0, header: "@@ -1,1 +1,1 @@", status: "pending" }],
        },
      ],
    },
  });
  a = {
    notificationId: notification.id,
    changeSetId: changeSet.id,
    runId: run.id,
    workflowId: workflow.id,
    budgetId: budget.id,
    credentialId: credential.id,
    templateId: template.id,
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
