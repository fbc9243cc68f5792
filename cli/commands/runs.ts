import { readFile } from "node:fs/promises";
import path from "node:path";
import { RUN_STATUSES } from "#app/modules/runs/run-events.types.ts";
import type { Command, Ctx } from "../command.ts";
import { CliError, UsageError } from "../errors.ts";
import { followRun } from "../follow.ts";
import { formatCost, formatDate, formatDuration, formatNumber, table } from "../format.ts";

type InputSpecs = Record<string, { type: string }>;

/** `k=v` → the value typed by the workflow's input spec (number, boolean, json); `k=@file` reads a file. */
async function parseInputs(
  ctx: Ctx,
  pairs: string[],
  jsonFile: string | undefined,
  specs: InputSpecs | null,
) {
  const input: Record<string, unknown> = {};
  if (jsonFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(path.resolve(ctx.io.cwd, jsonFile), "utf8"));
    } catch (error) {
      throw new UsageError(`--input-json ${jsonFile}: ${(error as Error).message}`);
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new UsageError(`--input-json ${jsonFile} must hold a JSON object of input values`);
    }
    Object.assign(input, parsed);
  }
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--input takes name=value, got "${pair}"`);
    const name = pair.slice(0, eq);
    let raw = pair.slice(eq + 1);
    if (raw.startsWith("@")) {
      try {
        raw = await readFile(path.resolve(ctx.io.cwd, raw.slice(1)), "utf8");
      } catch (error) {
        throw new UsageError(`--input ${name}=${raw}: ${(error as Error).message}`);
      }
    }
    input[name] = coerce(name, raw, specs?.[name]?.type);
  }
  return input;
}

function coerce(name: string, raw: string, type: string | undefined): unknown {
  switch (type) {
    case "number": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n))
        throw new UsageError(`Input ${name} must be a number, got "${raw}"`);
      return n;
    }
    case "boolean":
      if (/^(true|yes|1)$/i.test(raw)) return true;
      if (/^(false|no|0)$/i.test(raw)) return false;
      throw new UsageError(`Input ${name} must be true or false, got "${raw}"`);
    case "json":
      try {
        return JSON.parse(raw);
      } catch {
        throw new UsageError(`Input ${name} must be JSON, got "${raw}"`);
      }
    default:
      return raw;
  }
}

export const run: Command = {
  path: ["run"],
  summary: "Start a workflow run and stream it",
  usage:
    "agentry run <workflowId> [--input name=value]… [--input-json file] [--version n] [--budget usd] [--no-follow]",
  description:
    "Starts a run of the workflow's latest version (or --version), then follows it: model tokens and\n" +
    "command output on stdout as they come; steps, tool calls and a live progress line (step, tokens,\n" +
    "cost, elapsed) on stderr; a summary at the end. Values are typed by the workflow's inputs\n" +
    "(number, boolean, json); name=@file reads the value from a file.\n\n" +
    "Ctrl-C asks the server to cancel the run and waits for it to stop; a second Ctrl-C exits at once.\n" +
    "Exit code: 0 succeeded, 1 failed or dead, 130 cancelled or interrupted.\n" +
    'With --json: one JSON event per line ({seq,type,data}), then {type:"result",runId,status,exitCode,run}.',
  options: {
    input: { type: "string", multiple: true, short: "i" },
    "input-json": { type: "string" },
    version: { type: "string" },
    budget: { type: "string" },
    "no-follow": { type: "boolean" },
  },
  optionHelp: [
    ["-i, --input name=value", "An input value (repeatable); name=@path reads a file"],
    ["--input-json <file>", "A JSON object of input values (--input wins)"],
    ["--version <n>", "Run this version of the workflow (default: the latest)"],
    ["--budget <usd>", "A cost cap for this run, in US dollars"],
    ["--no-follow", "Print the run id and return without waiting"],
  ],
  examples: [
    'agentry run 0b5e… --input task="add a health check"',
    "agentry run 0b5e… -i file=@src/app.ts --json > events.ndjson",
    "RUN=$(agentry run 0b5e… --no-follow --json | jq -r .runId)",
  ],
  args: [1, 1],
  async run(ctx, values, [workflowId]) {
    let version: number | undefined;
    if (typeof values.version === "string") {
      version = Number(values.version);
      if (!Number.isInteger(version) || version < 1)
        throw new UsageError("--version must be a positive integer");
    }
    const api = await ctx.api();
    const id = workflowId as string;
    // The definition types the inputs and counts the steps; a key without workflows:read still runs.
    const workflow = await api.trpc.workflows.get.query({ id, version }).catch((error: unknown) => {
      const cli = ctx.toCliError(error);
      if (cli.code === "FORBIDDEN") return null;
      throw cli;
    });
    const pairs = (Array.isArray(values.input) ? values.input : []).map(String);
    const input = await parseInputs(
      ctx,
      pairs,
      typeof values["input-json"] === "string" ? values["input-json"] : undefined,
      (workflow?.definition.inputs as InputSpecs | undefined) ?? null,
    );
    let budgetUsd: number | undefined;
    if (typeof values.budget === "string") {
      budgetUsd = Number(values.budget);
      if (!Number.isFinite(budgetUsd) || budgetUsd <= 0)
        throw new UsageError("--budget must be a positive number");
    }
    const startedAt = Date.now();
    const { runId } = await api.trpc.runs.create.mutate({ id, input, version, budgetUsd });
    if (values["no-follow"] === true) {
      if (ctx.json) ctx.printJson({ runId });
      else ctx.out(`${runId}\n`);
      return 0;
    }
    if (!ctx.json)
      ctx.note(`Run ${runId} started${workflow ? ` (${workflow.name} v${workflow.version.number})` : ""}`);
    return followRun(ctx, api, runId, { totalSteps: workflow?.definition.steps.length, startedAt });
  },
};

export const runsLs: Command = {
  path: ["runs", "ls"],
  aliases: ["list"],
  summary: "List your runs, newest first",
  usage: "agentry runs ls [--project id] [--workflow id] [--status s] [--limit n] [--cursor c]",
  options: {
    project: { type: "string" },
    workflow: { type: "string" },
    status: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
  },
  optionHelp: [
    ["--project <id>", "Only this project's runs"],
    ["--workflow <id>", "Only this workflow's runs"],
    ["--status <s>", `Only runs in this status: ${RUN_STATUSES.join(", ")}`],
    ["--limit <n>", "How many (1-100, default 20)"],
    ["--cursor <c>", "The next page (printed under the list)"],
  ],
  examples: ["agentry runs ls --status failed", "agentry runs ls --project 6f1c… --json"],
  args: [0, 0],
  async run(ctx, values) {
    const status = values.status as string | undefined;
    if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`--status must be one of ${RUN_STATUSES.join(", ")}`);
    }
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw new UsageError("--limit must be from 1 to 100");
    const api = await ctx.api();
    const page = await api.trpc.runs.list.query({
      projectId: values.project as string | undefined,
      workflowId: values.workflow as string | undefined,
      status: status as (typeof RUN_STATUSES)[number] | undefined,
      limit,
      cursor: values.cursor as string | undefined,
    });
    if (ctx.json) {
      ctx.printJson(page);
      return 0;
    }
    if (page.items.length === 0) {
      ctx.out("No runs.\n");
      return 0;
    }
    ctx.out(
      table(
        ["ID", "STATUS", "WORKFLOW", "STARTED", "DURATION", "TOKENS", "COST"],
        page.items.map((r) => [
          r.id,
          r.status,
          `${r.workflowName} v${r.versionNumber}`,
          formatDate(r.createdAt),
          formatDuration(r.durationMs),
          formatNumber(r.tokensIn + r.tokensOut),
          formatCost(r.costMicros),
        ]),
      ),
    );
    if (page.nextCursor) ctx.note(`More: agentry runs ls --cursor ${page.nextCursor}`);
    return 0;
  },
};

export const runsShow: Command = {
  path: ["runs", "show"],
  aliases: ["get"],
  summary: "Show a run: status, steps, output, error",
  usage: "agentry runs show <runId>",
  examples: ["agentry runs show 9d2a…", "agentry runs show 9d2a… --json | jq .output"],
  args: [1, 1],
  async run(ctx, _values, [runId]) {
    const api = await ctx.api();
    const r = await api.trpc.runs.get.query({ id: runId as string });
    if (ctx.json) {
      ctx.printJson(r);
      return 0;
    }
    ctx.out(
      [
        `Run       ${r.id}`,
        `Status    ${r.status}`,
        `Workflow  ${r.workflowName} v${r.versionNumber} (${r.workflowId})`,
        `Project   ${r.projectId}`,
        `Started   ${formatDate(r.startedAt ?? r.createdAt)}`,
        `Duration  ${formatDuration(r.durationMs)}`,
        `Tokens    ${formatNumber(r.tokensIn)} in / ${formatNumber(r.tokensOut)} out`,
        `Cost      ${formatCost(r.costMicros)}`,
        ...(r.retryOfRunId ? [`Retry of  ${r.retryOfRunId}`] : []),
        ...(r.error
          ? [
              `Error     ${r.error.code}: ${r.error.message}${r.error.stepId ? ` (step ${r.error.stepId})` : ""}`,
            ]
          : []),
        "",
      ].join("\n"),
    );
    if (r.steps.length > 0) {
      ctx.out("\n");
      ctx.out(
        table(
          ["#", "STEP", "TYPE", "STATUS", "DURATION", "TOKENS", "COST"],
          r.steps.map((s) => [
            String(s.index + 1),
            s.stepId,
            s.type,
            s.reusedFromRunId ? `${s.status} (reused)` : s.status,
            s.startedAt && s.finishedAt
              ? formatDuration(s.finishedAt.getTime() - s.startedAt.getTime())
              : "-",
            formatNumber(s.tokensIn + s.tokensOut),
            formatCost(s.costMicros),
          ]),
        ),
      );
    }
    if (r.output !== null && r.output !== undefined) {
      ctx.out(`\nOutput:\n${typeof r.output === "string" ? r.output : JSON.stringify(r.output, null, 2)}\n`);
    }
    return 0;
  },
};

export const runsCancel: Command = {
  path: ["runs", "cancel"],
  summary: "Cancel a queued or running run",
  usage: "agentry runs cancel <runId>",
  description:
    "A queued run stops at once, a running one within a second. A finished run cannot be cancelled.",
  examples: ["agentry runs cancel 9d2a…"],
  args: [1, 1],
  async run(ctx, _values, [runId]) {
    const api = await ctx.api();
    const r = await api.trpc.runs.cancel.mutate({ id: runId as string });
    if (ctx.json) ctx.printJson(r);
    else ctx.out(`Cancel requested for run ${r.id} (status: ${r.status})\n`);
    return 0;
  },
};

export const runsWatch: Command = {
  path: ["runs", "watch"],
  aliases: ["follow"],
  summary: "Stream a run that is already started (from its first event)",
  usage: "agentry runs watch <runId>",
  description: "Like `agentry run` after the start: same output, same exit codes, same Ctrl-C behaviour.",
  examples: ["agentry runs watch 9d2a…"],
  args: [1, 1],
  async run(ctx, _values, [runId]) {
    const api = await ctx.api();
    const r = await api.trpc.runs.get.query({ id: runId as string });
    const workflow = await api.trpc.workflows.get
      .query({ id: r.workflowId, version: r.versionNumber })
      .catch(() => null);
    if (!r) throw new CliError("Run not found");
    return followRun(ctx, api, r.id, {
      totalSteps: workflow?.definition.steps.length ?? (r.steps.length || undefined),
      startedAt: (r.startedAt ?? r.createdAt).getTime(),
    });
  },
};
