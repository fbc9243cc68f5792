/**
 * Demo data: a demo user and a small sample project, so a fresh install has something to show.
 * Idempotent: run it any number of times; what exists is left alone (edits to the sample files
 * are never overwritten).
 *
 *   npm run db:seed     DATABASE_URL, or the embedded PostgreSQL of `npm start` when unset.
 *                       Applies pending migrations first.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPrismaClient, type Db, type DbTx } from "#app/db/client.server.ts";

export const DEMO_EMAIL = "demo@agentry.local";
export const SAMPLE_PROJECT_NAME = "Sample project";

/** The sample project's files: a tiny Node.js library with a test, enough for an agent to work on. */
export const SAMPLE_FILES: ReadonlyArray<{ path: string; language: string; content: string }> = [
  {
    path: "README.md",
    language: "markdown",
    content: `# Sample project

A tiny Node.js library to try Agentry on. Run its tests with \`node --test\`.
`,
  },
  {
    path: "src/greet.js",
    language: "javascript",
    content: `/** Greet someone by name. */
export function greet(name) {
  return \`Hello, \${name}!\`;
}
`,
  },
  {
    path: "test/greet.test.js",
    language: "javascript",
    content: `import assert from "node:assert/strict";
import { test } from "node:test";
import { greet } from "../src/greet.js";

test("greets by name", () => {
  assert.equal(greet("Ada"), "Hello, Ada!");
});
`,
  },
];

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export type SeedResult = { userId: string; projectId: string; createdFiles: string[] };

/** Create whatever part of the demo data is missing; returns the demo user's and project's ids. */
export async function seed(db: Db): Promise<SeedResult> {
  return db.$transaction(async (tx: DbTx) => {
    // No password: the demo account cannot sign in with one until its owner sets it.
    const user = await tx.user.upsert({
      where: { email: DEMO_EMAIL },
      create: { email: DEMO_EMAIL, name: "Demo User", passwordHash: null },
      update: {},
      select: { id: true },
    });
    const project =
      (await tx.project.findFirst({
        where: { userId: user.id, name: SAMPLE_PROJECT_NAME },
        select: { id: true },
        orderBy: { createdAt: "asc" },
      })) ??
      (await tx.project.create({
        data: {
          userId: user.id,
          name: SAMPLE_PROJECT_NAME,
          description: "A tiny Node.js library with a test, to try Agentry on.",
        },
        select: { id: true },
      }));

    const createdFiles: string[] = [];
    for (const file of SAMPLE_FILES) {
      const exists = await tx.codeSnippet.findUnique({
        where: { projectId_path: { projectId: project.id, path: file.path } },
        select: { id: true },
      });
      if (exists) continue;
      const size = Buffer.byteLength(file.content);
      const hash = sha256(file.content);
      await tx.codeSnippet.create({
        data: {
          userId: user.id,
          projectId: project.id,
          path: file.path,
          language: file.language,
          content: file.content,
          size,
          sha256: hash,
          version: 1,
          versions: {
            create: {
              userId: user.id,
              projectId: project.id,
              version: 1,
              path: file.path,
              content: file.content,
              size,
              sha256: hash,
              source: "create",
            },
          },
        },
      });
      createdFiles.push(file.path);
    }
    return { userId: user.id, projectId: project.id, createdFiles };
  });
}

async function main() {
  const { ensureEmbeddedPostgres } = await import("#app/db/embedded-postgres.server.ts");
  const { migrate } = await import("#app/db/migrate.server.ts");
  const { loadEnv } = await import("#app/env.server.ts");
  const { redactDatabaseUrl } = await import("#app/lib/logger.server.ts");

  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const env = loadEnv(process.env, root);
  const embedded = env.DATABASE_URL
    ? undefined
    : await ensureEmbeddedPostgres({ dataDir: env.dataDir, ifRunning: "attach" });
  const connectionString = env.DATABASE_URL ?? embedded!.url;
  try {
    await migrate({ connectionString, migrationsDir: path.join(root, "prisma", "migrations") });
    const db = createPrismaClient({ connectionString, max: 2, applicationName: "agentry-seed" });
    try {
      const result = await seed(db);
      console.info(
        `Seeded ${redactDatabaseUrl(connectionString)}: user ${DEMO_EMAIL}, project "${SAMPLE_PROJECT_NAME}" (${
          result.createdFiles.length > 0 ? `created ${result.createdFiles.join(", ")}` : "already complete"
        }).`,
      );
    } finally {
      await db.$disconnect();
    }
  } catch (error) {
    console.error(`Seeding failed: ${(error as Error).message}`);
    process.exitCode = 1;
  } finally {
    await embedded?.stop();
  }
}

// Run only as a script (`tsx prisma/seed.ts`), not when a test imports seed().
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
