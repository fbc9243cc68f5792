/**
 * Access tokens: short-lived HS256 JWTs. Stateless to verify (any web process with the secret),
 * short-lived because they cannot be recalled; `sid` names the refresh-token family, so a caller
 * that needs logout to take effect at once checks the family (sessions.server.ts isSessionActive).
 */
import { randomUUID } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { AppError } from "#app/lib/app-error.ts";

/** Pinned: a token naming any other algorithm (`none`, HS512, RS256 ...) is refused before its signature is read. */
const ALGORITHM = "HS256";
const MIN_SECRET_BYTES = 32;

export type AccessTokenOptions = {
  /** HMAC key; at least 32 bytes (UTF-8). */
  secret: string;
  /** `iss`. Default "agentry". */
  issuer?: string;
  /** `aud`. Default "agentry". */
  audience?: string;
  /** Lifetime. Default 900 (15 minutes). */
  ttlSeconds?: number;
  /** The clock, for signing and verifying. Default `() => new Date()`. */
  now?: () => Date;
};

export type AccessTokenClaims = {
  userId: string;
  /** The refresh-token family (session) this token was issued for. */
  sessionId: string;
  jti: string;
  expiresAt: Date;
};

export type AccessTokens = {
  sign(input: { userId: string; sessionId: string }): Promise<{ token: string; expiresAt: Date }>;
  /** Throws AppError UNAUTHORIZED "Invalid or expired access token" for anything but a valid token. */
  verify(token: string): Promise<AccessTokenClaims>;
};

const ZClaims = z.object({
  sub: z.string().min(1),
  sid: z.string().min(1),
  jti: z.string().min(1),
  exp: z.number(),
});

const invalid = () => new AppError("UNAUTHORIZED", "Invalid or expired access token");

export function createAccessTokens({
  secret,
  issuer = "agentry",
  audience = "agentry",
  ttlSeconds = 900,
  now = () => new Date(),
}: AccessTokenOptions): AccessTokens {
  const key = new TextEncoder().encode(secret);
  if (key.byteLength < MIN_SECRET_BYTES) {
    // A configuration error, not a request error: refuse to start with a guessable key.
    throw new Error(`The access-token secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    throw new Error("ttlSeconds must be a positive integer");

  return {
    async sign({ userId, sessionId }) {
      const issuedAt = Math.floor(now().getTime() / 1000);
      const exp = issuedAt + ttlSeconds;
      const token = await new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
        .setSubject(userId)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt(issuedAt)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(key);
      return { token, expiresAt: new Date(exp * 1000) };
    },

    async verify(token) {
      if (typeof token !== "string" || token.length === 0 || token.length > 4096) throw invalid();
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer,
          audience,
          requiredClaims: ["sub", "sid", "jti", "exp"],
          currentDate: now(),
        }));
      } catch {
        // jose's reasons (bad signature, expired, wrong audience ...) stay server-side: one answer for all.
        throw invalid();
      }
      const claims = ZClaims.safeParse(payload);
      if (!claims.success) throw invalid();
      return {
        userId: claims.data.sub,
        sessionId: claims.data.sid,
        jti: claims.data.jti,
        expiresAt: new Date(claims.data.exp * 1000),
      };
    },
  };
}
