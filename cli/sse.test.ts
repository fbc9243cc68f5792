/** The SSE reader: parsing, and a reconnect with Last-Event-ID after the server drops the connection. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { followRunEvents, parseSse } from "./sse.ts";

let server: Server;
let base: string;
const seen: Array<string | undefined> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const last = req.headers["last-event-id"] as string | undefined;
    seen.push(last);
    if (req.headers.authorization !== "Bearer agt_test") {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "UNAUTHORIZED", message: "Invalid API key" } }));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (!last) {
      // Two events, then the connection drops mid-message.
      res.write('retry: 10\n\nid: 1\nevent: status\ndata: {"status":"running"}\n\n: ping\n\n');
      res.write('id: 2\r\nevent: token\r\ndata: {"text":"a"}\r\n\r\nid: 3\nevent: tok');
      // Let the client receive them before the socket goes.
      setTimeout(() => res.destroy(), 50);
      return;
    }
    res.end(
      `id: 3\nevent: token\ndata: {"text":"b"}\n\nid: 4\nevent: status\ndata: {"status":"succeeded"}\n\n`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("SSE reader", () => {
  it("parses fields, comments, CRLF and multi-line data", async () => {
    const body = new Response("event: a\ndata: x\ndata: y\n\n: comment\nid: 7\ndata: z\n\n").body;
    const out = [];
    for await (const m of parseSse(body as ReadableStream<Uint8Array>)) out.push(m);
    expect(out).toEqual([
      { id: null, event: "a", data: "x\ny" },
      { id: "7", event: "message", data: "z" },
    ]);
  });

  it("reconnects with Last-Event-ID after a dropped connection: every event once, in order", async () => {
    const events: string[] = [];
    const reconnects: number[] = [];
    await followRunEvents({
      url: base,
      key: "agt_test",
      runId: "r1",
      onMessage(m) {
        events.push(`${m.id}:${m.event}:${m.data}`);
        return m.data.includes("succeeded");
      },
      onReconnect: (attempt) => reconnects.push(attempt),
    });
    expect(events).toEqual([
      '1:status:{"status":"running"}',
      '2:token:{"text":"a"}',
      '3:token:{"text":"b"}',
      '4:status:{"status":"succeeded"}',
    ]);
    expect(seen.slice(-2)).toEqual([undefined, "2"]);
    expect(reconnects).toEqual([1]);
  });

  it("a 401 is final: a clear error, no reconnect", async () => {
    await expect(
      followRunEvents({ url: base, key: "agt_bad", runId: "r1", onMessage: () => false }),
    ).rejects.toThrow(/Not logged in, or the API key was revoked/);
  });
});
