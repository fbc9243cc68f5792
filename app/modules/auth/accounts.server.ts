/**
 * Accounts with a password: sign up, log in, change the password, read the public profile.
 * Error messages never tell whether an email has an account (signup aside, which cannot help it).
 */
import type { Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { recordAuditEvent } from "./audit.server.ts";
import { type PublicUser, ZChangePasswordInput, ZLoginInput, ZSignupInput } from "./auth.types.ts";
import {
  type AuthDeps,
  clock,
  isUniqueViolation,
  isUuid,
  parseInput,
  requestContext,
} from "./deps.server.ts";
import { burnPasswordCheck, hashPassword, needsRehash, verifyPassword } from "./password.server.ts";
import { revokeUserSessions } from "./sessions.server.ts";

export const PUBLIC_USER_SELECT = {
  id: true,
  email: true,
  name: true,
  createdAt: true,
} as const satisfies Prisma.UserSelect;

type RequestInfo = { ip?: string; userAgent?: string };

/**
 * Create an account with a password (email normalised, password ≥ 10 characters, argon2id).
 * CONFLICT when the email is taken. Audit "auth.signup". Does not start a session.
 */
export async function signup(
  input: { email: string; password: string; name: string } & RequestInfo,
  deps: AuthDeps,
): Promise<{ user: PublicUser }> {
  const { email, password, name } = parseInput(ZSignupInput, input);
  // Hash outside the transaction: ~10 ms of CPU (argon2id, 19 MiB) should not hold a connection.
  const passwordHash = await hashPassword(password);
  try {
    const user = await deps.db.$transaction(async (tx) => {
      const created = await tx.user.create({
        data: { email, name, passwordHash },
        select: PUBLIC_USER_SELECT,
      });
      await recordAuditEvent(tx, {
        userId: created.id,
        action: "auth.signup",
        targetType: "user",
        targetId: created.id,
        ...requestContext(input, deps),
        data: { method: "password" },
      });
      return created;
    });
    return { user };
  } catch (error) {
    if (isUniqueViolation(error, "email")) {
      throw new AppError("CONFLICT", "Could not create an account with this email");
    }
    throw error;
  }
}

const invalidCredentials = () => new AppError("UNAUTHORIZED", "Invalid email or password");

/**
 * Check an email and password. Every failure (unknown email, account without a password, wrong
 * password) costs one argon2 verification and ends in the same UNAUTHORIZED "Invalid email or
 * password". Audit "auth.login.success" / "auth.login.failed" (with the userId when the account
 * exists, `data.email` otherwise). Does not start a session.
 */
export async function login(
  input: { email: string; password: string } & RequestInfo,
  deps: AuthDeps,
): Promise<{ user: PublicUser }> {
  const { email, password } = parseInput(ZLoginInput, input);
  const context = requestContext(input, deps);
  const account = await deps.db.user.findUnique({
    where: { email },
    select: { ...PUBLIC_USER_SELECT, passwordHash: true },
  });

  let valid = false;
  if (account?.passwordHash) valid = await verifyPassword(account.passwordHash, password);
  else await burnPasswordCheck(password);

  if (!account || !valid) {
    await recordAuditEvent(deps.db, {
      userId: account?.id ?? null,
      action: "auth.login.failed",
      ...context,
      data: account ? { method: "password" } : { method: "password", email },
    });
    throw invalidCredentials();
  }

  const { passwordHash, ...user } = account;
  if (passwordHash && needsRehash(passwordHash)) {
    // The policy changed since this hash was made; the plaintext is at hand only now.
    await deps.db.user.update({
      where: { id: user.id },
      data: { passwordHash: await hashPassword(password) },
    });
  }
  await recordAuditEvent(deps.db, {
    userId: user.id,
    action: "auth.login.success",
    ...context,
    data: { method: "password" },
  });
  return { user };
}

/**
 * Change the password after checking the current one, and sign out every other session
 * (all of them when `keepSessionId` is not given). Audit "auth.password.changed".
 *
 * A wrong current password is BAD_REQUEST (not UNAUTHORIZED): the caller is signed in, and a 401
 * would tell clients their session had ended.
 */
export async function changePassword(
  input: {
    userId: string;
    currentPassword?: string;
    newPassword: string;
    keepSessionId?: string;
  } & RequestInfo,
  deps: AuthDeps,
): Promise<{ revokedSessions: number }> {
  const { currentPassword, newPassword } = parseInput(ZChangePasswordInput, input);
  const notFound = () => new AppError("NOT_FOUND", "User not found");
  if (!isUuid(input.userId)) throw notFound();
  const account = await deps.db.user.findUnique({
    where: { id: input.userId },
    select: { id: true, passwordHash: true },
  });
  if (!account) throw notFound();

  // An account without a password (GitHub sign-in only) sets its first one: the session proves who this is.
  if (account.passwordHash) {
    const valid = currentPassword ? await verifyPassword(account.passwordHash, currentPassword) : false;
    if (!valid) {
      throw new AppError("BAD_REQUEST", "Current password is incorrect", {
        issues: [{ path: ["currentPassword"], message: "Current password is incorrect" }],
      });
    }
  }

  const passwordHash = await hashPassword(newPassword);
  const now = clock(deps);
  const context = requestContext(input, deps);
  return deps.db.$transaction(async (tx) => {
    await tx.user.update({ where: { id: account.id }, data: { passwordHash } });
    const revokedSessions = await revokeUserSessions(
      tx,
      { userId: account.id, reason: "password_changed", exceptSessionId: input.keepSessionId },
      now,
    );
    await recordAuditEvent(tx, {
      userId: account.id,
      action: "auth.password.changed",
      targetType: "user",
      targetId: account.id,
      ...context,
      data: { revokedSessions },
    });
    return { revokedSessions };
  });
}

/** What the settings page needs to know about how the user signs in. */
export async function getSignInMethods(
  input: { userId: string },
  deps: Pick<AuthDeps, "db">,
): Promise<{ hasPassword: boolean; githubLinked: boolean }> {
  const user = isUuid(input.userId)
    ? await deps.db.user.findUnique({
        where: { id: input.userId },
        select: { passwordHash: true, githubId: true },
      })
    : null;
  if (!user) throw new AppError("NOT_FOUND", "User not found");
  return { hasPassword: user.passwordHash !== null, githubLinked: user.githubId !== null };
}

/** The user's public profile; NOT_FOUND when there is no such user. */
export async function getUser(input: { userId: string }, deps: Pick<AuthDeps, "db">): Promise<PublicUser> {
  const user = isUuid(input.userId)
    ? await deps.db.user.findUnique({ where: { id: input.userId }, select: PUBLIC_USER_SELECT })
    : null;
  if (!user) throw new AppError("NOT_FOUND", "User not found");
  return user;
}
