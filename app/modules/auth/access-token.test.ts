import { randomUUID } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AppError } from "#app/lib/app-error.ts";
import { createAccessTokens } from "./access-token.server.ts";

const SECRET = "an HS256 test secret of 32 bytes"; // exactly 32 bytes
const key = new TextEncoder().encode(SECRET);
const userId = randomUUID();
const sessionId = randomUUID();

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

async function expectRejected(verify: Promise<unknown>) {
  const error = await verify.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect(error).toMatchObject({ code: "UNAUTHORIZED", message: "Invalid or expired access token" });
}

/** Claims a genuine token would carry, for hand-made ones. */
function claims(now = Date.now()) {
  const iat = Math.floor(now / 1000);
  return {
    sub: userId,
    sid: sessionId,
    jti: randomUUID(),
    iss: "agentry",
    aud: "agentry",
    iat,
    exp: iat + 900,
  };
}

describe("access tokens", () => {
  const tokens = createAccessTokens({ secret: SECRET });

  it("signs HS256 tokens with sub, sid, jti, iss, aud and a 15-minute expiry, and verifies them", async () => {
    const before = Date.now();
    const { token, expiresAt } = await tokens.sign({ userId, sessionId });
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({ sub: userId, sid: sessionId, iss: "agentry", aud: "agentry" });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(expiresAt.getTime()).toBe(payload.exp! * 1000);
    expect(expiresAt.getTime()).toBeGreaterThanOrEqual(before + 899_000);

    const verified = await tokens.verify(token);
    expect(verified).toEqual({ userId, sessionId, jti: payload.jti, expiresAt });
    const other = await tokens.sign({ userId, sessionId });
    expect((await tokens.verify(other.token)).jti).not.toBe(verified.jti);
  });

  it("rejects a forged signature: tampered payload, or signed with another secret", async () => {
    const { token } = await tokens.sign({ userId, sessionId });
    const [header, , signature] = token.split(".");
    const tampered = `${header}.${b64url({ ...claims(), sub: randomUUID() })}.${signature}`;
    await expectRejected(tokens.verify(tampered));

    const foreign = createAccessTokens({ secret: "another secret that is long enough!!" });
    await expectRejected(tokens.verify((await foreign.sign({ userId, sessionId })).token));

    // One flipped character of the signature.
    const last = token.at(-2) === "A" ? "B" : "A";
    await expectRejected(tokens.verify(`${token.slice(0, -2)}${last}${token.at(-1)}`));
  });

  it("rejects an expired token, and accepts it just before expiry", async () => {
    const issuedAt = new Date("2026-01-01T00:00:00Z");
    let now = issuedAt;
    const clocked = createAccessTokens({ secret: SECRET, now: () => now });
    const { token } = await clocked.sign({ userId, sessionId });
    now = new Date(issuedAt.getTime() + 899_000);
    await expect(clocked.verify(token)).resolves.toMatchObject({ userId });
    now = new Date(issuedAt.getTime() + 900_000);
    await expectRejected(clocked.verify(token));
  });

  it("rejects a wrong audience and a wrong issuer", async () => {
    const otherAudience = createAccessTokens({ secret: SECRET, audience: "someone-else" });
    await expectRejected(tokens.verify((await otherAudience.sign({ userId, sessionId })).token));
    const otherIssuer = createAccessTokens({ secret: SECRET, issuer: "evil" });
    await expectRejected(tokens.verify((await otherIssuer.sign({ userId, sessionId })).token));
  });

  it("rejects alg none (hand-made, with and without a signature part)", async () => {
    const unsigned = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims())}`;
    await expectRejected(tokens.verify(`${unsigned}.`));
    await expectRejected(tokens.verify(unsigned));
    // Same claims with a real HS256 header and no signature: still refused.
    await expectRejected(tokens.verify(`${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims())}.`));
  });

  it("rejects a token signed with HS512 under the same secret (algorithm pinned)", async () => {
    const hs512 = await new SignJWT({ sid: sessionId })
      .setProtectedHeader({ alg: "HS512", typ: "JWT" })
      .setSubject(userId)
      .setIssuer("agentry")
      .setAudience("agentry")
      .setIssuedAt()
      .setExpirationTime("15m")
      .setJti(randomUUID())
      .sign(key);
    await expectRejected(tokens.verify(hs512));
    // The same claims under HS256 pass: the algorithm alone was the reason.
    const hs256 = await new SignJWT({ sid: sessionId })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setIssuer("agentry")
      .setAudience("agentry")
      .setIssuedAt()
      .setExpirationTime("15m")
      .setJti(randomUUID())
      .sign(key);
    await expect(tokens.verify(hs256)).resolves.toMatchObject({ userId, sessionId });
  });

  it("rejects a validly signed token missing sid or jti, and garbage", async () => {
    const noSid = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId)
      .setIssuer("agentry")
      .setAudience("agentry")
      .setExpirationTime("15m")
      .setJti(randomUUID())
      .sign(key);
    await expectRejected(tokens.verify(noSid));
    const noJti = await new SignJWT({ sid: sessionId })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId)
      .setIssuer("agentry")
      .setAudience("agentry")
      .setExpirationTime("15m")
      .sign(key);
    await expectRejected(tokens.verify(noJti));
    await expectRejected(tokens.verify("not.a.jwt"));
    await expectRejected(tokens.verify(""));
  });

  it("refuses to start with a secret shorter than 32 bytes", () => {
    expect(() => createAccessTokens({ secret: "short" })).toThrow(/at least 32 bytes/);
    expect(() => createAccessTokens({ secret: "x".repeat(31) })).toThrow(/at least 32 bytes/);
  });
});
