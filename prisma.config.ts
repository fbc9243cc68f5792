import { defineConfig } from "prisma/config";

/**
 * Prisma 7 reads the connection URL from here, not from schema.prisma. The CLI
 * commands we use offline (`prisma generate`, `prisma validate`, `prisma format`)
 * need no URL, so a missing DATABASE_URL is not an error at this level; where a
 * schema-engine binary exists, `prisma migrate deploy` uses DATABASE_URL and
 * agrees with our own runner (same `_prisma_migrations` rows and checksums).
 */
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: {
    path: "prisma/migrations",
    seed: "tsx prisma/seed.ts",
  },
  datasource: {
    url: process.env.DATABASE_URL,
  },
});
