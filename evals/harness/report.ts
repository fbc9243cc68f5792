/** The eval report as people read it (a table) and as programs read it (JSON), and the CLI's exit code. */
import type { EvalReport, TaskResult } from "./run.ts";

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const usd = (n: number) => (n === 0 ? "$0" : n < 0.01 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function diffCell(result: TaskResult): string {
  const { files, additions, deletions } = result.diff;
  if (files === 0) return "no change";
  return `${files} file${files === 1 ? "" : "s"} +${additions} −${deletions}`;
}

function checkCell(result: TaskResult): string {
  if (!result.check) return "not run";
  if (result.check.timedOut) return "timeout";
  return `exit ${result.check.exitCode ?? "?"}`;
}

/** A reason on one line, cut at 300 characters (the JSON report has all of it). */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

/** Columns padded to their widest cell; numbers right-aligned. */
function table(header: string[], rows: string[][], right: ReadonlySet<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join("\n");
}

/** The report as text: one row per model × task, then the totals per model, then why the failures failed. */
export function formatReport(report: EvalReport): string {
  const out: string[] = [];
  const taskCount = report.suite.tasks.length;
  out.push(
    `Eval ${report.suite.name}: ${taskCount} task${taskCount === 1 ? "" : "s"} × ${report.models.length} model${report.models.length === 1 ? "" : "s"}`,
    ...(report.sandbox === "unsafe"
      ? ["WARNING: commands ran WITHOUT a sandbox (AGENTRY_UNSAFE_NO_SANDBOX)."]
      : []),
    "",
  );
  out.push(
    table(
      [
        "model",
        "task",
        "result",
        "check",
        "turns",
        "tools",
        "tokens in",
        "tokens out",
        "cost",
        "time",
        "diff",
      ],
      report.results.map((r) => [
        r.model,
        r.task,
        r.status.toUpperCase(),
        checkCell(r),
        int(r.agent.turns),
        int(r.agent.toolCalls),
        int(r.tokensIn),
        int(r.tokensOut),
        usd(r.costUsd),
        seconds(r.wallMs),
        diffCell(r),
      ]),
      new Set([4, 5, 6, 7, 8, 9]),
    ),
    "",
    "Totals",
    table(
      ["model", "passed", "tokens in", "tokens out", "cost", "time"],
      report.totals.map((t) => [
        t.model,
        `${t.passed}/${t.total}`,
        int(t.tokensIn),
        int(t.tokensOut),
        usd(t.costUsd),
        seconds(t.wallMs),
      ]),
      new Set([1, 2, 3, 4, 5]),
    ),
  );
  const failures = report.results.filter((r) => !r.passed);
  if (failures.length > 0) {
    out.push("", "Failures");
    for (const r of failures) out.push(`  ✗ ${r.model} / ${r.task}: ${oneLine(r.reason ?? r.status)}`);
  }
  return `${out.join("\n")}\n`;
}

/** JSON for files: bigints are not involved, so this is plain JSON.stringify, indented. */
export function reportJson(report: EvalReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** 0 when every task passed (or `noFail`), 1 otherwise. (2, for bad arguments or setup, is the CLI's.) */
export function exitCodeFor(report: EvalReport, { noFail = false }: { noFail?: boolean } = {}): number {
  return report.passed || noFail ? 0 : 1;
}
