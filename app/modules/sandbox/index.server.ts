/**
 * The sandbox module's public server API: run one command in a bubblewrap sandbox (see sandbox.server.ts for
 * what it blocks). Other modules import from here only; sandbox.types.ts is also safe for browser code.
 */
export {
  detectSandbox,
  isSandboxError,
  observeSandboxRuns,
  runInSandbox,
  SandboxError,
  type SandboxErrorCode,
  type SandboxRunObservation,
} from "./sandbox.server.ts";
export {
  DEFAULT_SANDBOX_LIMITS,
  SANDBOX_UID,
  SANDBOX_USER,
  SANDBOX_WORKSPACE_PATH,
  type SandboxConfig,
  type SandboxLimitHit,
  type SandboxLimits,
  type SandboxLimitsInput,
  type SandboxMode,
  type SandboxOutputListener,
  type SandboxOutputStream,
  type SandboxRequest,
  type SandboxResult,
  type SandboxStatus,
  ZSandboxLimits,
} from "./sandbox.types.ts";
