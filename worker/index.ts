/**
 * The worker module's public face: what the web process and other modules
 * import. A worker-only process is `server.ts --role worker` (bundled:
 * `node build/agentry/server.js --role worker`).
 */
export { type StartWorkerOptions, type StopResult, startWorker, type WorkerHandle } from "./runner.ts";
export {
  type EnqueuedJob,
  type EnqueueOptions,
  enqueue,
  PermanentJobError,
  type TaskContext,
  type TaskName,
  type TaskPayload,
  taskRegistry,
} from "./tasks.ts";
export { findDeadWorkers, sweepDeadWorkers } from "./worker-process.ts";
