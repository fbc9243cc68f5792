/**
 * A fake GitHub that speaks the OAuth web flow and the two REST endpoints a "Sign in with GitHub"
 * needs, over real HTTP, the way github.com and api.github.com answer them (one server plays both;
 * point `webBaseUrl` and `apiBaseUrl` at `url`). Used by vitest in-process and by Playwright as a
 * separate process:
 *
 *   const github = await startFakeGitHub();
 *   github.addUser({ login: "octocat", emails: ["octocat@example.test"] });
 *   // ...app redirects to `${github.url}/login/oauth/authorize?...`; the consent page has
 *   // "Authorize" and "Cancel" buttons; approval redirects to redirect_uri?code=...&state=...
 *   await github.close();
 *
 *   npx tsx tests/mocks/github-oauth.ts --port 4010 --user octocat   # prints FAKE_GITHUB_URL=...
 *
 * What it mimics on purpose, because real clients trip on it:
 * - the token endpoint answers errors with HTTP 200 and an `error` field (`bad_verification_code`,
 *   `incorrect_client_credentials`, `redirect_uri_mismatch`), JSON only when `Accept` asks for it,
 *   form-encoded otherwise; codes are single use and expire after 10 minutes;
 * - client credentials come in the body or as HTTP Basic;
 * - the API takes `Authorization: Bearer <token>` or `token <token>`, answers 401
 *   "Requires authentication" / "Bad credentials", and `/user/emails` needs the `user` or
 *   `user:email` scope (404 otherwise, as GitHub does for OAuth tokens).
 *
 * A small control API under `/_fake/` lets a test running in another process (Playwright) add users,
 * pick who is signed in, switch modes and read the recorded requests. Control calls are not recorded.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

export type FakeGitHubEmail = {
  email: string;
  primary: boolean;
  verified: boolean;
  /** GitHub: "public" or "private" for the primary address, null for the others. */
  visibility: "public" | "private" | null;
};

export type FakeGitHubUser = {
  id: number;
  login: string;
  name: string | null;
  avatarUrl: string;
  emails: FakeGitHubEmail[];
};

export type AddFakeGitHubUserInput = {
  login: string;
  /** Default: the login. Pass null for a user without a display name. */
  name?: string | null;
  /** Default: a fresh number (GitHub ids are numbers). */
  id?: number;
  /**
   * Default: one verified primary `<login>@users.example.test`. Strings are verified addresses, the
   * first one primary; objects default to `verified: true`, `primary` = first in the list.
   */
  emails?: Array<string | (Partial<FakeGitHubEmail> & { email: string })>;
};

/**
 * What GET /login/oauth/authorize does: show the consent page (default), or decide at once as
 * GitHub does for an app the user already authorized ("approve") or to simulate a refusal ("deny").
 */
export type FakeGitHubMode = "consent" | "approve" | "deny";

export type FakeGitHubClient = { clientId: string; clientSecret: string };

export type RecordedRequest = {
  method: string;
  /** Path without the query string, e.g. "/login/oauth/access_token". */
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
  at: Date;
};

export type StartFakeGitHubOptions = {
  /** Default 0: a free port. */
  port?: number;
  /** Default "127.0.0.1". */
  host?: string;
  /**
   * OAuth apps the fake knows. Default: none, and then any client_id/client_secret is accepted (handy
   * in dev); once one is given, unknown ids and wrong secrets are refused like GitHub refuses them.
   */
  clients?: FakeGitHubClient[];
  /** Users created at start; the first one is signed in. */
  users?: AddFakeGitHubUserInput[];
  /** Default "consent". */
  mode?: FakeGitHubMode;
};

export type FakeGitHub = {
  /** Base URL (`http://127.0.0.1:<port>`), for both the web and the API base URL. */
  url: string;
  port: number;
  /** Add a user; the first user added is signed in unless loginAs() picked another. */
  addUser(input: AddFakeGitHubUserInput): FakeGitHubUser;
  /** Who is "signed in to github.com": the account the next approval logs in as. */
  loginAs(login: string): void;
  setMode(mode: FakeGitHubMode): void;
  addClient(client: FakeGitHubClient): void;
  getUser(login: string): FakeGitHubUser | undefined;
  /** An access token for `login` without the web flow, for API tests. Default scope "read:user user:email". */
  issueToken(login: string, scope?: string): string;
  /** Every request received so far (control calls excluded), oldest first. A copy. */
  readonly requests: RecordedRequest[];
  clearRequests(): void;
  /** Forget users, codes, tokens and requests; back to consent mode. Clients stay. */
  reset(): void;
  /** Stop listening and drop open keep-alive connections. */
  close(): Promise<void>;
};

const CODE_TTL_MS = 10 * 60 * 1000;
const DOCS = "https://docs.github.com";

type IssuedCode = {
  clientId: string;
  redirectUri: string;
  login: string;
  scope: string;
  expiresAt: number;
};
type IssuedToken = { login: string; scope: string; clientId: string };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Start the fake on 127.0.0.1 (port 0 = a free port). Always close() it. */
export async function startFakeGitHub(options: StartFakeGitHubOptions = {}): Promise<FakeGitHub> {
  const { port = 0, host = "127.0.0.1" } = options;
  const users = new Map<string, FakeGitHubUser>();
  const clients = new Map<string, string>();
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, IssuedToken>();
  let recorded: RecordedRequest[] = [];
  let mode: FakeGitHubMode = "consent";
  let signedIn: string | undefined;
  let nextId = 1_000_001;

  for (const client of options.clients ?? []) clients.set(client.clientId, client.clientSecret);

  function addUser(input: AddFakeGitHubUserInput): FakeGitHubUser {
    const login = input.login.trim();
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(login)) {
      throw new Error(`fake GitHub: invalid login ${JSON.stringify(input.login)}`);
    }
    if (users.has(login.toLowerCase())) throw new Error(`fake GitHub: user ${login} already exists`);
    const id = input.id ?? nextId++;
    const rawEmails = input.emails ?? [`${login.toLowerCase()}@users.example.test`];
    const emails = rawEmails.map((entry, index): FakeGitHubEmail => {
      const e = typeof entry === "string" ? { email: entry } : entry;
      const primary = e.primary ?? index === 0;
      return {
        email: e.email,
        primary,
        verified: e.verified ?? true,
        visibility: e.visibility !== undefined ? e.visibility : primary ? "public" : null,
      };
    });
    const user: FakeGitHubUser = {
      id,
      login,
      name: input.name === undefined ? login : input.name,
      avatarUrl: `https://avatars.githubusercontent.com/u/${id}?v=4`,
      emails,
    };
    users.set(login.toLowerCase(), user);
    signedIn ??= user.login.toLowerCase();
    return user;
  }

  function loginAs(login: string) {
    if (!users.has(login.toLowerCase())) throw new Error(`fake GitHub: no user ${login}`);
    signedIn = login.toLowerCase();
  }

  function setMode(next: FakeGitHubMode) {
    if (!["consent", "approve", "deny"].includes(next)) throw new Error(`fake GitHub: unknown mode ${next}`);
    mode = next;
  }

  function issueToken(login: string, scope = "read:user user:email", clientId = "fake-direct"): string {
    const user = users.get(login.toLowerCase());
    if (!user) throw new Error(`fake GitHub: no user ${login}`);
    // Real OAuth app tokens look like gho_ + 36 base62 characters.
    const token = `gho_${randomBytes(27).toString("base64url").replace(/[-_]/g, "x").slice(0, 36)}`;
    tokens.set(token, { login: user.login, scope, clientId });
    return token;
  }

  for (const user of options.users ?? []) addUser(user);
  if (options.mode) setMode(options.mode);

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) sendJson(res, status, { message });
      else res.end();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const body = await readBody(req);
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const method = req.method ?? "GET";
    if (url.pathname.startsWith("/_fake/")) return control(method, url, body, res);
    // Browsers ask for it on every page; keeping it out of the record keeps assertions about the flow.
    if (url.pathname === "/favicon.ico") return void res.writeHead(204).end();

    recorded.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
      ),
      body,
      at: new Date(),
    });

    const route = `${method} ${url.pathname.replace(/\/+$/, "") || "/"}`;
    switch (route) {
      case "GET /":
        return sendText(res, 200, "fake GitHub\n");
      case "GET /login/oauth/authorize":
        return authorize(url.searchParams, res);
      case "POST /login/oauth/authorize":
        return decide(parseBody(req, body), res);
      case "POST /login/oauth/access_token":
        return accessToken(req, body, res);
      case "GET /user":
        return apiUser(req, res);
      case "GET /user/emails":
        return apiEmails(req, res);
      default:
        return sendJson(res, 404, { message: "Not Found", documentation_url: `${DOCS}/rest`, status: "404" });
    }
  }

  /** GET /login/oauth/authorize: validate the request, then consent page or an immediate decision. */
  function authorize(params: URLSearchParams, res: http.ServerResponse) {
    const request = readAuthorizeRequest(params, res);
    if (!request) return;
    if (mode === "approve") return approve(request, signedIn!, res);
    if (mode === "deny") return deny(request, res);
    return sendHtml(res, 200, consentPage(request));
  }

  /** POST /login/oauth/authorize: what the consent page's buttons submit. */
  function decide(params: URLSearchParams, res: http.ServerResponse) {
    const request = readAuthorizeRequest(params, res);
    if (!request) return;
    const decision = params.get("decision");
    if (decision === "approve") {
      const login = params.get("login") || signedIn!;
      if (!users.has(login.toLowerCase())) return sendHtml(res, 422, errorPage(`No user ${login}.`));
      return approve(request, login, res);
    }
    if (decision === "cancel") return deny(request, res);
    return sendHtml(res, 422, errorPage("decision must be approve or cancel."));
  }

  type AuthorizeRequest = { clientId: string; redirectUri: string; state: string | null; scope: string };

  function readAuthorizeRequest(params: URLSearchParams, res: http.ServerResponse): AuthorizeRequest | null {
    const clientId = params.get("client_id");
    // GitHub shows a 404 page for a missing or unknown client id: there is nobody to redirect to.
    if (!clientId || (clients.size > 0 && !clients.has(clientId))) {
      sendHtml(res, 404, errorPage("No OAuth application with this client_id."));
      return null;
    }
    const redirectUri = params.get("redirect_uri");
    if (!redirectUri || !URL.canParse(redirectUri)) {
      // Real GitHub falls back to the app's registered callback URL; the fake has none to fall back to.
      sendHtml(res, 400, errorPage("redirect_uri is required by the fake GitHub."));
      return null;
    }
    if (!signedIn) {
      sendHtml(res, 400, errorPage("Nobody is signed in to the fake GitHub: add a user first."));
      return null;
    }
    return { clientId, redirectUri, state: params.get("state"), scope: params.get("scope") ?? "" };
  }

  function approve(request: AuthorizeRequest, login: string, res: http.ServerResponse) {
    const user = users.get(login.toLowerCase())!;
    const code = randomBytes(10).toString("hex");
    codes.set(code, {
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      login: user.login,
      scope: normaliseScope(request.scope),
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    const target = new URL(request.redirectUri);
    target.searchParams.set("code", code);
    if (request.state !== null) target.searchParams.set("state", request.state);
    redirect(res, target);
  }

  function deny(request: AuthorizeRequest, res: http.ServerResponse) {
    const target = new URL(request.redirectUri);
    target.searchParams.set("error", "access_denied");
    target.searchParams.set("error_description", "The user has denied your application access.");
    target.searchParams.set(
      "error_uri",
      `${DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied`,
    );
    if (request.state !== null) target.searchParams.set("state", request.state);
    redirect(res, target);
  }

  /** POST /login/oauth/access_token: exchange a code for a token, errors as HTTP 200 like GitHub. */
  function accessToken(req: http.IncomingMessage, raw: string, res: http.ServerResponse) {
    const params = parseBody(req, raw);
    const basic = parseBasic(req.headers.authorization);
    const clientId = params.get("client_id") ?? basic?.user ?? "";
    const clientSecret = params.get("client_secret") ?? basic?.password ?? "";
    const reply = (data: Record<string, string>) => sendTokenResponse(req, res, data);

    const knownSecret = clients.get(clientId);
    const clientOk =
      clientId !== "" &&
      (clients.size === 0
        ? clientSecret !== ""
        : knownSecret !== undefined && safeEqual(knownSecret, clientSecret));
    if (!clientOk) {
      return reply({
        error: "incorrect_client_credentials",
        error_description: "The client_id and/or client_secret passed are incorrect.",
        error_uri: `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials`,
      });
    }
    const code = params.get("code") ?? "";
    const issued = codes.get(code);
    // A code is single use: taking it out now makes a replay fail like an unknown code.
    if (issued) codes.delete(code);
    if (!issued || issued.clientId !== clientId || issued.expiresAt < Date.now()) {
      return reply({
        error: "bad_verification_code",
        error_description: "The code passed is incorrect or expired.",
        error_uri: `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code`,
      });
    }
    const redirectUri = params.get("redirect_uri");
    if (redirectUri !== null && redirectUri !== issued.redirectUri) {
      return reply({
        error: "redirect_uri_mismatch",
        error_description: "The redirect_uri MUST match the registered callback URL for this application.",
        error_uri: `${DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch2`,
      });
    }
    const token = issueToken(issued.login, issued.scope, clientId);
    return reply({ access_token: token, token_type: "bearer", scope: issued.scope.replaceAll(" ", ",") });
  }

  function authenticated(req: http.IncomingMessage, res: http.ServerResponse, docs: string) {
    const match = /^(?:bearer|token)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    if (!match) {
      sendJson(res, 401, { message: "Requires authentication", documentation_url: docs, status: "401" });
      return null;
    }
    const token = tokens.get(match[1]!);
    const user = token && users.get(token.login.toLowerCase());
    if (!token || !user) {
      sendJson(res, 401, { message: "Bad credentials", documentation_url: `${DOCS}/rest`, status: "401" });
      return null;
    }
    res.setHeader("X-OAuth-Scopes", token.scope.split(" ").filter(Boolean).join(", "));
    res.setHeader("X-GitHub-Media-Type", "github.v3; format=json");
    return { token, user };
  }

  /** GET /user: the authenticated user, GitHub's shape (the fields sign-in code reads, and a few more). */
  function apiUser(req: http.IncomingMessage, res: http.ServerResponse) {
    const auth = authenticated(req, res, `${DOCS}/rest/users/users#get-the-authenticated-user`);
    if (!auth) return;
    const { user } = auth;
    const publicEmail = user.emails.find((e) => e.primary && e.visibility === "public")?.email ?? null;
    const base = `https://api.github.com/users/${user.login}`;
    sendJson(res, 200, {
      login: user.login,
      id: user.id,
      node_id: Buffer.from(`04:User${user.id}`).toString("base64"),
      avatar_url: user.avatarUrl,
      gravatar_id: "",
      url: base,
      html_url: `https://github.com/${user.login}`,
      repos_url: `${base}/repos`,
      type: "User",
      site_admin: false,
      name: user.name,
      company: null,
      blog: "",
      location: null,
      email: publicEmail,
      hireable: null,
      bio: null,
      twitter_username: null,
      public_repos: 0,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: "2020-01-01T00:00:00Z",
      updated_at: "2020-01-01T00:00:00Z",
    });
  }

  /** GET /user/emails: needs the `user` or `user:email` scope. */
  function apiEmails(req: http.IncomingMessage, res: http.ServerResponse) {
    const docs = `${DOCS}/rest/users/emails#list-email-addresses-for-the-authenticated-user`;
    const auth = authenticated(req, res, docs);
    if (!auth) return;
    const scopes = auth.token.scope.split(/[ ,]+/);
    if (!scopes.includes("user") && !scopes.includes("user:email")) {
      return sendJson(res, 404, { message: "Not Found", documentation_url: docs, status: "404" });
    }
    sendJson(
      res,
      200,
      auth.user.emails.map((e) => ({
        email: e.email,
        primary: e.primary,
        verified: e.verified,
        visibility: e.visibility,
      })),
    );
  }

  /** The `/_fake/` control API, for tests that run in another process than the fake. */
  function control(method: string, url: URL, raw: string, res: http.ServerResponse) {
    const json = () => {
      try {
        return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        throw new HttpError(400, "body must be JSON");
      }
    };
    try {
      switch (`${method} ${url.pathname}`) {
        case "GET /_fake/health":
          return sendJson(res, 200, { ok: true });
        case "GET /_fake/requests":
          return sendJson(res, 200, recorded);
        case "DELETE /_fake/requests":
          recorded = [];
          return sendJson(res, 200, { ok: true });
        case "POST /_fake/users":
          return sendJson(res, 201, addUser(json() as AddFakeGitHubUserInput));
        case "POST /_fake/login-as":
          loginAs(String(json().login));
          return sendJson(res, 200, { ok: true });
        case "POST /_fake/mode":
          setMode(String(json().mode) as FakeGitHubMode);
          return sendJson(res, 200, { ok: true });
        case "POST /_fake/reset":
          reset();
          return sendJson(res, 200, { ok: true });
        default:
          return sendJson(res, 404, { message: "unknown control endpoint" });
      }
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(400, error instanceof Error ? error.message : String(error));
    }
  }

  function reset() {
    users.clear();
    codes.clear();
    tokens.clear();
    recorded = [];
    signedIn = undefined;
    mode = "consent";
  }

  function consentPage(request: AuthorizeRequest): string {
    const current = users.get(signedIn!)!;
    const hidden = (name: string, value: string | null) =>
      value === null ? "" : `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
    const others = [...users.values()];
    const picker =
      others.length > 1
        ? `<p><label>Sign in as <select name="login">${others
            .map(
              (u) =>
                `<option value="${escapeHtml(u.login)}"${u.login === current.login ? " selected" : ""}>${escapeHtml(u.login)}</option>`,
            )
            .join("")}</select></label></p>`
        : hidden("login", current.login);
    const scopes = normaliseScope(request.scope) || "(no scope: public information only)";
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize application · Fake GitHub</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
button{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem}</style></head>
<body><main>
<h1>Authorize application</h1>
<p>Application <code>${escapeHtml(request.clientId)}</code> wants to access your account
<strong data-testid="github-login">${escapeHtml(current.login)}</strong>.</p>
<p>Scopes: <code>${escapeHtml(scopes)}</code></p>
<p>You will be redirected to <code>${escapeHtml(new URL(request.redirectUri).origin)}</code>.</p>
<form method="post" action="/login/oauth/authorize">
${hidden("client_id", request.clientId)}${hidden("redirect_uri", request.redirectUri)}${hidden("state", request.state)}${hidden("scope", request.scope)}
${picker}
<button type="submit" name="decision" value="approve">Authorize</button>
<button type="submit" name="decision" value="cancel">Cancel</button>
</form>
</main></body></html>
`;
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${urlHost}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    addUser,
    loginAs,
    setMode,
    addClient: (client) => clients.set(client.clientId, client.clientSecret),
    getUser: (login) => users.get(login.toLowerCase()),
    issueToken: (login, scope) => issueToken(login, scope),
    get requests() {
      return recorded.map((r) => ({ ...r, query: { ...r.query }, headers: { ...r.headers } }));
    },
    clearRequests: () => {
      recorded = [];
    },
    reset,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // fetch (undici) keeps connections alive; without this close() would wait for them to time out.
        server.closeAllConnections();
      })),
  };
}

// ─── HTTP helpers ────────────────────────────────────────────────────────────

const MAX_BODY_BYTES = 1024 * 1024;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, "body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Form-encoded (what browsers and most OAuth clients send) or JSON (GitHub accepts both). */
function parseBody(req: http.IncomingMessage, raw: string): URLSearchParams {
  const type = req.headers["content-type"] ?? "";
  if (type.includes("application/json")) {
    let data: unknown;
    try {
      data = JSON.parse(raw || "{}");
    } catch {
      throw new HttpError(400, "Problems parsing JSON");
    }
    const params = new URLSearchParams();
    if (data && typeof data === "object") {
      for (const [key, value] of Object.entries(data)) {
        if (typeof value === "string" || typeof value === "number") params.set(key, String(value));
      }
    }
    return params;
  }
  return new URLSearchParams(raw);
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^basic\s+(\S+)$/i.exec(header ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** GitHub stores scopes space-separated, deduplicated, in the order asked. */
function normaliseScope(scope: string): string {
  return [...new Set(scope.split(/[ ,]+/).filter(Boolean))].join(" ");
}

/** Token endpoint answers: JSON if asked for, else form-encoded (GitHub's default). Always 200. */
function sendTokenResponse(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  data: Record<string, string>,
) {
  if ((req.headers.accept ?? "").includes("application/json")) return sendJson(res, 200, data);
  res.writeHead(200, { "Content-Type": "application/x-www-form-urlencoded; charset=utf-8" });
  res.end(new URLSearchParams(data).toString());
}

function sendJson(res: http.ServerResponse, status: number, data: unknown) {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(data));
}

function sendHtml(res: http.ServerResponse, status: number, html: string) {
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
  res.end(html);
}

function sendText(res: http.ServerResponse, status: number, text: string) {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(text);
}

function redirect(res: http.ServerResponse, target: URL) {
  res.writeHead(302, { Location: target.toString(), "Cache-Control": "no-store" });
  res.end();
}

function errorPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error · Fake GitHub</title></head><body><main><h1>Error</h1><p>${escapeHtml(message)}</p></main></body></html>\n`;
}

function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

// ─── CLI ─────────────────────────────────────────────────────────────────────

const CLI_HELP = `Usage: npx tsx tests/mocks/github-oauth.ts [options]

  --port <n>         port to listen on (env FAKE_GITHUB_PORT; default 0 = a free port)
  --host <h>         default 127.0.0.1 (env FAKE_GITHUB_HOST)
  --mode <m>         consent | approve | deny (env FAKE_GITHUB_MODE; default consent)
  --user <login>     add a user with a verified primary <login>@users.example.test (repeatable)
  --users <json>     JSON array of { login, name?, id?, emails? } (env FAKE_GITHUB_USERS)
  --client <id:secret>  only accept this OAuth app (repeatable; env FAKE_GITHUB_CLIENTS="id:secret,...")

Prints "FAKE_GITHUB_URL=<url>" once listening; stops on SIGINT/SIGTERM.`;

async function main(argv: string[], env: NodeJS.ProcessEnv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      mode: { type: "string" },
      user: { type: "string", multiple: true },
      users: { type: "string" },
      client: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.info(CLI_HELP);
    return;
  }
  const port = Number(values.port ?? env.FAKE_GITHUB_PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`invalid port ${values.port}`);
  const usersJson = values.users ?? env.FAKE_GITHUB_USERS;
  const users: AddFakeGitHubUserInput[] = usersJson
    ? (JSON.parse(usersJson) as AddFakeGitHubUserInput[])
    : [];
  if (!Array.isArray(users)) throw new Error("--users must be a JSON array");
  for (const login of values.user ?? []) users.push({ login });
  const clientSpecs = values.client ?? (env.FAKE_GITHUB_CLIENTS ? env.FAKE_GITHUB_CLIENTS.split(",") : []);
  const clients = clientSpecs.map((spec) => {
    const colon = spec.indexOf(":");
    if (colon <= 0) throw new Error(`--client must be id:secret, got ${spec}`);
    return { clientId: spec.slice(0, colon), clientSecret: spec.slice(colon + 1) };
  });
  const fake = await startFakeGitHub({
    port,
    host: values.host ?? env.FAKE_GITHUB_HOST ?? "127.0.0.1",
    mode: (values.mode ?? env.FAKE_GITHUB_MODE ?? "consent") as FakeGitHubMode,
    users,
    clients,
  });
  console.info(`FAKE_GITHUB_URL=${fake.url}`);
  const stop = () => {
    void fake.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2), process.env).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
