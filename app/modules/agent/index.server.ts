/**
 * The agent module's public server API: the loop, its tools, the per-run workspace and the ChangeSet.
 * Other modules import from here only; agent.types.ts is also safe for browser code.
 */
export * from "./agent.types.ts";
export {
  type ApplyHunksResult,
  applyHunks,
  type ChangeSetFile,
  type ComputedChangeSet,
  computeChangeSet,
} from "./changeset.server.ts";
export { listRunChangeSets } from "./changesets.server.ts";
export type { ChangeSetFileView, ChangeSetView } from "./changesets.types.ts";
export { type AgentEvent, type AgentResult, type AgentState, runAgentLoop } from "./loop.server.ts";
export { createAgentTools } from "./tools.server.ts";
export {
  type MaterializedWorkspace,
  materializeWorkspace,
  removeWorkspace,
} from "./workspace.server.ts";
