/**
 * Following a run: its events from the SSE stream, rendered for a person (tokens and command output on
 * stdout; steps, tool calls, logs and a live progress line on stderr) or as NDJSON (`--json`), then a
 * final summary. Ctrl-C once asks the server to cancel the run and keeps following until it ends; a second
 * Ctrl-C stops following at once. The exit code reflects the run: 0 succeeded, 1 failed or dead,
 * 130 cancelled or interrupted.
 */
import type { Api } from "./api.ts";
import type { Ctx } from "./command.ts";
import { requireKey } from "./config.ts";
import { EXIT } from "./errors.ts";
import { formatCost, formatDuration, formatNumber, oneLine } from "./format.ts";
import { followRunEvents } from "./sse.ts";

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "dead"]);

export function exitCodeFor(status: string): number {
  if (status === "succeeded") return EXIT.ok;
  if (status === "cancelled") return EXIT.cancelled;
  return EXIT.error;
}

type Data = Record<string, unknown>;

export async function followRun(
  ctx: Ctx,
  api: Api,
  runId: string,
  options: { totalSteps?: number; startedAt?: number } = {},
): Promise<number> {
  const { io } = ctx;
  const target = await ctx.target();
  const key = requireKey(target);
  const human = !ctx.json;
  const progressOn = human && io.stderr.isTTY === true;
  const started = options.startedAt ?? Date.now();
  let totalSteps = options.totalSteps;
  let stepIndex = -1;
  let currentStep: string | null = null;
  let tokens = 0;
  let cost = 0;
  let finalStatus: string | null = null;
  let wroteStdout = false;
  let stdoutAtLineStart = true;
  let progressShown = false;
  /** Error messages already printed (a failed step's error also comes as an `error` event and on the run). */
  const shownErrors = new Set<string>();

  const clearProgress = () => {
    if (progressShown) io.stderr.write("\r\x1b[2K");
    progressShown = false;
  };
  const drawProgress = () => {
    if (!progressOn || finalStatus) return;
    // On a shared terminal the line would land after a half-written line of tokens: wait for its end.
    if (io.stdout.isTTY && !stdoutAtLineStart) return;
    const step =
      stepIndex >= 0
        ? `step ${stepIndex + 1}/${totalSteps ?? "?"}${currentStep ? ` ${currentStep}` : ""}`
        : "queued";
    const line = `⋯ ${step} · ${formatNumber(tokens)} tokens · ${formatCost(cost)} · ${formatDuration(Date.now() - started)}`;
    io.stderr.write(`\r\x1b[2K${line.slice(0, (io.stderr.columns ?? 100) - 1)}`);
    progressShown = true;
  };
  const writeOut = (text: string) => {
    if (!text) return;
    if (io.stdout.isTTY) clearProgress();
    io.stdout.write(text);
    wroteStdout = true;
    stdoutAtLineStart = text.endsWith("\n");
    drawProgress();
  };
  const endLine = () => {
    if (!stdoutAtLineStart) {
      io.stdout.write("\n");
      stdoutAtLineStart = true;
    }
  };
  const note = (line: string) => {
    clearProgress();
    // Keep stderr lines off the end of a half-written stdout line when both go to the terminal.
    if (io.stdout.isTTY && io.stderr.isTTY) endLine();
    io.stderr.write(`${line}\n`);
    drawProgress();
  };

  const timer = progressOn ? setInterval(drawProgress, 250) : null;
  const stop = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      if (human) note("Cancelling the run… (press Ctrl-C again to stop waiting)");
      api.trpc.runs.cancel.mutate({ id: runId }).catch((error: unknown) => {
        const cli = ctx.toCliError(error);
        if (cli.code !== "CONFLICT" && human) note(`Could not cancel: ${cli.message}`);
      });
    } else {
      stop.abort();
    }
  };
  io.signals.on("SIGINT", onSigint);

  const handle = (type: string, data: Data, seq: number | null) => {
    if (ctx.json) {
      io.stdout.write(`${JSON.stringify({ seq, type, data })}\n`);
    }
    switch (type) {
      case "status":
        if (TERMINAL.has(String(data.status))) finalStatus = String(data.status);
        break;
      case "usage":
        tokens += Number(data.tokensIn ?? 0) + Number(data.tokensOut ?? 0);
        cost += Number(data.costMicros ?? 0);
        break;
      case "step_started":
        stepIndex = Number(data.index ?? stepIndex + 1);
        currentStep = String(data.stepId ?? "");
        if (totalSteps !== undefined && stepIndex + 1 > totalSteps) totalSteps = stepIndex + 1;
        break;
    }
    if (!human) return;
    switch (type) {
      case "step_started":
        endLine();
        note(`▶ [${stepIndex + 1}/${totalSteps ?? "?"}] ${data.stepId} (${data.type})`);
        break;
      case "token":
        writeOut(String(data.text ?? ""));
        break;
      case "output":
        if (data.stream === "stderr") {
          clearProgress();
          io.stderr.write(String(data.text ?? ""));
          drawProgress();
        } else {
          writeOut(String(data.text ?? ""));
        }
        break;
      case "tool_call":
        note(`  ⚙ ${data.name} ${oneLine(data.input, 100)}`);
        break;
      case "tool_result":
        if (data.isError) note(`  ✗ ${data.name ?? "tool"} failed: ${oneLine(data.output, 200)}`);
        break;
      case "log":
        if (data.level !== "debug") note(`  [${data.level}] ${data.message}`);
        break;
      case "error":
        if (!shownErrors.has(String(data.message))) note(`✗ ${data.code}: ${data.message}`);
        shownErrors.add(String(data.message));
        break;
      case "step_finished": {
        endLine();
        const took = formatDuration(Number(data.durationMs ?? 0));
        const error = data.error as { message?: string } | undefined;
        if (error?.message) shownErrors.add(error.message);
        if (data.status === "succeeded") note(`✓ ${data.stepId} (${took})`);
        else note(`✗ ${data.stepId} ${data.status}${error?.message ? `: ${error.message}` : ""} (${took})`);
        break;
      }
    }
  };

  try {
    await followRunEvents({
      url: target.url,
      key,
      runId,
      signal: stop.signal,
      onMessage(message) {
        let data: Data = {};
        try {
          data = JSON.parse(message.data) as Data;
        } catch {
          // Not JSON: pass it on as text.
          data = { text: message.data };
        }
        handle(message.event, data, message.id === null ? null : Number(message.id));
        return finalStatus !== null;
      },
      onReconnect(attempt, reason) {
        if (human) note(`(event stream interrupted: ${reason}; reconnecting, attempt ${attempt})`);
      },
    });
  } finally {
    io.signals.off("SIGINT", onSigint);
    if (timer) clearInterval(timer);
    clearProgress();
  }

  if (stop.signal.aborted) {
    if (ctx.json) ctx.printJson({ type: "result", runId, status: "interrupted", exitCode: EXIT.cancelled });
    else note(`Stopped following run ${runId}; a cancel was requested. See: agentry runs show ${runId}`);
    return EXIT.cancelled;
  }

  // The totals and the final status as the server has them (the stream may end without a status event
  // when the engine crashed; the run row says how it ended).
  const run = await api.trpc.runs.get.query({ id: runId }).catch(() => null);
  const status = run?.status ?? finalStatus ?? "unknown";
  const exitCode = TERMINAL.has(status) ? exitCodeFor(status) : EXIT.error;
  if (ctx.json) {
    ctx.printJson({ type: "result", runId, status, exitCode, run });
    return exitCode;
  }
  endLine();
  if (status === "succeeded" && !wroteStdout && run?.output !== undefined && run.output !== null) {
    writeOut(typeof run.output === "string" ? run.output : JSON.stringify(run.output, null, 2));
    endLine();
  }
  const steps = run
    ? `${run.steps.filter((s) => s.status === "succeeded").length}/${run.steps.length} steps`
    : null;
  const totals = [
    formatDuration(run?.durationMs ?? Date.now() - started),
    steps,
    `${formatNumber(run ? run.tokensIn + run.tokensOut : tokens)} tokens`,
    formatCost(run?.costMicros ?? cost),
  ].filter(Boolean);
  const mark = status === "succeeded" ? "✓" : "✗";
  note(`${mark} Run ${runId} ${status} · ${totals.join(" · ")}`);
  if (run?.error)
    note(`  ${run.error.code}: ${run.error.message}${run.error.stepId ? ` (step ${run.error.stepId})` : ""}`);
  return exitCode;
}
