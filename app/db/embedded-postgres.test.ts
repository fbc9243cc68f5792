import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  type EmbeddedPostgres,
  EmbeddedPostgresError,
  ensureEmbeddedPostgres,
} from "#app/db/embedded-postgres.server.ts";
import { loadOrCreateLocalSecrets } from "#app/platform/local-secrets.server.ts";

/**
 * Real PostgreSQL processes in temp dirs under os.tmpdir() (not /root: as root
 * the server runs as OS user postgres, which must reach the data dir).
 * Every server, child process and dir made here is torn down in afterAll.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const moduleUrl = pathToFileURL(path.join(here, "embedded-postgres.server.ts")).href;
const tsxLoader = pathToFileURL(path.resolve(here, "../../node_modules/tsx/dist/loader.mjs")).href;
const isRoot = process.getuid?.() === 0;

const tempDirs: string[] = [];
const handles: EmbeddedPostgres[] = [];
const children: ChildProcess[] = [];
const pids = new Set<number>();

/** mkdtemp makes 0700 dirs; open it up (like a project checkout) unless the test wants it closed. */
async function tempDir({ closed = false } = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "agentry-epg-"));
  tempDirs.push(dir);
  if (!closed) await fs.chmod(dir, 0o755);
  return dir;
}

/** Collects lifecycle notes so tests can tell which recovery path ran. */
function recordingLogger() {
  const lines: string[] = [];
  const note = (level: string) => (msg: string) => {
    if (!msg.startsWith("[")) lines.push(`${level} ${msg}`); // skip PostgreSQL's own [postgres]/[initdb] lines
  };
  return { lines, logger: { debug: note("debug"), info: note("info"), warn: note("warn") } };
}

async function start(dataDir: string, extra: Partial<Parameters<typeof ensureEmbeddedPostgres>[0]> = {}) {
  const handle = await ensureEmbeddedPostgres({ dataDir, ...extra });
  handles.push(handle);
  const postmaster = await postmasterPid(dataDir);
  if (postmaster) pids.add(postmaster);
  return handle;
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(dataDir, "postgres", "postmaster.pid"), "utf8").catch(() => "");
  const pid = Number.parseInt(text.split("\n")[0] ?? "", 10);
  return Number.isInteger(pid) ? pid : undefined;
}

/** Alive and not a zombie (orphans are reparented to an init that may reap them seconds later). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

async function waitDead(pid: number, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(alive(pid)).toBe(false);
}

/** PostgreSQL processes whose working directory is inside `dir` (the postmaster and its children chdir there). */
async function postgresProcessesUnder(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const cwd = await fs.readlink(`/proc/${name}/cwd`).catch(() => "");
    if (cwd.startsWith(dir)) found.push(Number(name));
  }
  return found;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** A separate Node process that starts the server and prints its URL, like `npm start` would. */
async function startInChild(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const script = path.join(path.dirname(dataDir), "start-embedded.mts");
  await fs.writeFile(
    script,
    `import { ensureEmbeddedPostgres } from ${JSON.stringify(moduleUrl)};
const db = await ensureEmbeddedPostgres({ dataDir: process.argv[2] });
process.stdout.write(JSON.stringify({ url: db.url }) + "\\n");
setInterval(() => {}, 1 << 30);
`,
  );
  const child = spawn(process.execPath, ["--import", tsxLoader, script, dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => {
      resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before ready: ${stderr}`)));
  });
  const postmaster = await postmasterPid(dataDir);
  if (postmaster) pids.add(postmaster);
  return { child, url };
}

async function sigkill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

afterEach(async () => {
  while (handles.length > 0) await handles.pop()!.stop();
});

afterAll(async () => {
  for (const child of children) await sigkill(child);
  for (const pid of pids) {
    if (alive(pid)) process.kill(pid, "SIGKILL");
  }
  for (const dir of tempDirs) {
    expect(await postgresProcessesUnder(dir)).toEqual([]);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

describe("ensureEmbeddedPostgres", () => {
  it("initialises, keeps data across restarts on the same URL, and refuses a second owner", async () => {
    const dataDir = path.join(await tempDir(), "data");

    let t = performance.now();
    const first = await start(dataDir);
    const coldMs = performance.now() - t;

    const url = new URL(first.url);
    expect(url.protocol).toBe("postgresql:");
    expect(url.hostname).toBe("127.0.0.1");
    expect(url.pathname).toBe("/agentry");
    expect(Number(url.port)).toBe(first.port);
    expect(first.attached).toBe(false);

    // The password is the generated one from secrets.json, which records the port too.
    const secrets = await loadOrCreateLocalSecrets(dataDir);
    expect(decodeURIComponent(url.password)).toBe(secrets.postgresPassword);
    expect(secrets.postgresPort).toBe(first.port);
    expect((await fs.stat(path.join(dataDir, "secrets.json"))).mode & 0o777).toBe(0o600);
    if (isRoot) {
      // Closed to everyone but the postgres group, which must traverse it to reach the cluster.
      expect((await fs.stat(dataDir)).mode & 0o777).toBe(0o710);
    }

    const [settings] = await query<{ listen: string; sockets: string; addr: string; encoding: string }>(
      first.url,
      `SELECT current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets,
              host(inet_server_addr()) AS addr, pg_encoding_to_char(encoding) AS encoding
         FROM pg_database WHERE datname = current_database()`,
    );
    expect(settings).toEqual({ listen: "127.0.0.1", sockets: "", addr: "127.0.0.1", encoding: "UTF8" });
    await query(first.url, "CREATE TABLE kept (v text)");
    await query(first.url, "INSERT INTO kept VALUES ($1)", ["survives restart"]);

    // Wrong password is rejected: auth is really on.
    const wrong = new URL(first.url);
    wrong.password = "not-the-password";
    await expect(query(wrong.toString(), "SELECT 1")).rejects.toMatchObject({ code: "28P01" });

    // A second start on the same dir while it runs: clear failure by default, or attach on request.
    const failure = await ensureEmbeddedPostgres({ dataDir }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(EmbeddedPostgresError);
    expect((failure as EmbeddedPostgresError).code).toBe("ALREADY_RUNNING");
    const attached = await ensureEmbeddedPostgres({ dataDir, ifRunning: "attach" });
    expect(attached).toMatchObject({ url: first.url, port: first.port, attached: true });
    await attached.stop(); // not ours: must leave the server running
    expect(await query(first.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);

    const postmaster = (await postmasterPid(dataDir))!;
    t = performance.now();
    await first.stop();
    const stopMs = performance.now() - t;
    await waitDead(postmaster);
    expect(await postmasterPid(dataDir)).toBeUndefined(); // clean shutdown removes it
    await first.stop(); // idempotent

    t = performance.now();
    const second = await start(dataDir);
    const warmMs = performance.now() - t;
    expect(second.url).toBe(first.url);
    expect(await query(second.url, "SELECT v FROM kept")).toEqual([{ v: "survives restart" }]);
    await second.stop();

    console.info(
      `embedded PostgreSQL: cold start (initdb) ${coldMs.toFixed(0)} ms, warm restart ${warmMs.toFixed(0)} ms, stop ${stopMs.toFixed(0)} ms`,
    );
  }, 60_000);

  it("creates a named database when missing and honours an explicit port", async () => {
    // Nested and not yet existing, like .data/e2e: the parents we create must stay reachable.
    const dataDir = path.join(await tempDir(), ".data", "e2e");
    const db = await start(dataDir, { database: "agentry_other" });
    expect(new URL(db.url).pathname).toBe("/agentry_other");
    await db.stop();

    // The recorded port is taken by someone else: a new free port is chosen and recorded.
    const blocker = await import("node:net").then(
      ({ createServer }) =>
        new Promise<import("node:net").Server>((resolve) => {
          const s = createServer();
          s.listen(db.port, "127.0.0.1", () => resolve(s));
        }),
    );
    try {
      const moved = await start(dataDir, { database: "agentry_other" });
      expect(moved.port).not.toBe(db.port);
      expect((await loadOrCreateLocalSecrets(dataDir)).postgresPort).toBe(moved.port);
      await moved.stop();

      // An explicit port is a requirement, not a preference.
      const error = await ensureEmbeddedPostgres({ dataDir, port: db.port }).catch((e: unknown) => e);
      expect((error as EmbeddedPostgresError).code).toBe("PORT_IN_USE");
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  }, 60_000);

  it("recovers after the owning process and the postmaster were SIGKILLed, and takes over an orphan", async () => {
    const dataDir = path.join(await tempDir(), "data");

    // 1. kill -9 both sides: a stale postmaster.pid stays behind.
    const run1 = await startInChild(dataDir);
    await query(run1.url, "CREATE TABLE crash (v int)");
    await query(run1.url, "INSERT INTO crash VALUES (1)");
    const postmaster1 = (await postmasterPid(dataDir))!;
    await sigkill(run1.child);
    process.kill(postmaster1, "SIGKILL");
    await waitDead(postmaster1);
    expect(await postmasterPid(dataDir)).toBe(postmaster1);

    const log1 = recordingLogger();
    const recovered = await start(dataDir, { logger: log1.logger });
    expect(log1.lines).toContainEqual(expect.stringMatching(/^info removing stale postmaster\.pid/));
    expect(recovered.url).toBe(run1.url);
    expect(await query(recovered.url, "SELECT v FROM crash")).toEqual([{ v: 1 }]);
    await recovered.stop();

    // 2. kill -9 only the Node side: the postmaster keeps running, orphaned.
    const run2 = await startInChild(dataDir);
    const postmaster2 = (await postmasterPid(dataDir))!;
    await sigkill(run2.child);
    expect(alive(postmaster2)).toBe(true);

    const log2 = recordingLogger();
    const takenOver = await start(dataDir, { logger: log2.logger });
    expect(log2.lines).toContainEqual(expect.stringMatching(/^warn taking over PostgreSQL \d+ orphaned/));
    await waitDead(postmaster2);
    expect(await postmasterPid(dataDir)).not.toBe(postmaster2);
    expect(await query(takenOver.url, "SELECT v FROM crash")).toEqual([{ v: 1 }]);
    await takenOver.stop();
  }, 60_000);

  it("ignores a postmaster.pid whose pid now belongs to an unrelated process", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const db = await start(dataDir);
    await db.stop();

    // After a reboot or container restart the old pid may name a live, unrelated process;
    // PostgreSQL alone would refuse to start ("lock file already exists").
    const impostor = spawn("sleep", ["30"], { stdio: "ignore" });
    children.push(impostor);
    const pidFile = path.join(dataDir, "postgres", "postmaster.pid");
    await fs.writeFile(
      pidFile,
      `${impostor.pid}\n${path.join(dataDir, "postgres")}\n0\n${db.port}\n\n127.0.0.1\n0 0\nready   \n`,
    );

    const log = recordingLogger();
    const restarted = await start(dataDir, { logger: log.logger });
    expect(log.lines).toContainEqual(expect.stringMatching(/^info removing stale postmaster\.pid/));
    expect(await query(restarted.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    expect(alive(impostor.pid!)).toBe(true); // never touched
    await restarted.stop();
    await sigkill(impostor);
  }, 60_000);

  it("lets two callers starting at once agree: one runs the server, the other attaches", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const [a, b] = await Promise.all([
      start(dataDir, { ifRunning: "attach" }),
      start(dataDir, { ifRunning: "attach" }),
    ]);
    expect(a.url).toBe(b.url);
    expect([a.attached, b.attached].sort()).toEqual([false, true]);
    expect(await query(a.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    // Only the owner's record is left, and only until it stops.
    expect((await fs.readdir(dataDir)).filter((n) => n.startsWith("postgres.owner-"))).toHaveLength(1);
    await (a.attached ? b : a).stop();
    expect((await fs.readdir(dataDir)).filter((n) => n.startsWith("postgres.owner-"))).toHaveLength(0);
  }, 60_000);

  it.runIf(isRoot)("as root, fails clearly when user postgres cannot reach the data dir", async () => {
    const locked = await tempDir({ closed: true }); // 0700 root, like /root
    const dataDir = path.join(locked, "home", "data");
    const error = await ensureEmbeddedPostgres({ dataDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddedPostgresError);
    expect((error as EmbeddedPostgresError).code).toBe("PERMISSION");
    expect((error as Error).message).toContain(`blocked at ${locked}`);
    expect(await fs.readdir(path.join(dataDir))).not.toContain("postgres");
  });
});
