/**
 * The web process of the SSE benchmark (`bench/sse.ts`), in a process of its own so its CPU and memory are
 * its own: the real HTTP app (authentication, rate limits, the run event routes) with a real event hub, no
 * Remix. Driven over IPC: `{ start: { databaseUrl, jwtSecret } }` → `{ url }`; `{ memory: true }` →
 * `{ memory }` after a full GC (started with --expose-gc); `{ peak: "start" | "stop" }` samples the RSS while
 * events stream and answers `{ peak }`; `{ cpu: true }` → `{ cpuMs }` used so far; `{ stop: true }` closes
 * everything and exits.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createPrismaClient } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { createAuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { createEventHub } from "#app/modules/runs/event-hub.server.ts";
import { createHttpApp } from "#app/server/http.server.ts";
import { createTestAiRuntime } from "#tests/setup/ai.ts";

type Message =
  | { start: { databaseUrl: string; jwtSecret: string } }
  | { memory: true }
  | { peak: "start" | "stop" }
  | { cpu: true }
  | { stop: true };

const send = (message: unknown) => process.send?.(message);
const collect = (globalThis as { gc?: () => void }).gc;

let stop: (() => Promise<void>) | undefined;
let peakTimer: NodeJS.Timeout | undefined;
let peakRss = 0;
let peakHeap = 0;

function memory() {
  collect?.();
  collect?.();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers, gc: Boolean(collect) };
}

process.on("message", async (message: Message) => {
  try {
    if ("start" in message) {
      const { databaseUrl, jwtSecret } = message.start;
      const logger = createLogger({ level: "silent" });
      const db = createPrismaClient({ connectionString: databaseUrl, max: 10, applicationName: "bench-web" });
      const runtime = createAuthRuntime({
        db,
        connectionString: databaseUrl,
        logger,
        config: { jwtSecret, authPerMinute: 1_000, apiPerMinute: 1_000_000 },
      });
      const eventHub = createEventHub({ connectionString: databaseUrl, logger });
      await eventHub.ready();
      const app = createHttpApp({
        db,
        logger,
        auth: runtime,
        ai: createTestAiRuntime(db),
        eventHub,
        readiness: { db, pendingMigrations: async () => [] },
      });
      const server = await new Promise<Server>((resolve) => {
        const s = app.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => resolve(s));
      });
      stop = async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await eventHub.close();
        await runtime.close();
        await db.$disconnect();
      };
      send({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    } else if ("memory" in message) {
      send({ memory: memory() });
    } else if ("peak" in message) {
      if (message.peak === "start") {
        peakRss = 0;
        peakHeap = 0;
        peakTimer = setInterval(() => {
          const { rss, heapUsed } = process.memoryUsage();
          peakRss = Math.max(peakRss, rss);
          peakHeap = Math.max(peakHeap, heapUsed);
        }, 50);
        send({ peak: "started" });
      } else {
        clearInterval(peakTimer);
        send({ peak: { rss: peakRss, heapUsed: peakHeap } });
      }
    } else if ("cpu" in message) {
      const { user, system } = process.cpuUsage();
      send({ cpuMs: (user + system) / 1000 });
    } else if ("stop" in message) {
      clearInterval(peakTimer);
      await stop?.();
      process.exit(0);
    }
  } catch (error) {
    send({ error: error instanceof Error ? error.stack : String(error) });
  }
});
send({ ready: true });
