import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  LocalSecretsError,
  loadOrCreateLocalSecrets,
  updateLocalSecrets,
} from "#app/platform/local-secrets.server.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const moduleUrl = pathToFileURL(path.join(here, "local-secrets.server.ts")).href;
const tsxLoader = pathToFileURL(path.resolve(here, "../../node_modules/tsx/dist/loader.mjs")).href;

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "agentry-secrets-"));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const mode = async (p: string) => (await fs.stat(p)).mode & 0o777;

describe("loadOrCreateLocalSecrets", () => {
  it("creates secrets.json (0600) in a new 0700 dir and returns the same values afterwards", async () => {
    const dataDir = path.join(tmp, "parent", "data");
    const first = await loadOrCreateLocalSecrets(dataDir);

    expect(await mode(dataDir)).toBe(0o700);
    expect(await mode(path.dirname(dataDir))).toBe(0o777 & ~process.umask());
    expect(await mode(path.join(dataDir, "secrets.json"))).toBe(0o600);
    expect(first.postgresPassword).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(Buffer.from(first.jwtSecret, "base64url").length).toBe(32);
    expect(Buffer.from(first.encryptionKey, "base64").length).toBe(32);
    expect(new Set([first.postgresPassword, first.jwtSecret, first.encryptionKey]).size).toBe(3);
    expect(first.postgresPort).toBeUndefined();

    expect(await loadOrCreateLocalSecrets(dataDir)).toEqual(first);
    // Nothing but the file itself is left behind (no temp files).
    expect(await fs.readdir(dataDir)).toEqual(["secrets.json"]);
  });

  it("gives every concurrent caller in this process the same secrets", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => loadOrCreateLocalSecrets(tmp)));
    for (const r of results) expect(r).toEqual(results[0]);
    expect(await fs.readdir(tmp)).toEqual(["secrets.json"]);
  });

  it("gives processes that start at the same moment the same secrets", async () => {
    const script = path.join(tmp, "race.mts");
    await fs.writeFile(
      script,
      `import { loadOrCreateLocalSecrets } from ${JSON.stringify(moduleUrl)};
// Start together: wait for the shared go-time so the race is real.
const go = Number(process.argv[3]);
while (Date.now() < go) await new Promise((r) => setTimeout(r, 1));
process.stdout.write(JSON.stringify(await loadOrCreateLocalSecrets(process.argv[2])));
`,
    );
    const dataDir = path.join(tmp, "shared");
    const goAt = String(Date.now() + 1500);
    const outputs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(process.execPath, ["--import", tsxLoader, script, dataDir, goAt], {
              stdio: ["ignore", "pipe", "pipe"],
            });
            let out = "";
            let err = "";
            child.stdout.on("data", (c: Buffer) => {
              out += c.toString();
            });
            child.stderr.on("data", (c: Buffer) => {
              err += c.toString();
            });
            child.on("error", reject);
            child.on("close", (code) =>
              code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`)),
            );
          }),
      ),
    );
    const parsed = outputs.map((o) => JSON.parse(o) as unknown);
    for (const p of parsed) expect(p).toEqual(parsed[0]);
    expect(await loadOrCreateLocalSecrets(dataDir)).toEqual(parsed[0]);
  }, 30_000);

  it("fills fields an older file lacks, deterministically, and keeps unknown fields", async () => {
    await loadOrCreateLocalSecrets(tmp);
    const file = path.join(tmp, "secrets.json");
    const full = JSON.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
    const { jwtSecret: _dropped, encryptionKey: _alsoDropped, ...older } = full;
    await fs.writeFile(file, JSON.stringify({ ...older, fromTheFuture: "kept" }), { mode: 0o600 });

    const upgraded = await loadOrCreateLocalSecrets(tmp);
    // Derived from the seed: the same values a concurrent upgrader would compute.
    expect(upgraded.jwtSecret).toBe(full.jwtSecret);
    expect(upgraded.encryptionKey).toBe(full.encryptionKey);
    const onDisk = JSON.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
    expect(onDisk.fromTheFuture).toBe("kept");
    expect(onDisk.encryptionKey).toBe(full.encryptionKey);
  });

  it("refuses to overwrite a corrupt file and never echoes its content", async () => {
    const file = path.join(tmp, "secrets.json");
    await fs.writeFile(file, '{"version":1,"seed":"not-base64!!","postgresPassword":"hunter2-very-secret"', {
      mode: 0o600,
    });
    await expect(loadOrCreateLocalSecrets(tmp)).rejects.toThrow(LocalSecretsError);
    expect(await fs.readFile(file, "utf8")).toContain("hunter2-very-secret");

    const seed = Buffer.alloc(32, 7).toString("base64");
    await fs.writeFile(file, JSON.stringify({ version: 1, seed, encryptionKey: "c2hvcnQtc2VjcmV0LXZhbHVl" }));
    const error = (await loadOrCreateLocalSecrets(tmp).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(LocalSecretsError);
    expect(error.message).toContain("encryptionKey");
    expect(error.message).not.toContain("c2hvcnQtc2VjcmV0LXZhbHVl");
    expect(error.message).not.toContain(seed);
  });

  it("tightens a secrets file that became group/world-readable", async () => {
    await loadOrCreateLocalSecrets(tmp);
    const file = path.join(tmp, "secrets.json");
    await fs.chmod(file, 0o644);
    await loadOrCreateLocalSecrets(tmp);
    expect(await mode(file)).toBe(0o600);
  });

  it("updateLocalSecrets records the port and leaves the secrets alone", async () => {
    const before = await loadOrCreateLocalSecrets(tmp);
    const after = await updateLocalSecrets(tmp, { postgresPort: 54_321 });
    expect(after).toEqual({ ...before, postgresPort: 54_321 });
    expect(await loadOrCreateLocalSecrets(tmp)).toEqual(after);
    expect(await mode(path.join(tmp, "secrets.json"))).toBe(0o600);
    await expect(updateLocalSecrets(tmp, { postgresPort: 70_000 })).rejects.toThrow();
  });
});
