/**
 * The eval harness end to end on the real engine: the example suite with the scripted mock model passes and
 * reports plausible numbers; a wrong scripted solution fails on its check (exit code 1 for the CLI); an agent that
 * never finishes fails without a check; the harness's maxTokens limit cancels a run.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { setupTestDatabase } from "#tests/setup/database.ts";
import {
  exitCodeFor,
  formatReport,
  loadSuite,
  REPO_ROOT,
  reportJson,
  runEval,
} from "../../evals/harness/index.ts";

const database = setupTestDatabase();
const SUITE = path.join(REPO_ROOT, "evals", "example");

describe("eval harness", () => {
  it("runs the example suite with the mock model: every task passes, with plausible numbers", async () => {
    const seen: string[] = [];
    const report = await runEval({
      suite: SUITE,
      models: ["mock"],
      database: { db: database.db },
      concurrency: 2,
      // A nominal price, so the cost column is exercised (the mock is free by default).
      mockPricing: { inputPerMTok: 1, outputPerMTok: 2 },
      onResult: (r) => seen.push(r.task),
    });

    expect(report.suite.tasks).toEqual(["add-missing-function", "fix-add", "fix-off-by-one"]);
    expect(seen.sort()).toEqual(report.suite.tasks);
    expect(report.passed).toBe(true);
    expect(exitCodeFor(report)).toBe(0);
    const expectedFile: Record<string, string> = {
      "add-missing-function": "strings.js",
      "fix-add": "math.js",
      "fix-off-by-one": "range.js",
    };
    for (const r of report.results) {
      expect(r, r.task).toMatchObject({
        model: "mock",
        status: "pass",
        passed: true,
        reason: null,
        runStatus: "succeeded",
        agent: { stopReason: "finished" },
        check: { exitCode: 0, timedOut: false },
      });
      expect(r.modelId).toMatch(/^compat:mock\/script:/);
      expect(r.agent.turns).toBeGreaterThan(0);
      expect(r.agent.toolCalls).toBe(r.agent.turns); // one tool call per scripted turn
      expect(r.tokensIn).toBeGreaterThan(0);
      expect(r.tokensOut).toBeGreaterThan(0);
      // Cost from the catalog price: ≈ tokensIn × $1/M + tokensOut × $2/M (rounded up per call).
      const expected = (r.tokensIn * 1 + r.tokensOut * 2) / 1_000_000;
      expect(r.costUsd).toBeGreaterThanOrEqual(expected);
      expect(r.costUsd).toBeLessThan(expected + 0.0001);
      expect(r.wallMs).toBeGreaterThan(0);
      expect(r.diff.files).toBe(1);
      expect(r.diff.changes).toEqual([
        expect.objectContaining({ path: expectedFile[r.task], status: "modified" }),
      ]);
      expect(r.diff.additions).toBeGreaterThan(0);
      expect(r.check?.output).toContain("# fail 0");
    }
    const totals = report.totals[0]!;
    expect(totals).toMatchObject({ model: "mock", passed: 3, total: 3 });
    expect(totals.tokensIn).toBe(report.results.reduce((sum, r) => sum + r.tokensIn, 0));

    const text = formatReport(report);
    expect(text).toContain("add-missing-function");
    expect(text).toMatch(/mock\s+3\/3/);
    expect(text).not.toContain("Failures");
    expect(JSON.parse(reportJson(report))).toMatchObject({ version: 1, passed: true, sandbox: "bwrap" });
  });

  it("a wrong scripted solution fails the task on its check, and the exit code says so", async () => {
    const report = await runEval({
      suite: path.join(SUITE, "fix-add"),
      models: ["mock"],
      database: { db: database.db },
      mockScripts: {
        "fix-add": [
          { toolCalls: [{ name: "read_file", arguments: { path: "math.js" } }] },
          {
            toolCalls: [
              {
                name: "edit_file",
                arguments: { path: "math.js", old_text: "return a - b;", new_text: "return a * b;" },
              },
            ],
          },
          { toolCalls: [{ name: "finish", arguments: { summary: "Fixed (not really)." } }] },
        ],
      },
    });
    const [r] = report.results;
    expect(r).toMatchObject({
      task: "fix-add",
      status: "fail",
      passed: false,
      runStatus: "succeeded",
      agent: { stopReason: "finished", turns: 3 },
      check: { exitCode: 1 },
      diff: { files: 1, additions: 1, deletions: 1 },
    });
    expect(r?.reason).toMatch(/^the check exited with code 1/);
    expect(report.passed).toBe(false);
    expect(report.totals[0]).toMatchObject({ passed: 0, total: 1 });
    expect(exitCodeFor(report)).toBe(1);
    expect(exitCodeFor(report, { noFail: true })).toBe(0);
    expect(formatReport(report)).toContain("✗ mock / fix-add: the check exited with code 1");
  });

  it("an agent that stops at its turn limit fails without a check; maxTokens stops it", async () => {
    const suite = await loadSuite(path.join(SUITE, "fix-add"));
    const task = suite.tasks[0]!;
    const wander = { toolCalls: [{ name: "list_files", arguments: {} }] };
    const turnLimited = await runEval({
      suite: {
        ...suite,
        tasks: [{ ...task, limits: { maxTurns: 2 }, mockScript: [wander, wander, wander] }],
      },
      models: ["mock"],
      database: { db: database.db },
    });
    expect(turnLimited.results[0]).toMatchObject({
      status: "fail",
      runStatus: "failed",
      check: null,
      agent: { stopReason: "max_turns", turns: 2 },
      diff: { files: 0 },
    });
    expect(turnLimited.results[0]?.reason).toContain("AGENT_MAX_TURNS");

    const slow = {
      toolCalls: [{ name: "run_command", arguments: { command: "sleep 1" } }],
      usage: { input: 5_000, output: 10 },
    };
    const tokenLimited = await runEval({
      suite: {
        ...suite,
        tasks: [{ ...task, limits: { maxTokens: 1_000 }, mockScript: Array(8).fill(slow) }],
      },
      models: ["mock"],
      database: { db: database.db },
    });
    expect(tokenLimited.results[0]).toMatchObject({
      status: "fail",
      runStatus: "failed",
      check: null,
      agent: { stopReason: "max_tokens", turns: 1 },
    });
    expect(tokenLimited.results[0]?.reason).toContain("AGENT_MAX_TOKENS");
  });
});
