import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createPrismaClient } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { createUser } from "#tests/factories/index.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import {
  isSessionActive,
  listSessions,
  REFRESH_TTL_MS,
  revokeAllSessions,
  revokeSession,
  rotateRefreshToken,
  startSession,
} from "./sessions.server.ts";

const database = setupTestDatabase();
const deps = (now?: Date) => ({ db: database.db, ...(now ? { now: () => now } : {}) });
const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

async function caught(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

const familyRows = (familyId: string) =>
  database.db.refreshToken.findMany({ where: { familyId }, orderBy: { createdAt: "asc" } });

describe("startSession", () => {
  it("issues a 256-bit base64url token, stored only as its sha256, expiring in 30 days", async () => {
    const user = await createUser(database.db);
    const now = new Date();
    const session = await startSession({ userId: user.id, userAgent: "Firefox", ip: "192.0.2.1" }, deps(now));
    expect(session.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.expiresAt.getTime()).toBe(now.getTime() + REFRESH_TTL_MS);
    const [row] = await familyRows(session.sessionId);
    expect(row).toMatchObject({
      userId: user.id,
      tokenHash: sha256(session.refreshToken),
      userAgent: "Firefox",
      ip: "192.0.2.1",
      rotatedAt: null,
      revokedAt: null,
    });
    const stored = JSON.stringify(await database.db.refreshToken.findMany({ where: { userId: user.id } }));
    expect(stored).not.toContain(session.refreshToken);
  });
});

describe("rotateRefreshToken", () => {
  it("exchanges a token for a successor in the same family; the successor works in turn", async () => {
    const user = await createUser(database.db);
    const start = await startSession({ userId: user.id }, deps());
    const first = await rotateRefreshToken(
      { refreshToken: start.refreshToken, ip: "192.0.2.9", userAgent: "B" },
      deps(),
    );
    expect(first).toMatchObject({ userId: user.id, sessionId: start.sessionId });
    expect(first.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.refreshToken).not.toBe(start.refreshToken);
    const second = await rotateRefreshToken({ refreshToken: first.refreshToken! }, deps());
    expect(second.sessionId).toBe(start.sessionId);

    const rows = await familyRows(start.sessionId);
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.rotatedAt !== null)).toEqual([true, true, false]);
    // The device of the latest use travels with the family.
    expect(rows[2]).toMatchObject({ ip: "192.0.2.9", userAgent: "B" });
  });

  it("on reuse of a rotated token revokes the whole family, writes auth.refresh.reuse, and refuses", async () => {
    const user = await createUser(database.db);
    const start = await startSession({ userId: user.id }, deps());
    const other = await startSession({ userId: user.id }, deps());
    const rotated = await rotateRefreshToken({ refreshToken: start.refreshToken }, deps());

    const error = await caught(
      rotateRefreshToken({ refreshToken: start.refreshToken, ip: "198.51.100.66" }, deps()),
    );
    expect(error).toMatchObject({ code: "UNAUTHORIZED", message: "Invalid or expired refresh token" });

    const rows = await familyRows(start.sessionId);
    expect(rows.every((r) => r.revokedAt !== null && r.revokedReason === "reuse_detected")).toBe(true);
    // The legitimate holder's successor is dead too: nobody knows which party is the thief.
    expect((await caught(rotateRefreshToken({ refreshToken: rotated.refreshToken! }, deps()))).code).toBe(
      "UNAUTHORIZED",
    );
    expect(await isSessionActive({ userId: user.id, sessionId: start.sessionId }, deps())).toBe(false);
    // Other sessions of the user are untouched.
    expect(await isSessionActive({ userId: user.id, sessionId: other.sessionId }, deps())).toBe(true);

    const events = await database.db.auditEvent.findMany({
      where: { userId: user.id, action: "auth.refresh.reuse" },
    });
    expect(events).toEqual([
      expect.objectContaining({ targetType: "session", targetId: start.sessionId, ip: "198.51.100.66" }),
    ]);
  });

  it("within the reuse leeway returns no new token and revokes nothing; after it, reuse is reuse", async () => {
    const user = await createUser(database.db);
    const t0 = new Date("2026-03-01T12:00:00Z");
    const start = await startSession({ userId: user.id }, deps(t0));
    const rotated = await rotateRefreshToken(
      { refreshToken: start.refreshToken, reuseLeewayMs: 10_000 },
      deps(t0),
    );

    const again = await rotateRefreshToken(
      { refreshToken: start.refreshToken, reuseLeewayMs: 10_000 },
      deps(new Date(t0.getTime() + 5_000)),
    );
    expect(again).toEqual({
      userId: user.id,
      sessionId: start.sessionId,
      refreshToken: null,
      expiresAt: rotated.expiresAt,
    });
    expect((await familyRows(start.sessionId)).every((r) => r.revokedAt === null)).toBe(true);
    expect(
      await database.db.auditEvent.count({ where: { userId: user.id, action: "auth.refresh.reuse" } }),
    ).toBe(0);

    // 10 s later the same presentation is theft.
    const late = await caught(
      rotateRefreshToken(
        { refreshToken: start.refreshToken, reuseLeewayMs: 10_000 },
        deps(new Date(t0.getTime() + 10_000)),
      ),
    );
    expect(late.code).toBe("UNAUTHORIZED");
    expect((await familyRows(start.sessionId)).every((r) => r.revokedReason === "reuse_detected")).toBe(true);
  });

  it("two concurrent rotations of one token (two processes): exactly one gets a successor", async () => {
    // A second client with its own pool: the two rotations run on different connections, as they
    // would in two web processes.
    const second = createPrismaClient({
      connectionString: database.url,
      max: 2,
      applicationName: "second-web",
    });
    try {
      for (let round = 0; round < 5; round++) {
        const user = await createUser(database.db);
        const start = await startSession({ userId: user.id }, deps());
        const results = await Promise.allSettled([
          rotateRefreshToken({ refreshToken: start.refreshToken }, { db: database.db }),
          rotateRefreshToken({ refreshToken: start.refreshToken }, { db: second }),
        ]);
        const succeeded = results.filter((r) => r.status === "fulfilled");
        const failed = results.filter((r) => r.status === "rejected");
        expect(succeeded).toHaveLength(1);
        expect(failed).toHaveLength(1);
        expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: "UNAUTHORIZED" });
        // Only one successor was ever created.
        expect(await database.db.refreshToken.count({ where: { familyId: start.sessionId } })).toBe(2);
      }

      // With a leeway (the browser case) the loser gets no token but the session lives on.
      const user = await createUser(database.db);
      const start = await startSession({ userId: user.id }, deps());
      const results = await Promise.all([
        rotateRefreshToken({ refreshToken: start.refreshToken, reuseLeewayMs: 10_000 }, { db: database.db }),
        rotateRefreshToken({ refreshToken: start.refreshToken, reuseLeewayMs: 10_000 }, { db: second }),
      ]);
      expect(results.filter((r) => r.refreshToken !== null)).toHaveLength(1);
      expect(results.filter((r) => r.refreshToken === null)).toHaveLength(1);
      expect(await isSessionActive({ userId: user.id, sessionId: start.sessionId }, deps())).toBe(true);
      expect(await database.db.refreshToken.count({ where: { familyId: start.sessionId } })).toBe(2);
    } finally {
      await second.$disconnect();
    }
  });

  it("refuses unknown, expired and revoked tokens without revoking anything", async () => {
    const user = await createUser(database.db);
    expect((await caught(rotateRefreshToken({ refreshToken: "x".repeat(43) }, deps()))).code).toBe(
      "UNAUTHORIZED",
    );
    expect((await caught(rotateRefreshToken({ refreshToken: "" }, deps()))).code).toBe("UNAUTHORIZED");

    const t0 = new Date("2026-04-01T00:00:00Z");
    const expiring = await startSession({ userId: user.id }, deps(t0));
    const afterExpiry = new Date(t0.getTime() + REFRESH_TTL_MS);
    expect(
      (await caught(rotateRefreshToken({ refreshToken: expiring.refreshToken }, deps(afterExpiry)))).code,
    ).toBe("UNAUTHORIZED");
    expect((await familyRows(expiring.sessionId))[0]?.revokedAt).toBeNull();

    const revoked = await startSession({ userId: user.id }, deps());
    await revokeSession({ userId: user.id, sessionId: revoked.sessionId, reason: "logout" }, deps());
    expect((await caught(rotateRefreshToken({ refreshToken: revoked.refreshToken }, deps()))).code).toBe(
      "UNAUTHORIZED",
    );
  });
});

describe("session management", () => {
  it("isSessionActive is scoped to the user and follows revocation", async () => {
    const [alice, bob] = [await createUser(database.db), await createUser(database.db)];
    const session = await startSession({ userId: alice.id }, deps());
    expect(await isSessionActive({ userId: alice.id, sessionId: session.sessionId }, deps())).toBe(true);
    expect(await isSessionActive({ userId: bob.id, sessionId: session.sessionId }, deps())).toBe(false);
    expect(await isSessionActive({ userId: alice.id, sessionId: "not-a-uuid" }, deps())).toBe(false);
    await revokeSession({ userId: alice.id, sessionId: session.sessionId, reason: "logout" }, deps());
    expect(await isSessionActive({ userId: alice.id, sessionId: session.sessionId }, deps())).toBe(false);
  });

  it("revokeSession: NOT_FOUND for another user's session (left alive), idempotent, audited as auth.logout", async () => {
    const [alice, mallory] = [await createUser(database.db), await createUser(database.db)];
    const session = await startSession({ userId: alice.id }, deps());
    const crossUser = await caught(
      revokeSession({ userId: mallory.id, sessionId: session.sessionId, reason: "revoked" }, deps()),
    );
    expect(crossUser).toMatchObject({ code: "NOT_FOUND" });
    expect(await isSessionActive({ userId: alice.id, sessionId: session.sessionId }, deps())).toBe(true);
    expect(
      (await caught(revokeSession({ userId: alice.id, sessionId: "x", reason: "logout" }, deps()))).code,
    ).toBe("NOT_FOUND");

    const ctx = { ...deps(), ip: "192.0.2.44", userAgent: "Safari" };
    expect(
      await revokeSession({ userId: alice.id, sessionId: session.sessionId, reason: "logout" }, ctx),
    ).toEqual({
      revoked: 1,
    });
    expect(
      await revokeSession({ userId: alice.id, sessionId: session.sessionId, reason: "logout" }, ctx),
    ).toEqual({
      revoked: 0,
    });
    const events = await database.db.auditEvent.findMany({ where: { userId: alice.id } });
    expect(events).toEqual([
      expect.objectContaining({ action: "auth.logout", targetId: session.sessionId, ip: "192.0.2.44" }),
    ]);
    expect(await database.db.auditEvent.count({ where: { userId: mallory.id } })).toBe(0);
  });

  it("revokeAllSessions ends every session but the one kept, and only the user's", async () => {
    const [alice, bob] = [await createUser(database.db), await createUser(database.db)];
    const keep = await startSession({ userId: alice.id }, deps());
    const a2 = await startSession({ userId: alice.id }, deps());
    const a3 = await startSession({ userId: alice.id }, deps());
    await rotateRefreshToken({ refreshToken: a3.refreshToken }, deps());
    const bobs = await startSession({ userId: bob.id }, deps());

    const result = await revokeAllSessions(
      { userId: alice.id, reason: "logout_all", exceptSessionId: keep.sessionId },
      deps(),
    );
    expect(result).toEqual({ revoked: 2 });
    expect(await isSessionActive({ userId: alice.id, sessionId: keep.sessionId }, deps())).toBe(true);
    expect(await isSessionActive({ userId: alice.id, sessionId: a2.sessionId }, deps())).toBe(false);
    expect(await isSessionActive({ userId: alice.id, sessionId: a3.sessionId }, deps())).toBe(false);
    expect(await isSessionActive({ userId: bob.id, sessionId: bobs.sessionId }, deps())).toBe(true);

    expect(await revokeAllSessions({ userId: alice.id, reason: "logout_all" }, deps())).toEqual({
      revoked: 1,
    });
    expect(await isSessionActive({ userId: alice.id, sessionId: keep.sessionId }, deps())).toBe(false);
    expect(
      await database.db.auditEvent.count({ where: { userId: alice.id, action: "auth.logout_all" } }),
    ).toBe(2);
  });

  it("listSessions: the user's live sessions, newest first, with the latest device and the current one marked", async () => {
    const [alice, bob] = [await createUser(database.db), await createUser(database.db)];
    const t0 = Date.now();
    const old = await startSession(
      { userId: alice.id, userAgent: "Old", ip: "192.0.2.1" },
      deps(new Date(t0 - 60_000)),
    );
    const current = await startSession({ userId: alice.id, userAgent: "Cur" }, deps(new Date(t0 - 30_000)));
    const gone = await startSession({ userId: alice.id }, deps(new Date(t0 - 10_000)));
    await revokeSession({ userId: alice.id, sessionId: gone.sessionId, reason: "logout" }, deps());
    await startSession({ userId: bob.id }, deps());
    await rotateRefreshToken(
      { refreshToken: old.refreshToken, userAgent: "Old v2", ip: "192.0.2.2" },
      deps(new Date(t0)),
    );

    const sessions = await listSessions({ userId: alice.id, currentSessionId: current.sessionId }, deps());
    expect(sessions).toEqual([
      {
        id: current.sessionId,
        userAgent: "Cur",
        ip: null,
        createdAt: new Date(t0 - 30_000),
        lastUsedAt: new Date(t0 - 30_000),
        current: true,
      },
      {
        id: old.sessionId,
        userAgent: "Old v2",
        ip: "192.0.2.2",
        createdAt: new Date(t0 - 60_000),
        lastUsedAt: new Date(t0),
        current: false,
      },
    ]);
  });
});
