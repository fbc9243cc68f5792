/**
 * Runs one command of an agent or workflow in a bubblewrap sandbox. What it blocks, and how:
 *
 * - Network: a new network namespace (`--unshare-all`) holding only its own loopback. No DNS (no
 *   resolv.conf, no route: EAI_AGAIN), no route out (ENETUNREACH, IPv4 and IPv6, the host's own address
 *   included), nothing listening on its 127.0.0.1 (ECONNREFUSED: the host's PostgreSQL, web server and every
 *   loopback service live in another namespace), no host unix socket (no /run, no /var). Abstract unix
 *   sockets belong to the network namespace too.
 * - Reading: a new mount namespace whose root is an empty tmpfs, remounted read-only. Into it, read-only and
 *   one by one: /usr/{bin,sbin,lib,lib32,lib64,libx32,libexec,share,include} (not /usr/local), the /bin,
 *   /lib… links, a short list of harmless /etc entries (dynamic linker, alternatives, zoneinfo, nsswitch,
 *   public CA certificates…; not shadow, not ssl/private, not resolv.conf), node's own directory
 *   (process.execPath), the operator's readOnlyPaths, and synthetic /etc/passwd, /etc/group, /etc/hosts.
 *   Nothing else of the host exists: no /root, /home, /work, /var, /run, /sys, /opt, /mnt, /srv; no app
 *   directory (a workspace that contains a `protectedPaths` entry is refused); no other run's workspace;
 *   symlinks pointing out of the workspace resolve inside the sandbox, to nothing.
 * - Writing: only the workspace (bound read-write at /workspace), a private size-capped tmpfs /tmp (HOME is
 *   /tmp/home) and a private 64 MiB /dev/shm; both tmpfs vanish with the sandbox. Everything else is
 *   read-only (EROFS) or absent.
 * - /proc: the sandbox's own (new PID namespace: it sees only its own processes; /proc/1 is its init, started
 *   with an empty environment). /proc/sys and /proc/fs are bound read-only and Docker's sensitive entries
 *   (kcore, keys, kmsg, kpage*, timer_list, acpi…) hidden — needed because the sandbox user is the app's
 *   uid on the host (root here) and sysctl files check that uid, not capabilities: writable, kernel.
 *   core_pattern would run a program of the sandbox's choosing as host root.
 * - Privileges: a new user namespace in which the command runs as uid/gid 1000 with every capability dropped
 *   and no further user namespaces (`--disable-userns`); new IPC, UTS and cgroup namespaces;
 *   `--new-session` (no terminal injection); every mount nosuid,nodev. Host processes cannot be signalled or
 *   traced: they are not in its PID namespace.
 * - Environment: empty (`--clearenv`) plus an allow-list with fixed values (PATH, HOME, USER, LOGNAME,
 *   SHELL, LANG, TERM, TMPDIR, PWD) and the caller's explicit `env`. Nothing of the app's environment is
 *   inherited (bwrap itself starts with an empty one), nor any descriptor the app holds without
 *   close-on-exec. bwrap's arguments (env values included) go through a pipe, so host `ps` shows none.
 * - Resources: a cgroup per command where the host allows one (pids.max on processes+threads; the memory of
 *   the whole tree, OOM-killed inside); prlimit inside the sandbox for file size (RLIMIT_FSIZE), CPU seconds
 *   per process (RLIMIT_CPU: SIGXCPU, then SIGKILL a second later), processes (RLIMIT_NPROC) and no core
 *   dumps; without a memory cgroup, RLIMIT_AS per process (at least 1 GiB, Node needs it). The workspace's
 *   filesystem is polled (statfs, every 100 ms): past `diskBytes` of growth the command is killed.
 * - Time: a wall-clock timeout (and the caller's AbortSignal) SIGKILLs bwrap; its init dies with it
 *   (`--die-with-parent`) and the kernel kills every process of the PID namespace, SIGTERM-ignoring and
 *   setsid'd grandchildren included; the cgroup is swept too. When the command exits on its own, whatever it
 *   left running dies the same way. If the app dies, bwrap dies.
 * - Output: stdout+stderr together kept up to maxOutputBytes, the rest counted and dropped.
 *
 * Not blocked: the kernel's system-call surface (no seccomp filter: a kernel exploit escapes); reading public
 * host facts (/proc/cpuinfo, /proc/meminfo, the kernel version, read-only sysctls, the host path of the
 * workspace in /proc/self/mountinfo); CPU share (two sandboxes keep two cores busy until their limits); disk
 * bandwidth. The disk cap overshoots by what is written in 100 ms and counts other writers to the same
 * filesystem. Files the command writes belong to the app's uid on the host, and it may leave symlinks in the
 * workspace pointing anywhere: host-side code must not follow them (lstat). Without a pids cgroup a root
 * app has no process limit (the kernel exempts uid 0 from RLIMIT_NPROC); detectSandbox says so
 * (enforcement.processes "none").
 *
 * Unsafe mode (`allowUnsafe` and bwrap unusable): the same env allow-list, rlimits, cgroup, timeout,
 * process-group kill and output cap, but no namespaces at all: the command sees and reaches all the app can.
 */

import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { constants as fsConstants, realpathSync } from "node:fs";
import { access, lstat, mkdtemp, readlink, realpath, rm, stat, statfs } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { inSpan } from "#app/lib/trace.server.ts";
import {
  type CgroupParents,
  createSandboxCgroup,
  detectCgroupParents,
  type SandboxCgroup,
} from "./cgroup.server.ts";
import { OutputCapture } from "./output.server.ts";
import {
  DEFAULT_SANDBOX_LIMITS,
  SANDBOX_UID,
  SANDBOX_USER,
  SANDBOX_WORKSPACE_PATH,
  type SandboxConfig,
  type SandboxLimitHit,
  type SandboxLimits,
  type SandboxRequest,
  type SandboxResult,
  type SandboxStatus,
  ZSandboxLimits,
} from "./sandbox.types.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Node (V8 reserves address space up front) does not start under a smaller RLIMIT_AS. */
const MIN_ADDRESS_SPACE = GiB;
const DEV_SHM_BYTES = 64 * MiB;
const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_TIMEOUT_MS = 24 * 3_600_000;
const DEFAULT_MAX_OUTPUT = MiB;
const MAX_OUTPUT_LIMIT = 256 * MiB;
const DISK_POLL_MS = 100;
/** After the command exits, how long its pipes may stay open (a stray holder) before we stop reading. */
const PIPE_GRACE_MS = 2_000;
const SANDBOX_HOME = "/tmp/home";
const SEARCH_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"];
const STANDARD_PATH = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];
const USR_DIRS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32", "libexec", "share", "include"];
const ROOT_LINKS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];
/** /etc entries a toolchain needs and that hold nothing secret (not /etc/ssl/private, not shadow, not the resolver). */
const ETC_ENTRIES = [
  "alternatives",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "localtime",
  "timezone",
  "nsswitch.conf",
  "ssl/certs",
  "ssl/openssl.cnf",
  "ca-certificates",
  "mime.types",
  "protocols",
  "services",
  "os-release",
];

/** /proc entries hidden (like Docker's masked paths): kernel memory, keys, timers, hardware. */
const PROC_MASKED_FILES = [
  "kcore",
  "keys",
  "kmsg",
  "kpagecount",
  "kpageflags",
  "kpagecgroup",
  "latency_stats",
  "mtrr",
  "sched_debug",
  "timer_list",
  "timer_stats",
];
const PROC_MASKED_DIRS = ["acpi", "asound", "scsi"];
/** /proc entries made read-only (bwrap itself covers irq, bus and sysrq-trigger). */
const PROC_READ_ONLY = ["sys", "fs"];

/**
 * The first program of every command, run by bash on the host: closes every inherited descriptor above "$1"
 * (the app may hold some without close-on-exec: a supervisor's pipe, a socket), joins the cgroup(s) given as
 * the next "$2" arguments, then execs the rest, so no process of the command runs outside its cgroup.
 */
const PRELUDE_SCRIPT = [
  "keep=$1; n=$2; shift 2",
  // No redirection in this loop: bash would park stderr on a spare descriptor that the loop might close.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a JS template
  'for fd in /proc/$$/fd/*; do fd=${fd##*/}; if [ "$fd" -gt "$keep" ] && [ -e "/proc/$$/fd/$fd" ]; then eval "exec $fd>&-"; fi; done',
  'while [ "$n" -gt 0 ]; do echo $$ > "$1" || { echo "agentry-sandbox: cannot join cgroup $1" >&2; exit 125; }; shift; n=$((n-1)); done',
  'exec "$@"',
].join("\n");

export type SandboxErrorCode = "SANDBOX_UNAVAILABLE" | "SANDBOX_INVALID_REQUEST";

/** Thrown when a command is refused (never for the command failing: that is a result). */
export class SandboxError extends Error {
  override readonly name = "SandboxError";
  constructor(
    readonly code: SandboxErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isSandboxError(error: unknown): error is SandboxError {
  return (
    error instanceof SandboxError ||
    (error instanceof Error &&
      error.name === "SandboxError" &&
      typeof (error as { code?: unknown }).code === "string")
  );
}

// ─── Host discovery (once per config) ────────────────────────────────────────

type Probe = {
  status: SandboxStatus;
  bwrapPath?: string;
  prlimitPath?: string;
  /** bwrap understands --disable-userns (0.8+). */
  disableUserns: boolean;
  cgroups: CgroupParents | null;
  /** Read-only system mounts, as bwrap arguments. */
  systemArgs: string[];
  /** /proc hardening, as bwrap arguments (after --proc). */
  procArgs: string[];
  /** PATH inside the sandbox (node's directory first). */
  sandboxPath: string;
  /** PATH in unsafe mode. */
  hostPath: string;
  /** Runs PRELUDE_SCRIPT: bash (it can close any descriptor), else /bin/sh (only 3–9). */
  preludeShell: string;
  /** env(1), to start bwrap with an empty environment and to drop SHLVL in unsafe mode. */
  envPath?: string;
};

const probes = new Map<string, Promise<Probe>>();

function configKey(config: SandboxConfig): string {
  return JSON.stringify([
    config.bwrapPath ?? "bwrap",
    config.prlimitPath ?? "prlimit",
    Boolean(config.allowUnsafe),
    config.protectedPaths ?? [],
    config.readOnlyPaths ?? [],
    config.nodePath ?? process.execPath,
    config.cgroup ?? "auto",
    config.cgroupParent ?? "",
  ]);
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of a binary: as given when absolute, else the first of SEARCH_DIRS that has it. */
async function findBinary(name: string): Promise<string | undefined> {
  if (path.isAbsolute(name)) return (await isExecutable(name)) ? name : undefined;
  if (name.includes("/")) return undefined;
  for (const dir of SEARCH_DIRS) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** `inner` is `outer` or below it. */
function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

async function realOrResolved(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch {
    return path.resolve(file);
  }
}

async function systemMounts(
  config: SandboxConfig,
  prlimitPath: string | undefined,
): Promise<{ args: string[]; bound: string[]; nodeDir: string }> {
  const args: string[] = [];
  const bound: string[] = [];
  const addTree = async (host: string, dest = host) => {
    const info = await lstat(host).catch(() => undefined);
    if (!info) return;
    if (info.isSymbolicLink()) args.push("--symlink", await readlink(host), dest);
    else {
      args.push("--ro-bind", host, dest);
      bound.push(host);
    }
  };
  for (const dir of USR_DIRS) await addTree(`/usr/${dir}`);
  for (const dir of ROOT_LINKS) await addTree(`/${dir}`);
  for (const entry of ETC_ENTRIES) {
    const host = `/etc/${entry}`;
    if (await exists(host)) args.push("--ro-bind", host, host);
  }
  const covered = (p: string) => bound.some((b) => isWithin(p, b));
  const protectedPaths = await Promise.all((config.protectedPaths ?? []).map(realOrResolved));

  const nodeDir = path.dirname(realpathSync(config.nodePath ?? process.execPath));
  if (protectedPaths.some((p) => isWithin(p, nodeDir)))
    throw new Error(`node's directory ${nodeDir} contains a protected path`);
  if (!covered(nodeDir)) {
    args.push("--ro-bind", nodeDir, nodeDir);
    bound.push(nodeDir);
    // A node install prefix (…/bin/node) keeps npm and npx in …/lib/node_modules.
    const modules = path.join(nodeDir, "..", "lib", "node_modules");
    if (path.basename(nodeDir) === "bin" && (await exists(modules)) && !covered(modules))
      args.push("--ro-bind", path.resolve(modules), path.resolve(modules));
  }
  if (prlimitPath && !covered(prlimitPath)) args.push("--ro-bind", prlimitPath, prlimitPath);
  for (const extra of config.readOnlyPaths ?? []) {
    if (!path.isAbsolute(extra)) throw new Error(`readOnlyPaths: ${extra} is not absolute`);
    const real = await realpath(extra).catch(() => undefined);
    if (!real) throw new Error(`readOnlyPaths: ${extra} does not exist`);
    if (protectedPaths.some((p) => isWithin(p, real) || isWithin(real, p)))
      throw new Error(`readOnlyPaths: ${extra} overlaps a protected path`);
    args.push("--ro-bind", real, real);
  }
  return { args, bound, nodeDir };
}

/**
 * The sandbox user is the app's own uid on the host (root here), and some kernel checks compare uids, not
 * capabilities: sysctl files are writable by uid 0 (kernel.core_pattern would run a program of the
 * sandbox's choice as host root). So /proc/sys (and /proc/fs) are bound read-only, and Docker's list of
 * sensitive /proc entries is hidden. Only entries this kernel has (bwrap cannot create files in /proc).
 */
async function procHardening(): Promise<string[]> {
  const args: string[] = [];
  for (const entry of PROC_READ_ONLY)
    if (await exists(`/proc/${entry}`)) args.push("--ro-bind", `/proc/${entry}`, `/proc/${entry}`);
  for (const entry of PROC_MASKED_FILES)
    if (await exists(`/proc/${entry}`)) args.push("--ro-bind", "/dev/null", `/proc/${entry}`);
  for (const entry of PROC_MASKED_DIRS)
    if (await exists(`/proc/${entry}`))
      args.push("--tmpfs", `/proc/${entry}`, "--remount-ro", `/proc/${entry}`);
  return args;
}

/** Run a small program to completion (no sandbox): for `bwrap --version` and the probe. */
function runPlain(
  file: string,
  args: string[],
  options: { stdin?: string[]; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const extra = options.stdin ?? [];
    const stdio: StdioOptions = ["ignore", "pipe", "pipe", ...extra.map(() => "pipe" as const)];
    const child = spawn(file, args, { env: {} as NodeJS.ProcessEnv, stdio });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    extra.forEach((data, i) => {
      const stream = child.stdio[3 + i] as Writable | null;
      stream?.on("error", () => {});
      stream?.end(data);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr || error.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function nodeDirectory(config: SandboxConfig): string {
  const nodePath = config.nodePath ?? process.execPath;
  try {
    return path.dirname(realpathSync(nodePath));
  } catch {
    return path.dirname(nodePath);
  }
}

async function probe(config: SandboxConfig): Promise<Probe> {
  const isRoot = process.getuid?.() === 0;
  const cgroups = config.cgroup === "off" ? null : await detectCgroupParents(config.cgroupParent);
  const cgroupMemory = Boolean(cgroups?.memory);
  const cgroupPids = Boolean(cgroups?.pids);
  const enforcement: SandboxStatus["enforcement"] = {
    memory: cgroupMemory ? "cgroup" : "rlimit-as",
    processes: cgroupPids ? "cgroup" : isRoot ? "none" : "rlimit",
    cgroup: cgroups?.version ?? null,
  };
  const prlimitPath = await findBinary(config.prlimitPath ?? "prlimit");
  const bwrapPath = await findBinary(config.bwrapPath ?? "bwrap");
  const nodeDir = nodeDirectory(config);
  const hostPath = [nodeDir, ...STANDARD_PATH.filter((p) => p !== nodeDir)].join(":");
  const bashPath = await findBinary("bash");
  const preludeShell = bashPath ?? "/bin/sh";
  const envPath = await findBinary("env");
  const base = {
    envPath,
    prlimitPath,
    cgroups,
    disableUserns: false,
    systemArgs: [],
    procArgs: [],
    sandboxPath: hostPath,
    hostPath,
    preludeShell,
  };
  const notes: string[] = [];
  if (!bashPath)
    notes.push("bash was not found: descriptors above 9 that the app inherited stay open in commands");
  if (enforcement.processes === "none")
    notes.push(
      "no usable pids cgroup and the app runs as root: the process limit is not enforced (only the timeout bounds a fork bomb)",
    );

  const refuse = (reason: string): Probe => ({
    ...base,
    status: config.allowUnsafe
      ? {
          mode: "unsafe",
          reason: `${reason}. Commands run WITHOUT isolation (unsafe local mode).`,
          enforcement,
        }
      : { mode: "unavailable", reason, enforcement },
  });

  if (!bwrapPath) return refuse(`bubblewrap (${config.bwrapPath ?? "bwrap"}) was not found`);
  if (!prlimitPath) return refuse(`prlimit (${config.prlimitPath ?? "prlimit"}) was not found`);
  const version = await runPlain(bwrapPath, ["--version"], { timeoutMs: 5_000 });
  const bwrapVersion = /(\d+\.\d+(?:\.\d+)?)/.exec(version.stdout)?.[1];
  if (version.code !== 0) return refuse(`${bwrapPath} --version failed: ${version.stderr.trim()}`);

  let mounts: Awaited<ReturnType<typeof systemMounts>>;
  try {
    mounts = await systemMounts(config, prlimitPath);
  } catch (error) {
    // A configuration mistake is not "bwrap is missing": never fall back to the unsafe mode for it.
    return {
      ...base,
      status: {
        mode: "unavailable",
        reason: `sandbox configuration: ${(error as Error).message}`,
        enforcement,
      },
    };
  }
  const procArgs = await procHardening();
  const sandboxPath = [mounts.nodeDir, ...STANDARD_PATH.filter((p) => p !== mounts.nodeDir)].join(":");

  // Probe: a trivial command in the very sandbox commands get (a tmpfs stands in for the workspace).
  let disableUserns = true;
  let lastError = "";
  for (const attempt of [true, false]) {
    disableUserns = attempt;
    const plan = bwrapArgs({
      systemArgs: mounts.args,
      procArgs,
      disableUserns,
      workspace: null,
      cwd: SANDBOX_WORKSPACE_PATH,
      env: baseEnv(sandboxPath, SANDBOX_HOME),
      tmpBytes: 16 * MiB,
    });
    const result = await runPlain(bwrapPath, ["--args", "3", "--", "true"], {
      stdin: [plan.args, ...plan.files],
      timeoutMs: 10_000,
    });
    if (result.code === 0) {
      return {
        ...base,
        bwrapPath,
        disableUserns,
        systemArgs: mounts.args,
        procArgs,
        sandboxPath,
        status: {
          mode: "bwrap",
          bwrapVersion,
          enforcement,
          ...(notes.length > 0 ? { reason: notes.join("; ") } : {}),
        },
      };
    }
    lastError = result.stderr.trim() || `exit code ${result.code}`;
    // Older bwrap: retry without the option it does not know.
    if (!/unknown option.*disable-userns/i.test(lastError)) break;
  }
  return refuse(
    `bubblewrap ${bwrapVersion ?? ""} cannot create a sandbox here: ${lastError}`.replace("  ", " "),
  );
}

async function getProbe(config: SandboxConfig, refresh = false): Promise<Probe> {
  const key = configKey(config);
  let found = refresh ? undefined : probes.get(key);
  if (!found) {
    found = probe(config);
    probes.set(key, found);
    // An unexpected failure is not cached: the next call probes again.
    found.catch(() => probes.delete(key));
  }
  return found;
}

/**
 * Whether and how commands can run here: "bwrap" (isolated), "unsafe" (bwrap unusable, the operator allowed
 * running without isolation) or "unavailable" (commands are refused). Probes once per config by running a
 * trivial command in a real sandbox; `refresh` probes again.
 */
export async function detectSandbox(
  config: SandboxConfig = {},
  options: { refresh?: boolean } = {},
): Promise<SandboxStatus> {
  return (await getProbe(config, options.refresh)).status;
}

// ─── The sandbox's arguments ─────────────────────────────────────────────────

function baseEnv(pathValue: string, home: string): Record<string, string> {
  return {
    PATH: pathValue,
    HOME: home,
    USER: SANDBOX_USER,
    LOGNAME: SANDBOX_USER,
    SHELL: "/bin/sh",
    LANG: "C.UTF-8",
    TERM: "dumb",
    TMPDIR: "/tmp",
  };
}

const PASSWD = `root:x:0:0:root:/root:/usr/sbin/nologin\n${SANDBOX_USER}:x:${SANDBOX_UID}:${SANDBOX_UID}:${SANDBOX_USER}:${SANDBOX_HOME}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`;
const GROUP = `root:x:0:\n${SANDBOX_USER}:x:${SANDBOX_UID}:\nnogroup:x:65534:\n`;
const HOSTS = "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/**
 * bwrap's options, NUL-separated for `--args 3`, and the synthetic files it reads from fds 4–6.
 * `workspace` null: an empty tmpfs instead (the probe).
 */
function bwrapArgs(plan: {
  systemArgs: string[];
  procArgs: string[];
  disableUserns: boolean;
  workspace: string | null;
  cwd: string;
  env: Record<string, string>;
  tmpBytes: number;
}): { args: string; files: string[] } {
  const args = [
    "--unshare-all",
    "--unshare-user",
    ...(plan.disableUserns ? ["--disable-userns"] : []),
    "--uid",
    String(SANDBOX_UID),
    "--gid",
    String(SANDBOX_UID),
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    "sandbox",
    ...plan.systemArgs,
    "--ro-bind-data",
    "4",
    "/etc/passwd",
    "--ro-bind-data",
    "5",
    "/etc/group",
    "--ro-bind-data",
    "6",
    "/etc/hosts",
    "--size",
    String(plan.tmpBytes),
    "--tmpfs",
    "/tmp",
    "--dir",
    SANDBOX_HOME,
    "--dev",
    "/dev",
    "--size",
    String(DEV_SHM_BYTES),
    "--tmpfs",
    "/dev/shm",
    "--proc",
    "/proc",
    ...plan.procArgs,
    ...(plan.workspace === null
      ? ["--tmpfs", SANDBOX_WORKSPACE_PATH]
      : ["--bind", plan.workspace, SANDBOX_WORKSPACE_PATH]),
    // Last: nothing but the mounts above stays writable.
    "--remount-ro",
    "/dev",
    "--remount-ro",
    "/",
    "--chdir",
    plan.cwd,
    "--clearenv",
    ...Object.entries(plan.env).flatMap(([name, value]) => ["--setenv", name, value]),
  ];
  return { args: `${args.join("\0")}\0`, files: [PASSWD, GROUP, HOSTS] };
}

function rlimitArgs(limits: SandboxLimits, options: { nproc: boolean; addressSpace: boolean }): string[] {
  return [
    `--fsize=${limits.fileSizeBytes}`,
    `--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + 1}`,
    "--core=0",
    ...(options.nproc ? [`--nproc=${limits.processes}`] : []),
    ...(options.addressSpace ? [`--as=${Math.max(limits.memoryBytes, MIN_ADDRESS_SPACE)}`] : []),
  ];
}

// ─── Running ─────────────────────────────────────────────────────────────────

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type ValidRequest = {
  argv: string[];
  workspace: string;
  /** Relative to the workspace ("" = the workspace). */
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  limits: SandboxLimits;
  maxOutputBytes: number;
};

/**
 * The command owns the workspace (its uid is the app's on the host) and may leave a setuid program there:
 * other host users must not be able to reach it. So some directory above the workspace (the command can
 * chmod the workspace itself) must be closed to "others".
 */
async function closedToOthers(workspace: string): Promise<boolean> {
  for (let dir = path.dirname(workspace); ; dir = path.dirname(dir)) {
    const mode = (await stat(dir)).mode;
    if ((mode & 0o001) === 0) return true;
    if (dir === "/") return false;
  }
}

async function validate(
  request: SandboxRequest,
  config: SandboxConfig,
  mode: "bwrap" | "unsafe",
): Promise<ValidRequest> {
  const invalid = (message: string) => new SandboxError("SANDBOX_INVALID_REQUEST", message);
  let argv: string[];
  if (request.command !== undefined) {
    if (typeof request.command !== "string" || request.command.trim() === "")
      throw invalid("command must be a non-empty string");
    argv = [request.shell ?? "/bin/sh", "-c", request.command];
  } else {
    if (!Array.isArray(request.argv) || request.argv.length === 0 || request.argv[0] === "")
      throw invalid("argv must be a non-empty array of strings");
    argv = request.argv;
  }
  if (argv.some((a) => typeof a !== "string" || a.includes("\0")))
    throw invalid("argv entries must be strings without NUL bytes");

  if (typeof request.workspace !== "string" || !path.isAbsolute(request.workspace))
    throw invalid("workspace must be an absolute path");
  let workspace: string;
  try {
    workspace = await realpath(request.workspace);
  } catch {
    throw invalid(`workspace ${request.workspace} does not exist`);
  }
  if (!(await stat(workspace)).isDirectory())
    throw invalid(`workspace ${request.workspace} is not a directory`);
  if (workspace === "/") throw invalid("the workspace cannot be /");
  for (const protectedPath of config.protectedPaths ?? []) {
    const real = await realOrResolved(protectedPath);
    if (isWithin(real, workspace))
      throw invalid(`workspace ${request.workspace} contains the protected path ${protectedPath}`);
  }
  if (mode === "bwrap" && !(await closedToOthers(workspace)))
    throw invalid(
      `workspace ${request.workspace} must be inside a directory that other users cannot enter (mode 0700 or 0750): a setuid file the command leaves there would be theirs to run`,
    );

  const cwd = path.posix.normalize(request.cwd ?? ".");
  if (path.posix.isAbsolute(cwd) || cwd === ".." || cwd.startsWith("../"))
    throw invalid("cwd must be a relative path inside the workspace");
  const cwdHost = path.join(workspace, cwd);
  if (!(await stat(cwdHost).catch(() => undefined))?.isDirectory())
    throw invalid(`cwd ${request.cwd} is not a directory of the workspace`);

  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.env ?? {})) {
    if (!ENV_NAME.test(name)) throw invalid(`invalid environment variable name: ${JSON.stringify(name)}`);
    if (typeof value !== "string" || value.includes("\0"))
      throw invalid(`environment variable ${name} must be a string without NUL bytes`);
    env[name] = value;
  }

  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS)
    throw invalid(`timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}`);
  const maxOutputBytes = request.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  if (!Number.isInteger(maxOutputBytes) || maxOutputBytes < 0 || maxOutputBytes > MAX_OUTPUT_LIMIT)
    throw invalid(`maxOutputBytes must be an integer from 0 to ${MAX_OUTPUT_LIMIT}`);
  const parsed = ZSandboxLimits.safeParse(request.limits ?? {});
  if (!parsed.success)
    throw invalid(
      `limits: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  const limits = { ...DEFAULT_SANDBOX_LIMITS, ...stripUndefined(parsed.data) };
  return { argv, workspace, cwd: cwd === "." ? "" : cwd, env, timeoutMs, limits, maxOutputBytes };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Process groups of running commands, killed if the app exits mid-run. */
const live = new Set<number>();
let exitHookInstalled = false;
function track(pid: number) {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const p of live) killGroup(p);
    });
  }
  live.add(pid);
}

/** SIGKILL the process group `pid` leads, and `pid` itself unless it was already reaped (its number may be reused). */
function killGroup(pid: number, options: { reaped?: boolean } = {}) {
  for (const target of options.reaped ? [-pid] : [-pid, pid]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** Signal number → name; the first name wins where two share a number (SIGABRT, not SIGIOT). */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(os.constants.signals))
  if (!SIGNAL_NAMES.has(num)) SIGNAL_NAMES.set(num, name as NodeJS.Signals);

async function usedBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return (s.blocks - s.bfree) * s.bsize;
  } catch {
    return undefined;
  }
}

/**
 * Run one command in the sandbox and wait for it. Resolves whatever the command does (non-zero exit, signal,
 * timeout, cancel, limits: see the result); rejects with SandboxError SANDBOX_UNAVAILABLE when commands are
 * refused on this host, SANDBOX_INVALID_REQUEST for a bad request, or with what `onOutput` threw.
 */
export async function runInSandbox(
  request: SandboxRequest,
  config: SandboxConfig = {},
): Promise<SandboxResult> {
  const result = await inSpan("sandbox.exec", {}, async (span) => {
    const done = await runCommand(request, config);
    span.setAttributes({
      "agentry.sandbox.mode": done.mode,
      "agentry.sandbox.outcome": outcomeOf(done),
      ...(done.exitCode !== null ? { "process.exit.code": done.exitCode } : {}),
    });
    return done;
  });
  if (observers.size > 0) {
    const observation: SandboxRunObservation = {
      mode: result.mode,
      outcome: outcomeOf(result),
      durationMs: result.durationMs,
    };
    for (const observer of observers) {
      try {
        observer(observation);
      } catch {
        // An observer (metrics) never fails a command.
      }
    }
  }
  return result;
}

/** What a finished command came to, for metrics. */
export type SandboxRunObservation = {
  mode: SandboxResult["mode"];
  outcome: "ok" | "failed" | "timeout" | "cancelled" | "limit";
  durationMs: number;
};

const observers = new Set<(observation: SandboxRunObservation) => void>();

/** Be told of every command this process runs in the sandbox (refused ones are not commands). Returns the unsubscribe. */
export function observeSandboxRuns(observer: (observation: SandboxRunObservation) => void): () => void {
  observers.add(observer);
  return () => {
    observers.delete(observer);
  };
}

function outcomeOf(result: SandboxResult): SandboxRunObservation["outcome"] {
  if (result.cancelled) return "cancelled";
  if (result.timedOut) return "timeout";
  if (result.limitsHit.length > 0) return "limit";
  return result.exitCode === 0 ? "ok" : "failed";
}

async function runCommand(request: SandboxRequest, config: SandboxConfig): Promise<SandboxResult> {
  const probed = await getProbe(config);
  const { status } = probed;
  if (status.mode === "unavailable")
    throw new SandboxError("SANDBOX_UNAVAILABLE", `Commands cannot run on this host: ${status.reason}`);
  const mode = status.mode;
  const req = await validate(request, config, mode);

  const result = (fields: Partial<SandboxResult>): SandboxResult => ({
    mode,
    exitCode: null,
    signal: null,
    timedOut: false,
    cancelled: false,
    limitsHit: [],
    outputTruncated: false,
    droppedBytes: 0,
    stdout: "",
    stderr: "",
    output: "",
    durationMs: 0,
    ...fields,
  });
  if (request.signal?.aborted) return result({ cancelled: true });

  let cgroup: SandboxCgroup | null = null;
  if (probed.cgroups) {
    // Fail closed: the probe promised these limits, so no command runs without them.
    try {
      cgroup = await createSandboxCgroup(probed.cgroups, {
        processes: req.limits.processes,
        memoryBytes: req.limits.memoryBytes,
      });
    } catch (error) {
      throw new SandboxError(
        "SANDBOX_UNAVAILABLE",
        `Could not create the command's cgroup: ${(error as Error).message}`,
      );
    }
  }
  let unsafeHome: string | undefined;
  try {
    const procsFiles = cgroup?.procsFiles ?? [];
    // bwrap mode keeps fds 3–6: its arguments and synthetic files.
    const keepFds = mode === "bwrap" ? 6 : 2;
    const chain = [
      probed.preludeShell,
      "-c",
      PRELUDE_SCRIPT,
      "agentry-sandbox",
      String(keepFds),
      String(procsFiles.length),
      ...procsFiles,
    ];
    const limitArgs = probed.prlimitPath
      ? [
          probed.prlimitPath,
          ...rlimitArgs(req.limits, { nproc: mode === "bwrap", addressSpace: !cgroup?.limitsMemory }),
          "--",
        ]
      : [];
    let spawnEnv: Record<string, string>;
    let dataFds: string[] = [];
    let cwd: string;
    if (mode === "bwrap") {
      const sandboxCwd = path.posix.join(SANDBOX_WORKSPACE_PATH, req.cwd);
      const plan = bwrapArgs({
        systemArgs: probed.systemArgs,
        procArgs: probed.procArgs,
        disableUserns: probed.disableUserns,
        workspace: req.workspace,
        cwd: sandboxCwd,
        env: { ...baseEnv(probed.sandboxPath, SANDBOX_HOME), PWD: sandboxCwd, ...req.env },
        tmpBytes: req.limits.tmpBytes,
      });
      // prlimit runs inside the sandbox, so RLIMIT_NPROC counts the sandbox's user namespace only.
      // bwrap starts with an empty environment (the prelude's bash exports PWD and SHLVL): its init's
      // /proc/1/environ, which the command can read, holds nothing.
      chain.push(
        ...(probed.envPath ? [probed.envPath, "-i"] : []),
        probed.bwrapPath!,
        "--args",
        "3",
        "--",
        ...limitArgs,
        ...req.argv,
      );
      dataFds = [plan.args, ...plan.files];
      spawnEnv = {};
      cwd = "/";
    } else {
      unsafeHome = await mkdtemp(path.join(os.tmpdir(), "agentry-unsafe-home-"));
      cwd = path.join(req.workspace, req.cwd);
      spawnEnv = { ...baseEnv(probed.hostPath, unsafeHome), TMPDIR: unsafeHome, PWD: cwd, ...req.env };
      // bash's exec exports SHLVL, which is not on the allow-list.
      chain.push(...(probed.envPath ? [probed.envPath, "-u", "SHLVL"] : []), ...limitArgs, ...req.argv);
    }
    return await execute({
      chain,
      env: spawnEnv,
      cwd,
      dataFds,
      req,
      cgroup,
      signal: request.signal,
      onOutput: request.onOutput,
      result,
    });
  } finally {
    await cgroup?.remove();
    if (unsafeHome) await rm(unsafeHome, { recursive: true, force: true }).catch(() => {});
  }
}

async function execute(run: {
  chain: string[];
  env: Record<string, string>;
  cwd: string;
  dataFds: string[];
  req: ValidRequest;
  cgroup: SandboxCgroup | null;
  signal?: AbortSignal;
  onOutput?: SandboxRequest["onOutput"];
  result: (fields: Partial<SandboxResult>) => SandboxResult;
}): Promise<SandboxResult> {
  const { req, cgroup } = run;
  let timedOut = false;
  let cancelled = false;
  let diskExceeded = false;
  let child: ChildProcess | undefined;
  let exited = false;

  const killTree = () => {
    if (child?.pid !== undefined && !exited) killGroup(child.pid);
    void cgroup?.killAll();
  };
  const capture = new OutputCapture(req.maxOutputBytes, run.onOutput, killTree);
  // Measured before the command starts, so all it writes counts.
  const diskBase = await usedBytes(req.workspace);
  const started = performance.now();
  const [file, ...args] = run.chain as [string, ...string[]];
  const stdio: StdioOptions = ["ignore", "pipe", "pipe", ...run.dataFds.map(() => "pipe" as const)];
  const spawned = spawn(file, args, {
    // Exactly this environment (the app's own must not leak): the type insists on the app's keys.
    env: run.env as unknown as NodeJS.ProcessEnv,
    cwd: run.cwd,
    detached: true,
    stdio,
  });
  // Listen at once: a fast command may exit while we still set up the timers below.
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      spawned.once("error", (error) => resolve({ code: null, signal: null, error }));
      spawned.once("exit", (code, signal) => resolve({ code, signal }));
    },
  );
  child = spawned;
  if (spawned.pid !== undefined) track(spawned.pid);
  run.dataFds.forEach((data, i) => {
    const stream = spawned.stdio[3 + i] as Writable | null;
    stream?.on("error", () => {});
    stream?.end(data);
  });
  const stdout = spawned.stdout as Readable;
  const stderr = spawned.stderr as Readable;
  stdout.on("data", (chunk: Buffer) => capture.push("stdout", chunk));
  stderr.on("data", (chunk: Buffer) => capture.push("stderr", chunk));
  const drained = Promise.all([finished(stdout).catch(() => {}), finished(stderr).catch(() => {})]);

  const timer = setTimeout(() => {
    timedOut = true;
    killTree();
  }, req.timeoutMs);
  const onAbort = () => {
    cancelled = true;
    killTree();
  };
  run.signal?.addEventListener("abort", onAbort, { once: true });

  let polling = false;
  const diskTimer =
    diskBase === undefined
      ? undefined
      : setInterval(async () => {
          if (polling || exited) return;
          polling = true;
          const used = await usedBytes(req.workspace);
          polling = false;
          if (used !== undefined && used - diskBase > req.limits.diskBytes && !exited) {
            diskExceeded = true;
            killTree();
          }
        }, DISK_POLL_MS);

  const exit = await exitPromise;
  const durationMs = performance.now() - started;
  // Whatever the command left running dies with it (in bwrap mode the PID namespace is already gone).
  if (spawned.pid !== undefined) killGroup(spawned.pid, { reaped: true });
  exited = true;
  if (spawned.pid !== undefined) live.delete(spawned.pid);
  clearTimeout(timer);
  if (diskTimer) clearInterval(diskTimer);
  run.signal?.removeEventListener("abort", onAbort);
  await cgroup?.killAll();

  let graceTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    drained,
    new Promise<void>((resolve) => {
      graceTimer = setTimeout(resolve, PIPE_GRACE_MS);
    }),
  ]);
  clearTimeout(graceTimer);
  for (const stream of spawned.stdio) stream?.destroy();
  if (exit.error)
    capture.push("stderr", Buffer.from(`agentry-sandbox: cannot start ${file}: ${exit.error.message}\n`));
  capture.end();
  if (capture.listenerError) throw capture.listenerError.error;

  let exitCode: number | null;
  let signal: NodeJS.Signals | null = exit.signal;
  if (exit.error) {
    exitCode = 127;
  } else if (exit.signal) {
    exitCode = 128 + (os.constants.signals[exit.signal] ?? 0);
  } else {
    exitCode = exit.code;
    // bwrap and shells report "killed by signal N" as 128 + N.
    if (exitCode !== null && exitCode > 128 && exitCode <= 128 + 64)
      signal = SIGNAL_NAMES.get(exitCode - 128) ?? null;
  }

  const limitsHit = new Set<SandboxLimitHit>();
  if (cgroup) {
    const stats = await cgroup.stats();
    if (stats.oomKills > 0) limitsHit.add("memory");
    if (stats.pidsMaxHits > 0) limitsHit.add("processes");
  }
  if (signal === "SIGXCPU") limitsHit.add("cpu");
  if (signal === "SIGXFSZ") limitsHit.add("fileSize");
  if (diskExceeded) limitsHit.add("disk");

  return run.result({
    exitCode,
    signal,
    timedOut,
    cancelled,
    limitsHit: [...limitsHit],
    outputTruncated: capture.truncated,
    droppedBytes: capture.droppedBytes,
    stdout: capture.stdout,
    stderr: capture.stderr,
    output: capture.output,
    durationMs: Math.round(durationMs * 10) / 10,
  });
}
