/**
 * The run event stream over real HTTP: SSE replay from Last-Event-ID then live via the LISTEN hub, the end
 * of the stream after the terminal status, the polling endpoint, and who may read what.
 *
 * The routes are mounted on a small Express app here with the real authentication (JWTs from a real
 * sign-up, API keys from createApiKey); the lead mounts them in app/server/http.server.ts.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type ErrorRequestHandler } from "express";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApiKey } from "#app/modules/auth/api-keys.server.ts";
import { authenticateRequest } from "#app/modules/auth/authenticate.server.ts";
import { createProject, createRun, createWorkflow } from "#tests/factories/index.ts";
import { signupViaApi, startTestServer, type TestServer } from "#tests/setup/http-server.ts";
import { createEventHub, type EventHub } from "./event-hub.server.ts";
import { runEventRoutes } from "./events.http.server.ts";
import { createEventWriter, type EventWriter } from "./events.server.ts";
import type { RunEventsPage } from "./run-events.types.ts";

const HEARTBEAT_MS = 150;

let server: TestServer;
let hub: EventHub;
let writer: EventWriter;
let quietWriter: EventWriter;
let http: Server;
let base: string;
let owner: Awaited<ReturnType<typeof signupViaApi>>;
let auth: Record<string, string>;
const errors: unknown[] = [];
const shutdown = new AbortController();

beforeAll(async () => {
  server = await startTestServer();
  const db = server.database.db;
  hub = createEventHub({
    connectionString: server.database.url,
    logger: { warn: () => {}, info: () => {} },
    applicationName: "events-http-test-hub",
  });
  await hub.ready();
  writer = createEventWriter({ db, flushIntervalMs: 5 });
  // Writes without NOTIFY: only the heartbeat's safety-net read can find these.
  quietWriter = createEventWriter({ db, flushIntervalMs: 5, notify: false });
  const app = express();
  app.use(authenticated());
  app.use(
    runEventRoutes({
      db,
      hub,
      runtime: server.runtime,
      shutdown: shutdown.signal,
      heartbeatMs: HEARTBEAT_MS,
      settleMs: 1_000,
    }),
  );
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    errors.push(error);
    res.status(500).json({ error: { code: "INTERNAL", message: "boom" } });
  };
  app.use(onError);
  http = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  owner = await signupViaApi(server.base);
  auth = { authorization: `Bearer ${owner.accessToken}` };
});

afterAll(async () => {
  http?.closeAllConnections();
  await new Promise((resolve) => http?.close(resolve));
  await writer?.close();
  await quietWriter?.close();
  await hub?.close();
  await server?.close();
});

afterEach(() => {
  expect(errors).toEqual([]);
});

async function newRun(
  userId = owner.userId,
  overrides: Parameters<typeof createRun>[1] extends infer T ? Partial<T> : never = {},
) {
  const db = server.database.db;
  const project = await createProject(db, { userId });
  const { workflow, version } = await createWorkflow(db, { userId, projectId: project.id });
  const run = await createRun(db, {
    userId,
    projectId: project.id,
    workflowId: workflow.id,
    workflowVersionId: version.id,
    ...overrides,
  });
  return { id: run.id, userId };
}

type SseMessage = { id?: string; event?: string; data?: unknown; retry?: number };

/** A streaming SSE client on fetch: collects messages and comments as they arrive. */
async function openStream(url: string, headers: Record<string, string> = auth) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let ended = false;
  const done = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let text = "";
    try {
      const reader = res.body.getReader();
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        text += decoder.decode(value, { stream: true });
        let cut = text.indexOf("\n\n");
        while (cut !== -1) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          const message: SseMessage = {};
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) comments.push(line.slice(1).trim());
            else if (line.startsWith("id: ")) message.id = line.slice(4);
            else if (line.startsWith("event: ")) message.event = line.slice(7);
            else if (line.startsWith("data: ")) message.data = JSON.parse(line.slice(6));
            else if (line.startsWith("retry: ")) message.retry = Number(line.slice(7));
          }
          if (Object.keys(message).length > 0) messages.push(message);
          cut = text.indexOf("\n\n");
        }
      }
    } catch {
      // aborted by close()
    }
    ended = true;
  })();
  return {
    res,
    messages,
    comments,
    /** The events (not the `retry:` line). */
    events: () => messages.filter((m) => m.id !== undefined),
    ids: () => messages.filter((m) => m.id !== undefined).map((m) => Number(m.id)),
    get ended() {
      return ended;
    },
    done,
    close: () => {
      controller.abort();
      return done;
    },
  };
}

const log = (message: string) => ({ type: "log" as const, data: { level: "info" as const, message } });

/** The app's authentication in front of the routes under test: res.locals.auth from the Bearer token. */
function authenticated(): express.RequestHandler {
  return async (req, res, next) => {
    try {
      const outcome = await authenticateRequest(
        { authorization: req.get("authorization"), cookieContext: { secure: false } },
        server.runtime,
      );
      res.locals.auth = outcome.principal;
      next();
    } catch (error) {
      next(error);
    }
  };
}

describe("GET /api/v1/runs/:id/events (SSE)", () => {
  it("sends retry, then events appended after connecting, in order with their ids, and ends after the terminal status", async () => {
    const run = await newRun();
    const stream = await openStream(`${base}/api/v1/runs/${run.id}/events`);
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get("content-type")).toContain("text/event-stream");
    expect(stream.res.headers.get("cache-control")).toContain("no-transform");
    await vi.waitFor(() => expect(stream.messages[0]).toEqual({ retry: 2000 }));
    await vi.waitFor(() => expect(hub.subscribedRuns).toBeGreaterThan(0));

    writer.append(run, { type: "status", data: { status: "running" } });
    writer.append(run, { type: "step_started", data: { stepId: "plan", index: 0, type: "llm" } });
    await writer.flush();
    await vi.waitFor(() => expect(stream.ids()).toEqual([1, 2]));
    writer.append(run, { type: "token", data: { stepId: "plan", text: "Hi" } });
    writer.append(run, { type: "token", data: { stepId: "plan", text: " there" } });
    writer.append(run, { type: "usage", data: { tokensIn: 10, tokensOut: 2, costMicros: 31 } });
    await writer.flush();
    await vi.waitFor(() => expect(stream.ids()).toEqual([1, 2, 3, 4]));
    expect(stream.ended).toBe(false);
    writer.append(run, {
      type: "step_finished",
      data: { stepId: "plan", status: "succeeded", output: "Hi there", durationMs: 12 },
    });
    writer.append(run, { type: "status", data: { status: "succeeded" } });
    await writer.flush();
    await stream.done;
    expect(stream.events()).toEqual([
      { id: "1", event: "status", data: { status: "running" } },
      { id: "2", event: "step_started", data: { stepId: "plan", index: 0, type: "llm" } },
      { id: "3", event: "token", data: { stepId: "plan", text: "Hi there" } },
      { id: "4", event: "usage", data: { tokensIn: 10, tokensOut: 2, costMicros: 31 } },
      {
        id: "5",
        event: "step_finished",
        data: { stepId: "plan", status: "succeeded", output: "Hi there", durationMs: 12 },
      },
      { id: "6", event: "status", data: { status: "succeeded" } },
    ]);
    // The stream ended on its own (not aborted) and left the hub.
    await vi.waitFor(() => expect(hub.subscribedRuns).toBe(0));

    // EventSource reconnects after an ended stream: the client already has the end, so 204 stops it.
    const again = await fetch(`${base}/api/v1/runs/${run.id}/events`, {
      headers: { ...auth, "Last-Event-ID": "6" },
    });
    expect(again.status).toBe(204);
  });

  it("a reconnect with Last-Event-ID gets exactly the events it missed, then follows live", async () => {
    const run = await newRun();
    for (let i = 1; i <= 3; i++) writer.append(run, log(`m${i}`));
    await writer.flush();
    const first = await openStream(`${base}/api/v1/runs/${run.id}/events`);
    await vi.waitFor(() => expect(first.ids()).toEqual([1, 2, 3]));
    await first.close();
    await vi.waitFor(() => expect(hub.subscribedRuns).toBe(0));

    // Missed while disconnected.
    for (let i = 4; i <= 6; i++) writer.append(run, log(`m${i}`));
    await writer.flush();
    const second = await openStream(`${base}/api/v1/runs/${run.id}/events`, {
      ...auth,
      "Last-Event-ID": "3",
    });
    await vi.waitFor(() => expect(second.ids()).toEqual([4, 5, 6]));
    writer.append(run, log("m7"));
    await writer.flush();
    await vi.waitFor(() => expect(second.ids()).toEqual([4, 5, 6, 7]));
    expect(second.events().map((e) => (e.data as { message: string }).message)).toEqual([
      "m4",
      "m5",
      "m6",
      "m7",
    ]);
    await second.close();

    // ?after= works too; the Last-Event-ID header wins over it (EventSource keeps the original URL).
    const byQuery = await openStream(`${base}/api/v1/runs/${run.id}/events?after=5`);
    await vi.waitFor(() => expect(byQuery.ids()).toEqual([6, 7]));
    await byQuery.close();
    const both = await openStream(`${base}/api/v1/runs/${run.id}/events?after=1`, {
      ...auth,
      "Last-Event-ID": "6",
    });
    await vi.waitFor(() => expect(both.ids()).toEqual([7]));
    await both.close();
  });

  it("the streams a notification wakes (of one run or several) read in ONE query and get the same events", async () => {
    // A router of its own: a database handle that counts the batched reads, and no heartbeat reads.
    const db = server.database.db;
    let batchedReads = 0;
    const counting = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop === "$queryRaw") {
          return (strings: TemplateStringsArray, ...values: unknown[]) => {
            if (strings.join("").includes("WITH ORDINALITY")) batchedReads += 1;
            return target.$queryRaw(strings, ...values);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const app = express();
    app.use(authenticated());
    app.use(runEventRoutes({ db: counting, hub, heartbeatMs: 60_000 }));
    const own = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    const url = `http://127.0.0.1:${(own.address() as AddressInfo).port}`;
    try {
      const [run, other] = [await newRun(), await newRun()];
      writer.append(run, log("before"));
      await writer.flush();
      const live = await Promise.all(
        Array.from({ length: 8 }, () => openStream(`${url}/api/v1/runs/${run.id}/events`)),
      );
      const behind = await openStream(`${url}/api/v1/runs/${run.id}/events?after=0`);
      const elsewhere = await openStream(`${url}/api/v1/runs/${other.id}/events`);
      for (const stream of [...live, behind]) await vi.waitFor(() => expect(stream.ids()).toEqual([1]));
      await vi.waitFor(() => expect(elsewhere.messages[0]).toEqual({ retry: 2000 }));
      batchedReads = 0;

      // One flush, one notification naming both runs: one read for the ten streams.
      writer.append(run, log("a"));
      writer.append(run, log("b"));
      writer.append(other, log("c"));
      await writer.flush();
      for (const stream of [...live, behind]) await vi.waitFor(() => expect(stream.ids()).toEqual([1, 2, 3]));
      await vi.waitFor(() => expect(elsewhere.ids()).toEqual([1]));
      expect(batchedReads).toBe(1);
      const texts = (stream: (typeof live)[number]) =>
        stream.events().map((e) => (e.data as { message: string }).message);
      for (const stream of [...live, behind]) expect(texts(stream)).toEqual(["before", "a", "b"]);

      writer.append(run, { type: "status", data: { status: "succeeded" } });
      await writer.flush();
      await Promise.all([...live, behind].map((stream) => stream.done));
      for (const stream of [...live, behind]) expect(stream.ids()).toEqual([1, 2, 3, 4]);
      await elsewhere.close();
    } finally {
      own.closeAllConnections();
      await new Promise((resolve) => own.close(resolve));
    }
  });

  it("heartbeats keep the stream alive and pick up events whose notification never came", async () => {
    const run = await newRun();
    const stream = await openStream(`${base}/api/v1/runs/${run.id}/events`);
    await vi.waitFor(() => expect(stream.comments).toContain("ping"));
    quietWriter.append(run, log("unnotified"));
    await quietWriter.flush();
    await vi.waitFor(() => expect(stream.ids()).toEqual([1]));
    await stream.close();
  });

  it("ends the stream of a run that finished without a terminal status event, once it has settled", async () => {
    const run = await newRun(owner.userId, { status: "failed", finishedAt: new Date(Date.now() - 60_000) });
    writer.append(run, log("last words"));
    await writer.flush();
    const stream = await openStream(`${base}/api/v1/runs/${run.id}/events`);
    await stream.done;
    expect(stream.ids()).toEqual([1]);
    const again = await fetch(`${base}/api/v1/runs/${run.id}/events`, {
      headers: { ...auth, "Last-Event-ID": "1" },
    });
    expect(again.status).toBe(204);
  });

  it("answers 404 for another user's run, a missing run or a malformed id; 400 for a bad Last-Event-ID", async () => {
    const stranger = await signupViaApi(server.base);
    const theirs = await newRun(stranger.userId);
    for (const id of [theirs.id, "0190a0a0-0000-7000-8000-000000000000", "not-a-uuid"]) {
      for (const path of ["events", "events.json"]) {
        const res = await fetch(`${base}/api/v1/runs/${id}/${path}`, { headers: auth });
        expect(res.status).toBe(404);
        expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: "Run not found" } });
      }
    }
    const mine = await newRun();
    const bad = await fetch(`${base}/api/v1/runs/${mine.id}/events`, {
      headers: { ...auth, "Last-Event-ID": "-1" },
    });
    expect(bad.status).toBe(400);
    const badQuery = await fetch(`${base}/api/v1/runs/${mine.id}/events.json?after=abc`, { headers: auth });
    expect(badQuery.status).toBe(400);
  });

  it("needs a sign-in, and an API key needs runs:read", async () => {
    const run = await newRun();
    const anonymous = await fetch(`${base}/api/v1/runs/${run.id}/events`);
    expect(anonymous.status).toBe(401);
    const db = server.database.db;
    const noScope = await createApiKey(
      { userId: owner.userId, name: "projects only", scopes: ["projects:read"] },
      { db },
    );
    for (const path of ["events", "events.json"]) {
      const res = await fetch(`${base}/api/v1/runs/${run.id}/${path}`, {
        headers: { authorization: `Bearer ${noScope.key}` },
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN");
    }
    const reader = await createApiKey(
      { userId: owner.userId, name: "runs reader", scopes: ["runs:read"] },
      { db },
    );
    const ok = await fetch(`${base}/api/v1/runs/${run.id}/events.json`, {
      headers: { authorization: `Bearer ${reader.key}` },
    });
    expect(ok.status).toBe(200);
  });
});

describe("GET /api/v1/runs/:id/events.json (polling)", () => {
  it("pages through the events with lastSeq and says done once the terminal status is delivered", async () => {
    const run = await newRun();
    const page = async (query: string) => {
      const res = await fetch(`${base}/api/v1/runs/${run.id}/events.json${query}`, { headers: auth });
      expect(res.status).toBe(200);
      return (await res.json()) as RunEventsPage;
    };
    expect(await page("")).toEqual({ events: [], lastSeq: 0, done: false });
    for (let i = 1; i <= 4; i++) writer.append(run, log(`m${i}`));
    await writer.flush();
    const first = await page("?limit=3");
    expect(first.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(first.events[0]).toMatchObject({ seq: 1, type: "log", stepId: null, data: { message: "m1" } });
    expect(first).toMatchObject({ lastSeq: 3, done: false });
    expect(await page(`?after=${first.lastSeq}`)).toMatchObject({ lastSeq: 4, done: false });

    writer.append(run, { type: "status", data: { status: "cancelled" } });
    await writer.flush();
    expect(await page("?after=2")).toMatchObject({ lastSeq: 5, done: true });
    expect(await page("?after=5")).toEqual({ events: [], lastSeq: 5, done: true });
    // Not done while the terminal event is still ahead of the reader.
    expect(await page("?after=2&limit=1")).toMatchObject({ lastSeq: 3, done: false });
  });

  it("a run without a terminal status event is done once its row has been finished for a while", async () => {
    const running = await newRun(owner.userId, { status: "running" });
    const crashed = await newRun(owner.userId, { status: "dead", finishedAt: new Date(Date.now() - 60_000) });
    const justEnded = await newRun(owner.userId, { status: "failed", finishedAt: new Date() });
    for (const run of [running, crashed, justEnded]) writer.append(run, log("only"));
    await writer.flush();
    const done = async (runId: string) => {
      const res = await fetch(`${base}/api/v1/runs/${runId}/events.json?after=1`, { headers: auth });
      return ((await res.json()) as RunEventsPage).done;
    };
    expect(await done(running.id)).toBe(false);
    expect(await done(crashed.id)).toBe(true);
    // Its engine may still be flushing the last events (settleMs is 1 s here).
    expect(await done(justEnded.id)).toBe(false);
  });
});

describe("shutdown", () => {
  it("ends open streams when the server shuts down and refuses new ones with 503", async () => {
    const run = await newRun();
    const stream = await openStream(`${base}/api/v1/runs/${run.id}/events`);
    await vi.waitFor(() => expect(stream.messages[0]).toEqual({ retry: 2000 }));
    shutdown.abort();
    await stream.done;
    expect(stream.ended).toBe(true);
    // A last, jittered reconnection hint before the end.
    const hint = stream.messages.at(-1) as { retry?: number };
    expect(hint.retry).toBeGreaterThanOrEqual(500);
    expect(hint.retry).toBeLessThan(2500);
    await vi.waitFor(() => expect(hub.subscribedRuns).toBe(0));
    const refused = await fetch(`${base}/api/v1/runs/${run.id}/events`, { headers: auth });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
  });
});
