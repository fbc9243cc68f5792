/**
 * Change sets as the API and the browser see them: what an agent step changed in its run's copy of the
 * project, per file and per hunk, waiting for review. Browser-safe (zod only).
 */
import { z } from "zod";

export const ZChangeSetHunkView = z.object({
  index: z.number().int(),
  header: z.string(),
  status: z.enum(["pending", "accepted", "rejected"]),
  comment: z.string().optional(),
});

export const ZChangeSetFileView = z.object({
  path: z.string(),
  baseVersion: z.number().int().nullable(),
  status: z.enum(["added", "modified", "deleted"]),
  binary: z.boolean(),
  tooLarge: z.boolean(),
  additions: z.number().int(),
  deletions: z.number().int(),
  /** This file's unified diff. */
  diff: z.string(),
  hunks: z.array(ZChangeSetHunkView),
});
export type ChangeSetFileView = z.infer<typeof ZChangeSetFileView>;

export const ZChangeSetView = z.object({
  id: z.string(),
  runId: z.string().nullable(),
  stepRunId: z.string().nullable(),
  status: z.enum(["pending", "applied", "partially_applied", "rejected"]),
  summary: z.string().nullable(),
  createdAt: z.date(),
  appliedAt: z.date().nullable(),
  files: z.array(ZChangeSetFileView),
});
export type ChangeSetView = z.infer<typeof ZChangeSetView>;
