/**
 * One cgroup per sandboxed command, for what rlimits cannot do: a memory cap on the whole process tree, a
 * process cap that also holds for root (the kernel exempts uid 0 from RLIMIT_NPROC), and a kill that reaches
 * every process of the command, even one that left its process group.
 *
 * Where: a child of this process's own cgroup (cgroup v1: per controller, e.g. /sys/fs/cgroup/pids/<ours>/
 * agentry-sbx-<pid>-<n>; v2: the unified hierarchy), or of an operator-prepared v2 cgroup (`parent`) whose
 * cgroup.subtree_control already enables memory and pids — on v2 our own cgroup usually holds our own process,
 * and the no-internal-processes rule then forbids enabling controllers for children, so auto-detection only
 * succeeds where that is already done. Nothing usable → null, and the sandbox falls back to rlimits only.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const CGROUP_PREFIX = "agentry-sbx-";

/** Parent cgroup directories under which a sandbox cgroup can be made, per controller. */
export type CgroupParents =
  | { version: "v1"; pids?: string; memory?: string }
  | { version: "v2"; dir: string; pids: boolean; memory: boolean };

export type CgroupLimits = { processes: number; memoryBytes: number };

export type SandboxCgroup = {
  /** The cgroup.procs files a process writes its pid to, to join (before it execs the command). */
  readonly procsFiles: string[];
  readonly limitsProcesses: boolean;
  readonly limitsMemory: boolean;
  /** Counters since creation: OOM kills, and fork/clone refused by pids.max. */
  stats(): Promise<{ oomKills: number; pidsMaxHits: number }>;
  /** SIGKILL every process in the cgroup, until none is left (or ~1 s passed). */
  killAll(): Promise<void>;
  /** Kill what is left and remove the cgroup directories. Never throws. */
  remove(): Promise<void>;
};

type MountInfo = { root: string; mountPoint: string; fsType: string; superOptions: string[] };

function parseMountInfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const fields = left.split(" ");
    const [fsType, , superOpts] = right.split(" ");
    if (!fields[3] || !fields[4] || !fsType) continue;
    const decodeOctal = (s: string) =>
      s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    mounts.push({
      root: decodeOctal(fields[3]),
      mountPoint: decodeOctal(fields[4]),
      fsType,
      superOptions: (superOpts ?? "").split(","),
    });
  }
  return mounts;
}

/** The directory of cgroup `cgroupPath` on `mount`, if the mount shows it. */
function dirOnMount(mount: MountInfo, cgroupPath: string): string | undefined {
  const rel = path.posix.relative(mount.root, cgroupPath);
  if (rel.startsWith("..") || path.posix.isAbsolute(rel)) return undefined;
  return path.join(mount.mountPoint, rel);
}

async function canCreateChild(dir: string): Promise<boolean> {
  const probe = path.join(dir, `${CGROUP_PREFIX}probe-${process.pid}-${randomBytes(3).toString("hex")}`);
  try {
    await mkdir(probe);
  } catch {
    return false;
  }
  try {
    await access(path.join(probe, "cgroup.procs"), fsConstants.W_OK);
    return true;
  } catch {
    return false;
  } finally {
    await rmdir(probe).catch(() => {});
  }
}

async function v2Controllers(dir: string): Promise<{ pids: boolean; memory: boolean }> {
  const text = await readFile(path.join(dir, "cgroup.subtree_control"), "utf8").catch(() => "");
  const enabled = new Set(text.trim().split(/\s+/));
  return { pids: enabled.has("pids"), memory: enabled.has("memory") };
}

/**
 * Find where this process may create sandbox cgroups. `parent`: an operator-prepared cgroup v2 directory
 * (takes precedence). Removes sandbox cgroups left behind by dead processes on the way.
 */
export async function detectCgroupParents(parent?: string): Promise<CgroupParents | null> {
  if (parent) {
    const controllers = await v2Controllers(parent);
    if (!(await canCreateChild(parent))) return null;
    const found: CgroupParents = { version: "v2", dir: parent, ...controllers };
    await removeStale(found);
    return found;
  }
  let selfCgroup: string;
  let mountInfo: string;
  try {
    selfCgroup = await readFile("/proc/self/cgroup", "utf8");
    mountInfo = await readFile("/proc/self/mountinfo", "utf8");
  } catch {
    return null;
  }
  const mounts = parseMountInfo(mountInfo);
  const lines = selfCgroup
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [, controllers = "", ...rest] = line.split(":");
      return { controllers: controllers.split(",").filter(Boolean), path: rest.join(":") };
    });

  // cgroup v1: the pids and memory controllers, each on its own hierarchy.
  const v1: { version: "v1"; pids?: string; memory?: string } = { version: "v1" };
  for (const controller of ["pids", "memory"] as const) {
    const entry = lines.find((l) => l.controllers.includes(controller));
    const mount = mounts.find((m) => m.fsType === "cgroup" && m.superOptions.includes(controller));
    if (!entry || !mount) continue;
    const dir = dirOnMount(mount, entry.path);
    if (dir && (await canCreateChild(dir))) v1[controller] = dir;
  }
  if (v1.pids || v1.memory) {
    await removeStale(v1);
    return v1;
  }

  // cgroup v2: only where our own cgroup already delegates both controllers to its children.
  const unified = lines.find((l) => l.controllers.length === 0);
  const mount2 = mounts.find((m) => m.fsType === "cgroup2");
  if (unified && mount2) {
    const dir = dirOnMount(mount2, unified.path);
    if (dir) {
      const controllers = await v2Controllers(dir);
      if ((controllers.pids || controllers.memory) && (await canCreateChild(dir))) {
        const found: CgroupParents = { version: "v2", dir, ...controllers };
        await removeStale(found);
        return found;
      }
    }
  }
  return null;
}

function parentDirs(parents: CgroupParents): string[] {
  if (parents.version === "v2") return [parents.dir];
  return [parents.pids, parents.memory].filter((d): d is string => Boolean(d));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Sandbox cgroups whose creating process is gone (a crash mid-run): kill what is inside and remove them. */
async function removeStale(parents: CgroupParents): Promise<void> {
  for (const dir of parentDirs(parents)) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const match = new RegExp(`^${CGROUP_PREFIX}(\\d+)-`).exec(name);
      if (!match || isAlive(Number(match[1]))) continue;
      await killDir(path.join(dir, name));
      await removeDir(path.join(dir, name));
    }
  }
}

async function readPids(dir: string): Promise<number[]> {
  const text = await readFile(path.join(dir, "cgroup.procs"), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

async function killDir(dir: string): Promise<void> {
  // v2 has one atomic file for this (Linux 5.14+).
  const killed = await writeFile(path.join(dir, "cgroup.kill"), "1").then(
    () => true,
    () => false,
  );
  for (let round = 0; round < 100; round++) {
    const pids = await readPids(dir);
    if (pids.length === 0) return;
    if (!killed || round > 0) {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await sleep(10);
  }
}

async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      // EBUSY: a killed process is still being torn down.
      await sleep(20);
    }
  }
}

function counter(text: string, key: string): number {
  const match = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

let sequence = 0;

/** Make a cgroup for one command with its limits; throws (having removed what it made) if it cannot. */
export async function createSandboxCgroup(
  parents: CgroupParents,
  limits: CgroupLimits,
): Promise<SandboxCgroup> {
  const name = `${CGROUP_PREFIX}${process.pid}-${++sequence}-${randomBytes(3).toString("hex")}`;
  const made: string[] = [];
  const remove = async () => {
    for (const dir of made) await killDir(dir);
    for (const dir of made) await removeDir(dir);
  };
  try {
    if (parents.version === "v2") {
      const dir = path.join(parents.dir, name);
      await mkdir(dir);
      made.push(dir);
      if (parents.pids) await writeFile(path.join(dir, "pids.max"), String(limits.processes));
      if (parents.memory) {
        await writeFile(path.join(dir, "memory.max"), String(limits.memoryBytes));
        await writeFile(path.join(dir, "memory.swap.max"), "0").catch(() => {});
      }
      const events = { pids: path.join(dir, "pids.events"), memory: path.join(dir, "memory.events") };
      return {
        procsFiles: [path.join(dir, "cgroup.procs")],
        limitsProcesses: parents.pids,
        limitsMemory: parents.memory,
        async stats() {
          const [pidsText, memoryText] = await Promise.all([
            readFile(events.pids, "utf8").catch(() => ""),
            readFile(events.memory, "utf8").catch(() => ""),
          ]);
          return { oomKills: counter(memoryText, "oom_kill"), pidsMaxHits: counter(pidsText, "max") };
        },
        killAll: () => killDir(dir),
        remove,
      };
    }
    const pidsDir = parents.pids ? path.join(parents.pids, name) : undefined;
    const memoryDir = parents.memory ? path.join(parents.memory, name) : undefined;
    if (pidsDir) {
      await mkdir(pidsDir);
      made.push(pidsDir);
      await writeFile(path.join(pidsDir, "pids.max"), String(limits.processes));
    }
    if (memoryDir) {
      await mkdir(memoryDir);
      made.push(memoryDir);
      await writeFile(path.join(memoryDir, "memory.limit_in_bytes"), String(limits.memoryBytes));
      // Only with swap accounting; must not be below memory.limit_in_bytes.
      await writeFile(path.join(memoryDir, "memory.memsw.limit_in_bytes"), String(limits.memoryBytes)).catch(
        () => {},
      );
    }
    return {
      procsFiles: made.map((dir) => path.join(dir, "cgroup.procs")),
      limitsProcesses: Boolean(pidsDir),
      limitsMemory: Boolean(memoryDir),
      async stats() {
        const [pidsText, memoryText] = await Promise.all([
          pidsDir ? readFile(path.join(pidsDir, "pids.events"), "utf8").catch(() => "") : "",
          memoryDir ? readFile(path.join(memoryDir, "memory.oom_control"), "utf8").catch(() => "") : "",
        ]);
        return { oomKills: counter(memoryText, "oom_kill"), pidsMaxHits: counter(pidsText, "max") };
      },
      async killAll() {
        await Promise.all(made.map((dir) => killDir(dir)));
      },
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}
