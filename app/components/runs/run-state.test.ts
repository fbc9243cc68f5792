import { describe, expect, it } from "vitest";
import type { RunEventInput, StoredRunEvent } from "#app/modules/runs/run-events.types.ts";
import {
  applyRunEvent,
  applyRunEvents,
  initialRunState,
  MAX_LOGS,
  mergeRun,
  type RunSnapshot,
  runStateReducer,
} from "./run-state.ts";

/** Stored events with seq 1, 2, 3… and a clock a second apart, as the server streams them. */
function stored(inputs: RunEventInput[], from = 1): StoredRunEvent[] {
  return inputs.map(
    (input, i) =>
      ({
        seq: from + i,
        type: input.type,
        stepId: input.stepId ?? null,
        data: input.data,
        createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, from + i)).toISOString(),
      }) as StoredRunEvent,
  );
}

/** A run of two steps: a transform, then a model call that streams three coalesced deltas. */
const RUN = stored([
  { type: "status", data: { status: "running" } },
  { type: "step_started", stepId: "prep", data: { stepId: "prep", index: 0, type: "transform" } },
  {
    type: "step_finished",
    stepId: "prep",
    data: { stepId: "prep", status: "succeeded", output: "Summarise: hi", durationMs: 4 },
  },
  { type: "step_started", stepId: "ask", data: { stepId: "ask", index: 1, type: "llm" } },
  { type: "token", stepId: "ask", data: { stepId: "ask", text: "tok0 tok1 " } },
  { type: "token", stepId: "ask", data: { stepId: "ask", text: "tok2 " } },
  { type: "token", stepId: "ask", data: { stepId: "ask", text: "tok3" } },
  {
    type: "step_finished",
    stepId: "ask",
    data: { stepId: "ask", status: "succeeded", output: "tok0 tok1 tok2 tok3", durationMs: 1300 },
  },
  { type: "usage", stepId: "ask", data: { tokensIn: 12, tokensOut: 4, costMicros: 150 } },
  { type: "status", data: { status: "succeeded" } },
]);

describe("run state reducer", () => {
  it("joins coalesced token deltas into the step's text while it runs", () => {
    const midway = applyRunEvents(initialRunState, RUN.slice(0, 6));
    expect(midway.status).toBe("running");
    expect(midway.currentStepId).toBe("ask");
    expect(midway.steps.ask).toMatchObject({ status: "running", text: "tok0 tok1 tok2 ", type: "llm" });
    expect(midway.steps.prep).toMatchObject({ status: "succeeded", output: "Summarise: hi", durationMs: 4 });
    expect(midway.done).toBe(false);
    expect(midway.lastSeq).toBe(6);
  });

  it("ends in the terminal status with output, usage totals, and a timeline of the run", () => {
    const end = applyRunEvents(initialRunState, RUN);
    expect(end.status).toBe("succeeded");
    expect(end.done).toBe(true);
    expect(end.currentStepId).toBeNull();
    expect(end.startedAt).toBe(RUN[0]!.createdAt);
    expect(end.finishedAt).toBe(RUN[9]!.createdAt);
    expect(end.steps.ask).toMatchObject({
      status: "succeeded",
      text: "tok0 tok1 tok2 tok3",
      output: "tok0 tok1 tok2 tok3",
      hasOutput: true,
      durationMs: 1300,
      usage: { tokensIn: 12, tokensOut: 4, costMicros: 150 },
    });
    expect(end.usage).toEqual({ tokensIn: 12, tokensOut: 4, costMicros: 150 });
    expect(end.logs.map((line) => line.message)).toEqual([
      "Run started",
      "Step prep (transform) started",
      "Step prep succeeded",
      "Step ask (llm) started",
      "Step ask succeeded",
      "Run succeeded",
    ]);
    expect(end.structureSeq).toBe(10);
  });

  it("streams a command's stdout and stderr into its step's text, in arrival order", () => {
    const state = applyRunEvents(
      initialRunState,
      stored([
        { type: "status", data: { status: "running" } },
        { type: "step_started", stepId: "test", data: { stepId: "test", index: 0, type: "command" } },
        { type: "output", stepId: "test", data: { stepId: "test", stream: "stdout", text: "1 passing\n" } },
        { type: "output", stepId: "test", data: { stepId: "test", stream: "stderr", text: "1 failing\n" } },
      ]),
    );
    expect(state.steps.test).toMatchObject({
      status: "running",
      type: "command",
      text: "1 passing\n1 failing\n",
    });
    expect(state.usage).toMatchObject({ tokensIn: 0, tokensOut: 0 });
  });

  it("ignores duplicates and events older than the last one applied", () => {
    const once = applyRunEvents(initialRunState, RUN.slice(0, 6));
    // A reconnect that overlapped: 4–6 again, then the rest.
    const twice = applyRunEvents(once, RUN.slice(3));
    expect(twice).toEqual(applyRunEvents(initialRunState, RUN));
    expect(twice.steps.ask?.text).toBe("tok0 tok1 tok2 tok3");
    // The same event object again returns the very same state (no re-render).
    expect(applyRunEvent(twice, RUN[4]!)).toBe(twice);
    // A late event with an old seq changes nothing.
    const late = { ...RUN[4]!, data: { stepId: "ask", text: "LATE" } } as StoredRunEvent;
    expect(applyRunEvent(twice, late)).toBe(twice);
  });

  it("replaying from any reconnect point yields the same state as one uninterrupted stream", () => {
    const straight = applyRunEvents(initialRunState, RUN);
    for (let cut = 0; cut <= RUN.length; cut += 1) {
      // The page had events up to `cut`, dropped, and reconnected with Last-Event-ID = cut (or from 0).
      let state = applyRunEvents(initialRunState, RUN.slice(0, cut));
      for (const event of RUN.slice(cut)) state = runStateReducer(state, { events: [event] });
      expect(state).toEqual(straight);
      const fromZero = runStateReducer(applyRunEvents(initialRunState, RUN.slice(0, cut)), { events: RUN });
      expect(fromZero).toEqual(straight);
    }
  });

  it("sorts a batch that arrives out of order, and a reset starts over", () => {
    const shuffled = [...RUN].reverse();
    expect(applyRunEvents(initialRunState, shuffled)).toEqual(applyRunEvents(initialRunState, RUN));
    const state = applyRunEvents(initialRunState, RUN);
    expect(runStateReducer(state, { reset: true })).toBe(initialRunState);
  });

  it("starts a step's text over when it starts again (a run resumed by another worker)", () => {
    const first = applyRunEvents(initialRunState, RUN.slice(0, 6));
    const resumed = applyRunEvents(
      first,
      stored(
        [
          { type: "step_started", stepId: "ask", data: { stepId: "ask", index: 1, type: "llm" } },
          { type: "token", stepId: "ask", data: { stepId: "ask", text: "fresh" } },
        ],
        7,
      ),
    );
    expect(resumed.steps.ask).toMatchObject({ text: "fresh", attempts: 2, status: "running" });
    expect(resumed.logs.at(-1)?.message).toBe("Step ask (llm) started — attempt 2");
  });

  it("records a failure: the step's error, the run's error, error and status lines", () => {
    const error = { code: "PROVIDER_ERROR", message: 'Step "ask": upstream 500', stepId: "ask" };
    const failed = applyRunEvents(initialRunState, [
      ...RUN.slice(0, 5),
      ...stored(
        [
          {
            type: "step_finished",
            stepId: "ask",
            data: { stepId: "ask", status: "failed", error, durationMs: 20 },
          },
          { type: "error", stepId: "ask", data: error },
          { type: "status", data: { status: "failed", error } },
        ],
        6,
      ),
    ]);
    expect(failed.status).toBe("failed");
    expect(failed.done).toBe(true);
    expect(failed.error).toEqual(error);
    expect(failed.steps.ask).toMatchObject({ status: "failed", error, text: "tok0 tok1 ", hasOutput: false });
    const levels = failed.logs.slice(-3).map((line) => [line.kind, line.level]);
    expect(levels).toEqual([
      ["step", "error"],
      ["error", "error"],
      ["status", "error"],
    ]);
    expect(failed.logs.at(-2)?.message).toBe('PROVIDER_ERROR: Step "ask": upstream 500');
  });

  it("keeps logs and tool events with their level, within MAX_LOGS", () => {
    const events = stored([
      { type: "log", stepId: "fix", data: { stepId: "fix", level: "warn", message: "slow disk" } },
      {
        type: "tool_call",
        stepId: "fix",
        data: { stepId: "fix", callId: "c1", name: "read_file", input: { path: "a.ts" } },
      },
      {
        type: "tool_result",
        stepId: "fix",
        data: { stepId: "fix", callId: "c1", name: "read_file", output: "nope", isError: true },
      },
    ]);
    const state = applyRunEvents(initialRunState, events);
    expect(state.logs.map((line) => [line.kind, line.level, line.message])).toEqual([
      ["log", "warn", "slow disk"],
      ["tool_call", "info", '→ read_file({"path":"a.ts"})'],
      ["tool_result", "error", "← read_file failed: nope"],
    ]);
    expect(state.logs[1]?.detail).toEqual({ path: "a.ts" });

    const many = stored(
      Array.from({ length: MAX_LOGS + 5 }, (_, i) => ({
        type: "log" as const,
        data: { level: "info" as const, message: `line ${i}` },
      })),
    );
    const capped = applyRunEvents(initialRunState, many);
    expect(capped.logs).toHaveLength(MAX_LOGS);
    expect(capped.droppedLogs).toBe(5);
    expect(capped.logs[0]?.message).toBe("line 5");
    expect(capped.lastSeq).toBe(MAX_LOGS + 5);
  });

  it("a cancelled run is terminal without an error", () => {
    const state = applyRunEvents(initialRunState, [
      ...RUN.slice(0, 5),
      ...stored(
        [
          {
            type: "step_finished",
            stepId: "ask",
            data: { stepId: "ask", status: "cancelled", durationMs: 30 },
          },
          { type: "status", data: { status: "cancelled" } },
        ],
        6,
      ),
    ]);
    expect(state).toMatchObject({ status: "cancelled", done: true, error: null, currentStepId: null });
    expect(state.logs.at(-1)).toMatchObject({ level: "warn", message: "Run cancelled" });
  });
});

describe("mergeRun", () => {
  const plan = [
    { id: "prep", type: "transform" },
    { id: "ask", name: "Ask the model", type: "llm" },
    { id: "check", type: "transform" },
  ];
  const snapshot = (over: Partial<RunSnapshot> = {}): RunSnapshot => ({
    status: "running",
    error: null,
    output: null,
    tokensIn: 0,
    tokensOut: 0,
    costMicros: 0,
    durationMs: null,
    startedAt: "2026-01-01T12:00:01.000Z",
    finishedAt: null,
    lastEventSeq: 3,
    steps: [
      {
        stepId: "prep",
        index: 0,
        type: "transform",
        status: "succeeded",
        input: { template: "Summarise: {{inputs.text}}" },
        output: "Summarise: hi",
        error: null,
        tokensIn: 0,
        tokensOut: 0,
        costMicros: 0,
        startedAt: new Date("2026-01-01T12:00:02.000Z"),
        finishedAt: new Date("2026-01-01T12:00:02.004Z"),
      },
    ],
    ...over,
  });

  it("shows the snapshot before events replay, then the live stream on top of it", () => {
    const before = mergeRun(snapshot(), initialRunState, plan);
    expect(before.status).toBe("running");
    expect(before.steps.map((step) => [step.stepId, step.status])).toEqual([
      ["prep", "succeeded"],
      ["ask", "pending"],
      ["check", "pending"],
    ]);
    expect(before.progress).toEqual({ done: 1, total: 3 });
    expect(before.steps[0]).toMatchObject({
      durationMs: 4,
      input: { template: "Summarise: {{inputs.text}}" },
    });

    const live = applyRunEvents(initialRunState, RUN.slice(0, 6));
    const during = mergeRun(snapshot(), live, plan);
    expect(during.currentStepId).toBe("ask");
    expect(during.steps[1]).toMatchObject({
      name: "Ask the model",
      status: "running",
      text: "tok0 tok1 tok2 ",
    });
    // The rendered input only comes from the server.
    expect(during.steps[0]?.input).toEqual({ template: "Summarise: {{inputs.text}}" });
    expect(during.durationMs).toBeNull();
    expect(during.hasOutput).toBe(false);
  });

  it("a finished run: final output, duration, usage counted once", () => {
    const live = applyRunEvents(initialRunState, RUN);
    const done = mergeRun(
      snapshot({
        status: "succeeded",
        lastEventSeq: 10,
        output: "tok0 tok1 tok2 tok3",
        tokensIn: 12,
        tokensOut: 4,
        costMicros: 150,
        durationMs: 9000,
        finishedAt: "2026-01-01T12:00:10.000Z",
      }),
      live,
      plan.slice(0, 2),
    );
    expect(done).toMatchObject({
      status: "succeeded",
      output: "tok0 tok1 tok2 tok3",
      hasOutput: true,
      durationMs: 9000,
      usage: { tokensIn: 12, tokensOut: 4, costMicros: 150 },
      progress: { done: 2, total: 2 },
      currentStepId: null,
    });
  });

  it("the stream's terminal status wins over an older snapshot; the error shows for a failure", () => {
    const error = { code: "SCHEMA_MISMATCH", message: "bad answer", stepId: "ask" };
    const live = applyRunEvents(initialRunState, [
      ...RUN.slice(0, 4),
      ...stored([{ type: "status", data: { status: "failed", error } }], 5),
    ]);
    const merged = mergeRun(snapshot(), live, plan);
    expect(merged.status).toBe("failed");
    expect(merged.error).toEqual(error);
    // The step left running by the stream is shown as failed, not spinning forever.
    expect(merged.steps[1]?.status).toBe("failed");
    expect(merged.finishedAt).toBe(live.finishedAt);
    expect(merged.durationMs).toBe(4000);
  });

  it("a retry: reused steps keep their original duration and are marked, the rest comes live", () => {
    const live = applyRunEvents(
      initialRunState,
      stored([
        { type: "log", data: { level: "info", message: "Retry of run x: reusing 1 finished step" } },
        {
          type: "step_finished",
          stepId: "prep",
          data: { stepId: "prep", status: "succeeded", output: "Summarise: hi", durationMs: 0 },
        },
        { type: "status", data: { status: "running" } },
        { type: "step_started", stepId: "ask", data: { stepId: "ask", index: 1, type: "llm" } },
      ]),
    );
    const base = snapshot();
    const merged = mergeRun(
      { ...base, lastEventSeq: 1, steps: base.steps.map((step) => ({ ...step, attempt: 0 })) },
      live,
      plan,
    );
    expect(merged.steps[0]).toMatchObject({ reused: true, durationMs: 4, status: "succeeded" });
    expect(merged.steps[1]).toMatchObject({ reused: false, status: "running", model: null });
    expect(merged.progress).toEqual({ done: 1, total: 3 });
  });
});
