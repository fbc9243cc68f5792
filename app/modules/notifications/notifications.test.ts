/**
 * Notifications: the trigger that writes one per run reaching a terminal status, the list / mark-read use
 * cases (scoped to the caller), and the live stream over real HTTP (the test server's event hub).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSseParser, type SseMessage } from "#app/components/ai/sse.ts";
import { cancelRun } from "#app/modules/runs/runs.server.ts";
import { createProject, createRun, createUser, createWorkflow } from "#tests/factories/index.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { apiCall, signupViaApi, startTestServer, type TestServer } from "#tests/setup/http-server.ts";
import { waitFor } from "#worker/test-helpers.ts";
import { listNotifications, markNotificationsRead } from "./notifications.server.ts";

let server: TestServer;
const db = () => server.database.db;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

async function runOf(userId: string, name = "Nightly build") {
  const project = await createProject(db(), { userId });
  const { workflow, version } = await createWorkflow(db(), { userId, projectId: project.id, name });
  return createRun(db(), {
    userId,
    projectId: project.id,
    workflowId: workflow.id,
    workflowVersionId: version.id,
  });
}

const notificationsOf = (userId: string) =>
  db().notification.findMany({ where: { userId }, orderBy: { seq: "asc" } });

describe("the trigger", () => {
  it("writes one notification when a run reaches a terminal status, none before, none twice", async () => {
    const user = await createUser(db());
    const run = await runOf(user.id);
    await db().workflowRun.update({ where: { id: run.id }, data: { status: "running" } });
    expect(await notificationsOf(user.id)).toEqual([]);

    await db().workflowRun.update({ where: { id: run.id }, data: { status: "succeeded" } });
    await db().workflowRun.update({ where: { id: run.id }, data: { status: "succeeded", durationMs: 5 } });
    const [note, ...more] = await notificationsOf(user.id);
    expect(more).toEqual([]);
    expect(note).toMatchObject({
      runId: run.id,
      kind: "run_succeeded",
      title: '"Nightly build" succeeded',
      body: null,
      readAt: null,
    });

    const failing = await runOf(user.id, "Deploy");
    await db().workflowRun.update({
      where: { id: failing.id },
      data: { status: "failed", error: { code: "SCHEMA_MISMATCH", message: 'Step "plan": bad answer' } },
    });
    const dead = await runOf(user.id, "Cleanup");
    await db().workflowRun.update({
      where: { id: dead.id },
      data: { status: "dead", error: "not an object" },
    });
    const notes = await notificationsOf(user.id);
    expect(notes.slice(1).map((n) => [n.kind, n.title, n.body])).toEqual([
      ["run_failed", '"Deploy" failed', 'Step "plan": bad answer'],
      ["run_dead", '"Cleanup" stopped: its attempts are used up', null],
    ]);
    expect(notes.map((n) => n.seq)).toEqual([...notes.map((n) => n.seq)].sort((x, y) => (x < y ? -1 : 1)));
  });

  it("a queued run cancelled through cancelRun notifies once", async () => {
    const user = await createUser(db());
    const run = await runOf(user.id, "Queued");
    await cancelRun({ userId: user.id, runId: run.id }, { db: db() });
    expect((await notificationsOf(user.id)).map((n) => [n.kind, n.title])).toEqual([
      ["run_cancelled", '"Queued" was cancelled'],
    ]);
  });
});

describe("list and mark read", () => {
  it("newest first with the unread count, cursor pages, unreadOnly; marking read touches only the caller's", async () => {
    const alice = await createUser(db());
    const bob = await createUser(db());
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const run = await runOf(alice.id, `wf ${i}`);
      await db().workflowRun.update({ where: { id: run.id }, data: { status: "succeeded" } });
    }
    const bobsRun = await runOf(bob.id);
    await db().workflowRun.update({ where: { id: bobsRun.id }, data: { status: "failed" } });
    const deps = { db: db() };

    const first = await listNotifications({ userId: alice.id, limit: 2 }, deps);
    expect(first.items.map((n) => n.title)).toEqual(['"wf 4" succeeded', '"wf 3" succeeded']);
    expect(first.unreadCount).toBe(5);
    expect(first.nextCursor).not.toBeNull();
    const second = await listNotifications({ userId: alice.id, limit: 2, cursor: first.nextCursor! }, deps);
    expect(second.items.map((n) => n.title)).toEqual(['"wf 2" succeeded', '"wf 1" succeeded']);
    const last = await listNotifications({ userId: alice.id, limit: 2, cursor: second.nextCursor! }, deps);
    expect(last.items).toHaveLength(1);
    expect(last.nextCursor).toBeNull();
    ids.push(...first.items.map((n) => n.id));

    // Bob marking Alice's ids changes nothing of hers.
    expect(await markNotificationsRead({ userId: bob.id, ids }, deps)).toEqual({ unreadCount: 1 });
    expect((await listNotifications({ userId: alice.id }, deps)).unreadCount).toBe(5);

    expect(await markNotificationsRead({ userId: alice.id, ids }, deps)).toEqual({ unreadCount: 3 });
    const unread = await listNotifications({ userId: alice.id, unreadOnly: true }, deps);
    expect(unread.items.map((n) => n.title)).toEqual([
      '"wf 2" succeeded',
      '"wf 1" succeeded',
      '"wf 0" succeeded',
    ]);
    expect(await markNotificationsRead({ userId: alice.id }, deps)).toEqual({ unreadCount: 0 });
    expect((await listNotifications({ userId: bob.id }, deps)).unreadCount).toBe(1);

    expect(await rejection(listNotifications({ userId: alice.id, cursor: "abc" }, deps))).toMatchObject({
      code: "BAD_REQUEST",
    });
    expect(await rejection(markNotificationsRead({ userId: alice.id, ids: ["x"] }, deps))).toMatchObject({
      code: "BAD_REQUEST",
    });
  });

  it("REST: GET /notifications and POST /notifications/read", async () => {
    const alice = await signupViaApi(server.base);
    const run = await runOf(alice.userId, "REST wf");
    await db().workflowRun.update({ where: { id: run.id }, data: { status: "succeeded" } });
    const listed = await apiCall(
      server.base,
      "GET",
      "/notifications?unreadOnly=true&limit=5",
      alice.accessToken,
    );
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({
      unreadCount: 1,
      items: [{ title: '"REST wf" succeeded', runId: run.id }],
    });
    const marked = await apiCall(server.base, "POST", "/notifications/read", alice.accessToken, {});
    expect(marked).toMatchObject({ status: 200, body: { unreadCount: 0 } });
    const bad = await apiCall(server.base, "GET", "/notifications?limit=500", alice.accessToken);
    expect(bad.status).toBe(400);
  });
});

describe("GET /api/v1/notifications/stream", () => {
  /** Open the stream; collects its messages until closed. */
  async function open(token: string, lastEventId?: string) {
    const controller = new AbortController();
    const res = await fetch(`${server.base}/api/v1/notifications/stream`, {
      headers: {
        authorization: `Bearer ${token}`,
        ...(lastEventId !== undefined ? { "last-event-id": lastEventId } : {}),
      },
      signal: controller.signal,
    });
    const messages: SseMessage[] = [];
    const ids: string[] = [];
    const parser = createSseParser((message) => messages.push(message));
    const done = (async () => {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) return;
          // The stream's first block carries only an id (where it starts): record ids seen in the raw text.
          for (const match of value.matchAll(/^id: (\d+)$/gm)) ids.push(match[1]!);
          parser.push(value);
        }
      } catch {
        // aborted
      }
    })();
    return { res, messages, ids, close: () => controller.abort(), done };
  }

  it("delivers the user's new notifications live, resumes from Last-Event-ID, and shows nothing of others", async () => {
    const alice = await signupViaApi(server.base);
    const bob = await signupViaApi(server.base);
    const earlier = await runOf(alice.userId, "Before");
    await db().workflowRun.update({ where: { id: earlier.id }, data: { status: "succeeded" } });

    const aliceStream = await open(alice.accessToken);
    const bobStream = await open(bob.accessToken);
    expect(aliceStream.res.status).toBe(200);
    expect(aliceStream.res.headers.get("content-type")).toContain("text/event-stream");
    await waitFor(() => aliceStream.ids.length > 0);
    const startId = aliceStream.ids[0]!;

    const run = await runOf(alice.userId, "Live");
    await db().workflowRun.update({
      where: { id: run.id },
      data: { status: "failed", error: { code: "X", message: "boom" } },
    });
    await waitFor(() => aliceStream.messages.length === 1, { timeoutMs: 5_000 });
    const [message] = aliceStream.messages;
    expect(message).toMatchObject({ event: "notification" });
    const data = JSON.parse(message!.data) as Record<string, unknown>;
    expect(data).toMatchObject({ kind: "run_failed", title: '"Live" failed', body: "boom", runId: run.id });
    expect(message!.id).toBe(String(data.seq));
    // "Before" was already there when the stream opened: not re-sent.
    expect(Number(startId)).toBeLessThan(Number(message!.id));

    // Reconnecting from where the stream started replays what came after it.
    const resumed = await open(alice.accessToken, startId);
    await waitFor(() => resumed.messages.length === 1, { timeoutMs: 5_000 });
    expect(JSON.parse(resumed.messages[0]!.data)).toMatchObject({ runId: run.id });

    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(bobStream.messages).toEqual([]);
    for (const stream of [aliceStream, bobStream, resumed]) stream.close();
  });

  it("refuses a bad Last-Event-ID (400) and an anonymous caller (401)", async () => {
    const alice = await signupViaApi(server.base);
    const bad = await fetch(`${server.base}/api/v1/notifications/stream`, {
      headers: { authorization: `Bearer ${alice.accessToken}`, "last-event-id": "x1" },
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "BAD_REQUEST" } });
    const anonymous = await fetch(`${server.base}/api/v1/notifications/stream`);
    expect(anonymous.status).toBe(401);
  });
});
