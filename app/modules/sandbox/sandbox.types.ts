/**
 * Sandbox shapes shared by the server, workflow definitions (the `command` step's limits) and the UI (the
 * status banner). Browser-safe: zod and types only.
 */
import { z } from "zod";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Resource limits of one sandboxed command. Every field is optional; defaults in DEFAULT_SANDBOX_LIMITS. */
export const ZSandboxLimits = z.object({
  /**
   * Tasks (processes and threads) the command may have at once, the sandbox's own two helper processes
   * included. Enforced by the pids cgroup; RLIMIT_NPROC as well, which the kernel ignores for root.
   */
  processes: z.number().int().min(8).max(65_536).optional(),
  /** Largest file one process may write (RLIMIT_FSIZE): the write fails with EFBIG or the writer gets SIGXFSZ. */
  fileSizeBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  /** CPU seconds per process (RLIMIT_CPU): SIGXCPU at the limit, SIGKILL one second later. */
  cpuSeconds: z.number().int().min(1).max(86_400).optional(),
  /**
   * Memory of the whole command (all its processes, and what it writes to its private /tmp), enforced by the
   * memory cgroup (the kernel OOM-kills inside the sandbox). Without a memory cgroup it becomes a per-process
   * address-space limit (RLIMIT_AS) of at least 1 GiB, since Node cannot start under less.
   */
  memoryBytes: z
    .number()
    .int()
    .min(16 * MiB)
    .max(Number.MAX_SAFE_INTEGER)
    .optional(),
  /**
   * How much the workspace's filesystem may grow during the run (all files together), checked every 100 ms
   * (statfs): past it the command is killed. Other writers to the same filesystem count too.
   */
  diskBytes: z.number().int().min(MiB).max(Number.MAX_SAFE_INTEGER).optional(),
  /** Size of the private /tmp (a tmpfs, also counted in memoryBytes). */
  tmpBytes: z
    .number()
    .int()
    .min(MiB)
    .max(64 * GiB)
    .optional(),
});
export type SandboxLimitsInput = z.infer<typeof ZSandboxLimits>;
export type SandboxLimits = Required<SandboxLimitsInput>;

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  processes: 512,
  fileSizeBytes: 512 * MiB,
  cpuSeconds: 600,
  memoryBytes: 2 * GiB,
  diskBytes: 2 * GiB,
  tmpBytes: 512 * MiB,
};

/** Where the workspace appears inside the sandbox (also the default working directory). */
export const SANDBOX_WORKSPACE_PATH = "/workspace";
/** The unprivileged user the command runs as inside the sandbox (its own user namespace). */
export const SANDBOX_UID = 1000;
export const SANDBOX_USER = "sandbox";

export type SandboxMode = "bwrap" | "unsafe" | "unavailable";

/** What detectSandbox found; the UI shows a warning banner when mode is not "bwrap". */
export type SandboxStatus = {
  mode: SandboxMode;
  /** Why bwrap is not used (mode unsafe or unavailable), or a note on a weaker limit (mode bwrap). */
  reason?: string;
  /** e.g. "0.8.0", when a bwrap binary answered. */
  bwrapVersion?: string;
  /** How each limit is enforced on this host. */
  enforcement: {
    /** "cgroup": the whole command's memory; "rlimit-as": per-process address space only. */
    memory: "cgroup" | "rlimit-as";
    /**
     * "cgroup": pids.max on the whole command; "rlimit": RLIMIT_NPROC (per user namespace); "none": the app
     * runs as root without a usable pids cgroup, and the kernel exempts root from RLIMIT_NPROC.
     */
    processes: "cgroup" | "rlimit" | "none";
    /** The cgroup version used, null when none is usable. */
    cgroup: "v1" | "v2" | null;
  };
};

/** A limit that stopped (or held back) the command. */
export type SandboxLimitHit = "memory" | "processes" | "cpu" | "fileSize" | "disk";

export type SandboxOutputStream = "stdout" | "stderr";

/** Called with each piece of kept output as it arrives (already decoded; never splits a character). */
export type SandboxOutputListener = (stream: SandboxOutputStream, chunk: string) => void;

/**
 * Host settings of the sandbox, passed in by the caller (built from env.server.ts by the app). Every field is
 * optional; the defaults suit a Debian-like host.
 */
export type SandboxConfig = {
  /** The bwrap binary: an absolute path, or a name looked up in /usr/bin, /bin, /usr/sbin, /sbin, /usr/local/bin. Default "bwrap". */
  bwrapPath?: string;
  /** util-linux prlimit, looked up the same way. Default "prlimit". */
  prlimitPath?: string;
  /**
   * Run commands WITHOUT isolation when bwrap is missing or unusable (same env allow-list, limits, timeout and
   * output cap; no namespaces). For local development only; the UI warns. Default false: refuse instead.
   */
  allowUnsafe?: boolean;
  /**
   * Host paths that must never be visible in the sandbox (the app's directory, its data directory): a
   * workspace equal to one of them or containing one is refused. A workspace inside one is fine: only the
   * workspace itself is mounted.
   */
  protectedPaths?: string[];
  /** Extra host paths bound read-only at the same place (a toolchain outside /usr, say). Default none. */
  readOnlyPaths?: string[];
  /** The node binary whose directory is bound read-only and put first on PATH. Default process.execPath. */
  nodePath?: string;
  /** "auto" (default): use a child cgroup of our own when the host lets us; "off": rlimits only. */
  cgroup?: "auto" | "off";
  /** An operator-prepared cgroup v2 directory with memory and pids in its cgroup.subtree_control. */
  cgroupParent?: string;
};

/** One command to run. Give `argv` (no shell) or `command` (run by `shell -c`). */
export type SandboxRequest = (
  | { argv: string[]; command?: undefined; shell?: undefined }
  | {
      command: string;
      argv?: undefined;
      /** Default /bin/sh. */
      shell?: string;
    }
) & {
  /** Absolute host directory: mounted read-write at /workspace, the only writable place besides /tmp. */
  workspace: string;
  /** Working directory relative to the workspace. Default the workspace itself. */
  cwd?: string;
  /** Extra environment variables, added to (and overriding) the allow-list. Nothing else is inherited. */
  env?: Record<string, string>;
  /** Wall-clock limit; then the whole process tree is SIGKILLed. Default 60 000 ms. */
  timeoutMs?: number;
  limits?: SandboxLimitsInput;
  /** Output kept, stdout and stderr together. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Aborting it kills the whole process tree; the result then has cancelled: true. */
  signal?: AbortSignal;
  onOutput?: SandboxOutputListener;
};

export type SandboxResult = {
  /** "bwrap" (isolated) or "unsafe" (no isolation: the operator allowed it). */
  mode: "bwrap" | "unsafe";
  /**
   * Shell convention: the exit status, or 128 + the signal number when a signal ended the command (then
   * `signal` names it). null only when the command never started (already cancelled).
   */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The wall-clock timeout fired and the whole process tree was killed. */
  timedOut: boolean;
  /** The caller's AbortSignal fired and the whole process tree was killed. */
  cancelled: boolean;
  /** Limits known to have been reached (the cgroup's counters, SIGXCPU/SIGXFSZ, the disk guard). */
  limitsHit: SandboxLimitHit[];
  /** More output came than maxOutputBytes: the rest was counted (droppedBytes) and dropped. */
  outputTruncated: boolean;
  droppedBytes: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in arrival order (the same kept bytes). */
  output: string;
  durationMs: number;
};
