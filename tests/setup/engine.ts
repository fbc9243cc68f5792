/**
 * What a test of the workflow engine needs around executeRun: the mock provider in-process (as endpoint
 * `compat:mock/…`), the AI runtime on it, a fast event writer, and — for command and agent steps — a private
 * workspaces directory with the default sandbox settings. Call at the top of a test file.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { createLogger } from "#app/lib/logger.server.ts";
import type { EngineDeps } from "#app/modules/runs/engine.server.ts";
import { createEventWriter, type EventWriter } from "#app/modules/runs/events.server.ts";
import { type MockLlm, startMockLlm } from "#tests/mocks/llm/server.ts";
import { type AiRuntime, createTestAiRuntime } from "./ai.ts";
import type { TestDatabase } from "./database.ts";

export type EngineHarness = {
  readonly mock: MockLlm;
  readonly ai: AiRuntime;
  readonly events: EventWriter;
  /** Deps for executeRun: a fresh worker id and signal each time, heartbeat 25 ms. */
  deps(overrides?: Partial<EngineDeps>): EngineDeps;
};

export function setupEngineHarness(
  database: Pick<TestDatabase, "db">,
  { sandbox = false }: { sandbox?: boolean } = {},
): EngineHarness {
  const logger = createLogger({ level: "silent" });
  let mock: MockLlm | undefined;
  let ai: AiRuntime | undefined;
  let events: EventWriter | undefined;
  let tmp: string | undefined;
  beforeAll(async () => {
    mock = await startMockLlm();
    ai = createTestAiRuntime(database.db, {
      server: { compat: { mock: { baseUrl: `${mock.url}/v1`, apiKey: "" } } },
    });
    events = createEventWriter({ db: database.db, flushIntervalMs: 5, logger });
    if (sandbox) tmp = await mkdtemp(path.join(os.tmpdir(), "agentry-engine-"));
  });
  afterAll(async () => {
    await events?.close();
    await mock?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not ready: use the harness inside tests`);
    return value;
  };
  return {
    get mock() {
      return need(mock, "the mock provider");
    },
    get ai() {
      return need(ai, "the AI runtime");
    },
    get events() {
      return need(events, "the event writer");
    },
    deps(overrides = {}) {
      return {
        db: database.db,
        ai: need(ai, "the AI runtime"),
        events: need(events, "the event writer"),
        logger,
        workerId: randomUUID(),
        signal: new AbortController().signal,
        heartbeatMs: 25,
        ...(tmp ? { sandbox: { config: {}, workspacesDir: path.join(tmp, "workspaces") } } : {}),
        ...overrides,
      };
    },
  };
}
