/**
 * Test data builders: valid rows with overridable defaults, each taking the db (or a transaction)
 * first. They write what the real use cases would write, nothing more.
 */
export { createAiCall } from "./ai.ts";
export { createFile, createProject } from "./projects.ts";
export { createUser, uniqueEmail } from "./users.ts";
export { createRun, createWorkflow, SAMPLE_DEFINITION } from "./workflows.ts";
