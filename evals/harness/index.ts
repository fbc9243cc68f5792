/** The eval harness as a library (scripts/eval.ts is its CLI; tests import it too). See docs/evals.md. */
export { exitCodeFor, formatReport, reportJson } from "./report.ts";
export {
  type EvalDatabase,
  type EvalReport,
  EvalSetupError,
  isMockModel,
  MOCK_MODEL,
  type ModelTotals,
  REPO_ROOT,
  type RunEvalOptions,
  runEval,
  type TaskResult,
  type TaskStatus,
  taskWorkflow,
  totalsOf,
} from "./run.ts";
export {
  type EvalSuite,
  type EvalTask,
  loadSuite,
  loadTask,
  SuiteError,
  type TaskLimits,
  ZTaskFile,
} from "./suite.ts";
