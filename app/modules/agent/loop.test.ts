import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createUser } from "#tests/factories/index.ts";
import { type MockLlm, type ScriptStep, startMockLlm } from "#tests/mocks/llm/server.ts";
import { type AiRuntime, createTestAiRuntime } from "#tests/setup/ai.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { type AgentLimits, type AgentTool, ZAgentLimits } from "./agent.types.ts";
import {
  type AgentCheckpoint,
  type AgentEvent,
  type AgentLoopOptions,
  type AgentState,
  capText,
  parseAction,
  runAgentLoop,
  toolModeFor,
} from "./loop.server.ts";

const database = setupTestDatabase();
const db = () => database.db;

let mock: MockLlm;
let ai: AiRuntime;

beforeAll(async () => {
  mock = await startMockLlm();
  const compat = { baseUrl: `${mock.url}/v1`, apiKey: "" };
  ai = createTestAiRuntime(database.db, {
    server: {
      openai: { apiKey: "mock-key", baseUrl: `${mock.url}/v1` },
      anthropic: { apiKey: "mock-key", baseUrl: mock.url },
      // `mock` is not in the catalog (no tool calling: text actions); `ollama` models are, with tools: true.
      compat: { mock: compat, ollama: compat },
    },
  });
});
afterAll(async () => {
  await mock?.close();
});
beforeEach(() => mock.reset());

const OPENAI = "openai:gpt-4.1-mini";
const ANTHROPIC = "anthropic:claude-haiku-4-5";
const PLAIN = "compat:mock/plain-model";

// ─── Fake tools ──────────────────────────────────────────────────────────────

type FakeWorld = {
  tools: AgentTool[];
  files: Map<string, string>;
  /** Every invocation, in order. */
  invocations: Array<{ name: string; input: unknown }>;
  count(name: string): number;
  /** Signals the `wait` tool received. */
  waitSignals: AbortSignal[];
};

function fakeWorld(initial: Record<string, string> = {}): FakeWorld {
  const files = new Map(Object.entries(initial));
  const invocations: FakeWorld["invocations"] = [];
  const waitSignals: AbortSignal[] = [];
  const object = (properties: Record<string, unknown>, required: string[]) => ({
    type: "object",
    properties,
    required,
  });
  const tools: AgentTool[] = [
    {
      name: "read_file",
      description: "Read a file of the workspace.",
      parameters: object({ path: { type: "string" } }, ["path"]),
      async run(input) {
        invocations.push({ name: "read_file", input });
        const path = (input as { path?: unknown }).path;
        if (typeof path !== "string") return { output: "path is required", isError: true };
        const content = files.get(path);
        if (content === undefined) return { output: `No file ${path}`, isError: true, meta: { path } };
        return { output: content, meta: { path, bytes: content.length } };
      },
    },
    {
      name: "write_file",
      description: "Write a file of the workspace.",
      parameters: object({ path: { type: "string" }, content: { type: "string" } }, ["path", "content"]),
      async run(input) {
        invocations.push({ name: "write_file", input });
        const { path, content } = input as { path: string; content: string };
        files.set(path, content);
        return { output: `Wrote ${content.length} characters to ${path}`, meta: { path } };
      },
    },
    {
      name: "run_command",
      description: "Run a command.",
      parameters: object({ command: { type: "string" } }, ["command"]),
      async run(input, context) {
        invocations.push({ name: "run_command", input });
        context.onOutput?.("stdout", "1 passed\n");
        context.onOutput?.("stderr", "warning: slow\n");
        const pass = files.get("a.txt") === "fixed";
        return {
          output: pass ? "exit 0\n1 passed" : "exit 1\n1 failed",
          isError: !pass,
          meta: { exitCode: pass ? 0 : 1 },
        };
      },
    },
    {
      name: "big_output",
      description: "Print a lot.",
      parameters: object({}, []),
      async run(input) {
        invocations.push({ name: "big_output", input });
        return { output: `${"a".repeat(50_000)}${"z".repeat(50_000)}` };
      },
    },
    {
      name: "wait",
      description: "Wait until aborted (ignores nothing: rejects on abort).",
      parameters: object({}, []),
      run(input, context) {
        invocations.push({ name: "wait", input });
        waitSignals.push(context.signal);
        return new Promise((_, reject) => {
          context.signal.addEventListener("abort", () => reject(context.signal.reason), { once: true });
        });
      },
    },
  ];
  return {
    tools,
    files,
    invocations,
    waitSignals,
    count: (name) => invocations.filter((i) => i.name === name).length,
  };
}

/** A checkpoint store in memory: every saved state, in order (deep copies). */
function memoryCheckpoint(initial: AgentState | null = null) {
  const saves: AgentState[] = [];
  let failWhen: ((state: AgentState) => boolean) | null = null;
  const store: AgentCheckpoint & { saves: AgentState[]; failWhen(p: (s: AgentState) => boolean): void } = {
    saves,
    async load() {
      return initial ? structuredClone(initial) : null;
    },
    async save(state) {
      saves.push(structuredClone(state));
      if (failWhen?.(state)) throw new Error("the database went away (simulated crash)");
    },
    failWhen(predicate) {
      failWhen = predicate;
    },
  };
  return store;
}

const limits = (overrides: Partial<AgentLimits> = {}): AgentLimits => ({
  ...ZAgentLimits.parse({}),
  ...overrides,
});

async function runLoop(
  userId: string,
  script: { id: string; steps?: ScriptStep[] },
  options: Partial<AgentLoopOptions> & { world: FakeWorld },
) {
  if (script.steps) mock.script(script.id, script.steps);
  const events: AgentEvent[] = [];
  const { world, ...rest } = options;
  const result = await runAgentLoop({
    ai,
    callContext: { userId, upstreamHeaders: { "x-mock-script": script.id } },
    model: OPENAI,
    instructions: "Fix the failing test in a.txt.",
    tools: world.tools,
    limits: limits(),
    signal: new AbortController().signal,
    emit: (event) => events.push(event),
    ...rest,
  });
  return { result, events };
}

type OpenAiBody = {
  tools?: Array<{ function: { name: string } }>;
  messages: Array<{
    role: string;
    content: string | null;
    tool_call_id?: string;
    tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
  }>;
};

const bodyOf = (index: number) => mock.requests[index]?.body as OpenAiBody;

const kinds = (events: AgentEvent[]) =>
  events.filter((e) => e.type !== "token" && e.type !== "log").map((e) => e.type);

// ─── Tests ───────────────────────────────────────────────────────────────────

describe("runAgentLoop: native tool calling", () => {
  it("openai: reads, writes, runs the tests, finishes; results go back as tool messages; AiCalls recorded", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "broken" });
    const checkpoint = memoryCheckpoint();
    const id = randomUUID();
    const { result, events } = await runLoop(
      user.id,
      {
        id,
        steps: [
          { toolCalls: [{ name: "read_file", arguments: { path: "a.txt" } }], text: "Let me look." },
          {
            text: "Fixing it.",
            toolCalls: [
              { name: "write_file", arguments: { path: "a.txt", content: "fixed" } },
              { name: "run_command", arguments: { command: "npm test" } },
            ],
          },
          { toolCalls: [{ name: "finish", arguments: { summary: "Fixed a.txt; the test passes." } }] },
        ],
      },
      { world, checkpoint, system: "You are careful." },
    );

    expect(result.stopReason).toBe("finished");
    expect(result.summary).toBe("Fixed a.txt; the test passes.");
    expect(result.turns).toBe(3);
    expect(world.files.get("a.txt")).toBe("fixed");
    expect(world.invocations.map((i) => i.name)).toEqual(["read_file", "write_file", "run_command"]);

    // What the model saw.
    expect(mock.requests).toHaveLength(3);
    const first = bodyOf(0);
    expect(first.tools?.map((t) => t.function.name)).toEqual([
      "read_file",
      "write_file",
      "run_command",
      "big_output",
      "wait",
      "finish",
    ]);
    expect(first.messages[0]?.role).toBe("system");
    expect(first.messages[0]?.content).toContain("You are careful.");
    expect(first.messages[1]).toEqual({ role: "user", content: "Fix the failing test in a.txt." });
    const second = bodyOf(1).messages;
    const readCall = second[2]?.tool_calls?.[0];
    expect(second[2]).toMatchObject({ role: "assistant", content: "Let me look." });
    expect(readCall?.function).toEqual({ name: "read_file", arguments: '{"path":"a.txt"}' });
    expect(second[3]).toEqual({ role: "tool", tool_call_id: readCall?.id, content: "broken" });
    const third = bodyOf(2).messages;
    expect(third.slice(4).map((m) => [m.role, m.content])).toEqual([
      ["assistant", "Fixing it."],
      ["tool", "Wrote 5 characters to a.txt"],
      ["tool", "exit 0\n1 passed"],
    ]);

    // Events: tokens streamed, each call then its result, command output while it ran, one turn event per turn.
    expect(
      events
        .filter((e) => e.type === "token")
        .map((e) => (e as { text: string }).text)
        .join(""),
    ).toBe("Let me look.Fixing it.");
    expect(kinds(events)).toEqual([
      "turn",
      "tool_call",
      "tool_result",
      "turn",
      "tool_call",
      "tool_result",
      "tool_call",
      "tool_output",
      "tool_output",
      "tool_result",
      "turn",
      "tool_call",
      "tool_result",
    ]);
    expect(events).toContainEqual({
      type: "tool_result",
      callId: readCall?.id,
      name: "read_file",
      output: "broken",
      isError: false,
      meta: { path: "a.txt", bytes: 6 },
    });
    expect(events).toContainEqual(
      expect.objectContaining({ type: "tool_output", stream: "stderr", chunk: "warning: slow\n" }),
    );

    // Usage is the sum of the recorded AiCalls.
    const calls = await db().aiCall.findMany({ where: { userId: user.id } });
    expect(calls).toHaveLength(3);
    expect(calls.every((c) => c.provider === "openai" && c.error === null)).toBe(true);
    expect(result.usage.tokensIn).toBe(calls.reduce((n, c) => n + c.tokensIn, 0));
    expect(result.usage.tokensOut).toBe(calls.reduce((n, c) => n + c.tokensOut, 0));
    expect(result.usage.costMicros).toBe(calls.reduce((n, c) => n + Number(c.costMicros), 0));
    expect(result.usage.costMicros).toBeGreaterThan(0);

    // Checkpoints: after each turn (3), before each tool (3) and after each result (3), and the outcome.
    const saves = checkpoint.saves;
    expect(saves.length).toBe(3 + 3 + 3 + 1);
    expect(saves.at(-1)?.outcome).toEqual({ stopReason: "finished", summary: result.summary });
    expect(saves[0]).toMatchObject({ turns: 1, pending: { doneIds: [], startedId: null } });
    expect(saves[1]).toMatchObject({ turns: 1, pending: { doneIds: [], startedId: readCall?.id } });
    expect(saves[2]).toMatchObject({ turns: 1, pending: null });

    // A finished loop's checkpoint returns the same result without calling the model.
    const again = await runLoop(
      user.id,
      { id },
      { world, checkpoint: memoryCheckpoint(saves.at(-1) ?? null) },
    );
    expect(again.result).toMatchObject({ stopReason: "finished", summary: result.summary, turns: 3 });
    expect(mock.requests).toHaveLength(3);
  });

  it("anthropic: tool_use / tool_result blocks, errors flagged is_error", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "broken" });
    const { result } = await runLoop(
      user.id,
      {
        id: randomUUID(),
        steps: [
          { toolCalls: [{ name: "read_file", arguments: { path: "missing.txt" } }] },
          { toolCalls: [{ name: "read_file", arguments: { path: "a.txt" } }] },
          { toolCalls: [{ name: "finish", arguments: { summary: "Looked around." } }] },
        ],
      },
      { world, model: ANTHROPIC },
    );
    expect(result).toMatchObject({ stopReason: "finished", summary: "Looked around.", turns: 3 });
    expect(mock.requests.map((r) => r.protocol)).toEqual(["anthropic", "anthropic", "anthropic"]);
    const body = mock.requests[2]?.body as {
      system: unknown;
      tools: Array<{ name: string; input_schema: unknown }>;
      messages: Array<{ role: string; content: unknown }>;
    };
    expect(body.tools.map((t) => t.name)).toContain("finish");
    expect(JSON.stringify(body.system)).toContain("call `finish`");
    const blocks = body.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []));
    const uses = blocks.filter((b: { type: string }) => b.type === "tool_use");
    const results = blocks.filter((b: { type: string }) => b.type === "tool_result");
    expect(uses).toHaveLength(2);
    expect(uses[0]).toMatchObject({ name: "read_file", input: { path: "missing.txt" } });
    expect(results[0]).toMatchObject({
      tool_use_id: uses[0].id,
      content: "Error: No file missing.txt",
      is_error: true,
    });
    expect(results[1]).toMatchObject({ tool_use_id: uses[1].id, content: "broken" });
    expect(results[1]).not.toHaveProperty("is_error");
    const calls = await db().aiCall.findMany({ where: { userId: user.id } });
    expect(calls.map((c) => c.provider)).toEqual(["anthropic", "anthropic", "anthropic"]);
    expect(result.usage.costMicros).toBe(calls.reduce((n, c) => n + Number(c.costMicros), 0));
  });

  it("invalid JSON arguments and an unknown tool become error results the model reads; nothing crashes", async () => {
    const user = await createUser(db());
    const world = fakeWorld();
    const { result, events } = await runLoop(
      user.id,
      {
        id: randomUUID(),
        steps: [
          {
            toolCalls: [
              { name: "read_file", arguments: '{"path": "a.txt"' },
              { name: "delete_everything", arguments: { really: true } },
              { name: "read_file", arguments: "[1, 2]" },
              { name: "finish", arguments: {} },
            ],
          },
          { toolCalls: [{ name: "finish", arguments: { summary: "Gave up politely." } }] },
        ],
      },
      { world },
    );
    expect(result).toMatchObject({ stopReason: "finished", summary: "Gave up politely.", turns: 2 });
    expect(world.invocations).toEqual([]);
    const tool = bodyOf(1).messages.filter((m) => m.role === "tool");
    expect(tool).toHaveLength(4);
    expect(tool[0]?.content).toMatch(
      /^Error: The arguments of read_file are not a JSON object \(invalid JSON/,
    );
    expect(tool[1]?.content).toBe(
      'Error: Unknown tool "delete_everything". The tools are: read_file, write_file, run_command, big_output, wait, finish.',
    );
    expect(tool[2]?.content).toContain("a JSON value that is not an object");
    expect(tool[3]?.content).toContain("finish needs a summary");
    // The UI still sees the calls, with the raw arguments when they do not parse.
    expect(events).toContainEqual(
      expect.objectContaining({ type: "tool_call", name: "read_file", input: '{"path": "a.txt"' }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: "tool_result", name: "delete_everything", isError: true }),
    );
  });

  it("caps a huge tool result (head and tail kept, a note says how much was cut) and logs it", async () => {
    const user = await createUser(db());
    const world = fakeWorld();
    const { result, events } = await runLoop(
      user.id,
      {
        id: randomUUID(),
        steps: [
          { toolCalls: [{ name: "big_output", arguments: {} }] },
          { toolCalls: [{ name: "finish", arguments: { summary: "ok" } }] },
        ],
      },
      { world, maxResultChars: 2_000 },
    );
    expect(result.stopReason).toBe("finished");
    const sent = bodyOf(1).messages.find((m) => m.role === "tool")?.content ?? "";
    expect(sent.length).toBeLessThanOrEqual(2_000);
    expect(sent.startsWith("aaaa")).toBe(true);
    expect(sent.endsWith("zzzz")).toBe(true);
    expect(sent).toMatch(/\[… [\d,]+ characters omitted by the agent: the result had 100,000 …\]/);
    expect(events).toContainEqual(expect.objectContaining({ type: "log", level: "warn" }));
    const capped = capText("x".repeat(100), 1_000);
    expect(capped).toEqual({ text: "x".repeat(100), omitted: 0 });
  });

  it("a compat model whose catalog entry has tools: true uses native tool calling", async () => {
    expect(toolModeFor(ai.catalog, "compat:ollama/qwen2.5-coder")).toBe("native");
    expect(toolModeFor(ai.catalog, PLAIN)).toBe("text");
    expect(toolModeFor(ai.catalog, OPENAI)).toBe("native");
    expect(toolModeFor(ai.catalog, "openai:some-new-model")).toBe("native");
    expect(toolModeFor(ai.catalog, ANTHROPIC)).toBe("native");

    const user = await createUser(db());
    const { result } = await runLoop(
      user.id,
      { id: randomUUID(), steps: [{ toolCalls: [{ name: "finish", arguments: { summary: "native" } }] }] },
      { world: fakeWorld(), model: "compat:ollama/qwen2.5-coder" },
    );
    expect(result).toMatchObject({ stopReason: "finished", summary: "native" });
    expect(bodyOf(0).tools?.length).toBeGreaterThan(0);
  });
});

describe("runAgentLoop: text-action fallback", () => {
  it("describes the tools in the prompt, runs fenced actions, corrects malformed ones, results as user messages", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "broken" });
    const action = (tool: string, input: unknown) =>
      `\`\`\`action\n${JSON.stringify({ tool, input })}\n\`\`\``;
    const { result, events } = await runLoop(
      user.id,
      {
        id: randomUUID(),
        steps: [
          { reply: `I will read the file first.\n${action("read_file", { path: "a.txt" })}` },
          { reply: "```action\n{tool: 'write_file'}\n```" },
          {
            reply: `${action("write_file", { path: "a.txt", content: "fixed" })}\n${action("run_command", { command: "x" })}`,
          },
          { reply: action("run_command", { command: "npm test" }) },
          { reply: `Done.\n${action("finish", { summary: "Fixed with text actions." })}` },
        ],
      },
      { world, model: PLAIN },
    );
    expect(result).toMatchObject({ stopReason: "finished", summary: "Fixed with text actions.", turns: 5 });
    expect(world.invocations.map((i) => i.name)).toEqual(["read_file", "write_file", "run_command"]);
    expect(world.files.get("a.txt")).toBe("fixed");

    const first = bodyOf(0);
    expect(first.tools).toBeUndefined();
    const system = first.messages[0]?.content ?? "";
    expect(system).toContain("```action");
    expect(system).toContain("### read_file\nRead a file of the workspace.");
    expect(system).toContain("### finish");

    const messages = bodyOf(4).messages;
    expect(messages.every((m) => m.role !== "tool" && !m.tool_calls)).toBe(true);
    expect(messages.slice(2).map((m) => m.role)).toEqual([
      "assistant",
      "user",
      "assistant",
      "user",
      "assistant",
      "user",
      "user",
      "assistant",
      "user",
    ]);
    expect(messages[3]?.content).toBe("Result of read_file:\nbroken");
    expect(messages[5]?.content).toMatch(/^Your action could not be read: the block is not valid JSON/);
    expect(messages[5]?.content).toContain("Nothing was run");
    expect(messages[7]?.content).toContain(
      "Only your first action block is run; the other 1 block were ignored",
    );
    expect(messages[8]?.content).toBe("Result of write_file:\nWrote 5 characters to a.txt");
    expect(messages[10]?.content).toBe("Result of run_command:\nexit 0\n1 passed");
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "tool_call",
        callId: "action_1",
        name: "read_file",
        input: { path: "a.txt" },
      }),
    );
  });

  it("parseAction: the strict format, and clear reasons for what is wrong", () => {
    expect(parseAction("no action here")).toEqual({ kind: "none" });
    expect(parseAction('```action\n{"tool": "read_file", "input": {"path": "a"}}\n```')).toEqual({
      kind: "action",
      tool: "read_file",
      input: { path: "a" },
      extra: 0,
    });
    expect(parseAction('```action\n{"tool": "list_files"}\n```')).toMatchObject({
      kind: "action",
      input: {},
    });
    expect(parseAction('```action\n{"tool": "x", "input": {}')).toEqual({
      kind: "malformed",
      error: "the ```action block is not closed with ```",
    });
    expect(parseAction('```action\n{"input": {}}\n```')).toMatchObject({
      kind: "malformed",
      error: expect.stringContaining('no "tool"'),
    });
    expect(parseAction('```action\n{"tool": "a", "input": [1]}\n```')).toMatchObject({
      kind: "malformed",
      error: expect.stringContaining('"input" must be a JSON object'),
    });
    expect(parseAction("```action\n[1]\n```")).toMatchObject({ kind: "malformed" });
  });
});

describe("runAgentLoop: limits, cancel, no progress", () => {
  const forever = (n: number): ScriptStep[] =>
    Array.from({ length: n }, () => ({ toolCalls: [{ name: "read_file", arguments: { path: "a.txt" } }] }));

  it("max turns: stops before the turn past the limit (the last turn's tools still ran)", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "x" });
    const { result } = await runLoop(
      user.id,
      { id: randomUUID(), steps: forever(5) },
      { world, limits: limits({ maxTurns: 2 }) },
    );
    expect(result.stopReason).toBe("max_turns");
    expect(result.turns).toBe(2);
    expect(result.summary).toContain("limit of 2 turns");
    expect(mock.requests).toHaveLength(2);
    expect(world.count("read_file")).toBe(2);
  });

  it("max tokens: counts input and output of every turn", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "x" });
    const steps: ScriptStep[] = forever(5).map((s) => ({ ...s, usage: { input: 300, output: 100 } }));
    const { result } = await runLoop(
      user.id,
      { id: randomUUID(), steps },
      { world, limits: limits({ maxTokens: 1_000 }) },
    );
    expect(result.stopReason).toBe("max_tokens");
    expect(result.turns).toBe(3);
    expect(result.usage).toMatchObject({ tokensIn: 900, tokensOut: 300 });
    expect(mock.requests).toHaveLength(3);
  });

  it("max cost: stops once the agent's own calls cost the limit (catalog prices)", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "x" });
    // gpt-4.1-mini: $0.40 / M input → 100,000 input tokens = 40,000 micro-dollars a turn.
    const steps: ScriptStep[] = forever(5).map((s) => ({ ...s, usage: { input: 100_000, output: 0 } }));
    const { result } = await runLoop(
      user.id,
      { id: randomUUID(), steps },
      { world, limits: limits({ maxCostMicros: 50_000 }) },
    );
    expect(result.stopReason).toBe("max_cost");
    expect(result.turns).toBe(2);
    expect(result.usage.costMicros).toBe(80_000);
    const calls = await db().aiCall.findMany({ where: { userId: user.id } });
    expect(calls.reduce((n, c) => n + Number(c.costMicros), 0)).toBe(80_000);
  });

  it("wall time: a timer aborts the tool in progress", async () => {
    const user = await createUser(db());
    const world = fakeWorld();
    const checkpoint = memoryCheckpoint();
    const started = Date.now();
    const { result } = await runLoop(
      user.id,
      { id: randomUUID(), steps: [{ toolCalls: [{ name: "wait", arguments: {} }] }] },
      { world, checkpoint, limits: limits({ wallTimeMs: 1_000 }) },
    );
    const took = Date.now() - started;
    expect(result.stopReason).toBe("wall_time");
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(5_000);
    expect(world.waitSignals[0]?.aborted).toBe(true);
    expect(checkpoint.saves.at(-1)?.outcome?.stopReason).toBe("wall_time");
    expect(checkpoint.saves.at(-1)?.elapsedMs).toBeGreaterThanOrEqual(950);

    // Wall time counts over resumes: a checkpoint that already used the time stops at once.
    const spent = checkpoint.saves[0] as AgentState;
    const resumed = await runLoop(
      user.id,
      { id: randomUUID(), steps: [] },
      {
        world,
        checkpoint: memoryCheckpoint({ ...spent, elapsedMs: 1_000 }),
        limits: limits({ wallTimeMs: 1_000 }),
      },
    );
    expect(resumed.result.stopReason).toBe("wall_time");
    expect(world.count("wait")).toBe(1);
  });

  it("cancel mid-turn: the upstream call is aborted (the mock sees the client close) and the loop says cancelled", async () => {
    const user = await createUser(db());
    const world = fakeWorld();
    const controller = new AbortController();
    const checkpoint = memoryCheckpoint();
    const reply = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");
    const events: AgentEvent[] = [];
    const { result } = await runLoop(
      user.id,
      { id: randomUUID(), steps: [{ reply, chunkDelayMs: 20 }] },
      {
        world,
        checkpoint,
        signal: controller.signal,
        emit: (event) => {
          events.push(event);
          if (event.type === "token" && events.filter((e) => e.type === "token").length === 3)
            controller.abort();
        },
      },
    );
    expect(result.stopReason).toBe("cancelled");
    expect(result.turns).toBe(0);
    await mock.waitFor((requests) => requests[0]?.clientClosed === true);
    // No outcome saved on cancel (a worker shutdown aborts the same way and must be able to resume).
    expect(checkpoint.saves.every((s) => s.outcome === null)).toBe(true);
    await expect
      .poll(async () => (await db().aiCall.findMany({ where: { userId: user.id } })).map((c) => c.error))
      .toEqual([expect.stringMatching(/cancel/)]);
    // Stopped mid-answer: far fewer tokens reached the loop than the answer had.
    expect(events.filter((e) => e.type === "token").length).toBeLessThan(20);
  });

  it("no progress: an answer without a tool call gets one nudge, a second one stops the loop", async () => {
    const user = await createUser(db());
    const world = fakeWorld();
    const { result, events } = await runLoop(
      user.id,
      {
        id: randomUUID(),
        steps: [{ reply: "The code looks fine to me." }, { reply: "Really, it is fine." }],
      },
      { world },
    );
    expect(result.stopReason).toBe("no_progress");
    expect(result.turns).toBe(2);
    expect(result.summary).toContain("Really, it is fine.");
    const second = bodyOf(1).messages;
    expect(second.at(-2)).toEqual({ role: "assistant", content: "The code looks fine to me." });
    expect(second.at(-1)?.role).toBe("user");
    expect(second.at(-1)?.content).toContain("Use the tools to make progress, or call `finish`");
    expect(events).toContainEqual(
      expect.objectContaining({ type: "log", message: expect.stringContaining("reminding") }),
    );
  });

  it("no progress: the nudge works when the model then uses the tools", async () => {
    const user = await createUser(db());
    const { result } = await runLoop(
      user.id,
      {
        id: randomUUID(),
        steps: [
          { reply: "Hmm." },
          { toolCalls: [{ name: "read_file", arguments: { path: "a.txt" } }] },
          { reply: "Thinking." },
          { toolCalls: [{ name: "finish", arguments: { summary: "done after nudges" } }] },
        ],
      },
      { world: fakeWorld({ "a.txt": "x" }) },
    );
    expect(result).toMatchObject({ stopReason: "finished", summary: "done after nudges", turns: 4 });
  });
});

describe("runAgentLoop: checkpoints and resume", () => {
  const steps: ScriptStep[] = [
    { toolCalls: [{ name: "read_file", arguments: { path: "a.txt" } }] },
    {
      toolCalls: [
        { name: "write_file", arguments: { path: "a.txt", content: "fixed" } },
        { name: "run_command", arguments: { command: "npm test" } },
      ],
    },
    { toolCalls: [{ name: "finish", arguments: { summary: "Resumed and finished." } }] },
  ];

  it("a crash between two tool calls resumes without re-running the tools whose results were saved", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "broken" });
    const crashing = memoryCheckpoint();
    // The worker dies just as run_command is about to start (its "started" save fails).
    crashing.failWhen((s) => s.pending != null && s.pending.startedId === s.pending.calls[1]?.id);
    const id = randomUUID();
    await expect(runLoop(user.id, { id, steps }, { world, checkpoint: crashing })).rejects.toThrow(
      "simulated crash",
    );
    expect(world.invocations.map((i) => i.name)).toEqual(["read_file", "write_file"]);
    const lastGood = crashing.saves.at(-2) as AgentState;
    expect(lastGood.pending?.doneIds).toHaveLength(1);
    expect(lastGood.pending?.startedId).toBeNull();

    // A new worker: same script (the mock continues with its third step).
    const resumed = memoryCheckpoint(lastGood);
    const { result, events } = await runLoop(user.id, { id }, { world, checkpoint: resumed });
    expect(result).toMatchObject({ stopReason: "finished", summary: "Resumed and finished.", turns: 3 });
    expect(world.invocations.map((i) => i.name)).toEqual(["read_file", "write_file", "run_command"]);
    expect(world.count("read_file")).toBe(1);
    expect(world.count("write_file")).toBe(1);
    expect(events[0]).toEqual({
      type: "log",
      level: "info",
      message: "Resuming from a checkpoint after 2 turns.",
    });
    // 3 model calls in all: the resumed loop did not repeat a turn.
    expect(mock.requests).toHaveLength(3);
    expect(await db().aiCall.count({ where: { userId: user.id } })).toBe(3);
    // The model's third request carries both results, in order.
    const tool = bodyOf(2).messages.filter((m) => m.role === "tool");
    expect(tool.map((m) => m.content)).toEqual(["broken", "Wrote 5 characters to a.txt", "exit 0\n1 passed"]);
    expect(result.usage.tokensIn).toBeGreaterThan(lastGood.usage.tokensIn);
  });

  it("a tool that had started when the worker died is not run again: the model is told it was interrupted", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "broken" });
    const first = memoryCheckpoint();
    const id = randomUUID();
    await runLoop(user.id, { id, steps }, { world, checkpoint: first });
    expect(world.count("write_file")).toBe(1);
    // The state saved just before write_file started (as if the worker died while it ran).
    const started = first.saves.find(
      (s) =>
        s.pending?.startedId &&
        s.pending.calls.find((c) => c.id === s.pending?.startedId)?.name === "write_file",
    ) as AgentState;
    expect(started.pending?.doneIds).toEqual([]);

    mock.script(id, [steps[2] as ScriptStep]);
    mock.requests.length = 0;
    const { result, events } = await runLoop(
      user.id,
      { id },
      { world, checkpoint: memoryCheckpoint(started) },
    );
    expect(result.stopReason).toBe("finished");
    expect(world.count("write_file")).toBe(1);
    expect(world.count("run_command")).toBe(2);
    const tool = bodyOf(0).messages.filter((m) => m.role === "tool");
    expect(tool[1]?.content).toMatch(/^Error: This call was interrupted before its result was recorded/);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "tool_result",
        name: "write_file",
        isError: true,
        meta: { interrupted: true },
      }),
    );
  });

  it("a failed model call is thrown (the service's AppError); the checkpoint lets a retry continue", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "broken" });
    const checkpoint = memoryCheckpoint();
    const id = randomUUID();
    const failing: ScriptStep[] = [
      steps[0] as ScriptStep,
      { status: 400, message: "context too long (mock)" },
    ];
    await expect(runLoop(user.id, { id, steps: failing }, { world, checkpoint })).rejects.toMatchObject({
      name: "AppError",
      code: "BAD_REQUEST",
      message: expect.stringContaining("context too long (mock)"),
    });
    const saved = checkpoint.saves.at(-1) as AgentState;
    expect(saved).toMatchObject({ turns: 1, pending: null, outcome: null });
    mock.script(id, [steps[2] as ScriptStep]);
    const { result } = await runLoop(user.id, { id }, { world, checkpoint: memoryCheckpoint(saved) });
    expect(result).toMatchObject({ stopReason: "finished", turns: 2 });
    expect(world.count("read_file")).toBe(1);
  });

  it("resumes a text-mode loop in text mode", async () => {
    const user = await createUser(db());
    const world = fakeWorld({ "a.txt": "broken" });
    const first = memoryCheckpoint();
    const id = randomUUID();
    first.failWhen((s) => s.turns === 2 && s.pending?.startedId == null && s.pending !== null);
    await expect(
      runLoop(
        user.id,
        {
          id,
          steps: [
            { reply: '```action\n{"tool": "read_file", "input": {"path": "a.txt"}}\n```' },
            { reply: '```action\n{"tool": "finish", "input": {"summary": "text resumed"}}\n```' },
          ],
        },
        { world, model: PLAIN, checkpoint: first },
      ),
    ).rejects.toThrow("simulated crash");
    const state = first.saves.at(-1) as AgentState;
    expect(state.mode).toBe("text");
    // The resumed loop is given an OpenAI model: the saved mode wins.
    const { result } = await runLoop(user.id, { id }, { world, checkpoint: memoryCheckpoint(state) });
    expect(result).toMatchObject({ stopReason: "finished", summary: "text resumed", turns: 2 });
    expect(world.count("read_file")).toBe(1);
  });
});
