/**
 * The workflows module's public server API. Other modules import from here only.
 * (definition.ts, validate.ts, starter-templates.ts and workflows.types.ts are also safe to import from
 * browser code directly.)
 */
export * from "./definition.ts";
export {
  getWorkflowTemplate,
  instantiateTemplate,
  TEMPLATE_MODEL,
  WORKFLOW_TEMPLATES,
  type WorkflowTemplate,
} from "./starter-templates.ts";
export * from "./validate.ts";
export {
  DEMO_MODEL_ID,
  defaultTemplateModel,
  isKnownModelIn,
  workflowsRouter,
} from "./workflows.router.server.ts";
export {
  archiveWorkflow,
  checkWorkflowDefinition,
  createWorkflow,
  createWorkflowFromTemplate,
  definitionHash,
  deleteWorkflow,
  diffVersions,
  formatIssuePath,
  getVersion,
  getWorkflow,
  listVersions,
  listVersionsPage,
  listWorkflows,
  listWorkflowsPage,
  listWorkflowTemplates,
  restoreVersion,
  summariseChanges,
  unarchiveWorkflow,
  updateWorkflow,
  type WorkflowsDeps,
  workflowNotFound,
} from "./workflows.server.ts";
export * from "./workflows.types.ts";
