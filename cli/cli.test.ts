/**
 * The `agentry` CLI against a real server (HTTP app, LISTEN hub, PostgreSQL) with a real worker executing
 * runs on the mock AI provider. Most commands run in-process through `run(argv, io)` with captured streams;
 * the run, bad-key and help tests spawn `node cli/bin.mjs` so the real entry (the tsx shim) is exercised.
 */
import { execFile } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCliEnv } from "#app/env.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { type MockLlm, startMockLlm } from "#tests/mocks/llm/server.ts";
import {
  apiCall,
  postJson,
  signupViaApi,
  startTestServer,
  type TestServer,
} from "#tests/setup/http-server.ts";
import { startWorker, type WorkerHandle } from "#worker/index.ts";
import type { Io } from "./env.ts";
import { run } from "./main.ts";

const BIN = fileURLToPath(new URL("./bin.mjs", import.meta.url));
const ALL_SCOPES = [
  "projects:read",
  "projects:write",
  "workflows:read",
  "workflows:write",
  "runs:read",
  "runs:write",
];

let mock: MockLlm;
let server: TestServer;
let worker: WorkerHandle;
let owner: Awaited<ReturnType<typeof signupViaApi>>;
let key: string;
let tmp: string;
let configHome: string;

async function createKey(scopes: string[]): Promise<{ id: string; key: string }> {
  const res = await postJson(
    `${server.base}/api/v1/api-keys`,
    { name: `cli ${scopes.join(" ")}`, scopes },
    { authorization: `Bearer ${owner.accessToken}` },
  );
  expect(res.status).toBe(201);
  return res.body as { id: string; key: string };
}

type Result = { code: number; stdout: string; stderr: string };

/** The CLI in-process: captured stdout/stderr, our env, a fake signal source. */
async function cli(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; signals?: EventEmitter; cwd?: string } = {},
): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk) => {
    out += chunk;
  });
  stderr.on("data", (chunk) => {
    err += chunk;
  });
  const io: Io = {
    stdout,
    stderr,
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    env: loadCliEnv({ HOME: tmp, XDG_CONFIG_HOME: configHome, AGENTRY_URL: server.base, ...options.env }),
    cwd: options.cwd ?? tmp,
    signals: options.signals ?? new EventEmitter(),
  };
  const code = await run(args, io);
  return { code, stdout: out, stderr: err };
}

/** The CLI as a child process through the bin shim. */
function spawnCli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: tmp,
          XDG_CONFIG_HOME: configHome,
          AGENTRY_URL: server.base,
          ...env,
        } as unknown as NodeJS.ProcessEnv,
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function createWorkflow(projectId: string, definition: unknown, name = "wf"): Promise<string> {
  const res = await apiCall(server.base, "POST", `/projects/${projectId}/workflows`, owner.accessToken, {
    name,
    definition,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return (res.body as { id: string }).id;
}

beforeAll(async () => {
  mock = await startMockLlm();
  server = await startTestServer(
    {},
    { server: { compat: { mock: { baseUrl: `${mock.url}/v1`, apiKey: "" } } } },
  );
  worker = await startWorker({
    connectionString: server.database.url,
    db: server.database.db,
    logger: createLogger({ level: "silent" }),
    concurrency: 2,
    pollInterval: 200,
    ai: server.ai,
  });
  owner = await signupViaApi(server.base);
  key = (await createKey(ALL_SCOPES)).key;
  tmp = await mkdtemp(path.join(os.tmpdir(), "agentry-cli-"));
  configHome = path.join(tmp, "config");
});

afterAll(async () => {
  await worker?.stop();
  await server?.close();
  await mock?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("login, whoami, logout", () => {
  it("login reads the key from piped stdin, checks it and stores {url, key} with mode 0600 in a 0700 dir", async () => {
    const res = await cli(["login", "--json"], { stdin: `${key}\n` });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out).toMatchObject({
      url: server.base,
      user: { email: owner.email },
      credential: { kind: "api_key" },
    });
    const file = path.join(configHome, "agentry", "config.json");
    expect(out.configPath).toBe(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ url: server.base, key });
  });

  it("whoami names the user, the server and the scopes; --json parses", async () => {
    const human = await cli(["whoami"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(owner.email);
    expect(human.stdout).toContain(server.base);
    expect(human.stdout).toContain("runs:write");
    const json = JSON.parse((await cli(["whoami", "--json"])).stdout);
    expect(json).toMatchObject({ url: server.base, keySource: "config", user: { id: owner.userId } });
  });

  it("the stored key is not sent to another server given with --url", async () => {
    const res = await cli(["whoami", "--url", "http://127.0.0.1:9"]);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/^agentry: Not logged in to http:\/\/127\.0\.0\.1:9\./);
  });

  it("login refuses something that is not a key, before any request", async () => {
    const res = await cli(["login", "--key", "hunter2"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("not an Agentry API key");
  });

  it("logout removes the config; whoami then says to log in; login --key restores it", async () => {
    expect((await cli(["logout"])).code).toBe(0);
    const res = await cli(["whoami"]);
    expect(res.code).toBe(3);
    expect(res.stderr).toContain("agentry login");
    expect((await cli(["login", "--key", key])).code).toBe(0);
  });
});

describe("bad keys and missing scopes (spawned through bin.mjs)", () => {
  it("a malformed or revoked key: one clear line on stderr, exit 3; --json gives an error document", async () => {
    const bogus = `agt_${"x".repeat(39)}`;
    const res = await spawnCli(["whoami"], { AGENTRY_API_KEY: bogus });
    expect(res.code).toBe(3);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toContain("Not logged in, or the API key was revoked or has expired");

    const revoked = await createKey(["projects:read"]);
    const del = await apiCall(server.base, "DELETE", `/api-keys/${revoked.id}`, owner.accessToken);
    expect(del.status).toBe(200);
    const json = await spawnCli(["projects", "ls", "--json"], { AGENTRY_API_KEY: revoked.key });
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "UNAUTHORIZED", exitCode: 3 } });
  });

  it("a key without the scope: the message names the scope", async () => {
    const readOnly = await createKey(["projects:read"]);
    const res = await cli(["projects", "create", "nope"], { env: { AGENTRY_API_KEY: readOnly.key } });
    expect(res.code).toBe(3);
    expect(res.stderr).toContain("lacks the `projects:write` scope");
  });

  it("--help, --version and usage errors", async () => {
    const help = await spawnCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: agentry <command>");
    const runHelp = await cli(["run", "--help"]);
    expect(runHelp.stdout).toContain("Exit code: 0 succeeded, 1 failed or dead, 130 cancelled");
    expect((await cli(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "frobnicate"');
    const missing = await cli(["projects", "create"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Usage: agentry projects create <name>");
  });
});

describe("projects and files", () => {
  let projectId: string;

  it("projects create / ls (human and --json)", async () => {
    const created = await cli(["projects", "create", "CLI project", "--json"]);
    expect(created.code).toBe(0);
    projectId = JSON.parse(created.stdout).id;
    const ls = await cli(["projects", "ls"]);
    expect(ls.stdout).toMatch(/^ID\s+NAME\s+FILES/);
    expect(ls.stdout).toContain("CLI project");
    const json = JSON.parse((await cli(["projects", "ls", "--json"])).stdout);
    expect(json.items.map((p: { id: string }) => p.id)).toContain(projectId);
  });

  it("push then pull round-trips a folder; a second push is all unchanged; ignored and binary files are skipped", async () => {
    const src = path.join(tmp, "src-folder");
    await mkdir(path.join(src, "lib"), { recursive: true });
    await mkdir(path.join(src, "node_modules", "dep"), { recursive: true });
    await mkdir(path.join(src, ".git"), { recursive: true });
    await writeFile(path.join(src, "README.md"), "# Hello\n");
    await writeFile(path.join(src, "lib", "a.ts"), "export const a = 1;\n");
    await writeFile(path.join(src, "lib", "empty.txt"), "");
    await writeFile(path.join(src, "node_modules", "dep", "index.js"), "x");
    await writeFile(path.join(src, ".git", "HEAD"), "ref");
    await writeFile(path.join(src, "logo.png"), Buffer.from([0x89, 0x50, 0x00, 0x01]));

    const push = await cli(["files", "push", projectId, src, "--json"]);
    expect(push.code).toBe(0);
    const summary = JSON.parse(push.stdout);
    expect(summary.created).toEqual(["README.md", "lib/a.ts", "lib/empty.txt"]);
    expect(summary.skipped).toEqual(
      expect.arrayContaining([
        { path: ".git/", reason: "ignored folder" },
        { path: "node_modules/", reason: "ignored folder" },
        { path: "logo.png", reason: "binary" },
      ]),
    );

    const again = await cli(["files", "push", projectId, src]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Pushed: 0 created, 0 updated, 3 unchanged, 0 deleted");

    const dest = path.join(tmp, "dest-folder");
    const pull = await cli(["files", "pull", projectId, dest, "--json"]);
    expect(pull.code).toBe(0);
    expect(JSON.parse(pull.stdout).created).toHaveLength(3);
    expect(await readFile(path.join(dest, "lib", "a.ts"), "utf8")).toBe("export const a = 1;\n");
    expect(await readFile(path.join(dest, "README.md"), "utf8")).toBe("# Hello\n");
    expect(await readFile(path.join(dest, "lib", "empty.txt"), "utf8")).toBe("");

    // A local edit is an update; a file removed locally is deleted only with --delete.
    await writeFile(path.join(src, "lib", "a.ts"), "export const a = 2;\n");
    await rm(path.join(src, "lib", "empty.txt"));
    const update = JSON.parse((await cli(["files", "push", projectId, src, "--json"])).stdout);
    expect(update).toMatchObject({ updated: ["lib/a.ts"], deleted: [], remoteOnly: ["lib/empty.txt"] });
    const deleted = JSON.parse((await cli(["files", "push", projectId, src, "--delete", "--json"])).stdout);
    expect(deleted).toMatchObject({ deleted: ["lib/empty.txt"], unchanged: ["README.md", "lib/a.ts"] });

    // dest is unchanged since its pull: pulling overwrites it with the project's new content.
    const pull2 = JSON.parse((await cli(["files", "pull", projectId, dest, "--json"])).stdout);
    expect(pull2.updated).toEqual(["lib/a.ts"]);
    expect(await readFile(path.join(dest, "lib", "a.ts"), "utf8")).toBe("export const a = 2;\n");
  });

  it("conflicts: an edit on both sides is left alone (exit 1) unless --force", async () => {
    const dir = path.join(tmp, "conflict-folder");
    expect((await cli(["files", "pull", projectId, dir])).code).toBe(0);
    // The project moves on (another client saves README.md); the local copy is edited too.
    const file = await apiCall(server.base, "GET", `/projects/${projectId}/files`, owner.accessToken);
    const readme = (file.body as { files: Array<{ path: string; version: number }> }).files.find(
      (f) => f.path === "README.md",
    );
    const save = await apiCall(server.base, "PUT", `/projects/${projectId}/files`, owner.accessToken, {
      path: "README.md",
      content: "# Remote\n",
      baseVersion: readme?.version,
    });
    expect(save.status).toBe(200);
    await writeFile(path.join(dir, "README.md"), "# Local\n");

    const push = await cli(["files", "push", projectId, dir]);
    expect(push.code).toBe(1);
    expect(push.stderr).toContain("! README.md: changed in the project since the last sync");
    const pull = await cli(["files", "pull", projectId, dir]);
    expect(pull.code).toBe(1);
    expect(pull.stderr).toContain("! README.md: changed here since the last sync");
    expect(await readFile(path.join(dir, "README.md"), "utf8")).toBe("# Local\n");

    const forced = await cli(["files", "pull", projectId, dir, "--force"]);
    expect(forced.code).toBe(0);
    expect(await readFile(path.join(dir, "README.md"), "utf8")).toBe("# Remote\n");
  });
});

describe("workflows and runs", () => {
  let projectId: string;
  let okWorkflow: string;
  let badWorkflow: string;

  beforeAll(async () => {
    const res = await apiCall(server.base, "POST", "/projects", owner.accessToken, { name: "Runs project" });
    projectId = (res.body as { id: string }).id;
    okWorkflow = await createWorkflow(
      projectId,
      {
        inputs: { task: { type: "string" }, n: { type: "number" } },
        steps: [
          { id: "prep", type: "transform", template: "Do {{inputs.task}} x{{inputs.n}}" },
          { id: "ask", type: "llm", model: "compat:mock/echo", prompt: "{{steps.prep.output}}" },
        ],
      },
      "Echo",
    );
    badWorkflow = await createWorkflow(
      projectId,
      { steps: [{ id: "broken", type: "transform", template: "{nope", output: "json" }] },
      "Broken",
    );
  });

  it("workflows ls", async () => {
    const res = await cli(["workflows", "ls", projectId]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("Echo");
    expect(res.stdout).toContain("transform → llm");
    const json = JSON.parse((await cli(["workflows", "ls", projectId, "--json"])).stdout);
    expect(json.items).toHaveLength(2);
  });

  it("run streams tokens to stdout and steps to stderr, exit 0 when it succeeds (spawned)", async () => {
    const res = await spawnCli(["run", okWorkflow, "--input", "task=tests", "-i", "n=3"]);
    expect(res.stderr).toContain("▶ [1/2] prep (transform)");
    expect(res.stderr).toContain("▶ [2/2] ask (llm)");
    expect(res.stderr).toMatch(/✓ Run [0-9a-f-]{36} succeeded · .* · 2\/2 steps/);
    expect(res.stdout).toBe("Echo: Do tests x3\n");
    expect(res.code).toBe(0);
  });

  it("run exits 1 for a failed run and says why (spawned)", async () => {
    const res = await spawnCli(["run", badWorkflow]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("✗ broken failed");
    expect(res.stderr).toMatch(/✗ Run [0-9a-f-]{36} failed/);
  });

  it("run --json streams NDJSON events then a final result", async () => {
    const res = await spawnCli(["run", okWorkflow, "-i", "task=json", "-i", "n=1", "--json"]);
    expect(res.code).toBe(0);
    const lines = res.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const last = lines.at(-1);
    expect(last).toMatchObject({
      type: "result",
      status: "succeeded",
      exitCode: 0,
      run: { output: "Echo: Do json x1" },
    });
    const events = lines.slice(0, -1);
    expect(events[0]).toMatchObject({ seq: 1, type: "status" });
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["step_started", "token", "step_finished"]),
    );
    expect(events.at(-1)).toMatchObject({ type: "status", data: { status: "succeeded" } });
    const text = events
      .filter((e) => e.type === "token")
      .map((e) => e.data.text)
      .join("");
    expect(text).toBe("Echo: Do json x1");
  });

  it("a bad input value is a usage error before any run starts", async () => {
    const res = await cli(["run", okWorkflow, "-i", "task=x", "-i", "n=abc"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('Input n must be a number, got "abc"');
    const missing = await cli(["run", okWorkflow, "-i", "n=2"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("The run input has 1 problem");
  });

  it("--no-follow, runs ls / show / watch / cancel", async () => {
    const started = await cli(["run", okWorkflow, "-i", "task=later", "-i", "n=2", "--no-follow", "--json"]);
    expect(started.code).toBe(0);
    const { runId } = JSON.parse(started.stdout);
    const watch = await cli(["runs", "watch", runId]);
    expect(watch.code).toBe(0);
    expect(watch.stdout).toBe("Echo: Do later x2\n");

    const ls = JSON.parse(
      (await cli(["runs", "ls", "--project", projectId, "--status", "succeeded", "--json"])).stdout,
    );
    expect(ls.items.map((r: { id: string }) => r.id)).toContain(runId);
    const human = await cli(["runs", "ls", "--project", projectId]);
    expect(human.stdout).toMatch(/^ID\s+STATUS\s+WORKFLOW/);

    const show = await cli(["runs", "show", runId]);
    expect(show.stdout).toContain("Status    succeeded");
    expect(show.stdout).toContain("Echo: Do later x2");
    expect(JSON.parse((await cli(["runs", "show", runId, "--json"])).stdout)).toMatchObject({
      id: runId,
      status: "succeeded",
    });

    const cancel = await cli(["runs", "cancel", runId]);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toMatch(/^agentry: .+/);
    expect((await cli(["runs", "ls", "--status", "nope"])).code).toBe(2);
  });

  it("Ctrl-C cancels the run on the server and exits 130", async () => {
    const slow = await createWorkflow(
      projectId,
      {
        steps: [
          { id: "one", type: "llm", model: "compat:mock/slow", prompt: "go" },
          { id: "two", type: "llm", model: "compat:mock/slow", prompt: "go" },
        ],
      },
      "Slow",
    );
    const signals = new EventEmitter();
    const pending = cli(["run", slow], { signals });
    // Interrupt once the first tokens have been seen by the server.
    const db = server.database.db;
    for (let i = 0; i < 200; i += 1) {
      const token = await db.runEvent.findFirst({ where: { type: "token", run: { workflowId: slow } } });
      if (token) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    signals.emit("SIGINT");
    const res = await pending;
    expect(res.stderr).toContain("Cancelling the run");
    expect(res.stderr).toMatch(/✗ Run [0-9a-f-]{36} cancelled/);
    expect(res.code).toBe(130);
  });
});
