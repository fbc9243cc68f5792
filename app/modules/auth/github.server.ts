/**
 * "Sign in with GitHub": remix-auth's GitHubStrategy (state cookie, redirects, code exchange) with
 * configurable GitHub base URLs, so the same code talks to github.com, a GitHub Enterprise Server
 * or the fake GitHub of tests/mocks. Then the account decision (`resolveGitHubUser`): the user
 * already linked to this GitHub id, else the existing account with one of the GitHub account's
 * *verified* emails (linked now), else a new account.
 *
 * Routes (written by the lead) call one function for both legs:
 *
 *   const github = createGitHubAuthenticator(config, { db, logger });
 *   // GET /auth/github           → throws a 302 Response to GitHub (with the state cookie): return it
 *   // GET /auth/github/callback  → { userId, linked, created }, or throws AppError
 *   const { userId } = await github.authenticate(request, { ip });
 */
import {
  ArcticFetchError,
  GitHub,
  OAuth2Client,
  OAuth2RequestError,
  type OAuth2Tokens,
  UnexpectedErrorResponseBodyError,
  UnexpectedResponseError,
} from "arctic";
import { serialize } from "cookie";
import type { Strategy } from "remix-auth/strategy";
import { GitHubStrategy } from "remix-auth-github";
import { z } from "zod";
import type { Db } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { recordAuditEvent } from "./audit.server.ts";
import { isUniqueViolation, parseInput } from "./deps.server.ts";
import { revokeUserSessions } from "./sessions.server.ts";

/** Name of the short-lived cookie that carries the OAuth `state` between the two legs. */
export const GITHUB_STATE_COOKIE = "agentry_github_state";

/** What the app asks GitHub for: the profile and the email addresses (with their verified flag). */
export const GITHUB_SCOPES = ["read:user", "user:email"] as const;

const STATE_COOKIE_MAX_AGE_SECONDS = 10 * 60;
const API_TIMEOUT_MS = 10_000;

const ZGitHubAuthConfig = z.object({
  clientId: z.string().trim().min(1),
  clientSecret: z.string().min(1),
  redirectURI: z.url({ protocol: /^https?$/ }),
  webBaseUrl: z.url({ protocol: /^https?$/ }).default("https://github.com"),
  apiBaseUrl: z.url({ protocol: /^https?$/ }).default("https://api.github.com"),
  cookieSecure: z.boolean().optional(),
});

export type GitHubAuthConfig = {
  /** The OAuth app's client id (GITHUB_CLIENT_ID). */
  clientId: string;
  /** The OAuth app's client secret (GITHUB_CLIENT_SECRET). */
  clientSecret: string;
  /** Absolute URL of the callback route, e.g. `https://agentry.example/auth/github/callback`. */
  redirectURI: string;
  /** Where the authorize and token endpoints live. Default `https://github.com`. */
  webBaseUrl?: string;
  /** REST API base (`/user`, `/user/emails`). Default `https://api.github.com`; GHES: `https://host/api/v3`. */
  apiBaseUrl?: string;
  /** Mark the state cookie Secure. Default: true when `redirectURI` is https. */
  cookieSecure?: boolean;
};

export type GitHubAuthDeps = {
  db: Db;
  logger?: Logger;
  /** Clock, for emailVerifiedAt. Default `() => new Date()`. */
  now?: () => Date;
};

export type GitHubLoginResult = {
  userId: string;
  /** The GitHub account was just linked to an existing account (matched by verified email). */
  linked: boolean;
  /** A new account was just created for this GitHub account. */
  created: boolean;
};

export type GitHubAuthenticator = {
  /**
   * Both legs of the flow. Without `state`/`error` in the URL it throws a 302 `Response` to GitHub
   * that sets the state cookie (return it from the route). On the callback it checks the state
   * against the cookie, exchanges the code, reads `/user` and `/user/emails`, and resolves the
   * account. Failures are AppErrors: BAD_REQUEST (state missing or mismatched, no code),
   * UNAUTHORIZED (consent denied, code refused, token refused), FORBIDDEN (no verified email),
   * CONFLICT (email linked to another GitHub account), SERVICE_UNAVAILABLE (GitHub unreachable).
   * `context.userAgent` defaults to the request's User-Agent; `ip` is the caller's to decide
   * (proxy trust), and both only go to the audit log.
   */
  authenticate(request: Request, context?: { ip?: string; userAgent?: string }): Promise<GitHubLoginResult>;
  /** `Set-Cookie` value that deletes the state cookie; send it with the callback's response. */
  clearStateCookie(): string;
};

/**
 * arctic's GitHub client hard-codes github.com. This one keeps its interface (what GitHubStrategy
 * calls) but goes through arctic's generic OAuth2Client with our endpoints.
 */
class ConfigurableGitHubClient extends GitHub {
  readonly #oauth: OAuth2Client;
  readonly #authorizationEndpoint: string;
  readonly #tokenEndpoint: string;

  constructor(clientId: string, clientSecret: string, redirectURI: string, webBaseUrl: string) {
    super(clientId, clientSecret, redirectURI);
    this.#oauth = new OAuth2Client(clientId, clientSecret, redirectURI);
    this.#authorizationEndpoint = joinUrl(webBaseUrl, "/login/oauth/authorize");
    this.#tokenEndpoint = joinUrl(webBaseUrl, "/login/oauth/access_token");
  }

  override createAuthorizationURL(state: string, scopes: string[]): URL {
    return this.#oauth.createAuthorizationURL(this.#authorizationEndpoint, state, scopes);
  }

  override async validateAuthorizationCode(code: string): Promise<OAuth2Tokens> {
    return throwIfErrorBody(await this.#oauth.validateAuthorizationCode(this.#tokenEndpoint, code, null));
  }

  override async refreshAccessToken(refreshToken: string): Promise<OAuth2Tokens> {
    return throwIfErrorBody(await this.#oauth.refreshAccessToken(this.#tokenEndpoint, refreshToken, []));
  }
}

/**
 * GitHub answers token errors with HTTP 200 and `{ error }` (not RFC 6749's 400). arctic's GitHub
 * client checks for that; its generic client would hand the error body back as "tokens".
 */
function throwIfErrorBody(tokens: OAuth2Tokens): OAuth2Tokens {
  const data = tokens.data as Record<string, unknown>;
  if (typeof data.error === "string") {
    const text = (key: string) => (typeof data[key] === "string" ? (data[key] as string) : null);
    throw new OAuth2RequestError(data.error, text("error_description"), text("error_uri"), text("state"));
  }
  return tokens;
}

/** GitHubStrategy with the GitHub base URL as an option. */
export class ConfigurableGitHubStrategy<User> extends GitHubStrategy<User> {
  constructor(
    options: GitHubStrategy.ConstructorOptions & { webBaseUrl: string },
    verify: Strategy.VerifyFunction<User, GitHubStrategy.VerifyOptions>,
  ) {
    super(options, verify);
    this.client = new ConfigurableGitHubClient(
      options.clientId,
      options.clientSecret,
      options.redirectURI.toString(),
      options.webBaseUrl,
    );
  }
}

/**
 * Build the GitHub sign-in for the web app. Config comes from env.server.ts (enabled only when
 * GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are set); the scopes are {@link GITHUB_SCOPES}.
 */
export function createGitHubAuthenticator(
  config: GitHubAuthConfig,
  deps: GitHubAuthDeps,
): GitHubAuthenticator {
  const { clientId, clientSecret, redirectURI, webBaseUrl, apiBaseUrl, cookieSecure } =
    ZGitHubAuthConfig.parse(config);
  const secure = cookieSecure ?? redirectURI.startsWith("https:");
  type Context = { ip?: string; userAgent?: string };
  // The strategy hands our Request object to verify(); the per-call context travels beside it.
  const contexts = new WeakMap<Request, Context>();

  const strategy = new ConfigurableGitHubStrategy<GitHubLoginResult>(
    {
      clientId,
      clientSecret,
      redirectURI,
      webBaseUrl,
      scopes: [...GITHUB_SCOPES],
      cookie: {
        name: GITHUB_STATE_COOKIE,
        path: "/",
        httpOnly: true,
        // Lax, not Strict: the callback is a top-level navigation coming from GitHub's site.
        sameSite: "Lax",
        maxAge: STATE_COOKIE_MAX_AGE_SECONDS,
        ...(secure ? { secure: true as const } : {}),
      },
    },
    async ({ tokens, request }) => {
      const accessToken = tokens.accessToken();
      const [profile, emails] = await Promise.all([
        githubGet(joinUrl(apiBaseUrl, "/user"), accessToken, ZGitHubProfile),
        githubGet(joinUrl(apiBaseUrl, "/user/emails"), accessToken, ZGitHubEmails),
      ]);
      const context = contexts.get(request) ?? {};
      return resolveGitHubUser(
        {
          githubId: profile.id,
          login: profile.login,
          name: profile.name,
          emails,
          ip: context.ip,
          userAgent: context.userAgent ?? request.headers.get("user-agent") ?? undefined,
        },
        deps,
      );
    },
  );

  return {
    async authenticate(request, context = {}) {
      // Straight to the strategy, not through remix-auth's Authenticator: with one strategy it adds
      // nothing but a copy of the Request, which would lose the context below.
      contexts.set(request, context);
      try {
        return await strategy.authenticate(request);
      } catch (error) {
        throw toAppError(error, request, deps.logger);
      } finally {
        contexts.delete(request);
      }
    },
    clearStateCookie: () =>
      serialize(GITHUB_STATE_COOKIE, "", {
        path: "/",
        httpOnly: true,
        sameSite: "lax",
        secure,
        expires: new Date(0),
      }),
  };
}

/** Map what remix-auth-github and arctic throw to AppErrors; redirects and AppErrors pass through. */
function toAppError(error: unknown, request: Request, logger?: Logger): unknown {
  if (error instanceof Response || error instanceof AppError) return error;
  const fromCallbackUrl = new URL(request.url).searchParams.has("error");
  let mapped: AppError | undefined;
  if (error instanceof OAuth2RequestError) {
    if (fromCallbackUrl) {
      mapped =
        error.code === "access_denied"
          ? new AppError("UNAUTHORIZED", "GitHub sign-in was cancelled", { githubError: error.code })
          : new AppError("UNAUTHORIZED", "GitHub sign-in failed", { githubError: error.code });
    } else {
      mapped = new AppError(
        "UNAUTHORIZED",
        error.code === "bad_verification_code"
          ? "GitHub sign-in failed: the authorization code is invalid or has expired. Try again."
          : "GitHub sign-in failed: GitHub refused the token request",
        { githubError: error.code },
      );
    }
  } else if (error instanceof RangeError && /state/i.test(error.message)) {
    mapped = new AppError(
      "BAD_REQUEST",
      "GitHub sign-in failed: the state does not match this browser's sign-in. Start again.",
    );
  } else if (error instanceof ReferenceError && /state/i.test(error.message)) {
    mapped = new AppError(
      "BAD_REQUEST",
      "GitHub sign-in failed: the sign-in state is missing or expired. Start again.",
    );
  } else if (error instanceof ReferenceError && /code/i.test(error.message)) {
    mapped = new AppError("BAD_REQUEST", "GitHub sign-in failed: GitHub returned no authorization code");
  } else if (error instanceof ArcticFetchError) {
    mapped = new AppError("SERVICE_UNAVAILABLE", "GitHub could not be reached. Try again later.");
  } else if (error instanceof UnexpectedResponseError || error instanceof UnexpectedErrorResponseBodyError) {
    mapped = new AppError("UNAUTHORIZED", "GitHub sign-in failed: GitHub refused the token request", {
      status: error.status,
    });
  }
  if (!mapped) return error;
  logger?.warn({ err: error, code: mapped.code }, "github sign-in rejected");
  return mapped;
}

// ─── GitHub REST API ─────────────────────────────────────────────────────────

const ZGitHubProfile = z.object({
  id: z.number().int().positive(),
  login: z.string().min(1),
  name: z.string().nullable().optional(),
});

const ZGitHubEmail = z.object({
  email: z.string(),
  primary: z.boolean(),
  verified: z.boolean(),
  visibility: z.string().nullable().optional(),
});
const ZGitHubEmails = z.array(ZGitHubEmail);

export type GitHubEmail = z.infer<typeof ZGitHubEmail>;

async function githubGet<T>(url: string, accessToken: string, schema: z.ZodType<T>): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        Accept: "application/vnd.github+json",
        Authorization: `Bearer ${accessToken}`,
        "User-Agent": "agentry",
        "X-GitHub-Api-Version": "2022-11-28",
      },
      signal: AbortSignal.timeout(API_TIMEOUT_MS),
    });
  } catch {
    throw new AppError("SERVICE_UNAVAILABLE", "GitHub could not be reached. Try again later.");
  }
  if (!response.ok) {
    await response.body?.cancel();
    if (response.status >= 500) {
      throw new AppError("SERVICE_UNAVAILABLE", "GitHub is unavailable. Try again later.", {
        status: response.status,
      });
    }
    throw new AppError("UNAUTHORIZED", "GitHub sign-in failed: could not read your GitHub profile", {
      status: response.status,
    });
  }
  const parsed = schema.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) {
    throw new AppError("SERVICE_UNAVAILABLE", "GitHub sent an unexpected answer. Try again later.");
  }
  return parsed.data;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}${path}`;
}

// ─── Account resolution ──────────────────────────────────────────────────────

const ZResolveGitHubUserInput = z.object({
  githubId: z.union([z.number().int().positive(), z.string().regex(/^[1-9]\d*$/)]).transform(String),
  login: z.string().min(1),
  name: z.string().nullish(),
  emails: z.array(ZGitHubEmail),
  ip: z.string().optional(),
  userAgent: z.string().optional(),
});

export type ResolveGitHubUserInput = z.input<typeof ZResolveGitHubUserInput>;

const ZAddress = z.email().max(254);

/**
 * The account a GitHub identity signs in to:
 * 1. the user whose `githubId` is this GitHub id (audit `auth.login.success`, data.via "github");
 * 2. else the user whose email is one of the GitHub account's *verified* emails (primary first):
 *    `githubId` is set, `emailVerifiedAt` too if it was not, audit `auth.oauth.linked` and
 *    `auth.login.success`. Unverified GitHub emails never link: anyone can add any address to a
 *    GitHub account, so linking on one would hand over the account that owns it;
 * 3. else a new user (email = the best verified address, no password, email verified now),
 *    audit `auth.signup` with data.via "github".
 * No verified email at all → FORBIDDEN, nothing written but an `auth.login.failed` audit event.
 * An account matched by email but already linked to another GitHub id → CONFLICT.
 * Concurrent first sign-ins of the same GitHub account end with one user (the loser retries).
 */
export async function resolveGitHubUser(
  input: ResolveGitHubUserInput,
  deps: GitHubAuthDeps,
): Promise<GitHubLoginResult> {
  const { githubId, login, name, emails, ip, userAgent } = parseInput(ZResolveGitHubUserInput, input);
  const { db, logger, now = () => new Date() } = deps;
  const verified = verifiedAddresses(emails);
  const meta = { ip, userAgent };

  const attempt = () =>
    db.$transaction(async (tx): Promise<GitHubLoginResult | "retry" | "no-verified-email"> => {
      const linkedUser = await tx.user.findUnique({ where: { githubId }, select: { id: true } });
      if (linkedUser) {
        await recordAuditEvent(tx, {
          userId: linkedUser.id,
          action: "auth.login.success",
          ...meta,
          data: { via: "github", githubId, login },
        });
        return { userId: linkedUser.id, linked: false, created: false };
      }
      if (verified.length === 0) return "no-verified-email";

      const candidates = await tx.user.findMany({
        where: { email: { in: verified } },
        select: { id: true, email: true, githubId: true, emailVerifiedAt: true },
      });
      const match = verified.map((address) => candidates.find((c) => c.email === address)).find(Boolean);
      if (match) {
        // Linked to this very GitHub id by a concurrent sign-in that committed after our first read.
        if (match.githubId === githubId) return "retry";
        if (match.githubId !== null) {
          throw new AppError(
            "CONFLICT",
            "The account with this email is already linked to a different GitHub account",
          );
        }
        // Conditional on githubId still being null: a concurrent sign-in may have linked it first.
        // Pre-hijacking defence: an account whose email was never verified may have been created by
        // someone else with this address. GitHub has now proven who owns it, so whatever that someone set
        // up (password, sessions, API keys) is removed before the owner is let in.
        const unverified = match.emailVerifiedAt === null;
        const { count } = await tx.user.updateMany({
          where: { id: match.id, githubId: null },
          data: { githubId, emailVerifiedAt: now(), ...(unverified ? { passwordHash: null } : {}) },
        });
        if (count === 0) return "retry";
        if (unverified) {
          await revokeUserSessions(tx, { userId: match.id, reason: "account_secured" }, now());
          await tx.apiKey.updateMany({
            where: { userId: match.id, revokedAt: null },
            data: { revokedAt: now() },
          });
        }
        await recordAuditEvent(tx, {
          userId: match.id,
          action: "auth.oauth.linked",
          ...meta,
          targetType: "github_account",
          targetId: githubId,
          data: {
            provider: "github",
            githubId,
            login,
            email: match.email,
            securedUnverifiedAccount: unverified,
          },
        });
        await recordAuditEvent(tx, {
          userId: match.id,
          action: "auth.login.success",
          ...meta,
          data: { via: "github", githubId, login },
        });
        return { userId: match.id, linked: true, created: false };
      }

      const user = await tx.user.create({
        data: {
          email: verified[0]!,
          name: displayName(name, login),
          passwordHash: null,
          githubId,
          emailVerifiedAt: now(),
        },
        select: { id: true },
      });
      await recordAuditEvent(tx, {
        userId: user.id,
        action: "auth.signup",
        ...meta,
        targetType: "github_account",
        targetId: githubId,
        data: { via: "github", githubId, login },
      });
      return { userId: user.id, linked: false, created: true };
    });

  for (let round = 0; ; round += 1) {
    let outcome: Awaited<ReturnType<typeof attempt>>;
    try {
      outcome = await attempt();
    } catch (error) {
      // A concurrent first sign-in created the user (email or githubId taken): look again.
      if (round === 0 && isUniqueViolation(error)) continue;
      throw error;
    }
    if (outcome === "retry" && round === 0) continue;
    if (outcome === "retry") {
      throw new AppError("CONFLICT", "GitHub sign-in raced with another sign-in. Try again.");
    }
    if (outcome === "no-verified-email") {
      await recordAuditEvent(db, {
        action: "auth.login.failed",
        ...meta,
        targetType: "github_account",
        targetId: githubId,
        data: { via: "github", githubId, login, reason: "no_verified_email" },
      });
      logger?.warn({ githubId, login }, "github sign-in refused: no verified email");
      throw new AppError("FORBIDDEN", "Your GitHub account has no verified email address");
    }
    if (outcome.created || outcome.linked) {
      logger?.info(
        { userId: outcome.userId, githubId, created: outcome.created, linked: outcome.linked },
        "github sign-in",
      );
    }
    return outcome;
  }
}

/**
 * The GitHub account's verified addresses, normalised like ours, best first: the primary, then
 * real addresses, then GitHub's noreply ones (never a good account email, but verified).
 */
function verifiedAddresses(emails: GitHubEmail[]): string[] {
  const rank = (e: GitHubEmail) => (e.primary ? 0 : e.email.endsWith("@users.noreply.github.com") ? 2 : 1);
  const out: string[] = [];
  for (const e of [...emails].filter((x) => x.verified).sort((a, b) => rank(a) - rank(b))) {
    const parsed = ZAddress.safeParse(e.email.trim().toLowerCase());
    if (parsed.success && !out.includes(parsed.data)) out.push(parsed.data);
  }
  return out;
}

function displayName(name: string | null | undefined, login: string): string {
  const trimmed = name?.trim();
  return (trimmed || login).slice(0, 100);
}
