/**
 * The projects module's public server API. Other modules import from here only.
 * (paths.ts and projects.types.ts are also safe to import from browser code directly.)
 */
export type { ProjectsDeps } from "./deps.server.ts";
export { exportZip } from "./export.server.ts";
export { checkTextContent, deleteFile, listFiles, moveFile, readFile, saveFile } from "./files.server.ts";
export {
  classifyBytes,
  DEFAULT_IMPORT_LIMITS,
  type ImportLimits,
  importLocalDirectory,
  importZip,
} from "./import.server.ts";
export {
  ancestorFolders,
  baseName,
  DEFAULT_SKIP,
  folderOf,
  isInFolder,
  languageForPath,
  MAX_PATH_LENGTH,
  normalizeProjectPath,
  tryNormalizeProjectPath,
} from "./paths.ts";
export { projectsRouter } from "./projects.router.server.ts";
export {
  createProject,
  deleteProject,
  getProject,
  listProjects,
  startOfMonthUtc,
  updateProject,
} from "./projects.server.ts";
export * from "./projects.types.ts";
export {
  DIFF_TIMEOUT_MS,
  diffFileVersions,
  listFileVersions,
  readFileVersion,
  restoreFileVersion,
} from "./versions.server.ts";
export { exportFileName, type ProjectZipRoutesOptions, projectZipRoutes } from "./zip.http.server.ts";
