/**
 * The Changes tab of a run: the ChangeSet(s) its agent steps produced, per file and per hunk, with the review.
 * Each Accept / Reject is saved at once (changesets.review), so a reload keeps the review; a rejected hunk
 * takes a comment for the agent. "Apply" writes the accepted hunks into the project's files in one go; a
 * file edited since the run started where a hunk applies comes back as a conflict on that hunk, and nothing
 * is applied until it is rejected. A change set with rejected, commented hunks can start a follow-up run.
 */

import { Link, useNavigate } from "@remix-run/react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import clsx from "clsx";
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { Button } from "#app/components/ui/button.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import type { ChangeSetFileView, ChangeSetView } from "#app/modules/agent/changesets.types.ts";
import { useTRPC } from "#app/trpc/client.ts";
import { type DiffHunk, parseFileDiff } from "./diff-lines.ts";

type HunkStatus = "pending" | "accepted" | "rejected";
type Conflict = { path: string; hunks: number[]; message: string };

const STATUS_LABEL: Record<ChangeSetView["status"], string> = {
  pending: "Waiting for review",
  applied: "Applied",
  partially_applied: "Partly applied",
  rejected: "Rejected",
};
const STATUS_STYLE: Record<ChangeSetView["status"], string> = {
  pending: "bg-amber-100 text-amber-900 dark:bg-amber-900/40 dark:text-amber-100",
  applied: "bg-emerald-100 text-emerald-900 dark:bg-emerald-900/40 dark:text-emerald-100",
  partially_applied: "bg-sky-100 text-sky-900 dark:bg-sky-900/40 dark:text-sky-100",
  rejected: "bg-zinc-200 text-zinc-800 dark:bg-zinc-800 dark:text-zinc-200",
};
const FILE_STATUS_STYLE: Record<ChangeSetFileView["status"], string> = {
  added: "text-emerald-700 dark:text-emerald-400",
  modified: "text-amber-700 dark:text-amber-400",
  deleted: "text-red-700 dark:text-red-400",
};

/**
 * The run's change sets. `version` names how far the run got (status, finished steps): when it moves on, an
 * agent step may have written a change set, so the list is read again.
 */
export function useRunChanges(runId: string, version: string) {
  const trpc = useTRPC();
  const query = useQuery({ ...trpc.changesets.listForRun.queryOptions({ id: runId }), staleTime: 5_000 });
  const seen = useRef(version);
  const { refetch } = query;
  useEffect(() => {
    if (seen.current === version) return;
    seen.current = version;
    void refetch();
  }, [version, refetch]);
  return query;
}

function conflictsOf(error: unknown): Conflict[] {
  const details = (error as { data?: { details?: { conflicts?: unknown } } } | null)?.data?.details;
  return Array.isArray(details?.conflicts) ? (details.conflicts as Conflict[]) : [];
}

function hunkCounts(changeSet: ChangeSetView) {
  let accepted = 0;
  let rejected = 0;
  let total = 0;
  for (const file of changeSet.files)
    for (const hunk of file.hunks) {
      total += 1;
      if (hunk.status === "accepted") accepted += 1;
      if (hunk.status === "rejected") rejected += 1;
    }
  return { accepted, rejected, total, pending: total - accepted - rejected };
}

export function ChangesTab({
  runId,
  projectId,
  runFinished,
  version,
}: {
  runId: string;
  projectId: string;
  runFinished: boolean;
  version: string;
}) {
  const query = useRunChanges(runId, version);
  if (query.isPending) {
    return <Placeholder>Loading the changes…</Placeholder>;
  }
  if (query.isError) {
    return <FormAlert>Could not load the changes: {query.error.message}</FormAlert>;
  }
  const changeSets = query.data;
  if (changeSets.length === 0) {
    return (
      <Placeholder testId="changes-empty">
        {runFinished
          ? "This run changed no files."
          : "Files the agent changes appear here for review when its step finishes."}
      </Placeholder>
    );
  }
  return (
    <div className="space-y-8">
      {changeSets.map((changeSet) => (
        <ChangeSetReview key={changeSet.id} runId={runId} projectId={projectId} changeSet={changeSet} />
      ))}
    </div>
  );
}

function Placeholder({ children, testId }: { children: React.ReactNode; testId?: string }) {
  return (
    <p
      className="rounded-md border border-dashed border-zinc-300 px-4 py-8 text-center text-sm text-zinc-600 dark:border-zinc-700 dark:text-zinc-400"
      data-testid={testId}
    >
      {children}
    </p>
  );
}

function ChangeSetReview({
  runId,
  projectId,
  changeSet,
}: {
  runId: string;
  projectId: string;
  changeSet: ChangeSetView;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const listKey = trpc.changesets.listForRun.queryKey({ id: runId });
  const store = (view: ChangeSetView) =>
    queryClient.setQueryData(listKey, (old: ChangeSetView[] | undefined) =>
      old?.map((item) => (item.id === view.id ? view : item)),
    );
  const review = useMutation(trpc.changesets.review.mutationOptions({ onSuccess: store }));
  const apply = useMutation(
    trpc.changesets.applyToProject.mutationOptions({ onSuccess: (result) => store(result.changeSet) }),
  );
  const reject = useMutation(trpc.changesets.reject.mutationOptions({ onSuccess: store }));
  const followUp = useMutation(
    trpc.changesets.followUp.mutationOptions({ onSuccess: ({ runId: next }) => navigate(`/runs/${next}`) }),
  );

  const open = changeSet.status === "pending";
  const counts = hunkCounts(changeSet);
  const busy = review.isPending || apply.isPending || reject.isPending;
  const conflicts = conflictsOf(apply.error);
  const conflictsByPath = new Map(conflicts.map((c) => [c.path, c]));
  const additions = changeSet.files.reduce((sum, file) => sum + file.additions, 0);
  const deletions = changeSet.files.reduce((sum, file) => sum + file.deletions, 0);
  const commented = changeSet.files.some((file) =>
    file.hunks.some((hunk) => hunk.status === "rejected" && hunk.comment),
  );

  const decide = (
    decisions: Array<{ path: string; hunk?: number; status: HunkStatus; comment?: string }>,
  ) => {
    apply.reset();
    review.mutate({ id: changeSet.id, decisions });
  };

  return (
    <section
      aria-label="Change set"
      className="space-y-4"
      data-testid="changeset"
      data-status={changeSet.status}
    >
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0 space-y-1">
          <div className="flex flex-wrap items-center gap-2">
            <span
              className={clsx("rounded-full px-2 py-0.5 text-xs font-medium", STATUS_STYLE[changeSet.status])}
              data-testid="changeset-status"
            >
              {STATUS_LABEL[changeSet.status]}
            </span>
            <span className="text-sm text-zinc-600 dark:text-zinc-400">
              {changeSet.files.length} {changeSet.files.length === 1 ? "file" : "files"} ·{" "}
              <span className="text-emerald-700 dark:text-emerald-400">+{additions}</span>{" "}
              <span className="text-red-700 dark:text-red-400">−{deletions}</span>
              {open ? (
                <>
                  {" "}
                  · {counts.accepted} accepted, {counts.rejected} rejected of {counts.total}{" "}
                  {counts.total === 1 ? "hunk" : "hunks"}
                </>
              ) : null}
            </span>
          </div>
          {changeSet.summary ? (
            <p className="max-w-3xl whitespace-pre-wrap text-sm text-zinc-700 dark:text-zinc-300">
              {changeSet.summary}
            </p>
          ) : null}
        </div>
        {open ? (
          <div className="flex flex-wrap gap-2">
            <Button
              variant="secondary"
              disabled={busy}
              onClick={() =>
                decide(changeSet.files.map((file) => ({ path: file.path, status: "accepted" as const })))
              }
            >
              Accept all
            </Button>
            <Button variant="secondary" disabled={busy} onClick={() => reject.mutate({ id: changeSet.id })}>
              {reject.isPending ? "Rejecting…" : "Reject all"}
            </Button>
            <Button
              disabled={busy || counts.accepted === 0}
              onClick={() => apply.mutate({ id: changeSet.id })}
              title={counts.accepted === 0 ? "Accept at least one hunk first" : undefined}
            >
              {apply.isPending
                ? "Applying…"
                : `Apply ${counts.accepted} ${counts.accepted === 1 ? "hunk" : "hunks"}`}
            </Button>
          </div>
        ) : commented ? (
          <Button
            disabled={followUp.isPending}
            onClick={() => followUp.mutate({ id: changeSet.id })}
            data-testid="follow-up"
          >
            {followUp.isPending ? "Starting…" : "Follow-up run with my comments"}
          </Button>
        ) : null}
      </div>

      {open && counts.pending > 0 && counts.accepted > 0 ? (
        <p className="text-xs text-zinc-500">Hunks you leave undecided are rejected when you apply.</p>
      ) : null}
      {apply.isSuccess ? (
        <output
          className="block rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-900 dark:border-emerald-900/60 dark:bg-emerald-950/40 dark:text-emerald-100"
          data-testid="apply-result"
        >
          Applied to the project:{" "}
          {apply.data.files
            .map((file) =>
              file.action === "deleted"
                ? `${file.path} (deleted)`
                : file.action === "unchanged"
                  ? `${file.path} (already so)`
                  : `${file.path} (v${file.version})`,
            )
            .join(", ")}
          .{" "}
          <Link to={`/projects/${projectId}`} className="font-medium underline">
            Open the project
          </Link>
        </output>
      ) : null}
      {(apply.error ?? review.error ?? reject.error ?? followUp.error) ? (
        <FormAlert>{(apply.error ?? review.error ?? reject.error ?? followUp.error)?.message}</FormAlert>
      ) : null}

      <ul className="space-y-4">
        {changeSet.files.map((file) => (
          <FileReview
            key={file.path}
            file={file}
            editable={open && !busy}
            conflict={conflictsByPath.get(file.path)}
            onDecide={decide}
          />
        ))}
      </ul>
    </section>
  );
}

function FileReview({
  file,
  editable,
  conflict,
  onDecide,
}: {
  file: ChangeSetFileView;
  editable: boolean;
  conflict: Conflict | undefined;
  onDecide: (decisions: Array<{ path: string; hunk?: number; status: HunkStatus; comment?: string }>) => void;
}) {
  const hunks = useMemo(() => parseFileDiff(file.diff), [file.diff]);
  const [collapsed, setCollapsed] = useState(false);
  const bodyId = useId();
  const states = new Map(file.hunks.map((hunk) => [hunk.index, hunk]));
  const allAccepted = file.hunks.length > 0 && file.hunks.every((hunk) => hunk.status === "accepted");
  return (
    <li
      className={clsx(
        "overflow-hidden rounded-lg border",
        conflict ? "border-red-300 dark:border-red-800" : "border-zinc-200 dark:border-zinc-800",
      )}
      data-testid="changeset-file"
      data-path={file.path}
    >
      <div className="flex flex-wrap items-center gap-3 border-b border-zinc-200 bg-zinc-50 px-3 py-2 dark:border-zinc-800 dark:bg-zinc-900">
        <button
          type="button"
          aria-expanded={!collapsed}
          aria-controls={bodyId}
          onClick={() => setCollapsed((value) => !value)}
          className="min-w-0 flex-1 truncate text-left font-mono text-sm font-medium hover:underline"
        >
          {file.path}
        </button>
        <span className={clsx("text-xs font-medium", FILE_STATUS_STYLE[file.status])}>{file.status}</span>
        <span className="text-xs tabular-nums">
          <span className="text-emerald-700 dark:text-emerald-400">+{file.additions}</span>{" "}
          <span className="text-red-700 dark:text-red-400">−{file.deletions}</span>
        </span>
        {editable && file.hunks.length > 1 ? (
          <Button
            variant="ghost"
            className="h-7 px-2 text-xs"
            onClick={() => onDecide([{ path: file.path, status: allAccepted ? "pending" : "accepted" }])}
          >
            {allAccepted ? "Undo file" : "Accept file"}
          </Button>
        ) : null}
      </div>
      {conflict ? (
        <p
          role="alert"
          className="bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-200"
        >
          {conflict.message}
        </p>
      ) : null}
      <div id={bodyId} hidden={collapsed}>
        {file.binary || file.tooLarge ? (
          <p className="px-3 py-3 text-sm text-zinc-600 dark:text-zinc-400">
            {file.tooLarge ? "Too large to review here" : "Binary file"}: it cannot be applied from a review.
          </p>
        ) : hunks.length === 0 ? (
          <p className="px-3 py-3 text-sm text-zinc-600 dark:text-zinc-400">
            {file.status === "added" ? "An empty file" : "No text changes"}: nothing to apply.
          </p>
        ) : (
          hunks.map((hunk) => (
            <HunkReview
              key={hunk.index}
              path={file.path}
              hunk={hunk}
              status={states.get(hunk.index)?.status ?? "pending"}
              comment={states.get(hunk.index)?.comment ?? ""}
              conflicted={conflict?.hunks.includes(hunk.index) ?? false}
              editable={editable}
              onDecide={onDecide}
            />
          ))
        )}
      </div>
    </li>
  );
}

const DECISION = {
  accepted: { verb: "Accept", done: "Accepted", on: "border-emerald-600 bg-emerald-600 text-white" },
  rejected: { verb: "Reject", done: "Rejected", on: "border-red-600 bg-red-600 text-white" },
} as const;

/** Accept or Reject of one hunk: a toggle (pressed again, the hunk is undecided). */
function DecisionButton({
  decision,
  status,
  label,
  disabled,
  onToggle,
}: {
  decision: "accepted" | "rejected";
  status: HunkStatus;
  label: string;
  disabled: boolean;
  onToggle: (decision: "accepted" | "rejected") => void;
}) {
  const style = DECISION[decision];
  const pressed = status === decision;
  return (
    <button
      type="button"
      aria-pressed={pressed}
      aria-label={`${style.verb} ${label}`}
      disabled={disabled}
      onClick={() => onToggle(decision)}
      className={clsx(
        "rounded-md border px-2 py-0.5 text-xs font-medium disabled:cursor-not-allowed disabled:opacity-60",
        pressed
          ? style.on
          : "border-zinc-300 text-zinc-700 hover:bg-zinc-100 dark:border-zinc-700 dark:text-zinc-300 dark:hover:bg-zinc-800",
      )}
    >
      {pressed ? style.done : style.verb}
    </button>
  );
}

const LINE_STYLE: Record<"context" | "added" | "removed", string> = {
  context: "",
  added: "bg-emerald-50 dark:bg-emerald-950/40",
  removed: "bg-red-50 dark:bg-red-950/40",
};
const SIGN: Record<"context" | "added" | "removed", string> = { context: " ", added: "+", removed: "−" };

function HunkReview({
  path,
  hunk,
  status,
  comment,
  conflicted,
  editable,
  onDecide,
}: {
  path: string;
  hunk: DiffHunk;
  status: HunkStatus;
  comment: string;
  conflicted: boolean;
  editable: boolean;
  onDecide: (decisions: Array<{ path: string; hunk?: number; status: HunkStatus; comment?: string }>) => void;
}) {
  const [draft, setDraft] = useState(comment);
  const commentId = useId();
  const label = `hunk ${hunk.index + 1} of ${path}`;
  const toggle = (next: "accepted" | "rejected") =>
    onDecide([{ path, hunk: hunk.index, status: status === next ? "pending" : next }]);
  return (
    <div
      className={clsx(
        "border-t border-zinc-100 first:border-t-0 dark:border-zinc-800",
        status === "rejected" && "opacity-80",
      )}
      data-testid="hunk"
      data-status={status}
      data-conflict={conflicted || undefined}
    >
      <div className="flex flex-wrap items-center gap-2 bg-zinc-50/60 px-3 py-1.5 dark:bg-zinc-900/50">
        <code className="text-xs text-zinc-500">{hunk.header}</code>
        {conflicted ? (
          <span className="rounded bg-red-100 px-1.5 py-0.5 text-xs font-medium text-red-800 dark:bg-red-900/50 dark:text-red-200">
            conflict
          </span>
        ) : null}
        <fieldset className="ml-auto flex gap-1" aria-label={`Decision for ${label}`}>
          <DecisionButton
            decision="accepted"
            status={status}
            label={label}
            disabled={!editable}
            onToggle={toggle}
          />
          <DecisionButton
            decision="rejected"
            status={status}
            label={label}
            disabled={!editable}
            onToggle={toggle}
          />
        </fieldset>
      </div>
      <table className="w-full border-collapse font-mono text-[13px] leading-5">
        <tbody>
          {hunk.lines.map((line, i) => (
            <tr
              // biome-ignore lint/suspicious/noArrayIndexKey: lines of one hunk never move
              key={i}
              className={LINE_STYLE[line.kind]}
            >
              <td className="w-10 select-none px-2 text-right text-xs text-zinc-400">{line.oldLine ?? ""}</td>
              <td className="w-10 select-none px-2 text-right text-xs text-zinc-400">{line.newLine ?? ""}</td>
              <td className="w-4 select-none text-zinc-500" aria-hidden="true">
                {SIGN[line.kind]}
              </td>
              <td className="whitespace-pre-wrap break-all pr-3">
                <span className="sr-only">{line.kind === "context" ? "" : `${line.kind}: `}</span>
                {line.text || " "}
                {line.noEol ? <span className="ml-2 text-xs text-zinc-400">(no newline at end)</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {status === "rejected" && (editable || comment) ? (
        <div className="border-t border-zinc-100 px-3 py-2 dark:border-zinc-800">
          <label
            htmlFor={commentId}
            className="mb-1 block text-xs font-medium text-zinc-600 dark:text-zinc-400"
          >
            Comment for a follow-up run (optional)
          </label>
          <textarea
            id={commentId}
            value={editable ? draft : comment}
            readOnly={!editable}
            onChange={(event) => setDraft(event.target.value)}
            onBlur={() => {
              if (editable && draft.trim() !== comment)
                onDecide([{ path, hunk: hunk.index, status: "rejected", comment: draft }]);
            }}
            rows={2}
            maxLength={4000}
            placeholder="What should the agent do instead?"
            className="block w-full rounded-md border border-zinc-300 bg-white px-2 py-1 text-sm dark:border-zinc-700 dark:bg-zinc-900"
          />
        </div>
      ) : null}
    </div>
  );
}
