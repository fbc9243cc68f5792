import { isUuid } from "#app/lib/use-case.ts";

export { clock, isUuid, parseInput } from "#app/lib/use-case.ts";

/**
 * What every projects use case takes as its second argument, and the helpers they share.
 */
import { createHash } from "node:crypto";
import type { Db, DbOrTx } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";

export type ProjectsDeps = {
  db: Db;
  /** The clock. Default `() => new Date()`; tests pass a fixed one. */
  now?: () => Date;
};

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export const projectNotFound = () => new AppError("NOT_FOUND", "Project not found");
export const fileNotFound = (path: string) => new AppError("NOT_FOUND", `File not found: ${path}`);

/**
 * Throw NOT_FOUND unless `projectId` is a project of `userId`. Another user's project and a missing one
 * answer the same, so ids cannot be probed.
 */
export async function assertProjectOwned(db: DbOrTx, userId: string, projectId: string): Promise<void> {
  if (!isUuid(projectId) || !isUuid(userId)) throw projectNotFound();
  const found = await db.project.findFirst({ where: { id: projectId, userId }, select: { id: true } });
  if (!found) throw projectNotFound();
}

/** Bump the project's lastActivityAt (the dashboard's sort key). */
export async function touchProject(db: DbOrTx, userId: string, projectId: string, at: Date): Promise<void> {
  await db.project.updateMany({ where: { id: projectId, userId }, data: { lastActivityAt: at } });
}

/**
 * A unique-constraint violation: Prisma's P2002 from model queries, or PostgreSQL's 23505 surfacing from a
 * raw query (P2010).
 */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, message, meta } = error as { code?: unknown; message?: unknown; meta?: { code?: unknown } };
  if (code === "P2002") return true;
  return code === "P2010" && (meta?.code === "23505" || String(message).includes("23505"));
}
