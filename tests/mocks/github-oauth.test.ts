import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FakeGitHub, startFakeGitHub } from "./github-oauth.ts";

const CLIENT = { clientId: "Iv1.fakeclient", clientSecret: "fake-secret" };
const CALLBACK = "http://app.test/auth/github/callback";

let github: FakeGitHub;

beforeAll(async () => {
  github = await startFakeGitHub({ clients: [CLIENT] });
});
afterAll(async () => {
  await github.close();
});
afterEach(() => {
  github.reset();
});

function authorizeUrl(params: Record<string, string> = {}) {
  const url = new URL("/login/oauth/authorize", github.url);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT.clientId,
    redirect_uri: CALLBACK,
    state: "st4te",
    scope: "read:user user:email",
    ...params,
  }).toString();
  return url;
}

/** Submit the consent form as the browser would (its hidden fields plus the clicked button). */
async function submitConsent(html: string, decision: "approve" | "cancel", login?: string) {
  const form = new URLSearchParams();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.set(match[1]!, match[2]!.replaceAll("&amp;", "&").replaceAll("&quot;", '"'));
  }
  if (login) form.set("login", login);
  form.set("decision", decision);
  const response = await fetch(new URL("/login/oauth/authorize", github.url), {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  expect(response.status).toBe(302);
  return new URL(response.headers.get("location")!);
}

async function approvedCode(params: Record<string, string> = {}) {
  github.setMode("approve");
  const response = await fetch(authorizeUrl(params), { redirect: "manual" });
  expect(response.status).toBe(302);
  return new URL(response.headers.get("location")!).searchParams.get("code")!;
}

async function exchange(body: Record<string, string>, init: { json?: boolean; accept?: string } = {}) {
  const response = await fetch(new URL("/login/oauth/access_token", github.url), {
    method: "POST",
    headers: {
      "Content-Type": init.json ? "application/json" : "application/x-www-form-urlencoded",
      ...(init.accept ? { Accept: init.accept } : {}),
    },
    body: init.json ? JSON.stringify(body) : new URLSearchParams(body).toString(),
  });
  return response;
}

describe("authorize", () => {
  it("renders a consent page with Authorize and Cancel, escaping what it echoes", async () => {
    github.addUser({ login: "octocat", name: "The Octocat" });
    const response = await fetch(authorizeUrl({ state: '"><script>x</script>' }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(html).toContain('<button type="submit" name="decision" value="approve">Authorize</button>');
    expect(html).toContain('<button type="submit" name="decision" value="cancel">Cancel</button>');
    expect(html).toContain("octocat");
    expect(html).not.toContain("<script>x</script>");
  });

  it("approve redirects to redirect_uri with a code and the state; cancel with access_denied", async () => {
    github.addUser({ login: "octocat" });
    const html = await (await fetch(authorizeUrl({ redirect_uri: `${CALLBACK}?next=%2Fhome` }))).text();

    const approved = await submitConsent(html, "approve");
    expect(`${approved.origin}${approved.pathname}`).toBe(CALLBACK);
    expect(approved.searchParams.get("next")).toBe("/home");
    expect(approved.searchParams.get("state")).toBe("st4te");
    expect(approved.searchParams.get("code")).toMatch(/^[0-9a-f]{20}$/);

    const cancelled = await submitConsent(html, "cancel");
    expect(cancelled.searchParams.get("error")).toBe("access_denied");
    expect(cancelled.searchParams.get("error_description")).toBe(
      "The user has denied your application access.",
    );
    expect(cancelled.searchParams.get("state")).toBe("st4te");
    expect(cancelled.searchParams.has("code")).toBe(false);
  });

  it("the consent page lets the tester pick among several users", async () => {
    github.addUser({ login: "alice" });
    github.addUser({ login: "bob" });
    const html = await (await fetch(authorizeUrl())).text();
    expect(html).toContain('<option value="bob">bob</option>');
    const code = (await submitConsent(html, "approve", "bob")).searchParams.get("code")!;
    const token = (await (
      await exchange({ ...toBody(CLIENT), code }, { accept: "application/json" })
    ).json()) as { access_token: string };
    const user = (await (await api("/user", `Bearer ${token.access_token}`)).json()) as { login: string };
    expect(user.login).toBe("bob");
  });

  it("auto modes decide without a page; loginAs picks the account", async () => {
    github.addUser({ login: "alice" });
    github.addUser({ login: "bob" });
    github.loginAs("bob");
    const code = await approvedCode();
    const token = (await (
      await exchange({ ...toBody(CLIENT), code }, { accept: "application/json" })
    ).json()) as { access_token: string };
    expect(
      ((await (await api("/user", `token ${token.access_token}`)).json()) as { login: string }).login,
    ).toBe("bob");

    github.setMode("deny");
    const denied = await fetch(authorizeUrl(), { redirect: "manual" });
    expect(new URL(denied.headers.get("location")!).searchParams.get("error")).toBe("access_denied");
  });

  it("refuses an unknown client with a 404 page, like GitHub", async () => {
    github.addUser({ login: "octocat" });
    const response = await fetch(authorizeUrl({ client_id: "nope" }), { redirect: "manual" });
    expect(response.status).toBe(404);
  });
});

describe("access_token", () => {
  it("exchanges a code once; JSON when asked, form-encoded otherwise", async () => {
    github.addUser({ login: "octocat" });
    const code = await approvedCode();
    const form = await exchange({ ...toBody(CLIENT), code, redirect_uri: CALLBACK });
    expect(form.status).toBe(200);
    expect(form.headers.get("content-type")).toContain("application/x-www-form-urlencoded");
    const parsed = new URLSearchParams(await form.text());
    expect(parsed.get("access_token")).toMatch(/^gho_[A-Za-z0-9]{36}$/);
    expect(parsed.get("token_type")).toBe("bearer");
    expect(parsed.get("scope")).toBe("read:user,user:email");

    // Replay of the same code: GitHub's 200 + bad_verification_code.
    const replay = await exchange({ ...toBody(CLIENT), code }, { json: true, accept: "application/json" });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({
      error: "bad_verification_code",
      error_description: "The code passed is incorrect or expired.",
    });
  });

  it("takes client credentials as HTTP Basic and JSON bodies", async () => {
    github.addUser({ login: "octocat" });
    const code = await approvedCode();
    const response = await fetch(new URL("/login/oauth/access_token", github.url), {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString("base64")}`,
      },
      body: JSON.stringify({ code, grant_type: "authorization_code" }),
    });
    expect(await response.json()).toMatchObject({ token_type: "bearer", scope: "read:user,user:email" });
  });

  it("refuses a wrong secret, a foreign client's code and a different redirect_uri", async () => {
    github.addUser({ login: "octocat" });
    const accept = { accept: "application/json" };
    const wrongSecret = await exchange(
      { ...toBody(CLIENT), client_secret: "x", code: await approvedCode() },
      accept,
    );
    expect(await wrongSecret.json()).toMatchObject({ error: "incorrect_client_credentials" });

    github.addClient({ clientId: "other", clientSecret: "other-secret" });
    const foreign = await exchange(
      { client_id: "other", client_secret: "other-secret", code: await approvedCode() },
      accept,
    );
    expect(await foreign.json()).toMatchObject({ error: "bad_verification_code" });

    const mismatch = await exchange(
      { ...toBody(CLIENT), code: await approvedCode(), redirect_uri: "http://evil.test/cb" },
      accept,
    );
    expect(await mismatch.json()).toMatchObject({ error: "redirect_uri_mismatch" });
  });
});

describe("API", () => {
  it("GET /user and /user/emails with a token; 401 without or with a bad one", async () => {
    github.addUser({
      login: "octocat",
      name: "The Octocat",
      id: 583231,
      emails: [
        { email: "octocat@github.test", visibility: "private" },
        { email: "old@example.test", verified: false },
      ],
    });
    const token = github.issueToken("octocat");

    const user = await api("/user", `Bearer ${token}`);
    expect(user.status).toBe(200);
    expect(user.headers.get("x-oauth-scopes")).toBe("read:user, user:email");
    expect(await user.json()).toMatchObject({
      id: 583231,
      login: "octocat",
      name: "The Octocat",
      email: null, // the primary address is private
      avatar_url: "https://avatars.githubusercontent.com/u/583231?v=4",
      type: "User",
    });

    const emails = await api("/user/emails", `token ${token}`);
    expect(await emails.json()).toEqual([
      { email: "octocat@github.test", primary: true, verified: true, visibility: "private" },
      { email: "old@example.test", primary: false, verified: false, visibility: null },
    ]);

    const anonymous = await api("/user");
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ message: "Requires authentication" });
    const bad = await api("/user/emails", "Bearer gho_nope");
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ message: "Bad credentials" });
  });

  it("/user/emails needs the user:email (or user) scope", async () => {
    github.addUser({ login: "octocat" });
    expect((await api("/user/emails", `Bearer ${github.issueToken("octocat", "read:user")}`)).status).toBe(
      404,
    );
    expect((await api("/user/emails", `Bearer ${github.issueToken("octocat", "user")}`)).status).toBe(200);
    expect((await api("/user", `Bearer ${github.issueToken("octocat", "")}`)).status).toBe(200);
  });
});

describe("recording and control", () => {
  it("records GitHub traffic but not control calls", async () => {
    const created = await fetch(new URL("/_fake/users", github.url), {
      method: "POST",
      body: JSON.stringify({ login: "remote", emails: ["remote@example.test"] }),
    });
    expect(created.status).toBe(201);
    expect(github.getUser("remote")?.emails[0]).toMatchObject({
      email: "remote@example.test",
      primary: true,
    });
    await fetch(new URL("/_fake/mode", github.url), {
      method: "POST",
      body: JSON.stringify({ mode: "deny" }),
    });

    const denied = await fetch(authorizeUrl(), { redirect: "manual" });
    expect(new URL(denied.headers.get("location")!).searchParams.get("error")).toBe("access_denied");

    expect(github.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /login/oauth/authorize"]);
    expect(github.requests[0]!.query.state).toBe("st4te");
    const remote = (await (await fetch(new URL("/_fake/requests", github.url))).json()) as unknown[];
    expect(remote).toHaveLength(1);

    const badMode = await fetch(new URL("/_fake/mode", github.url), {
      method: "POST",
      body: JSON.stringify({ mode: "maybe" }),
    });
    expect(badMode.status).toBe(400);
  });
});

describe("CLI", () => {
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });

  it("runs standalone, prints its URL, takes users from flags and env, stops on SIGTERM", async () => {
    const script = fileURLToPath(new URL("./github-oauth.ts", import.meta.url));
    const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url));
    child = spawn(tsx, [script, "--user", "cli-user", "--mode", "approve"], {
      env: { ...process.env, FAKE_GITHUB_USERS: JSON.stringify([{ login: "env-user", name: "Env" }]) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /FAKE_GITHUB_URL=(\S+)/.exec(output);
        if (match) resolve(match[1]!);
      });
      child!.once("exit", (code) => reject(new Error(`exited ${code}: ${output}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // The first user given (from the env) is the one signed in; approve mode answers at once.
    const authorize = await fetch(
      `${url}/login/oauth/authorize?client_id=any&redirect_uri=${encodeURIComponent(CALLBACK)}&state=s`,
      { redirect: "manual" },
    );
    const code = new URL(authorize.headers.get("location")!).searchParams.get("code")!;
    const token = (await (
      await fetch(`${url}/login/oauth/access_token`, {
        method: "POST",
        headers: { Accept: "application/json" },
        body: new URLSearchParams({ client_id: "any", client_secret: "any", code }),
      })
    ).json()) as { access_token: string };
    const user = await fetch(`${url}/user`, { headers: { Authorization: `Bearer ${token.access_token}` } });
    expect(await user.json()).toMatchObject({ login: "env-user", name: "Env" });
    await fetch(`${url}/_fake/login-as`, { method: "POST", body: JSON.stringify({ login: "cli-user" }) });

    child.kill("SIGTERM");
    const [exitCode] = await once(child, "exit");
    expect(exitCode).toBe(0);
  }, 20_000);
});

function toBody(client: typeof CLIENT) {
  return { client_id: client.clientId, client_secret: client.clientSecret };
}

function api(path: string, authorization?: string) {
  return fetch(new URL(path, github.url), {
    headers: {
      Accept: "application/vnd.github+json",
      ...(authorization ? { Authorization: authorization } : {}),
    },
  });
}
