import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadCliEnv, loadEnv } from "./env.server.ts";

describe("loadEnv", () => {
  it("gives the documented defaults for an empty environment", () => {
    const env = loadEnv({}, "/srv/agentry");
    expect(env).toMatchObject({
      PORT: 3000,
      HOST: "127.0.0.1",
      AGENTRY_ROLE: "all",
      AGENTRY_MIGRATE_ON_START: true,
      WORKER_CONCURRENCY: 4,
      LOG_LEVEL: "info",
      LOG_FORMAT: "auto",
      dataDir: path.join("/srv/agentry", ".data"),
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it("coerces numbers and booleans and resolves the data dir against the working directory", () => {
    const env = loadEnv(
      {
        PORT: "8080",
        AGENTRY_MIGRATE_ON_START: "false",
        AGENTRY_DATA_DIR: "state",
        WORKER_CONCURRENCY: "12",
      },
      "/srv/agentry",
    );
    expect(env.PORT).toBe(8080);
    expect(env.AGENTRY_MIGRATE_ON_START).toBe(false);
    expect(env.WORKER_CONCURRENCY).toBe(12);
    expect(env.dataDir).toBe("/srv/agentry/state");
  });

  it("flags override the environment; defaults only fill what it leaves unset", () => {
    const env = loadEnv({ AGENTRY_ROLE: "web", NODE_ENV: "test" }, "/srv", {
      overrides: { AGENTRY_ROLE: "worker" },
      defaults: { NODE_ENV: "development", LOG_LEVEL: "debug" },
    });
    expect(env.AGENTRY_ROLE).toBe("worker");
    expect(env.NODE_ENV).toBe("test");
    expect(env.LOG_LEVEL).toBe("debug");
  });

  it("worker liveness: documented defaults, and a dead-worker threshold of at least 3 heartbeats (or 0, off)", () => {
    expect(loadEnv({})).toMatchObject({
      WORKER_HEARTBEAT_MS: 5_000,
      WORKER_DEAD_AFTER_MS: 30_000,
      WORKER_POLL_INTERVAL_MS: 2_000,
    });
    const fast = loadEnv({
      WORKER_HEARTBEAT_MS: "250",
      WORKER_DEAD_AFTER_MS: "750",
      WORKER_POLL_INTERVAL_MS: "100",
    });
    expect([fast.WORKER_HEARTBEAT_MS, fast.WORKER_DEAD_AFTER_MS, fast.WORKER_POLL_INTERVAL_MS]).toEqual([
      250, 750, 100,
    ]);
    expect(loadEnv({ WORKER_DEAD_AFTER_MS: "0" }).WORKER_DEAD_AFTER_MS).toBe(0);
    expect(() => loadEnv({ WORKER_HEARTBEAT_MS: "1000", WORKER_DEAD_AFTER_MS: "2000" })).toThrowError(
      /WORKER_DEAD_AFTER_MS: must be 0 \(off\) or at least 3 × WORKER_HEARTBEAT_MS/,
    );
    expect(() => loadEnv({ WORKER_HEARTBEAT_MS: "10" })).toThrowError(/WORKER_HEARTBEAT_MS/);
  });

  it("treats an empty DATABASE_URL as unset (embedded mode)", () => {
    expect(loadEnv({ DATABASE_URL: "" }).DATABASE_URL).toBeUndefined();
  });

  it("names every bad variable in one error", () => {
    expect(() =>
      loadEnv({
        PORT: "not-a-port",
        DATABASE_URL: "mysql://x",
        AGENTRY_ROLE: "both",
        WORKER_CONCURRENCY: "0",
      }),
    ).toThrowError(/PORT[\s\S]*DATABASE_URL[\s\S]*AGENTRY_ROLE[\s\S]*WORKER_CONCURRENCY/);
  });
});

describe("loadCliEnv", () => {
  it("keeps the CLI's variables only, trimmed, blank ones unset", () => {
    expect(
      loadCliEnv({
        AGENTRY_URL: " http://agentry.local:3000 ",
        AGENTRY_API_KEY: "   ",
        HOME: "/home/ada",
        DATABASE_URL: "postgresql://secret@db/agentry",
      }),
    ).toEqual({ AGENTRY_URL: "http://agentry.local:3000", HOME: "/home/ada" });
  });
});
