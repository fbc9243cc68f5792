import * as DropdownMenu from "@radix-ui/react-dropdown-menu";
import { Link, useFetcher } from "@remix-run/react";
import clsx from "clsx";
import { useState } from "react";
import { DateTime } from "#app/components/ui/section.tsx";
import { Table, TableSkeleton, TBody, Td, THead, Th } from "#app/components/ui/table.tsx";
import { formatMicroDollars } from "./format.ts";
import { DeleteProjectDialog, EditProjectDialog } from "./project-dialogs.tsx";

/** A dashboard row: the project and its streamed statistics. */
export type ProjectRow = {
  id: string;
  name: string;
  description: string | null;
  archivedAt: Date | string | null;
  lastActivityAt: Date | string;
  fileCount: number;
  lastRun: { id: string; status: string; createdAt: Date | string } | null;
  monthToDateCostMicros: number;
};

const RUN_TONE: Record<string, string> = {
  queued: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  running: "bg-sky-50 text-sky-800 dark:bg-sky-950/60 dark:text-sky-200",
  succeeded: "bg-emerald-50 text-emerald-800 dark:bg-emerald-950/60 dark:text-emerald-200",
  failed: "bg-red-50 text-red-800 dark:bg-red-950/60 dark:text-red-200",
  dead: "bg-red-50 text-red-800 dark:bg-red-950/60 dark:text-red-200",
  cancelled: "bg-amber-50 text-amber-900 dark:bg-amber-950/60 dark:text-amber-200",
};

export function RunStatusBadge({ status }: { status: string }) {
  return (
    <span
      className={clsx(
        "inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium capitalize",
        RUN_TONE[status] ?? RUN_TONE.queued,
      )}
    >
      {status}
    </span>
  );
}

function RowMenu({
  project,
  onEdit,
  onDelete,
}: {
  project: ProjectRow;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const fetcher = useFetcher();
  const archived = Boolean(project.archivedAt);
  const item =
    "block w-full cursor-default rounded px-2 py-1.5 text-left text-zinc-700 outline-none select-none data-[highlighted]:bg-zinc-100 dark:text-zinc-300 dark:data-[highlighted]:bg-zinc-800";
  return (
    <DropdownMenu.Root>
      <DropdownMenu.Trigger
        className="inline-flex h-8 w-8 items-center justify-center rounded-md text-zinc-500 hover:bg-zinc-100 hover:text-zinc-900 data-[state=open]:bg-zinc-100 dark:hover:bg-zinc-800 dark:hover:text-zinc-100 dark:data-[state=open]:bg-zinc-800"
        aria-label={`Actions for ${project.name}`}
        disabled={fetcher.state !== "idle"}
      >
        <svg width="16" height="16" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true">
          <circle cx="5" cy="12" r="1.8" />
          <circle cx="12" cy="12" r="1.8" />
          <circle cx="19" cy="12" r="1.8" />
        </svg>
      </DropdownMenu.Trigger>
      <DropdownMenu.Portal>
        <DropdownMenu.Content
          align="end"
          sideOffset={4}
          className="z-50 min-w-44 rounded-md border border-zinc-200 bg-white p-1 text-sm shadow-lg dark:border-zinc-800 dark:bg-zinc-900"
        >
          <DropdownMenu.Item asChild>
            <Link to={`/projects/${project.id}`} className={item}>
              Open
            </Link>
          </DropdownMenu.Item>
          <DropdownMenu.Item className={item} onSelect={onEdit}>
            Edit details…
          </DropdownMenu.Item>
          {/* Submitted from onSelect: the menu unmounts on selection, before a form inside it could submit. */}
          <DropdownMenu.Item
            className={item}
            onSelect={() =>
              fetcher.submit(
                { intent: archived ? "unarchive" : "archive", id: project.id },
                { method: "post", action: "/projects?index" },
              )
            }
          >
            {archived ? "Unarchive" : "Archive"}
          </DropdownMenu.Item>
          <DropdownMenu.Separator className="my-1 h-px bg-zinc-200 dark:bg-zinc-800" />
          <DropdownMenu.Item className={clsx(item, "text-red-700 dark:text-red-400")} onSelect={onDelete}>
            Delete…
          </DropdownMenu.Item>
        </DropdownMenu.Content>
      </DropdownMenu.Portal>
    </DropdownMenu.Root>
  );
}

/** The dashboard table. Dialogs for edit and delete live here, opened from each row's menu. */
export function ProjectTable({ projects }: { projects: ProjectRow[] }) {
  const [editing, setEditing] = useState<ProjectRow | null>(null);
  const [deleting, setDeleting] = useState<ProjectRow | null>(null);
  return (
    <>
      <Table aria-label="Projects">
        <THead>
          <Th>Project</Th>
          <Th>Last run</Th>
          <Th>Last activity</Th>
          <Th align="right">Cost this month</Th>
          <Th align="right">Files</Th>
          <th scope="col" className="w-12 px-2 py-2.5">
            <span className="sr-only">Actions</span>
          </th>
        </THead>
        <TBody>
          {projects.map((project) => (
            <tr
              key={project.id}
              className={clsx(
                "hover:bg-zinc-50/70 dark:hover:bg-zinc-900/50",
                project.archivedAt && "text-zinc-500",
              )}
              data-testid="project-row"
            >
              <Td className="max-w-md">
                <div className="flex items-center gap-2">
                  <Link
                    to={`/projects/${project.id}`}
                    className="truncate font-medium text-zinc-900 hover:underline dark:text-zinc-100"
                  >
                    {project.name}
                  </Link>
                  {project.archivedAt ? (
                    <span className="rounded-full border border-zinc-300 px-1.5 text-[11px] font-medium text-zinc-500 dark:border-zinc-700">
                      Archived
                    </span>
                  ) : null}
                </div>
                {project.description ? (
                  <p className="mt-0.5 truncate text-xs text-zinc-500 dark:text-zinc-400">
                    {project.description}
                  </p>
                ) : null}
              </Td>
              <Td nowrap>
                {project.lastRun ? (
                  <RunStatusBadge status={project.lastRun.status} />
                ) : (
                  <span className="text-xs text-zinc-400">No runs yet</span>
                )}
              </Td>
              <Td muted nowrap className="text-xs">
                <DateTime value={project.lastActivityAt} />
              </Td>
              <Td numeric nowrap>
                {formatMicroDollars(project.monthToDateCostMicros)}
              </Td>
              <Td numeric>{project.fileCount.toLocaleString("en-US")}</Td>
              <td className="px-2 py-3 text-right">
                <RowMenu
                  project={project}
                  onEdit={() => setEditing(project)}
                  onDelete={() => setDeleting(project)}
                />
              </td>
            </tr>
          ))}
        </TBody>
      </Table>
      <EditProjectDialog project={editing} onClose={() => setEditing(null)} />
      <DeleteProjectDialog project={deleting} onClose={() => setDeleting(null)} />
    </>
  );
}

/** Shown while the list streams in: the table's shape, so nothing jumps when it arrives. */
export function ProjectTableSkeleton() {
  return (
    <TableSkeleton
      label="Loading projects"
      rows={3}
      cells={["h-4 w-48", "h-4 w-20", "h-4 w-32", "ml-auto h-4 w-14", "h-4 w-8"]}
    />
  );
}
