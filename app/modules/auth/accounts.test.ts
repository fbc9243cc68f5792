import { hash } from "@node-rs/argon2";
import { describe, expect, it } from "vitest";
import { AppError } from "#app/lib/app-error.ts";
import { createUser, uniqueEmail } from "#tests/factories/index.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { changePassword, getSignInMethods, getUser, login, signup } from "./accounts.server.ts";
import { hashPassword, verifyPassword } from "./password.server.ts";
import { isSessionActive, startSession } from "./sessions.server.ts";

const database = setupTestDatabase();
const deps = () => ({ db: database.db });
const PASSWORD = "correct horse battery";

async function caught(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn().catch(() => {});
  return performance.now() - started;
}

const audits = (where: { userId?: string | null; action?: string }) =>
  database.db.auditEvent.findMany({ where, orderBy: { createdAt: "asc" } });

describe("signup", () => {
  it("normalises the email, hashes the password, returns only public fields, records auth.signup", async () => {
    const email = uniqueEmail("Signup").toUpperCase();
    const { user } = await signup(
      { email: `  ${email} `, password: PASSWORD, name: "  Ada  ", ip: "203.0.113.1", userAgent: "vitest" },
      deps(),
    );
    expect(Object.keys(user).sort()).toEqual(["createdAt", "email", "id", "name"]);
    expect(user.email).toBe(email.toLowerCase());
    expect(user.name).toBe("Ada");
    const row = await database.db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row.passwordHash).not.toContain(PASSWORD);
    const [event] = await audits({ userId: user.id, action: "auth.signup" });
    expect(event).toMatchObject({ ip: "203.0.113.1", userAgent: "vitest", targetId: user.id });
  });

  it("refuses a taken email (whatever its case) with CONFLICT, and a short password with BAD_REQUEST", async () => {
    const email = uniqueEmail("dup");
    await signup({ email, password: PASSWORD, name: "First" }, deps());
    const error = await caught(
      signup({ email: email.toUpperCase(), password: PASSWORD, name: "Second" }, deps()),
    );
    expect(error).toMatchObject({ code: "CONFLICT", message: "Could not create an account with this email" });
    expect(await database.db.user.count({ where: { email } })).toBe(1);

    const short = await caught(signup({ email: uniqueEmail(), password: "123456789", name: "X" }, deps()));
    expect(short).toMatchObject({ code: "BAD_REQUEST", message: "Password must be at least 10 characters" });
  });
});

describe("login", () => {
  it("accepts the right password (any email case) and records auth.login.success", async () => {
    const email = uniqueEmail("login");
    const { user } = await signup({ email, password: PASSWORD, name: "L" }, deps());
    const result = await login(
      { email: ` ${email.toUpperCase()}`, password: PASSWORD, ip: "198.51.100.2" },
      deps(),
    );
    expect(result.user).toEqual(user);
    expect(await audits({ userId: user.id, action: "auth.login.success" })).toEqual([
      expect.objectContaining({ ip: "198.51.100.2" }),
    ]);
  });

  it("answers a wrong password, an unknown email and a password-less account with the same UNAUTHORIZED", async () => {
    const email = uniqueEmail("known");
    const { user } = await signup({ email, password: PASSWORD, name: "K" }, deps());
    const githubOnly = await createUser(database.db, { passwordHash: null });
    const unknown = uniqueEmail("nobody");

    const errors = [
      await caught(login({ email, password: "wrong password!" }, deps())),
      await caught(login({ email: unknown, password: PASSWORD }, deps())),
      await caught(login({ email: githubOnly.email, password: PASSWORD }, deps())),
    ];
    for (const error of errors) {
      expect({ code: error.code, message: error.message, details: error.details }).toEqual({
        code: "UNAUTHORIZED",
        message: "Invalid email or password",
        details: undefined,
      });
    }
    expect(await audits({ userId: user.id, action: "auth.login.failed" })).toHaveLength(1);
    expect(await audits({ userId: githubOnly.id, action: "auth.login.failed" })).toHaveLength(1);
    const anonymous = await database.db.auditEvent.findMany({
      where: { userId: null, action: "auth.login.failed", data: { path: ["email"], equals: unknown } },
    });
    expect(anonymous).toHaveLength(1);
  });

  it("spends about the same time on an unknown email as on a wrong password (medians of 7)", async () => {
    const email = uniqueEmail("timing");
    await signup({ email, password: PASSWORD, name: "T" }, deps());
    const wrong: number[] = [];
    const unknown: number[] = [];
    await timed(() => login({ email, password: "warm-up attempt" }, deps()));
    for (let i = 0; i < 7; i++) {
      // Interleaved, so drift in machine load hits both alike.
      wrong.push(await timed(() => login({ email, password: `wrong password ${i}` }, deps())));
      unknown.push(await timed(() => login({ email: uniqueEmail("ghost"), password: PASSWORD }, deps())));
    }
    const [w, u] = [median(wrong), median(unknown)];
    console.info(
      `[auth] failed login median: wrong password ${w.toFixed(1)} ms, unknown email ${u.toFixed(1)} ms`,
    );
    // Without the burn, an unknown email would skip one argon2 verification and come back faster by
    // that much. So: not faster by half a verification or more, and not much slower either.
    const phc = await hashPassword(PASSWORD);
    const verifies: number[] = [];
    for (let i = 0; i < 5; i++) verifies.push(await timed(() => verifyPassword(phc, `x${i}`)));
    const v = median(verifies);
    console.info(`[auth] one argon2 verification: ${v.toFixed(1)} ms`);
    expect(u).toBeGreaterThan(w - 0.5 * v);
    expect(u).toBeLessThan(w + Math.max(0.5 * w, 6));
  });

  it("upgrades a hash made under an older policy at the next successful login", async () => {
    const weak = await hash(PASSWORD, { memoryCost: 4096, timeCost: 3, parallelism: 1 });
    const user = await createUser(database.db, { passwordHash: weak });
    await login({ email: user.email, password: PASSWORD }, deps());
    const row = await database.db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    await expect(login({ email: user.email, password: PASSWORD }, deps())).resolves.toBeTruthy();
  });

  it("measures: login p50 over 20 logins", async () => {
    const email = uniqueEmail("p50");
    await signup({ email, password: PASSWORD, name: "P" }, deps());
    const runs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await login({ email, password: PASSWORD }, deps());
      runs.push(performance.now() - started);
    }
    const sorted = [...runs].sort((a, b) => a - b);
    console.info(
      `[auth] login() p50 ${median(runs).toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms (20 runs)`,
    );
    expect(runs).toHaveLength(20);
  });
});

describe("changePassword", () => {
  it("checks the current password, then replaces it and signs out every other session", async () => {
    const email = uniqueEmail("change");
    const { user } = await signup({ email, password: PASSWORD, name: "C" }, deps());
    const here = await startSession({ userId: user.id }, deps());
    const elsewhere = await startSession({ userId: user.id }, deps());

    const wrong = await caught(
      changePassword(
        { userId: user.id, currentPassword: "not it at all", newPassword: "a new password!" },
        deps(),
      ),
    );
    expect(wrong).toMatchObject({ code: "BAD_REQUEST", message: "Current password is incorrect" });
    const tooShort = await caught(
      changePassword({ userId: user.id, currentPassword: PASSWORD, newPassword: "short" }, deps()),
    );
    expect(tooShort.code).toBe("BAD_REQUEST");

    const result = await changePassword(
      {
        userId: user.id,
        currentPassword: PASSWORD,
        newPassword: "a new password!",
        keepSessionId: here.sessionId,
      },
      deps(),
    );
    expect(result).toEqual({ revokedSessions: 1 });
    expect(await isSessionActive({ userId: user.id, sessionId: here.sessionId }, deps())).toBe(true);
    expect(await isSessionActive({ userId: user.id, sessionId: elsewhere.sessionId }, deps())).toBe(false);

    await expect(login({ email, password: "a new password!" }, deps())).resolves.toBeTruthy();
    expect((await caught(login({ email, password: PASSWORD }, deps()))).code).toBe("UNAUTHORIZED");
    expect(await audits({ userId: user.id, action: "auth.password.changed" })).toEqual([
      expect.objectContaining({ data: { revokedSessions: 1 } }),
    ]);
  });
});

describe("changePassword without a password yet", () => {
  it("a GitHub-only account sets its first password without a current one; then the current one is required", async () => {
    const user = await createUser(database.db, { email: uniqueEmail("ghonly"), passwordHash: null });
    expect(await getSignInMethods({ userId: user.id }, deps())).toMatchObject({ hasPassword: false });
    await changePassword({ userId: user.id, newPassword: "my first password" }, deps());
    expect(await getSignInMethods({ userId: user.id }, deps())).toMatchObject({ hasPassword: true });
    const { user: signedIn } = await login({ email: user.email, password: "my first password" }, deps());
    expect(signedIn.id).toBe(user.id);
    await expect(
      changePassword({ userId: user.id, newPassword: "another password!" }, deps()),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "Current password is incorrect",
    });
  });
});

describe("getUser", () => {
  it("returns the public profile, NOT_FOUND for an unknown or malformed id", async () => {
    const created = await createUser(database.db, { name: "Grace" });
    expect(await getUser({ userId: created.id }, deps())).toEqual({
      id: created.id,
      email: created.email,
      name: "Grace",
      createdAt: created.createdAt,
    });
    expect((await caught(getUser({ userId: "0190a5a4-0000-7000-8000-000000000000" }, deps()))).code).toBe(
      "NOT_FOUND",
    );
    expect((await caught(getUser({ userId: "nope" }, deps()))).code).toBe("NOT_FOUND");
  });
});
