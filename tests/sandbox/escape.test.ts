/**
 * The escape suite: every way out we could think of, tried from inside the sandbox with real bwrap. Each
 * test asserts HOW the attempt was stopped (the errno, the signal, the limit), not merely that it failed, so
 * a test that passes for the wrong reason (a typo, a missing tool) shows up as a failure.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { detectSandbox, runInSandbox } from "#app/modules/sandbox/sandbox.server.ts";
import type { SandboxStatus } from "#app/modules/sandbox/sandbox.types.ts";
import {
  hostProcessesWith,
  nodeInside,
  repoRoot,
  survivorsOf,
  tempDirs,
  uniqueMarker,
  waitFor,
} from "./helpers.ts";

const MiB = 1024 * 1024;
const tempDir = tempDirs();

let status: SandboxStatus;

beforeAll(async () => {
  status = await detectSandbox();
  // The suite proves the real sandbox; without bwrap it must fail, not skip.
  expect(status.mode, status.reason).toBe("bwrap");
  // …and without any process limit (root, no pids cgroup) too.
  expect(status.enforcement.processes, status.reason).not.toBe("none");
});

/** Can the host itself reach host:port? (So "unreachable from the sandbox" means something.) */
function hostCanConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2_000 });
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

describe("network", () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it("has no DNS, no route out, and no loopback service of the host (PostgreSQL, a web server)", async () => {
    const loopback = createServer((_req, res) => res.end("host web server"));
    const anywhere = createServer((_req, res) => res.end("host web server"));
    servers.push(loopback, anywhere);
    const webPort = await listen(loopback, "127.0.0.1");
    const anyPort = await listen(anywhere, "0.0.0.0");
    const hostAddress = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === "IPv4" && !i.internal)?.address;

    // The host reaches them all.
    expect(await hostCanConnect("127.0.0.1", webPort)).toBe(true);
    const postgresOnHost = await hostCanConnect("127.0.0.1", 5432);
    if (hostAddress) expect(await hostCanConnect(hostAddress, anyPort)).toBe(true);

    const { value } = await nodeInside<Record<string, unknown>>(
      `
      const udp = await new Promise((resolve) => {
        const socket = dgram.createSocket("udp4");
        socket.send("x", 53, "8.8.8.8", (e) => { socket.close(); resolve(e ? e.code : "sent"); });
      });
      return {
        dns: await codeOf(() => dns.promises.lookup("example.com")),
        dnsResolver: await codeOf(() => dns.promises.resolve4("example.com")),
        cloudflare: await connect("1.1.1.1", 443),
        udpDns: udp,
        ipv6: await connect("2606:4700:4700::1111", 443),
        postgres: await connect("127.0.0.1", 5432),
        postgresSocket: await connect("/var/run/postgresql/.s.PGSQL.5432"),
        runDir: await codeOf(() => fs.readdirSync("/run")),
        web: await connect("127.0.0.1", ${webPort}),
        webAnyInterface: await connect("127.0.0.1", ${anyPort}),
        hostAddress: ${hostAddress ? `await connect(${JSON.stringify(hostAddress)}, ${anyPort})` : '"none"'},
        interfaces: Object.keys(os.networkInterfaces()),
      };
      `,
      { workspace: tempDir(), timeoutMs: 20_000 },
    );
    expect(value).toEqual({
      dns: "EAI_AGAIN",
      // No /etc/resolv.conf: the resolver asks 127.0.0.1:53, where nothing listens.
      dnsResolver: "ECONNREFUSED",
      cloudflare: "ENETUNREACH",
      udpDns: "ENETUNREACH",
      ipv6: "ENETUNREACH",
      postgres: "ECONNREFUSED",
      postgresSocket: "ENOENT",
      runDir: "ENOENT",
      web: "ECONNREFUSED",
      webAnyInterface: "ECONNREFUSED",
      hostAddress: hostAddress ? "ENETUNREACH" : "none",
      interfaces: ["lo"],
    });
    // On this host PostgreSQL does listen on 127.0.0.1:5432 (the tests' own database).
    expect(postgresOnHost).toBe(true);
  });
});

describe("reading what is not the workspace", () => {
  it("cannot see the host's processes or their environment (/proc/1/environ)", async () => {
    const canary = `proc-canary-${randomBytes(8).toString("hex")}`;
    vi.stubEnv("AGENTRY_CANARY_SECRET", canary);
    try {
      const { value } = await nodeInside<{
        pids: string[];
        init: string;
        environs: Record<string, string>;
        hostPid: string;
        hostInit: string;
      }>(
        `
        const pids = fs.readdirSync("/proc").filter((p) => /^\\d+$/.test(p));
        const environs = {};
        for (const pid of pids) { try { environs[pid] = fs.readFileSync("/proc/" + pid + "/environ", "utf8"); } catch (e) { environs[pid] = e.code; } }
        return {
          pids,
          init: fs.readFileSync("/proc/1/cmdline", "utf8").split("\\0")[0],
          environs,
          hostPid: await codeOf(() => process.kill(${process.pid}, 0)),
          hostInit: await codeOf(() => fs.readFileSync("/proc/1/root/etc/shadow")),
        };
        `,
        { workspace: tempDir() },
      );
      // The sandbox's own init (bwrap), prlimit→node: a handful of pids, none of the host's.
      expect(value.pids.length).toBeLessThanOrEqual(4);
      expect(path.basename(value.init)).toBe("bwrap");
      // bwrap is started with an empty environment: its /proc/1/environ holds nothing of the app.
      expect(value.environs["1"]).toBe("");
      for (const environ of Object.values(value.environs)) {
        expect(environ).not.toContain(canary);
        expect(environ).not.toContain("AGENTRY_CANARY_SECRET");
      }
      // The test process (host pid) does not exist in there; /proc/1/root is the sandbox's own root.
      expect(value.hostPid).toBe("ESRCH");
      expect(value.hostInit).toBe("ENOENT");
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("cannot read the app's .env or .data, the repository, /root or /home, even through symlinks", async () => {
    const appDir = tempDir("agentry-fake-app-");
    const envCanary = `env-canary-${randomBytes(8).toString("hex")}`;
    writeFileSync(path.join(appDir, ".env"), `OPENAI_API_KEY=${envCanary}\n`);
    mkdirSync(path.join(appDir, ".data/workspaces/run-1"), { recursive: true });
    writeFileSync(path.join(appDir, ".data/jwt-secret"), envCanary);
    const workspace = path.join(appDir, ".data/workspaces/run-1");
    symlinkSync(path.join(appDir, ".env"), path.join(workspace, "leak-absolute"));
    symlinkSync("../../../.env", path.join(workspace, "leak-relative"));
    const hostHome = os.homedir();

    const { value } = await nodeInside<Record<string, unknown>>(
      `
      const read = (p) => codeOf(() => fs.readFileSync(p, "utf8"));
      return {
        envByHostPath: await read(${JSON.stringify(path.join(appDir, ".env"))}),
        dataByHostPath: await read(${JSON.stringify(path.join(appDir, ".data/jwt-secret"))}),
        envUpwards: await read("../../../.env"),
        envFromRoot: await read("/workspace/../.env"),
        symlinkAbsolute: await read("leak-absolute"),
        symlinkRelative: await read("leak-relative"),
        appDir: fs.existsSync(${JSON.stringify(appDir)}),
        repo: fs.existsSync(${JSON.stringify(repoRoot)}),
        repoEnv: await read(${JSON.stringify(path.join(repoRoot, ".env"))}),
        repoPackage: await read(${JSON.stringify(path.join(repoRoot, "package.json"))}),
        root: await codeOf(() => fs.readdirSync("/root")),
        home: await codeOf(() => fs.readdirSync("/home")),
        hostHome: await codeOf(() => fs.readdirSync(${JSON.stringify(hostHome)})),
        shadow: await read("/etc/shadow"),
        sslPrivate: await codeOf(() => fs.readdirSync("/etc/ssl/private")),
        rootEntries: fs.readdirSync("/").sort(),
        homedir: os.homedir(),
      };
      `,
      { workspace, timeoutMs: 20_000 },
      { protectedPaths: [appDir, path.join(appDir, ".data")] },
    );
    expect(value).toEqual({
      envByHostPath: "ENOENT",
      dataByHostPath: "ENOENT",
      envUpwards: "ENOENT",
      envFromRoot: "ENOENT",
      symlinkAbsolute: "ENOENT",
      symlinkRelative: "ENOENT",
      appDir: false,
      repo: false,
      repoEnv: "ENOENT",
      repoPackage: "ENOENT",
      root: "ENOENT",
      home: "ENOENT",
      hostHome: "ENOENT",
      shadow: "ENOENT",
      sslPrivate: "ENOENT",
      // Nothing but what the sandbox mounts: no /root, /home, /work, /var, /run, /opt, /mnt, /srv, /sys.
      rootEntries: [
        ...new Set([
          ...["bin", "sbin", "lib", "lib32", "lib64", "libx32"].filter((entry) => existsSync(`/${entry}`)),
          ...["dev", "etc", "proc", "tmp", "usr", "workspace"],
          // node's own directory, where it is not under /usr (e.g. /opt/hostedtoolcache/… on GitHub).
          realpathSync(process.execPath).split("/")[1]!,
        ]),
      ].sort(),
      homedir: "/tmp/home",
    });
    // And the app dir itself could not be the workspace.
    await expect(
      runInSandbox(
        { command: "cat .env", workspace: appDir },
        { protectedPaths: [path.join(appDir, ".data")] },
      ),
    ).rejects.toMatchObject({ code: "SANDBOX_INVALID_REQUEST" });
  });

  it("cannot see another run's workspace, even while that run is going", async () => {
    const parent = tempDir();
    const workspaceA = path.join(parent, "run-a");
    const workspaceB = path.join(parent, "run-b");
    mkdirSync(workspaceA);
    mkdirSync(workspaceB);
    const secretB = `secret-b-${randomBytes(6).toString("hex")}`;
    writeFileSync(path.join(workspaceB, "secret.txt"), secretB);

    const runB = runInSandbox({ command: `echo ${secretB} > live.txt; sleep 2`, workspace: workspaceB });
    await waitFor(
      () => existsSync(path.join(workspaceB, "live.txt")),
      (ok) => ok,
    );
    const a = await runInSandbox({
      command: [
        `cat ${workspaceB}/secret.txt 2>&1`,
        "cat ../run-b/secret.txt 2>&1",
        `ls ${parent} 2>&1`,
        "ls -A /workspace",
        // Look everywhere for B's files by name.
        "find / -path /proc -prune -o \\( -name secret.txt -o -name live.txt \\) -print 2>/dev/null | wc -l",
      ].join("; "),
      workspace: workspaceA,
      timeoutMs: 20_000,
    });
    const resultB = await runB;
    expect(resultB.exitCode).toBe(0);
    expect(a.stdout.split("\n")).toEqual([
      `cat: ${workspaceB}/secret.txt: No such file or directory`,
      "cat: ../run-b/secret.txt: No such file or directory",
      `ls: cannot access '${parent}': No such file or directory`,
      "0",
      "",
    ]);
    expect(a.output).not.toContain(secretB);
  });
});

describe("writing outside the workspace", () => {
  it("gets EROFS everywhere but /workspace and its private /tmp, which is not the host's", async () => {
    const name = uniqueMarker("agentry-host-tmp-canary");
    const hostCanary = path.join(os.tmpdir(), name);
    writeFileSync(hostCanary, "host");
    const newOnHost = path.join(os.tmpdir(), `${name}-new`);
    try {
      const { value, result } = await nodeInside<Record<string, unknown>>(
        `
        const write = (p) => codeOf(() => fs.writeFileSync(p, "sandbox"));
        return {
          usrBin: await write("/usr/bin/agentry-escape"),
          usrLocal: await write("/usr/local/agentry-escape"),
          etcPasswd: await codeOf(() => fs.appendFileSync("/etc/passwd", "evil::0:0::/:/bin/sh\\n")),
          etcNew: await write("/etc/agentry-escape"),
          root: await write("/agentry-escape"),
          aboveWorkspace: await write("/workspace/../agentry-escape"),
          dev: await write("/dev/agentry-escape"),
          procSys: await codeOf(() => fs.accessSync("/proc/sys/kernel/core_pattern", fs.constants.W_OK)),
          procSysVm: await codeOf(() => fs.accessSync("/proc/sys/vm/drop_caches", fs.constants.W_OK)),
          chmodUsr: await codeOf(() => fs.chmodSync("/usr/bin", 0o777)),
          readHostCanary: await codeOf(() => fs.readFileSync(${JSON.stringify(hostCanary)})),
          privateTmpOverwrite: await write(${JSON.stringify(hostCanary)}),
          privateTmpNew: await write(${JSON.stringify(newOnHost)}),
          workspace: await write("/workspace/ok.txt"),
          devShm: await write("/dev/shm/ok"),
        };
        `,
        { workspace: tempDir() },
      );
      expect(result.exitCode).toBe(0);
      expect(value).toEqual({
        usrBin: "EROFS",
        usrLocal: "ENOENT",
        etcPasswd: "EROFS",
        etcNew: "EROFS",
        root: "EROFS",
        aboveWorkspace: "EROFS",
        dev: "EROFS",
        procSys: "EROFS",
        procSysVm: "EROFS",
        chmodUsr: "EROFS",
        // The host's /tmp is not the sandbox's /tmp.
        readHostCanary: "ENOENT",
        privateTmpOverwrite: "ok",
        privateTmpNew: "ok",
        workspace: "ok",
        devShm: "ok",
      });
      expect(readFileSync(hostCanary, "utf8")).toBe("host");
      expect(existsSync(newOnHost)).toBe(false);
    } finally {
      spawnSync("rm", ["-f", hostCanary, newOnHost]);
    }
  });

  it("finds nothing writable in the whole tree but /workspace, /tmp, /dev/shm and device nodes", async () => {
    const result = await runInSandbox({
      command: [
        "find / \\( -path /proc -o -path /workspace -o -path /tmp -o -path /dev \\) -prune -o ! -type l -writable -print 2>/dev/null",
        "echo ---",
        // Bind-mounted device nodes sit on placeholder files, so find cannot tell them by -type: list /dev.
        "find /dev -mindepth 1 -maxdepth 1 ! -type l -writable | sort",
      ].join("; "),
      workspace: tempDir(),
      timeoutMs: 25_000,
    });
    expect(result.stdout.split("---\n")).toEqual([
      "",
      ["full", "null", "pts", "random", "shm", "tty", "urandom", "zero"].map((d) => `/dev/${d}\n`).join(""),
    ]);
  });
});

describe("privileges", () => {
  it("runs as uid 1000 without capabilities, and cannot gain any (user namespaces, mount, setuid)", async () => {
    const hostSleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const result = await runInSandbox({
        command: [
          "id -u",
          "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status",
          "unshare -U true 2>&1; echo unshare=$?",
          "mount -t tmpfs none /tmp 2>/dev/null; echo mount=$?",
          // Every process this user may signal, at once: only the sandbox's own (here a sleep).
          "sleep 30 & sleeper=$!",
          "kill -KILL -1; wait $sleeper; echo sleeper=$?",
        ].join("\n"),
        workspace: tempDir(),
      });
      expect(result.stdout.split("\n").slice(0, 6)).toEqual([
        "1000",
        "CapPrm:\t0000000000000000",
        "CapEff:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "unshare: unshare failed: No space left on device",
        "unshare=1",
      ]);
      expect(result.stdout.split("\n").slice(6)).toEqual(["mount=32", "sleeper=137", ""]);
      // kill -1 reached the sandbox's sleep, and nothing of the host.
      expect(result.exitCode).toBe(0);
      expect(hostSleeper.exitCode).toBeNull();
      expect(hostSleeper.signalCode).toBeNull();
    } finally {
      hostSleeper.kill("SIGKILL");
    }
  });
});

describe("leaving a trap for the host", () => {
  it("a setuid copy of a program, made in the workspace, is out of reach of other host users", async () => {
    const workspace = tempDir();
    const result = await runInSandbox({
      command: "cp /usr/bin/id ./id-setuid && chmod 4755 ./id-setuid",
      workspace,
    });
    expect(result.exitCode).toBe(0);
    const file = path.join(workspace, "id-setuid");
    // It is there, setuid and owned by the app's uid (root here): what the workspace check is for.
    expect(statSync(file).mode & 0o4000).toBe(0o4000);
    // Another user (only root can act as one) cannot even reach it: the workspace's parent is closed.
    if (process.getuid?.() === 0) {
      const asNobody = spawnSync(file, [], { uid: 65534, gid: 65534 });
      expect((asNobody.error as NodeJS.ErrnoException | undefined)?.code).toBe("EACCES");
    }
    expect(statSync(path.dirname(workspace)).mode & 0o001).toBe(0);
  });
});

describe("resource exhaustion", () => {
  it("bounds a fork bomb by the process limit; the host keeps forking; nothing survives", async () => {
    const workspace = tempDir();
    const marker = uniqueMarker("forkbomb");
    // Every copy keeps forking more copies, failures or not, so the tree stays pinned at the limit.
    writeFileSync(
      path.join(workspace, "bomb.sh"),
      "sleep 3 & timer=$!\nf() { while :; do f & sleep 0.2; done; }\nf &\nwait $timer\necho bomb-done\n",
    );
    let peak = 0;
    let hostForks = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, hostProcessesWith(marker).length);
      if (spawnSync("true").status === 0) hostForks++;
    }, 50);
    const started = Date.now();
    const result = await runInSandbox({
      argv: ["sh", "bomb.sh", marker],
      workspace,
      timeoutMs: 15_000,
      limits: { processes: 64 },
    });
    clearInterval(sampler);
    // The pids cgroup counts refused forks; under RLIMIT_NPROC (no cgroup, not root) only the shell says so.
    if (status.enforcement.processes === "cgroup") expect(result.limitsHit).toContain("processes");
    expect(result.stderr).toMatch(/Cannot fork/);
    expect(result.stdout).toBe("bomb-done\n");
    expect(result.timedOut).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
    // At most 64 tasks (bwrap's two and the `sleep 0.2`s among them): about half are bomb copies.
    expect(peak).toBeGreaterThan(16);
    expect(peak).toBeLessThanOrEqual(64);
    expect(hostForks).toBeGreaterThan(10);
    expect(await survivorsOf(marker)).toEqual([]);
  });

  it("kills a memory hog at the memory limit (node and python), and a /tmp filler hits its size", async () => {
    const workspace = tempDir();
    const byCgroup = status.enforcement.memory === "cgroup";
    // Without a memory cgroup the limit is RLIMIT_AS per process, never below 1 GiB (Node needs that).
    const limits = { memoryBytes: byCgroup ? 128 * MiB : 1024 * MiB, tmpBytes: 16 * MiB };
    const nodeHog = await runInSandbox({
      argv: ["node", "-e", "const keep = []; for (;;) keep.push(Buffer.alloc(8 * 1024 * 1024, 1));"],
      workspace,
      limits,
      timeoutMs: 20_000,
    });
    expect(nodeHog.timedOut).toBe(false);
    if (byCgroup) expect(nodeHog).toMatchObject({ signal: "SIGKILL", exitCode: 137, limitsHit: ["memory"] });
    else expect(nodeHog.stderr).toMatch(/allocation failed|out of memory/i);

    if (existsSync("/usr/bin/python3")) {
      const pythonHog = await runInSandbox({
        argv: ["python3", "-c", "keep = []\nwhile True: keep.append(bytearray(8 * 1024 * 1024))"],
        workspace,
        limits,
        timeoutMs: 20_000,
      });
      expect(pythonHog.timedOut).toBe(false);
      if (byCgroup) expect(pythonHog).toMatchObject({ signal: "SIGKILL", limitsHit: ["memory"] });
      else expect(pythonHog.stderr).toMatch(/MemoryError/);
    }

    const tmpFill = await runInSandbox({
      command: "head -c 100000000 /dev/zero > /tmp/fill; echo status=$?; stat -c %s /tmp/fill",
      workspace,
      limits,
    });
    expect(tmpFill.stderr).toMatch(/No space left on device/);
    expect(tmpFill.stdout).toBe(`status=1\n${16 * MiB}\n`);
  });

  it("caps each file at fileSizeBytes (SIGXFSZ or EFBIG) and the workspace's total growth at diskBytes", async () => {
    const workspace = tempDir();
    const perFile = await runInSandbox({
      command:
        'head -c 50000000 /dev/zero > big; echo head=$?; python3 -c \'open("big2", "wb").write(b"0" * 50000000)\' 2>&1 | tail -1',
      workspace,
      limits: { fileSizeBytes: 8 * MiB },
    });
    expect(perFile.stderr).toBe("File size limit exceeded\n");
    expect(perFile.stdout.split("\n")[0]).toBe("head=153");
    expect(statSync(path.join(workspace, "big")).size).toBe(8 * MiB);
    if (existsSync("/usr/bin/python3")) {
      // Python ignores SIGXFSZ, so its write fails with EFBIG instead.
      expect(perFile.stdout.split("\n")[1]).toBe("OSError: [Errno 27] File too large");
      expect(statSync(path.join(workspace, "big2")).size).toBe(8 * MiB);
    }

    // Many files, each under the per-file cap: only the total cap stops them.
    const fillDir = tempDir();
    const fill = await runInSandbox({
      command: "i=0; while :; do i=$((i+1)); head -c 7000000 /dev/zero > fill-$i; done",
      workspace: fillDir,
      limits: { fileSizeBytes: 8 * MiB, diskBytes: 64 * MiB },
      timeoutMs: 20_000,
    });
    expect(fill).toMatchObject({ limitsHit: ["disk"], signal: "SIGKILL", timedOut: false });
    expect(fill.durationMs).toBeLessThan(10_000);
    // Polled every 100 ms: it overshoots by what the command writes in that time (~100 MiB seen here).
    const written = readdirSync(fillDir).reduce(
      (sum, file) => sum + statSync(path.join(fillDir, file)).size,
      0,
    );
    expect(written).toBeGreaterThan(64 * MiB);
    expect(written).toBeLessThan(64 * MiB + 256 * MiB);
  });

  it("stops an endless loop by the CPU limit, and a sleeping one by the wall-clock timeout", async () => {
    const workspace = tempDir();
    const busy = await runInSandbox({
      argv: ["node", "-e", "for (;;) {}"],
      workspace,
      limits: { cpuSeconds: 1 },
      timeoutMs: 20_000,
    });
    expect(busy).toMatchObject({ signal: "SIGXCPU", exitCode: 152, limitsHit: ["cpu"], timedOut: false });
    expect(busy.durationMs).toBeLessThan(5_000);

    const idle = await runInSandbox({
      command: "while :; do sleep 0.1; done",
      workspace,
      limits: { cpuSeconds: 1 },
      timeoutMs: 1_500,
    });
    expect(idle).toMatchObject({ timedOut: true, signal: "SIGKILL", limitsHit: [] });
    expect(idle.durationMs).toBeLessThan(4_000);
  });
});

describe("inherited secrets", () => {
  it("passes nothing of the app's environment: canary secrets set in this process are absent inside", async () => {
    const canaries = {
      AGENTRY_CANARY_SECRET: `canary-${randomBytes(8).toString("hex")}`,
      OPENAI_API_KEY: `sk-canary-${randomBytes(8).toString("hex")}`,
      ANTHROPIC_API_KEY: `sk-ant-canary-${randomBytes(8).toString("hex")}`,
      DATABASE_URL: `postgresql://canary:${randomBytes(8).toString("hex")}@127.0.0.1:5432/canary`,
      AGENTRY_JWT_SECRET: `jwt-canary-${randomBytes(8).toString("hex")}`,
    };
    for (const [name, value] of Object.entries(canaries)) vi.stubEnv(name, value);
    try {
      const result = await runInSandbox({
        command: "env; cat /proc/[0-9]*/environ | tr '\\0' '\\n'; cat /proc/1/cmdline | tr '\\0' ' '",
        workspace: tempDir(),
      });
      expect(result.exitCode).toBe(0);
      for (const [name, value] of Object.entries(canaries)) {
        expect(result.output).not.toContain(value);
        expect(result.output).not.toContain(`${name}=`);
      }
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("keeps the caller's explicit variables off the host's process table", async () => {
    const secret = `explicit-${randomBytes(8).toString("hex")}`;
    const marker = uniqueMarker("explicit-env");
    const run = runInSandbox({
      command: `sh -c 'sleep 1; :' ${marker}`,
      workspace: tempDir(),
      env: { PROJECT_TOKEN: secret },
    });
    await waitFor(
      () => hostProcessesWith(marker),
      (pids) => pids.length > 0,
    );
    const leaking: string[] = [];
    for (const entry of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(secret)) leaking.push(entry);
      } catch {
        // gone
      }
    }
    await run;
    expect(leaking).toEqual([]);
  });
});
