import clsx from "clsx";
import { type KeyboardEvent, useCallback, useEffect, useId, useLayoutEffect, useRef, useState } from "react";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";
import type { TreeNode, TreeRow } from "./tree-model.ts";

/** Row height in pixels: fixed, so only the rows in view are rendered (thousands of files stay fast). */
export const ROW_HEIGHT = 28;
const OVERSCAN = 12;

// useLayoutEffect warns during server rendering; there is nothing to measure there anyway.
const useIsomorphicLayoutEffect = typeof window === "undefined" ? useEffect : useLayoutEffect;

export type FileTreeProps = {
  rows: TreeRow[];
  expanded: ReadonlySet<string>;
  /** The row with keyboard focus (aria-activedescendant). */
  activePath: string | null;
  /** The file open in the editor (aria-selected). */
  openPath: string | null;
  /** Files with unsaved edits. */
  dirty: ReadonlySet<string>;
  onActivate: (path: string) => void;
  onOpen: (path: string) => void;
  onToggle: (folder: string, open?: boolean) => void;
  onRename: (node: TreeNode) => void;
  onDelete: (node: TreeNode) => void;
  label: string;
};

function Chevron({ open }: { open: boolean }) {
  return (
    <StrokeIcon
      size={12}
      strokeWidth={2.5}
      className={clsx("shrink-0 text-zinc-400 transition-transform", open && "rotate-90")}
    >
      <path d="m9 6 6 6-6 6" />
    </StrokeIcon>
  );
}

function FolderIcon({ open }: { open: boolean }) {
  return (
    <svg width="15" height="15" viewBox="0 0 24 24" aria-hidden="true" className="shrink-0 text-amber-500">
      {open ? (
        <path
          fill="currentColor"
          d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v1H7.5a2 2 0 0 0-1.9 1.4L3 19z"
        />
      ) : null}
      <path
        fill="currentColor"
        opacity={open ? 0.7 : 1}
        d={
          open
            ? "M5.6 11.4A2 2 0 0 1 7.5 10H22l-2.6 8.6A2 2 0 0 1 17.5 20H3z"
            : "M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"
        }
      />
    </svg>
  );
}

function FileIcon() {
  return (
    <StrokeIcon size={15} strokeWidth={1.6} className="shrink-0 text-zinc-400">
      <path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z" />
      <path d="M14 3v5h5" />
    </StrokeIcon>
  );
}

/**
 * The project's files as an ARIA tree. Focus stays on the tree itself and moves between rows with
 * aria-activedescendant (rows are rendered only while in view, so they cannot hold focus): arrow keys
 * move and expand/collapse, Home/End jump, Enter or Space opens, F2 renames, Delete deletes, typing a
 * letter jumps to the next name starting with it.
 */
export function FileTree({
  rows,
  expanded,
  activePath,
  openPath,
  dirty,
  onActivate,
  onOpen,
  onToggle,
  onRename,
  onDelete,
  label,
}: FileTreeProps) {
  const treeId = useId();
  const container = useRef<HTMLDivElement>(null);
  const [viewport, setViewport] = useState({ top: 0, height: 0 });

  useIsomorphicLayoutEffect(() => {
    const element = container.current;
    if (!element) return;
    const measure = () => setViewport({ top: element.scrollTop, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const activeIndex = activePath === null ? -1 : rows.findIndex((row) => row.node.path === activePath);

  // Keep the active row in view when the keyboard moves it.
  const reveal = useCallback((index: number) => {
    const element = container.current;
    if (!element || index < 0) return;
    const top = index * ROW_HEIGHT;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + ROW_HEIGHT > element.scrollTop + element.clientHeight) {
      element.scrollTop = top + ROW_HEIGHT - element.clientHeight;
    }
  }, []);
  useEffect(() => reveal(activeIndex), [activeIndex, reveal]);

  const activate = (index: number) => {
    const row = rows[Math.max(0, Math.min(rows.length - 1, index))];
    if (row) onActivate(row.node.path);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (rows.length === 0) return;
    const index = activeIndex;
    const row = index >= 0 ? rows[index] : undefined;
    const node = row?.node;
    let handled = true;
    switch (event.key) {
      case "ArrowDown":
        activate(index + 1);
        break;
      case "ArrowUp":
        activate(index < 0 ? 0 : index - 1);
        break;
      case "Home":
        activate(0);
        break;
      case "End":
        activate(rows.length - 1);
        break;
      case "ArrowRight":
        if (!node) activate(0);
        else if (node.kind === "folder") {
          if (!expanded.has(node.path)) onToggle(node.path, true);
          else if (rows[index + 1]?.parent === node.path) activate(index + 1);
        }
        break;
      case "ArrowLeft":
        if (node?.kind === "folder" && expanded.has(node.path)) onToggle(node.path, false);
        else if (row?.parent) onActivate(row.parent);
        break;
      case "Enter":
      case " ":
        if (!node) activate(0);
        else if (node.kind === "folder") onToggle(node.path);
        else onOpen(node.path);
        break;
      case "F2":
        if (node) onRename(node);
        break;
      case "Delete":
        if (node) onDelete(node);
        break;
      default: {
        // Type-ahead: the next row whose name starts with the typed character.
        if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) {
          const char = event.key.toLowerCase();
          for (let step = 1; step <= rows.length; step += 1) {
            const candidate = rows[(Math.max(index, 0) + step) % rows.length];
            if (candidate?.node.name.toLowerCase().startsWith(char)) {
              onActivate(candidate.node.path);
              break;
            }
          }
        } else handled = false;
      }
    }
    if (handled) event.preventDefault();
  };

  // Before measuring (server render, first paint) show a screenful.
  const height = viewport.height || 40 * ROW_HEIGHT;
  const start = Math.max(0, Math.floor(viewport.top / ROW_HEIGHT) - OVERSCAN);
  const end = Math.min(rows.length, Math.ceil((viewport.top + height) / ROW_HEIGHT) + OVERSCAN);
  const rowId = (index: number) => `${treeId}-row-${index}`;

  return (
    <div
      ref={container}
      role="tree"
      aria-label={label}
      tabIndex={0}
      aria-activedescendant={activeIndex >= start && activeIndex < end ? rowId(activeIndex) : undefined}
      onKeyDown={onKeyDown}
      onFocus={() => {
        if (activeIndex < 0 && rows.length > 0)
          activate(openPath ? rows.findIndex((r) => r.node.path === openPath) : 0);
      }}
      onScroll={(event) =>
        setViewport({ top: event.currentTarget.scrollTop, height: event.currentTarget.clientHeight })
      }
      className="group relative min-h-0 flex-1 overflow-auto py-1 text-[13px] outline-none"
      data-testid="file-tree"
    >
      <div style={{ height: rows.length * ROW_HEIGHT }} className="relative" role="presentation">
        {rows.slice(start, end).map((row, offset) => {
          const index = start + offset;
          const node = row.node;
          const isFolder = node.kind === "folder";
          const open = isFolder && expanded.has(node.path);
          const active = index === activeIndex;
          const selected = node.path === openPath;
          return (
            // biome-ignore lint/a11y/useKeyWithClickEvents: keys are handled by the tree (aria-activedescendant)
            // biome-ignore lint/a11y/useFocusableInteractive: focus stays on the tree; rows are its aria-activedescendant
            <div
              key={node.path}
              id={rowId(index)}
              role="treeitem"
              aria-level={row.depth}
              aria-setsize={row.siblings}
              aria-posinset={row.position}
              aria-expanded={isFolder ? open : undefined}
              aria-selected={selected}
              title={node.path}
              data-path={node.path}
              onClick={() => {
                onActivate(node.path);
                if (isFolder) onToggle(node.path);
                else onOpen(node.path);
              }}
              style={{ top: index * ROW_HEIGHT, height: ROW_HEIGHT, paddingLeft: 8 + (row.depth - 1) * 14 }}
              className={clsx(
                "absolute inset-x-1 flex cursor-pointer items-center gap-1.5 rounded pr-2 select-none",
                selected
                  ? "bg-brand-50 text-brand-700 dark:bg-brand-700/25 dark:text-brand-100"
                  : "text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800/70",
                active &&
                  "group-focus-visible:ring-2 group-focus-visible:ring-brand-500 group-focus-visible:ring-inset",
              )}
            >
              {isFolder ? <Chevron open={open} /> : <span className="w-3 shrink-0" />}
              {isFolder ? <FolderIcon open={open} /> : <FileIcon />}
              <span className="truncate">{node.name}</span>
              {!isFolder && dirty.has(node.path) ? (
                <span
                  className="ml-auto h-2 w-2 shrink-0 rounded-full bg-amber-500"
                  role="img"
                  aria-label="unsaved changes"
                />
              ) : null}
            </div>
          );
        })}
      </div>
    </div>
  );
}
