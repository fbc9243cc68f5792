/**
 * The runs module's public server API. Other modules and routes import from here only.
 * (run-events.types.ts and runs.types.ts are also safe to import from browser code directly.)
 */
export {
  cancelRun,
  createRun,
  EXECUTE_RUN_TASK,
  getRun,
  listRuns,
  RETRYABLE_STATUSES,
  restartRun,
} from "./runs.server.ts";
