import { createHash } from "node:crypto";
import type { DbOrTx, Prisma } from "#app/db/client.server.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A project owned by `userId`. */
export function createProject(
  db: DbOrTx,
  { userId, ...overrides }: { userId: string } & Partial<Prisma.ProjectUncheckedCreateInput>,
) {
  return db.project.create({
    data: { userId, name: `Project ${Math.random().toString(36).slice(2, 8)}`, ...overrides },
  });
}

/**
 * A file (CodeSnippet) at version 1 with its first FileVersion, as a real save would write them.
 * size and sha256 follow the content.
 */
export function createFile(
  db: DbOrTx,
  {
    userId,
    projectId,
    path = `src/file-${Math.random().toString(36).slice(2, 8)}.ts`,
    content = "export const answer = 42;\n",
    language = "typescript",
  }: { userId: string; projectId: string; path?: string; content?: string; language?: string | null },
) {
  const size = Buffer.byteLength(content);
  const hash = sha256(content);
  return db.codeSnippet.create({
    data: {
      userId,
      projectId,
      path,
      content,
      language,
      size,
      sha256: hash,
      version: 1,
      versions: {
        create: { userId, projectId, version: 1, path, content, size, sha256: hash, source: "create" },
      },
    },
    include: { versions: true },
  });
}
