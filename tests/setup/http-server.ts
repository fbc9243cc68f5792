import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, type Logger } from "#app/lib/logger.server.ts";
import type { AiConfig } from "#app/modules/ai/config.server.ts";
import { SCOPES } from "#app/modules/auth/auth.types.ts";
import type { Principal } from "#app/modules/auth/authenticate.server.ts";
import { type AuthConfig, createAuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { createEventHub } from "#app/modules/runs/event-hub.server.ts";
import { createHttpApp, type HttpAppOptions } from "#app/server/http.server.ts";
import type { TrpcContext } from "#app/trpc/init.server.ts";
import { type AiRuntime, createTestAiRuntime } from "./ai.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export const TEST_JWT_SECRET = "test-secret-that-is-long-enough-0123456789";

export type TestServer = {
  database: TestDatabase;
  runtime: ReturnType<typeof createAuthRuntime>;
  ai: AiRuntime;
  base: string;
  close(): Promise<void>;
};

/**
 * The real HTTP app (health, auth, tRPC, REST; no Remix pages) on a fresh database, listening on a free
 * loopback port. Rate limits are generous unless the test asks otherwise.
 */
export async function startTestServer(
  config: Partial<AuthConfig> = {},
  aiConfig: Partial<AiConfig> = {},
  {
    logger = createLogger({ level: "silent" }),
    http = {},
  }: {
    logger?: Logger;
    /** More options of the HTTP app (metrics, tracing…). */
    http?: Partial<Pick<HttpAppOptions, "metrics" | "tracing">>;
  } = {},
): Promise<TestServer> {
  const database = await createTestDatabase();
  const runtime = createAuthRuntime({
    db: database.db,
    connectionString: database.url,
    logger,
    config: { jwtSecret: TEST_JWT_SECRET, authPerMinute: 1000, apiPerMinute: 100_000, ...config },
  });
  const ai = createTestAiRuntime(database.db, aiConfig);
  const eventHub = createEventHub({ connectionString: database.url, logger });
  const app = createHttpApp({
    db: database.db,
    logger,
    auth: runtime,
    ai,
    eventHub,
    readiness: { db: database.db, pendingMigrations: async () => [] },
    ...http,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    database,
    runtime,
    ai,
    base,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await runtime.close();
      await eventHub.close();
      await database.close();
    },
  };
}

/** POST JSON and parse the JSON answer; returns status, body and the Set-Cookie values. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    cookies: res.headers.getSetCookie(),
    body: (await res.json().catch(() => null)) as Record<string, unknown> | null,
  };
}

/** `name=value` pairs of Set-Cookie values, ready for a Cookie header. */
export function cookieHeader(setCookies: string[]): string {
  return setCookies.map((c) => c.split(";")[0]).join("; ");
}

let counter = 0;
/** Sign up a fresh user through the REST API; returns its access token and cookies. */
export async function signupViaApi(base: string, overrides: { email?: string; password?: string } = {}) {
  counter += 1;
  const email = overrides.email ?? `user${counter}-${Date.now()}@example.com`;
  const password = overrides.password ?? "correct horse battery staple";
  const res = await postJson(`${base}/api/v1/auth/signup`, { email, password, name: `User ${counter}` });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  const body = res.body as { user: { id: string }; accessToken: string };
  return { email, password, userId: body.user.id, accessToken: body.accessToken, cookies: res.cookies };
}

/** A tRPC context for calling procedures directly as `auth` (no HTTP). */
export function testContext(server: TestServer, auth: Principal | null): TrpcContext {
  return {
    db: server.database.db,
    logger: createLogger({ level: "silent" }),
    requestId: "test",
    auth,
    runtime: server.runtime,
    ai: server.ai,
    client: { ip: "127.0.0.1", userAgent: "vitest", refreshCookie: null, cookieContext: { secure: false } },
    response: {
      setCookies: () => {},
      setHeader: () => {},
      setStatus: () => {},
      successStatus: () => undefined,
    },
  };
}

/** A browser-session principal for `userId` (every scope). */
export function sessionPrincipal(userId: string, sessionId: string): Principal {
  return { userId, kind: "session", sessionId, apiKeyId: null, scopes: SCOPES, rateLimitPerMinute: null };
}

/** A REST answer: status, headers and the parsed JSON body (null when there is none). */
export type ApiAnswer = { status: number; headers: Headers; body: Record<string, unknown> | null };

/** Call `/api/v1<path>` on `base` as the holder of `token`, with an optional JSON body. */
export async function apiCall(
  base: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json().catch(() => null)) as Record<string, unknown> | null,
  };
}

/** The `{error}` of a REST error answer. */
export function apiErrorOf(answer: ApiAnswer) {
  return (answer.body as { error: { code: string; message: string; details?: Record<string, unknown> } })
    .error;
}
