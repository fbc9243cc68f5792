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

const ZComment = z.string().max(4_000, "A comment may be at most 4,000 characters");

/** One review decision: a hunk (or, without `hunk`, every hunk of the file) accepted, rejected or undecided. */
export const ZHunkDecision = z.object({
  path: z.string().min(1).max(1_024),
  hunk: z.number().int().min(0).optional(),
  status: z.enum(["accepted", "rejected", "pending"]),
  /** Why (for a rejected hunk, what the agent should do instead); null or "" clears it. */
  comment: ZComment.nullable().optional(),
});
export type HunkDecision = z.infer<typeof ZHunkDecision>;
export const ZHunkDecisions = z.array(ZHunkDecision).min(1, "Give at least one decision").max(10_000);

export const ZChangeSetIdInput = z.object({ id: z.uuid("Not a change set id") });

export const ZReviewChangeSetInput = ZChangeSetIdInput.extend({ decisions: ZHunkDecisions });

export const ZApplyChangeSetInput = ZChangeSetIdInput.extend({ decisions: ZHunkDecisions.optional() });

export const ZAppliedFile = z.object({
  path: z.string(),
  action: z.enum(["created", "updated", "deleted", "unchanged"]),
  version: z.number().int().nullable(),
});

export const ZApplyChangeSetOutput = z.object({
  changeSet: ZChangeSetView,
  files: z.array(ZAppliedFile),
});
