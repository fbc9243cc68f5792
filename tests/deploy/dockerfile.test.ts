import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkDockerfile,
  checkFlyToml,
  contextFiles,
  isIgnored,
  loadTomlParser,
  parseCopy,
  parseDockerfile,
  parseDockerignore,
  parseEnv,
  replay,
  repoRoot,
} from "../../scripts/check-dockerfile.ts";

const read = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");
const dockerfile = read("Dockerfile");
const dockerignore = read(".dockerignore");
const flyToml = read("fly.toml");

/** A failed finding's message shows which invariant broke and what was found. */
function failures(findings: Array<{ ok: boolean; check: string; detail?: string }>) {
  return findings.filter((f) => !f.ok).map((f) => `${f.check}${f.detail ? ` (${f.detail})` : ""}`);
}

describe("Dockerfile", () => {
  it("keeps every deployment invariant", () => {
    expect(failures(checkDockerfile(dockerfile, dockerignore))).toEqual([]);
  });

  it("is read stage by stage, continuations and comments included", () => {
    const stages = parseDockerfile(dockerfile);
    expect(stages.map((s) => s.name)).toEqual(["base", "deps", "build", "prod-deps", "runtime"]);
    const runtime = stages.at(-1)!;
    expect(runtime.from).toMatch(/^node:(20|22)-bookworm-slim$/);
    const apt = runtime.instructions.find((i) => i.cmd === "RUN" && i.args.includes("apt-get"));
    expect(apt?.args).toContain("bubblewrap");
  });

  it("catches the mistakes it exists to catch", () => {
    const broken = (from: string, to: string) => {
      expect(dockerfile).toContain(from);
      return failures(checkDockerfile(dockerfile.replace(from, to), dockerignore));
    };
    expect(broken("USER 10001:10001", "USER root")).toEqual([expect.stringContaining("non-root USER")]);
    expect(broken("COPY --from=prod-deps /app/node_modules", "COPY --from=deps /app/node_modules")).toEqual([
      expect.stringContaining("npm ci --omit=dev"),
    ]);
    expect(broken("FROM node:22-bookworm-slim AS runtime", "FROM node:latest AS runtime")).toEqual([
      expect.stringContaining("pinned"),
    ]);
    expect(broken("bubblewrap ca-certificates", "ca-certificates")).toEqual([
      expect.stringContaining("bubblewrap"),
    ]);
    expect(broken("EXPOSE 3000", "EXPOSE 8080")).toEqual([expect.stringContaining("EXPOSE 3000")]);
    expect(broken('CMD ["node", "build/agentry/server.js"]', "CMD npm start")).toEqual([
      expect.stringContaining("built entry"),
    ]);
    expect(
      failures(checkDockerfile(dockerfile, dockerignore.replace(/^\.data$/m, ""))).some((f) =>
        f.includes("excludes .data"),
      ),
    ).toBe(true);
  });

  it("parses COPY and ENV as Docker does", () => {
    expect(parseCopy("--from=build /app/build build")).toEqual({
      from: "build",
      sources: ["/app/build"],
      dest: "build",
    });
    expect(parseCopy("a b dir/")).toEqual({ sources: ["a", "b"], dest: "dir/" });
    expect(parseEnv('A=1 B="two words" C=')).toEqual({ A: "1", B: "two words", C: "" });
    expect(parseEnv("LEGACY value here")).toEqual({ LEGACY: "value here" });
  });
});

describe(".dockerignore", () => {
  const rules = parseDockerignore(dockerignore);

  it("follows Docker's matching: parents, ** and the last rule wins", () => {
    const r = parseDockerignore("node_modules\n**/*.log\n.env.*\n!.env.example\n/build/\n");
    expect(isIgnored(r, "node_modules/a/b.js")).toBe(true);
    expect(isIgnored(r, "app/node_modules")).toBe(false); // not anchored at a deeper level without **
    expect(isIgnored(r, "deep/dir/x.log")).toBe(true);
    expect(isIgnored(r, ".env.local")).toBe(true);
    expect(isIgnored(r, ".env.example")).toBe(false);
    expect(isIgnored(r, "build/server/index.js")).toBe(true);
    expect(isIgnored(r, "app/build.ts")).toBe(false);
  });

  it("leaves local state, secrets and outputs out of the build context", () => {
    const files = contextFiles(repoRoot, rules);
    const banned =
      /^(node_modules|\.data[^/]*|\.git|build|test-results|playwright-report|app\/generated)(\/|$)|^\.env$/;
    expect(files.filter((f) => banned.test(f))).toEqual([]);
    // What the Dockerfile needs is there.
    for (const needed of ["package.json", "package-lock.json", "server.ts", "prisma/schema.prisma"]) {
      expect(files).toContain(needed);
    }
    expect(files.some((f) => f.startsWith("prisma/migrations/") && f.endsWith("migration.sql"))).toBe(true);
  });
});

describe("fly.toml", () => {
  it("keeps the process groups, release command and checks", () => {
    expect(failures(checkFlyToml(flyToml, dockerfile))).toEqual([]);
  });

  it("runs both groups from the same built entry with the real --role flag", () => {
    const fly = loadTomlParser().parse(flyToml) as { processes: Record<string, string> };
    expect(fly.processes).toEqual({
      app: "node build/agentry/server.js --role web",
      worker: "node build/agentry/server.js --role worker",
    });
    // server.ts is what reads the flag: keep the two in step.
    expect(read("server.ts")).toContain('a === "--role"');
  });

  it("names the migrate entry that scripts/build.mjs writes", () => {
    expect(read("scripts/build.mjs")).toContain('outfile: path.join(root, "build/migrate.js")');
  });
});

// The replay builds the image's stages for real (npm ci twice + a build: minutes), so only on request:
// CHECK_DOCKER=1 TEST_DATABASE_URL=… npx vitest run tests/deploy, or `npm run check:docker`.
describe.runIf(process.env.CHECK_DOCKER === "1")("Dockerfile replay", () => {
  it(
    "builds the stages, then runs the final stage's files as uid 10001 against a real database",
    async () => {
      const databaseUrl = process.env.TEST_DATABASE_URL;
      if (!databaseUrl) throw new Error("CHECK_DOCKER=1 needs TEST_DATABASE_URL");
      const report = await replay({ databaseUrl, log: () => {} });
      expect(failures(report.checks)).toEqual([]);
    },
    15 * 60_000,
  );
});
