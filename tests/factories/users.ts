import { randomBytes } from "node:crypto";
import type { DbOrTx, Prisma } from "#app/db/client.server.ts";

let counter = 0;

/** A unique, valid-looking email: factories must never collide, even across parallel test files. */
export function uniqueEmail(label = "user"): string {
  counter += 1;
  return `${label}-${counter}-${randomBytes(4).toString("hex")}@example.test`;
}

/** A user with a unique email and no password (tests that log in set `passwordHash`). */
export function createUser(db: DbOrTx, overrides: Partial<Prisma.UserUncheckedCreateInput> = {}) {
  return db.user.create({
    data: { email: uniqueEmail(), name: "Test User", ...overrides },
  });
}
