import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cookieHeader,
  postJson,
  signupViaApi,
  startTestServer,
  type TestServer,
} from "#tests/setup/http-server.ts";

/** The REST contract of issue 3, over real HTTP on a real database. */
let server: TestServer;
let base: string;

beforeAll(async () => {
  server = await startTestServer();
  base = server.base;
});
afterAll(() => server.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("signup and login", () => {
  it("signup: 201 with the user and an access token, refresh token only as an HttpOnly cookie", async () => {
    const res = await postJson(`${base}/api/v1/auth/signup`, {
      email: "  Ada@Example.COM ",
      password: "a long enough password",
      name: "Ada",
    });
    expect(res.status).toBe(201);
    const body = res.body as {
      user: { email: string; name: string };
      accessToken: string;
      refreshToken?: string;
    };
    expect(body.user).toMatchObject({ email: "ada@example.com", name: "Ada" });
    expect(body.accessToken.split(".")).toHaveLength(3);
    expect(body.refreshToken).toBeUndefined();
    const refresh = res.cookies.find((c) => c.startsWith("agentry_rt="));
    expect(refresh).toMatch(/HttpOnly/i);
    expect(refresh).toMatch(/SameSite=Lax/i);
    // Plain http on loopback: not Secure, or the browser would drop it.
    expect(refresh).not.toMatch(/Secure/i);
  });

  it("cookies are Secure outside plain-http localhost", async () => {
    const res = await postJson(
      `${base}/api/v1/auth/signup`,
      { email: "secure@example.com", password: "a long enough password", name: "S" },
      { "x-forwarded-proto": "https" },
    );
    expect(res.status).toBe(201);
    for (const cookie of res.cookies) expect(cookie).toMatch(/; Secure/i);
  });

  it("signup validates with the shared schema: 400 with an issue per field", async () => {
    const res = await postJson(`${base}/api/v1/auth/signup`, {
      email: "not-an-email",
      password: "short",
      name: "",
    });
    expect(res.status).toBe(400);
    const error = (res.body as { error: { code: string; issues: { path: string[] }[] } }).error;
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.issues.map((i) => i.path[0]).sort()).toEqual(["email", "name", "password"]);
  });

  it("a duplicate email is a 409", async () => {
    await signupViaApi(base, { email: "dup@example.com" });
    const res = await postJson(`${base}/api/v1/auth/signup`, {
      email: "DUP@example.com",
      password: "another long password",
      name: "Dup",
    });
    expect(res.status).toBe(409);
    expect((res.body as { error: { code: string } }).error.code).toBe("CONFLICT");
  });

  it("login: 200 with a token; wrong password and unknown email get the same 401", async () => {
    const user = await signupViaApi(base);
    const ok = await postJson(`${base}/api/v1/auth/login`, { email: user.email, password: user.password });
    expect(ok.status).toBe(200);
    expect((ok.body as { user: { id: string } }).user.id).toBe(user.userId);

    const wrong = await postJson(`${base}/api/v1/auth/login`, {
      email: user.email,
      password: "wrong password!!",
    });
    const unknown = await postJson(`${base}/api/v1/auth/login`, {
      email: "nobody@example.com",
      password: "wrong password!!",
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
  });
});

describe("sessions", () => {
  it("GET /me works with the Bearer access token and with the cookies", async () => {
    const user = await signupViaApi(base);
    const viaBearer = await get("/api/v1/me", bearer(user.accessToken));
    expect(viaBearer.status).toBe(200);
    expect(await viaBearer.json()).toMatchObject({
      user: { id: user.userId, email: user.email },
      credential: { kind: "session" },
    });
    const viaCookie = await get("/api/v1/me", { cookie: cookieHeader(user.cookies) });
    expect(viaCookie.status).toBe(200);
  });

  it("a missing access cookie is refreshed transparently from the refresh cookie", async () => {
    const user = await signupViaApi(base);
    const refreshOnly = user.cookies.filter((c) => c.startsWith("agentry_rt="));
    const res = await get("/api/v1/me", { cookie: cookieHeader(refreshOnly) });
    expect(res.status).toBe(200);
    const set = res.headers.getSetCookie();
    expect(set.some((c) => c.startsWith("agentry_at="))).toBe(true);
    expect(set.some((c) => c.startsWith("agentry_rt="))).toBe(true);
  });

  it("refresh rotates; presenting the old token again revokes the whole family", async () => {
    const user = await signupViaApi(base);
    const first = await postJson(`${base}/api/v1/auth/refresh`, {}, { cookie: cookieHeader(user.cookies) });
    expect(first.status).toBe(200);
    const rotated = first.cookies.filter((c) => c.startsWith("agentry_rt="));
    expect(rotated).toHaveLength(1);

    const replay = await postJson(`${base}/api/v1/auth/refresh`, {}, { cookie: cookieHeader(user.cookies) });
    expect(replay.status).toBe(401);
    // The thief's replay also killed the legitimate successor.
    const successor = await postJson(`${base}/api/v1/auth/refresh`, {}, { cookie: cookieHeader(rotated) });
    expect(successor.status).toBe(401);
    // And the access tokens of that session stop working at once.
    expect((await get("/api/v1/me", bearer(user.accessToken))).status).toBe(401);

    const audit = await server.database.db.auditEvent.findMany({
      where: { userId: user.userId, action: "auth.refresh.reuse" },
    });
    expect(audit).toHaveLength(1);
  });

  it("API clients can refresh with the token in the body and get the next one in the body", async () => {
    const user = await signupViaApi(base);
    const token = decodeURIComponent(
      user.cookies
        .find((c) => c.startsWith("agentry_rt="))!
        .split(";")[0]!
        .slice("agentry_rt=".length),
    );
    const res = await postJson(`${base}/api/v1/auth/refresh`, { refreshToken: token });
    expect(res.status).toBe(200);
    const body = res.body as { accessToken: string; refreshToken: string };
    expect(body.refreshToken).toBeTruthy();
    expect(body.refreshToken).not.toBe(token);
    expect((await get("/api/v1/me", bearer(body.accessToken))).status).toBe(200);
  });

  it("logout ends the session: its access token is refused immediately", async () => {
    const user = await signupViaApi(base);
    const res = await postJson(`${base}/api/v1/auth/logout`, {}, bearer(user.accessToken));
    expect(res.status).toBe(200);
    expect(res.cookies.some((c) => c.startsWith("agentry_rt=;"))).toBe(true);
    expect((await get("/api/v1/me", bearer(user.accessToken))).status).toBe(401);
  });

  it("forged and alg:none tokens are refused with 401 JSON and WWW-Authenticate", async () => {
    const user = await signupViaApi(base);
    const [header, payload] = user.accessToken.split(".");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
    const tampered = `${header}.${payload}.${"A".repeat(43)}`;
    for (const token of [none, tampered, "garbage"]) {
      const res = await get("/api/v1/me", bearer(token));
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    }
  });

  it("a session lists, and revoking another one signs that one out", async () => {
    const user = await signupViaApi(base);
    const second = await postJson(`${base}/api/v1/auth/login`, {
      email: user.email,
      password: user.password,
    });
    const secondToken = (second.body as { accessToken: string }).accessToken;
    const list = await get("/api/v1/sessions", bearer(user.accessToken));
    const { items } = (await list.json()) as { items: { id: string; current: boolean }[] };
    expect(items).toHaveLength(2);
    const other = items.find((s) => !s.current)!;
    const revoked = await fetch(`${base}/api/v1/sessions/${other.id}`, {
      method: "DELETE",
      headers: bearer(user.accessToken),
    });
    expect(revoked.status).toBe(200);
    expect((await get("/api/v1/me", bearer(secondToken))).status).toBe(401);
    expect((await get("/api/v1/me", bearer(user.accessToken))).status).toBe(200);
  });
});

describe("API keys", () => {
  async function createKey(token: string, body: Record<string, unknown>) {
    return postJson(`${base}/api/v1/api-keys`, body, bearer(token));
  }

  it("create → 201 with the key once; it works as a Bearer token; list never shows it; revoke → 401", async () => {
    const user = await signupViaApi(base);
    const created = await createKey(user.accessToken, {
      name: "CI",
      scopes: ["projects:read", "keys:manage"],
    });
    expect(created.status).toBe(201);
    const key = created.body as { id: string; key: string; prefix: string; scopes: string[] };
    expect(key.key).toMatch(/^agt_[0-9A-Za-z]+$/);
    expect(key.key.startsWith(key.prefix)).toBe(true);
    expect(key.scopes).toEqual(["projects:read", "keys:manage"]);

    const me = await get("/api/v1/me", bearer(key.key));
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      user: { id: user.userId },
      credential: { kind: "api_key", scopes: ["projects:read", "keys:manage"] },
    });

    const list = await (await get("/api/v1/api-keys", bearer(user.accessToken))).text();
    expect(list).toContain(key.prefix);
    expect(list).not.toContain(key.key);

    const revoke = await fetch(`${base}/api/v1/api-keys/${key.id}`, {
      method: "DELETE",
      headers: bearer(user.accessToken),
    });
    expect(revoke.status).toBe(200);
    expect((await get("/api/v1/me", bearer(key.key))).status).toBe(401);
  });

  it("a key without the scope gets 403; session-only operations refuse keys", async () => {
    const user = await signupViaApi(base);
    const { key } = (await createKey(user.accessToken, { name: "read", scopes: ["projects:read"] })).body as {
      key: string;
    };
    const listKeys = await get("/api/v1/api-keys", bearer(key));
    expect(listKeys.status).toBe(403);
    expect(await listKeys.json()).toEqual({
      error: { code: "FORBIDDEN", message: "This API key lacks the `keys:manage` scope" },
    });
    expect((await get("/api/v1/sessions", bearer(key))).status).toBe(403);
    expect((await get("/api/v1/audit-events", bearer(key))).status).toBe(403);
  });

  it("a key with keys:manage cannot mint a key with more scopes than it has", async () => {
    const user = await signupViaApi(base);
    const { key } = (
      await createKey(user.accessToken, { name: "manager", scopes: ["keys:manage", "runs:read"] })
    ).body as { key: string };
    const escalate = await createKey(key, { name: "escalated", scopes: ["runs:write"] });
    expect(escalate.status).toBe(403);
    expect((escalate.body as { error: { message: string } }).error.message).toContain("runs:write");
    const within = await createKey(key, { name: "narrower", scopes: ["runs:read"] });
    expect(within.status).toBe(201);
  });

  it("an expired key is refused; a key with a typo is refused", async () => {
    const user = await signupViaApi(base);
    const { id, key } = (await createKey(user.accessToken, { name: "soon", scopes: ["runs:read"] })).body as {
      id: string;
      key: string;
    };
    const typo = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
    expect((await get("/api/v1/me", bearer(typo))).status).toBe(401);
    await server.database.db.apiKey.update({
      where: { id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect((await get("/api/v1/me", bearer(key))).status).toBe(401);
  });

  it("bad input: unknown scope, past expiry", async () => {
    const user = await signupViaApi(base);
    const res = await createKey(user.accessToken, {
      name: "x",
      scopes: ["root:everything"],
      expiresAt: "2001-01-01T00:00:00Z",
    });
    expect(res.status).toBe(400);
    const paths = (res.body as { error: { issues: { path: (string | number)[] }[] } }).error.issues.map(
      (i) => i.path[0],
    );
    expect(paths).toEqual(expect.arrayContaining(["scopes", "expiresAt"]));
  });
});

describe("audit log", () => {
  it("records the security events of the account, readable by its owner only", async () => {
    const user = await signupViaApi(base);
    await postJson(`${base}/api/v1/auth/login`, { email: user.email, password: "not the password" });
    await postJson(`${base}/api/v1/auth/login`, { email: user.email, password: user.password });
    await postJson(`${base}/api/v1/api-keys`, { name: "k", scopes: ["runs:read"] }, bearer(user.accessToken));
    const res = await get("/api/v1/audit-events", bearer(user.accessToken));
    expect(res.status).toBe(200);
    const actions = ((await res.json()) as { items: { action: string }[] }).items.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(["auth.signup", "auth.login.failed", "auth.login.success", "api_key.created"]),
    );
    const other = await signupViaApi(base);
    const theirs = (await (await get("/api/v1/audit-events", bearer(other.accessToken))).json()) as {
      items: { action: string }[];
    };
    expect(theirs.items.map((e) => e.action)).toEqual(["auth.signup"]);
  });
});

describe("rate limits", () => {
  it("the 11th login attempt in a minute from one IP is a 429 with Retry-After", async () => {
    const limited = await startTestServer({ authPerMinute: 10 });
    try {
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof postJson>> | undefined;
      for (let i = 0; i < 11; i += 1) {
        last = await postJson(`${limited.base}/api/v1/auth/login`, {
          email: `someone${i}@example.com`,
          password: "whatever password",
        });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
      expect(statuses[10]).toBe(429);
      expect(Number(last!.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((last!.body as { error: { code: string } }).error.code).toBe("TOO_MANY_REQUESTS");
    } finally {
      await limited.close();
    }
  });
});
