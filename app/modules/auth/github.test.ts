import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "#app/lib/app-error.ts";
import { createUser, uniqueEmail } from "#tests/factories/index.ts";
import { type FakeGitHub, startFakeGitHub } from "#tests/mocks/github-oauth.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import {
  createGitHubAuthenticator,
  GITHUB_STATE_COOKIE,
  type GitHubAuthenticator,
  resolveGitHubUser,
} from "./github.server.ts";

const database = setupTestDatabase();
const CLIENT = { clientId: "Iv1.agentry-test", clientSecret: "agentry-test-secret" };
const APP = "http://app.test";
const CALLBACK = `${APP}/auth/github/callback`;

let github: FakeGitHub;
let auth: GitHubAuthenticator;
let logins = 0;

beforeAll(async () => {
  github = await startFakeGitHub({ clients: [CLIENT] });
  auth = createGitHubAuthenticator(
    { ...CLIENT, redirectURI: CALLBACK, webBaseUrl: github.url, apiBaseUrl: github.url },
    { db: database.db },
  );
});
afterAll(async () => {
  await github.close();
});
beforeEach(() => {
  github.reset();
});

/** A GitHub user with a unique login; emails default to one verified primary address. */
function gitHubUser(emails?: Parameters<FakeGitHub["addUser"]>[0]["emails"]) {
  logins += 1;
  const user = github.addUser({
    login: `gh-user-${logins}-${Date.now() % 100_000}`,
    name: "GitHub Person",
    emails,
  });
  github.loginAs(user.login);
  return user;
}

/** First leg: the app's /auth/github. Returns where it sends the browser and the state cookie. */
async function startSignIn() {
  const thrown = await auth.authenticate(new Request(`${APP}/auth/github`)).catch((e: unknown) => e);
  expect(thrown).toBeInstanceOf(Response);
  const response = thrown as Response;
  expect(response.status).toBe(302);
  const setCookie = response.headers.get("set-cookie")!;
  expect(setCookie).toContain(`${GITHUB_STATE_COOKIE}=`);
  expect(setCookie).toMatch(/HttpOnly/i);
  expect(setCookie).toMatch(/SameSite=Lax/i);
  return { location: new URL(response.headers.get("location")!), cookie: setCookie.split(";")[0]! };
}

/** The browser on the fake GitHub: open the consent page and press a button. */
async function consent(authorizeUrl: URL, decision: "approve" | "cancel") {
  const page = await fetch(authorizeUrl);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain(decision === "approve" ? ">Authorize</button>" : ">Cancel</button>");
  const form = new URLSearchParams(authorizeUrl.search);
  form.set("decision", decision);
  const response = await fetch(new URL("/login/oauth/authorize", github.url), {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  expect(response.status).toBe(302);
  return response.headers.get("location")!;
}

function callback(url: string, cookie?: string) {
  return auth.authenticate(
    new Request(url, { headers: { ...(cookie ? { cookie } : {}), "user-agent": "vitest-browser" } }),
    { ip: "203.0.113.7" },
  );
}

async function signIn() {
  const { location, cookie } = await startSignIn();
  return callback(await consent(location, "approve"), cookie);
}

async function expectAppError(promise: Promise<unknown>, code: AppError["code"], message?: string | RegExp) {
  const error = await promise.then(
    () => {
      throw new Error("expected the promise to reject");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  if (message) expect((error as AppError).message).toMatch(message);
  return error as AppError;
}

const auditOf = (userId: string) =>
  database.db.auditEvent.findMany({ where: { userId }, orderBy: { createdAt: "asc" } });

describe("GitHub sign-in flow", () => {
  it("first leg redirects to the configured authorize URL with state and scopes", async () => {
    const { location, cookie } = await startSignIn();
    expect(`${location.origin}${location.pathname}`).toBe(`${github.url}/login/oauth/authorize`);
    expect(location.searchParams.get("client_id")).toBe(CLIENT.clientId);
    expect(location.searchParams.get("redirect_uri")).toBe(CALLBACK);
    expect(location.searchParams.get("scope")).toBe("read:user user:email");
    const state = location.searchParams.get("state")!;
    expect(state.length).toBeGreaterThanOrEqual(40);
    expect(decodeURIComponent(cookie)).toContain(state);
  });

  it("creates a verified, password-less user on the first sign-in, and finds it by githubId after", async () => {
    const gh = gitHubUser([{ email: `Primary.${uniqueEmail()}`.toUpperCase(), primary: true }]);
    github.clearRequests();

    const first = await signIn();
    expect(first).toMatchObject({ linked: false, created: true });
    const user = await database.db.user.findUniqueOrThrow({ where: { id: first.userId } });
    expect(user).toMatchObject({
      email: gh.emails[0]!.email.toLowerCase(),
      name: "GitHub Person",
      githubId: String(gh.id),
      passwordHash: null,
    });
    expect(user.emailVerifiedAt).toBeInstanceOf(Date);

    // The token was exchanged with the app's credentials and the callback URI, then the API called.
    const calls = github.requests.map((r) => `${r.method} ${r.path}`);
    expect(calls).toEqual(
      expect.arrayContaining(["POST /login/oauth/access_token", "GET /user", "GET /user/emails"]),
    );
    const tokenRequest = github.requests.find((r) => r.path === "/login/oauth/access_token")!;
    expect(new URLSearchParams(tokenRequest.body).get("redirect_uri")).toBe(CALLBACK);
    expect(tokenRequest.headers.accept).toContain("application/json");
    expect(github.requests.find((r) => r.path === "/user")!.headers.authorization).toMatch(/^Bearer gho_/);

    const second = await signIn();
    expect(second).toEqual({ userId: first.userId, linked: false, created: false });
    expect(await database.db.user.count({ where: { githubId: String(gh.id) } })).toBe(1);

    const events = await auditOf(first.userId);
    expect(events.map((e) => e.action)).toEqual(["auth.signup", "auth.login.success"]);
    expect(events[0]).toMatchObject({
      data: { via: "github", githubId: String(gh.id), login: gh.login },
      ip: "203.0.113.7",
      userAgent: "vitest-browser",
    });
  });

  it("links to an existing account by a verified email and audits the link", async () => {
    const existing = await createUser(database.db, {
      email: uniqueEmail("linkme"),
      passwordHash: "$argon2id$x",
      emailVerifiedAt: new Date("2026-01-01T00:00:00Z"),
    });
    const gh = gitHubUser([
      { email: uniqueEmail("other"), primary: true, verified: true },
      { email: existing.email.toUpperCase(), primary: false, verified: true },
    ]);

    const result = await signIn();
    expect(result).toEqual({ userId: existing.id, linked: true, created: false });
    const user = await database.db.user.findUniqueOrThrow({ where: { id: existing.id } });
    expect(user.githubId).toBe(String(gh.id));
    expect(user.emailVerifiedAt).toBeInstanceOf(Date);
    expect(user.passwordHash).toBe("$argon2id$x");

    const events = await auditOf(existing.id);
    expect(events.map((e) => e.action)).toEqual(["auth.oauth.linked", "auth.login.success"]);
    expect(events[0]).toMatchObject({
      targetType: "github_account",
      targetId: String(gh.id),
      data: { provider: "github", githubId: String(gh.id), login: gh.login, email: existing.email },
    });

    // Next time it is found by githubId, without a second link event.
    expect(await signIn()).toEqual({ userId: existing.id, linked: false, created: false });
    expect((await auditOf(existing.id)).filter((e) => e.action === "auth.oauth.linked")).toHaveLength(1);
  });

  it("linking an account whose email was never verified removes what a squatter could have set up", async () => {
    // Someone signed up with the owner's address (we send no verification mail) and made a key.
    const squatted = await createUser(database.db, {
      email: uniqueEmail("squat"),
      passwordHash: "$argon2id$squatter",
    });
    expect(squatted.emailVerifiedAt ?? null).toBeNull();
    await database.db.refreshToken.create({
      data: {
        userId: squatted.id,
        familyId: "0190b7b0-0000-7000-8000-00000000aaaa",
        tokenHash: `squatter-${squatted.id}`,
        expiresAt: new Date(Date.now() + 86_400_000),
      },
    });
    const key = await database.db.apiKey.create({
      data: {
        userId: squatted.id,
        name: "squatter",
        prefix: `agt_sq${Date.now()}`,
        keyHash: `h-${squatted.id}`,
        scopes: [],
      },
    });
    gitHubUser([{ email: squatted.email, primary: true, verified: true }]);

    expect(await signIn()).toEqual({ userId: squatted.id, linked: true, created: false });
    const user = await database.db.user.findUniqueOrThrow({ where: { id: squatted.id } });
    expect(user.passwordHash).toBeNull();
    expect(user.emailVerifiedAt).toBeInstanceOf(Date);
    expect(await database.db.refreshToken.count({ where: { userId: squatted.id, revokedAt: null } })).toBe(0);
    expect((await database.db.apiKey.findUniqueOrThrow({ where: { id: key.id } })).revokedAt).toBeInstanceOf(
      Date,
    );
    const link = (await auditOf(squatted.id)).find((e) => e.action === "auth.oauth.linked");
    expect(link?.data).toMatchObject({ securedUnverifiedAccount: true });
  });

  it("never links on an unverified email: unverified-only is FORBIDDEN and writes no user", async () => {
    const victim = await createUser(database.db, { email: uniqueEmail("victim") });
    const gh = gitHubUser([{ email: victim.email, primary: true, verified: false }]);
    const usersBefore = await database.db.user.count();

    await expectAppError(signIn(), "FORBIDDEN", "Your GitHub account has no verified email address");

    expect(await database.db.user.count()).toBe(usersBefore);
    expect((await database.db.user.findUniqueOrThrow({ where: { id: victim.id } })).githubId).toBeNull();
    const failed = await database.db.auditEvent.findMany({
      where: { action: "auth.login.failed", targetId: String(gh.id) },
    });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ userId: null, data: { via: "github", reason: "no_verified_email" } });
  });

  it("with an unverified address of an existing account plus a verified one, creates a new account", async () => {
    const victim = await createUser(database.db, { email: uniqueEmail("victim2") });
    const own = uniqueEmail("own");
    gitHubUser([
      { email: victim.email, primary: true, verified: false },
      { email: own, primary: false, verified: true },
    ]);

    const result = await signIn();
    expect(result).toMatchObject({ created: true, linked: false });
    expect(result.userId).not.toBe(victim.id);
    expect((await database.db.user.findUniqueOrThrow({ where: { id: result.userId } })).email).toBe(own);
    expect((await database.db.user.findUniqueOrThrow({ where: { id: victim.id } })).githubId).toBeNull();
  });

  it("refuses to relink an account already linked to another GitHub account", async () => {
    const taken = await createUser(database.db, { email: uniqueEmail("taken"), githubId: "424242" });
    gitHubUser([taken.email]);
    await expectAppError(signIn(), "CONFLICT");
    expect((await database.db.user.findUniqueOrThrow({ where: { id: taken.id } })).githubId).toBe("424242");
  });
});

describe("GitHub sign-in failures", () => {
  it("rejects a state that does not match the cookie (BAD_REQUEST), and a missing cookie", async () => {
    gitHubUser();
    const mine = await startSignIn();
    const theirs = await startSignIn();
    const redirect = await consent(mine.location, "approve");

    await expectAppError(callback(redirect, theirs.cookie), "BAD_REQUEST", /state does not match/);
    await expectAppError(callback(redirect), "BAD_REQUEST", /state is missing or expired/);
    // Nothing was exchanged: the code is still unused at GitHub.
    expect(github.requests.some((r) => r.path === "/login/oauth/access_token")).toBe(false);
  });

  it("denied consent is UNAUTHORIZED 'GitHub sign-in was cancelled' and creates nothing", async () => {
    gitHubUser();
    const usersBefore = await database.db.user.count();
    const { location, cookie } = await startSignIn();
    const redirect = await consent(location, "cancel");
    expect(new URL(redirect).searchParams.get("error")).toBe("access_denied");

    const error = await expectAppError(
      callback(redirect, cookie),
      "UNAUTHORIZED",
      "GitHub sign-in was cancelled",
    );
    expect(error.details).toEqual({ githubError: "access_denied" });
    expect(await database.db.user.count()).toBe(usersBefore);
  });

  it("a bad or replayed code is UNAUTHORIZED", async () => {
    gitHubUser();
    const { location, cookie } = await startSignIn();
    const redirect = new URL(await consent(location, "approve"));

    const forged = new URL(redirect);
    forged.searchParams.set("code", "0000000000badc0de000");
    await expectAppError(callback(forged.toString(), cookie), "UNAUTHORIZED", /invalid or has expired/);

    await callback(redirect.toString(), cookie);
    const replay = await expectAppError(callback(redirect.toString(), cookie), "UNAUTHORIZED");
    expect(replay.details).toEqual({ githubError: "bad_verification_code" });
  });

  it("a wrong client secret is UNAUTHORIZED", async () => {
    gitHubUser();
    const wrong = createGitHubAuthenticator(
      {
        ...CLIENT,
        clientSecret: "wrong",
        redirectURI: CALLBACK,
        webBaseUrl: github.url,
        apiBaseUrl: github.url,
      },
      { db: database.db },
    );
    const { location, cookie } = await startSignIn();
    const redirect = await consent(location, "approve");
    const error = await expectAppError(
      wrong.authenticate(new Request(redirect, { headers: { cookie } })),
      "UNAUTHORIZED",
    );
    expect(error.details).toEqual({ githubError: "incorrect_client_credentials" });
  });

  it("GitHub unreachable is SERVICE_UNAVAILABLE", async () => {
    const closed = await startFakeGitHub();
    await closed.close();
    const offline = createGitHubAuthenticator(
      { ...CLIENT, redirectURI: CALLBACK, webBaseUrl: closed.url, apiBaseUrl: closed.url },
      { db: database.db },
    );
    const first = await offline.authenticate(new Request(`${APP}/auth/github`)).catch((e: unknown) => e);
    const cookie = (first as Response).headers.get("set-cookie")!.split(";")[0]!;
    const state = new URL((first as Response).headers.get("location")!).searchParams.get("state")!;
    await expectAppError(
      offline.authenticate(new Request(`${CALLBACK}?code=abc&state=${state}`, { headers: { cookie } })),
      "SERVICE_UNAVAILABLE",
    );
  });
});

describe("configuration", () => {
  it("defaults to github.com, secure cookie for https callbacks, and clears the state cookie", async () => {
    const prod = createGitHubAuthenticator(
      { ...CLIENT, redirectURI: "https://agentry.example/auth/github/callback" },
      { db: database.db },
    );
    const thrown = (await prod
      .authenticate(new Request("https://agentry.example/auth/github"))
      .catch((e: unknown) => e)) as Response;
    expect(thrown.headers.get("location")).toMatch(/^https:\/\/github\.com\/login\/oauth\/authorize\?/);
    expect(thrown.headers.get("set-cookie")).toMatch(/Secure/i);
    expect(prod.clearStateCookie()).toMatch(
      new RegExp(`^${GITHUB_STATE_COOKIE}=; .*Expires=Thu, 01 Jan 1970`),
    );

    expect(() =>
      createGitHubAuthenticator({ ...CLIENT, redirectURI: "not a url" }, { db: database.db }),
    ).toThrow();
  });
});

describe("resolveGitHubUser", () => {
  it("concurrent first sign-ins of one GitHub account end with one user", async () => {
    const email = uniqueEmail("race");
    const input = {
      githubId: 99_000_000 + Math.floor(Math.random() * 1_000_000),
      login: "racer",
      name: null,
      emails: [{ email, primary: true, verified: true, visibility: "public" }],
    };
    const results = await Promise.all(
      Array.from({ length: 6 }, () => resolveGitHubUser(input, { db: database.db })),
    );
    const ids = new Set(results.map((r) => r.userId));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await database.db.user.count({ where: { email } })).toBe(1);
    const user = await database.db.user.findUniqueOrThrow({ where: { email } });
    expect(user.name).toBe("racer"); // no display name on GitHub → the login
  });

  it("concurrent first sign-ins that link one existing account link it once", async () => {
    const existing = await createUser(database.db, { email: uniqueEmail("linkrace") });
    const input = {
      githubId: 97_000_000 + Math.floor(Math.random() * 1_000_000),
      login: "link-racer",
      emails: [{ email: existing.email, primary: true, verified: true }],
    };
    const results = await Promise.all(
      Array.from({ length: 6 }, () => resolveGitHubUser(input, { db: database.db })),
    );
    expect(new Set(results.map((r) => r.userId))).toEqual(new Set([existing.id]));
    expect(results.filter((r) => r.linked)).toHaveLength(1);
    const linkedEvents = await database.db.auditEvent.count({
      where: { userId: existing.id, action: "auth.oauth.linked" },
    });
    expect(linkedEvents).toBe(1);
  });

  it("prefers the primary verified address, and a real one over GitHub's noreply", async () => {
    const real = uniqueEmail("real");
    const result = await resolveGitHubUser(
      {
        githubId: 98_000_000 + Math.floor(Math.random() * 1_000_000),
        login: "noreply-person",
        emails: [
          { email: "12345+noreply-person@users.noreply.github.com", primary: false, verified: true },
          { email: real, primary: false, verified: true },
          { email: uniqueEmail("unverified-primary"), primary: true, verified: false },
        ],
      },
      { db: database.db },
    );
    expect((await database.db.user.findUniqueOrThrow({ where: { id: result.userId } })).email).toBe(real);
  });
});
