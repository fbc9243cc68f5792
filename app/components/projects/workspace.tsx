import { useBlocker } from "@remix-run/react";
import clsx from "clsx";
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { LazyCodeEditor, useDarkMode } from "#app/components/editor/lazy.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";
import { languageForPath } from "#app/modules/projects/paths.ts";
import {
  errorCode,
  errorMessage,
  type FileEntry,
  type ImportResult,
  useFileContent,
  useFileList,
  useFileMutations,
  useFileVersions,
  useProjectApi,
} from "./api.ts";
import { type Conflict, ConflictPanel } from "./conflict-panel.tsx";
import { DangerButton, Modal, ModalActions } from "./dialog.tsx";
import { FileTree } from "./file-tree.tsx";
import { formatBytes } from "./format.ts";
import { type Comparison, HistoryPanel, VersionDiff } from "./history-panel.tsx";
import { ImportPanel, ImportSummary } from "./import-panel.tsx";
import { DeleteNodeDialog, PathDialog } from "./tree-dialogs.tsx";
import {
  ancestorsOf,
  buildTree,
  isWithin,
  parentOf,
  rebase,
  type TreeNode,
  visibleRows,
} from "./tree-model.ts";

/**
 * An edit not yet saved: its text and the version it started from (sent as baseVersion; null recreates a
 * file that was deleted elsewhere).
 */
type Draft = { content: string; baseVersion: number | null };

type DialogState =
  | { kind: "new-file"; folder: string }
  | { kind: "new-folder"; folder: string }
  | { kind: "rename"; node: TreeNode }
  | { kind: "delete"; node: TreeNode }
  | null;

type Notice = { tone: "info" | "error"; text: string } | null;

const TREE_WIDTH_KEY = "agentry-tree-width";
const TREE_MIN = 180;
const TREE_MAX = 520;

function withoutKey<T>(record: Record<string, T>, key: string): Record<string, T> {
  if (!(key in record)) return record;
  const { [key]: _removed, ...rest } = record;
  return rest;
}

/** Keep the open file in the address (?file=) without a Remix navigation (no loader runs). */
function rememberOpenFile(path: string | null) {
  const url = new URL(window.location.href);
  if (path) url.searchParams.set("file", path);
  else url.searchParams.delete("file");
  window.history.replaceState(window.history.state, "", url);
}

/** The resizable tree width, remembered in this browser. */
function useTreeWidth(): [number, (width: number) => void] {
  const [width, setWidth] = useState(264);
  useEffect(() => {
    const saved = Number(localStorage.getItem(TREE_WIDTH_KEY));
    if (saved >= TREE_MIN && saved <= TREE_MAX) setWidth(saved);
  }, []);
  return [
    width,
    (next) => {
      const clamped = Math.round(Math.min(TREE_MAX, Math.max(TREE_MIN, next)));
      setWidth(clamped);
      localStorage.setItem(TREE_WIDTH_KEY, String(clamped));
    },
  ];
}

function ToolbarButton({
  label,
  onClick,
  disabled,
  children,
}: {
  label: string;
  onClick: () => void;
  disabled?: boolean;
  children: ReactNode;
}) {
  return (
    <button
      type="button"
      onClick={onClick}
      disabled={disabled}
      aria-label={label}
      title={label}
      className="inline-flex h-7 w-7 items-center justify-center rounded text-zinc-500 hover:bg-zinc-100 hover:text-zinc-900 disabled:opacity-40 disabled:hover:bg-transparent dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
    >
      <StrokeIcon size={15} strokeWidth={1.8}>
        {children}
      </StrokeIcon>
    </button>
  );
}

/**
 * The project page's working area: the file tree on the left (resizable), the open file in Monaco on
 * the right, with its history, conflict resolution and import. Edits live in `drafts` until saved, one
 * per file, so switching files never loses one.
 */
export function Workspace({
  projectId,
  initialFiles,
  initialPath,
  importOpen,
  onImportOpenChange,
}: {
  projectId: string;
  initialFiles: FileEntry[];
  initialPath: string | null;
  /** The import dialog, opened from the page header. */
  importOpen: boolean;
  onImportOpenChange: (open: boolean) => void;
}) {
  const api = useProjectApi(projectId);
  const filesQuery = useFileList(projectId, initialFiles);
  const files = filesQuery.data ?? initialFiles;
  const mutations = useFileMutations();
  const dark = useDarkMode();

  const [openPath, setOpenPath] = useState<string | null>(() =>
    initialPath && initialFiles.some((f) => f.path === initialPath) ? initialPath : null,
  );
  const [activePath, setActivePath] = useState<string | null>(openPath);
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set(openPath ? ancestorsOf(openPath) : []));
  const [extraFolders, setExtraFolders] = useState<string[]>([]);
  const [drafts, setDrafts] = useState<Record<string, Draft>>({});
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [historyOpen, setHistoryOpen] = useState(false);
  const [comparing, setComparing] = useState<Comparison | null>(null);
  const [dialog, setDialog] = useState<DialogState>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const [saving, setSaving] = useState(false);
  const [restoring, setRestoring] = useState<number | null>(null);
  const [treeWidth, setTreeWidth] = useTreeWidth();
  const [lastImport, setLastImport] = useState<ImportResult | null>(null);
  /** Bumped when the editor must take its text from outside (see CodeEditor's `revision`). */
  const [revision, setRevision] = useState(0);
  const bump = useCallback(() => setRevision((r) => r + 1), []);

  const draftsRef = useRef(drafts);
  draftsRef.current = drafts;
  const savingRef = useRef(false);

  const paths = useMemo(() => files.map((f) => f.path), [files]);
  const fileSet = useMemo(() => new Set(paths), [paths]);
  const tree = useMemo(() => buildTree(paths, extraFolders), [paths, extraFolders]);
  const rows = useMemo(() => visibleRows(tree, expanded), [tree, expanded]);
  const dirty = useMemo(() => new Set(Object.keys(drafts)), [drafts]);

  const fileQuery = useFileContent(projectId, openPath);
  const file = fileQuery.data && fileQuery.data.path === openPath ? fileQuery.data : undefined;
  const draft = openPath ? drafts[openPath] : undefined;
  const language = openPath ? languageForPath(openPath) : "plaintext";
  const versionsQuery = useFileVersions(projectId, openPath, historyOpen || comparing !== null);

  // The server's text changed (restore, import, a save, a reload) and there is no edit to keep: show it.
  useEffect(() => {
    if (file && !draftsRef.current[file.path]) bump();
    // `file` keeps its identity until the server's data changes (React Query's structural sharing).
  }, [file, bump]);

  // Leaving with unsaved edits asks first.
  useEffect(() => {
    if (dirty.size === 0) return;
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      // Older browsers ask only when returnValue is set.
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty.size]);

  // Leaving the page inside the app with unsaved edits asks too (the tab's own close is beforeunload).
  const blocker = useBlocker(
    ({ currentLocation, nextLocation }) =>
      dirty.size > 0 && currentLocation.pathname !== nextLocation.pathname,
  );

  const say = useCallback((text: string, tone: "info" | "error" = "info") => setNotice({ text, tone }), []);

  const open = useCallback((path: string) => {
    setOpenPath(path);
    setActivePath(path);
    setComparing(null);
    setConflict((current) => (current?.path === path ? current : null));
    setExpanded((current) => {
      const needed = ancestorsOf(path).filter((folder) => !current.has(folder));
      return needed.length === 0 ? current : new Set([...current, ...needed]);
    });
    rememberOpenFile(path);
  }, []);

  const toggle = useCallback((folder: string, force?: boolean) => {
    setExpanded((current) => {
      const next = new Set(current);
      const shouldOpen = force ?? !next.has(folder);
      if (shouldOpen) next.add(folder);
      else next.delete(folder);
      return next;
    });
  }, []);

  function onEdit(value: string) {
    if (!openPath || !file) return;
    const path = openPath;
    setDrafts((current) => {
      const existing = current[path];
      const base = existing ? existing.baseVersion : file.version;
      if (value === file.content && base === file.version) return withoutKey(current, path);
      return { ...current, [path]: { content: value, baseVersion: base } };
    });
  }

  async function save(path: string | null = openPath, override?: Draft) {
    if (!path || savingRef.current) return;
    const pending = override ?? draftsRef.current[path];
    if (!pending) return;
    savingRef.current = true;
    setSaving(true);
    try {
      const saved = await mutations.save.mutateAsync({
        id: projectId,
        path,
        content: pending.content,
        baseVersion: pending.baseVersion,
      });
      api.queryClient.setQueryData(api.keys.file(path), (old) =>
        old
          ? {
              ...old,
              content: pending.content,
              version: saved.version,
              size: new TextEncoder().encode(pending.content).length,
            }
          : old,
      );
      setDrafts((current) => {
        const now = current[path];
        if (!now) return current;
        // Typed on while the save was in flight: keep that, now based on the saved version.
        if (now.content !== pending.content)
          return { ...current, [path]: { ...now, baseVersion: saved.version } };
        return withoutKey(current, path);
      });
      setConflict((current) => (current?.path === path ? null : current));
      say(`Saved ${path} as version ${saved.version}`);
      void api.refreshFiles();
      void api.queryClient.invalidateQueries({ queryKey: api.keys.versions(path) });
    } catch (error) {
      if (errorCode(error) === "CONFLICT") {
        try {
          const current = await api.fetchCurrent(path);
          setConflict({ path, theirs: current.content, theirsVersion: current.version });
        } catch (readError) {
          if (errorCode(readError) === "NOT_FOUND") setConflict({ path, theirs: null, theirsVersion: null });
          else say(`Could not save: ${errorMessage(readError)}`, "error");
        }
      } else {
        say(`Could not save ${path}: ${errorMessage(error)}`, "error");
      }
    } finally {
      savingRef.current = false;
      setSaving(false);
    }
  }
  const saveRef = useRef(save);
  saveRef.current = save;

  // Ctrl/Cmd-S outside the editor too (Monaco handles it inside and marks the event handled).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s" && !event.defaultPrevented) {
        event.preventDefault();
        void saveRef.current();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  function keepMine() {
    if (!conflict) return;
    const mine = draftsRef.current[conflict.path];
    if (!mine) {
      setConflict(null);
      return;
    }
    // Save again, now knowingly based on their version (or creating the file again when it was deleted).
    const rebased: Draft = { content: mine.content, baseVersion: conflict.theirsVersion };
    setDrafts((current) => ({ ...current, [conflict.path]: rebased }));
    void save(conflict.path, rebased);
  }

  function takeTheirs() {
    if (!conflict) return;
    setDrafts((current) => withoutKey(current, conflict.path));
    bump();
    if (conflict.theirsVersion === null) {
      setOpenPath(null);
      rememberOpenFile(null);
      void api.refreshFiles();
    }
    setConflict(null);
  }

  async function restore(version: number) {
    if (!openPath || !file) return;
    const path = openPath;
    setRestoring(version);
    try {
      const saved = await mutations.restore.mutateAsync({
        id: projectId,
        path,
        version,
        baseVersion: file.version,
      });
      await api.fetchCurrent(path);
      setComparing(null);
      say(`Restored version ${version} of ${path} as version ${saved.version}`);
      void api.refreshFiles();
    } catch (error) {
      if (errorCode(error) === "CONFLICT") {
        await api.fetchCurrent(path).catch(() => undefined);
        say("The file changed elsewhere meanwhile; its history is refreshed. Try again.", "error");
      } else say(`Could not restore: ${errorMessage(error)}`, "error");
    } finally {
      setRestoring(null);
      void api.queryClient.invalidateQueries({ queryKey: api.keys.versions(path) });
    }
  }

  // ─── Tree operations ───────────────────────────────────────────────────────

  const activeNode = useMemo(
    () => rows.find((r) => r.node.path === activePath)?.node ?? null,
    [rows, activePath],
  );
  /** Where "new file" and "new folder" go: the active folder, or the active file's folder. */
  const targetFolder = activeNode
    ? activeNode.kind === "folder"
      ? activeNode.path
      : parentOf(activeNode.path)
    : "";
  const filesUnder = (folder: string) => paths.filter((p) => isWithin(p, folder));

  async function createFile(path: string) {
    if (fileSet.has(path)) throw new Error(`${path} already exists`);
    if (paths.some((p) => isWithin(p, path))) throw new Error(`${path} is a folder`);
    await mutations.save.mutateAsync({ id: projectId, path, content: "", baseVersion: null });
    await api.refreshFiles();
    setDialog(null);
    open(path);
    say(`Created ${path}`);
  }

  function createFolder(path: string) {
    if (fileSet.has(path)) throw new Error(`${path} is a file`);
    setExtraFolders((current) => (current.includes(path) ? current : [...current, path]));
    setExpanded((current) => new Set([...current, ...ancestorsOf(path), path]));
    setActivePath(path);
    setDialog(null);
    say(`Folder ${path} added. It is saved with the first file you create in it.`);
  }

  async function moveNode(node: TreeNode, to: string) {
    if (to === node.path) {
      setDialog(null);
      return;
    }
    const hasFiles = node.kind === "file" || filesUnder(node.path).length > 0;
    if (hasFiles) {
      await mutations.move.mutateAsync({ id: projectId, from: node.path, to });
      await api.refreshFiles();
    }
    const from = node.path;
    setExtraFolders((current) => current.map((f) => rebase(f, from, to)));
    setExpanded((current) => new Set([...current].map((f) => rebase(f, from, to)).concat(ancestorsOf(to))));
    setDrafts((current) => {
      const next: Record<string, Draft> = {};
      for (const [path, value] of Object.entries(current)) next[rebase(path, from, to)] = value;
      return next;
    });
    if (openPath && isWithin(openPath, from)) {
      const moved = rebase(openPath, from, to);
      setOpenPath(moved);
      rememberOpenFile(moved);
    }
    setActivePath(to);
    setConflict(null);
    setDialog(null);
    say(`Moved ${from} to ${to}`);
  }

  async function deleteNode(node: TreeNode) {
    const hasFiles = node.kind === "file" || filesUnder(node.path).length > 0;
    if (hasFiles) {
      await mutations.remove.mutateAsync({ id: projectId, path: node.path });
      await api.refreshFiles();
    }
    setExtraFolders((current) => current.filter((f) => !isWithin(f, node.path)));
    setDrafts((current) => {
      const next: Record<string, Draft> = {};
      for (const [path, value] of Object.entries(current)) if (!isWithin(path, node.path)) next[path] = value;
      return next;
    });
    if (openPath && isWithin(openPath, node.path)) {
      setOpenPath(null);
      rememberOpenFile(null);
    }
    setActivePath(node.kind === "file" ? null : parentOf(node.path) || null);
    setDialog(null);
    say(`Deleted ${node.path}`);
  }

  function onImported(result: ImportResult) {
    setLastImport(result);
    void api.refreshFiles();
    // Updated files: refetch what is cached; drafts keep their base, so a stale one conflicts on save.
    void api.queryClient.invalidateQueries({ queryKey: api.keys.anyFile });
    void api.queryClient.invalidateQueries({ queryKey: api.keys.anyVersions });
    say(
      `Import finished: ${result.created} created, ${result.updated} updated, ${result.skipped.length} skipped`,
    );
  }

  // ─── Layout ────────────────────────────────────────────────────────────────

  const deleteTarget =
    dialog?.kind === "delete"
      ? {
          path: dialog.node.path,
          kind: dialog.node.kind,
          fileCount: dialog.node.kind === "file" ? 1 : filesUnder(dialog.node.path).length,
        }
      : null;

  return (
    <>
      <div className="flex h-[calc(100vh-14rem)] min-h-[30rem] overflow-hidden rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900/40">
        {/* Tree pane */}
        <div className="flex shrink-0 flex-col" style={{ width: treeWidth }}>
          <div className="flex h-10 items-center gap-0.5 border-b border-zinc-200 px-2 dark:border-zinc-800">
            <h2 className="mr-auto pl-1 text-xs font-semibold uppercase tracking-wide text-zinc-500">
              Files
            </h2>
            <ToolbarButton
              label="New file"
              onClick={() => setDialog({ kind: "new-file", folder: targetFolder })}
            >
              <path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z" />
              <path d="M14 3v5h5M12 12v6M9 15h6" />
            </ToolbarButton>
            <ToolbarButton
              label="New folder"
              onClick={() => setDialog({ kind: "new-folder", folder: targetFolder })}
            >
              <path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z" />
              <path d="M12 10v6M9 13h6" />
            </ToolbarButton>
            <ToolbarButton
              label="Rename or move (F2)"
              disabled={!activeNode}
              onClick={() => activeNode && setDialog({ kind: "rename", node: activeNode })}
            >
              <path d="M4 20h4L19 9l-4-4L4 16z" />
              <path d="m13.5 6.5 4 4" />
            </ToolbarButton>
            <ToolbarButton
              label="Delete (Del)"
              disabled={!activeNode}
              onClick={() => activeNode && setDialog({ kind: "delete", node: activeNode })}
            >
              <path d="M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V4h6v3" />
            </ToolbarButton>
          </div>
          {rows.length === 0 ? (
            <div className="flex-1 p-4 text-sm text-zinc-500">
              <p>No files yet.</p>
              <p className="mt-1 text-xs">
                Import a .zip or a folder, or create a file with the + button above.
              </p>
            </div>
          ) : (
            <FileTree
              rows={rows}
              expanded={expanded}
              activePath={activePath}
              openPath={openPath}
              dirty={dirty}
              onActivate={setActivePath}
              onOpen={open}
              onToggle={toggle}
              onRename={(node) => setDialog({ kind: "rename", node })}
              onDelete={(node) => setDialog({ kind: "delete", node })}
              label="Project files"
            />
          )}
          {filesQuery.isError ? (
            <p
              role="alert"
              className="border-t border-zinc-200 px-3 py-2 text-xs text-red-600 dark:border-zinc-800 dark:text-red-400"
            >
              Could not refresh the file list: {errorMessage(filesQuery.error)}
            </p>
          ) : null}
          <p className="border-t border-zinc-200 px-3 py-1.5 text-[11px] text-zinc-500 dark:border-zinc-800">
            {files.length.toLocaleString("en-US")} {files.length === 1 ? "file" : "files"}
          </p>
        </div>

        <Resizer width={treeWidth} onResize={setTreeWidth} />

        {/* Editor pane */}
        <div className="flex min-w-0 flex-1 flex-col">
          {openPath === null ? (
            <NoFileOpen
              hasFiles={files.length > 0}
              projectId={projectId}
              onImported={onImported}
              lastImport={lastImport}
            />
          ) : (
            <>
              <div className="flex h-10 items-center gap-2 border-b border-zinc-200 px-3 dark:border-zinc-800">
                <h2
                  className="min-w-0 truncate font-mono text-[13px]"
                  title={openPath}
                  data-testid="open-file"
                >
                  {openPath}
                </h2>
                {draft ? (
                  <span
                    className="inline-flex shrink-0 items-center gap-1 text-xs font-medium text-amber-700 dark:text-amber-400"
                    data-testid="unsaved-marker"
                  >
                    <span className="h-2 w-2 rounded-full bg-amber-500" aria-hidden="true" />
                    Unsaved
                  </span>
                ) : null}
                <div className="ml-auto flex shrink-0 items-center gap-1.5">
                  {draft ? (
                    <Button
                      variant="ghost"
                      className="h-7 px-2.5 text-xs"
                      onClick={() => {
                        setDrafts((current) => withoutKey(current, openPath));
                        bump();
                      }}
                    >
                      Discard
                    </Button>
                  ) : null}
                  <Button
                    variant={historyOpen ? "secondary" : "ghost"}
                    className="h-7 px-2.5 text-xs"
                    aria-pressed={historyOpen}
                    onClick={() => setHistoryOpen((v) => !v)}
                  >
                    History
                  </Button>
                  <Button
                    className="h-7 px-3 text-xs"
                    disabled={!draft || saving}
                    onClick={() => void save()}
                    title="Save (Ctrl+S / ⌘S)"
                  >
                    {saving ? "Saving…" : "Save"}
                  </Button>
                </div>
              </div>
              <div className="flex min-h-0 flex-1">
                <div className="min-w-0 flex-1">
                  {fileQuery.isPending && !file ? (
                    <div role="status" className="p-4 text-sm text-zinc-500">
                      Loading {openPath}…
                    </div>
                  ) : fileQuery.isError && !file ? (
                    <FileError
                      error={fileQuery.error}
                      onRetry={() => void fileQuery.refetch()}
                      onClose={() => {
                        setOpenPath(null);
                        rememberOpenFile(null);
                        void api.refreshFiles();
                      }}
                    />
                  ) : !file ? null : conflict?.path === openPath ? (
                    <ConflictPanel
                      conflict={conflict}
                      mine={draft?.content ?? file.content}
                      language={language}
                      dark={dark}
                      busy={saving}
                      onKeepMine={keepMine}
                      onTakeTheirs={takeTheirs}
                    />
                  ) : comparing ? (
                    <VersionDiff
                      projectId={projectId}
                      path={openPath}
                      language={language}
                      dark={dark}
                      comparison={comparing}
                      versions={versionsQuery.data?.map((v) => v.version) ?? [comparing.to, comparing.from]}
                      onChange={setComparing}
                      onClose={() => setComparing(null)}
                    />
                  ) : file.isBinary ? (
                    <div className="flex h-full flex-col items-center justify-center gap-1 p-6 text-center">
                      <p className="text-sm font-medium">Binary file ({formatBytes(file.size)})</p>
                      <p className="max-w-sm text-sm text-zinc-600 dark:text-zinc-400">
                        Binary files are kept as metadata only: they are listed and exported by name, but
                        cannot be shown or edited here.
                      </p>
                    </div>
                  ) : (
                    <LazyCodeEditor
                      modelScope={projectId}
                      path={openPath}
                      value={draft?.content ?? file.content}
                      revision={revision}
                      language={language}
                      dark={dark}
                      onChange={onEdit}
                      onSave={() => void save()}
                    />
                  )}
                </div>
                {historyOpen ? (
                  <HistoryPanel
                    projectId={projectId}
                    path={openPath}
                    currentVersion={file?.version ?? null}
                    dirty={Boolean(draft)}
                    comparing={comparing}
                    onCompare={setComparing}
                    onRestore={(version) => void restore(version)}
                    restoring={restoring}
                    onClose={() => setHistoryOpen(false)}
                  />
                ) : null}
              </div>
            </>
          )}
          <div className="flex h-7 shrink-0 items-center gap-3 border-t border-zinc-200 px-3 text-[11px] text-zinc-500 dark:border-zinc-800">
            <output
              aria-live="polite"
              className={clsx(
                "min-w-0 truncate",
                notice?.tone === "error" && "font-medium text-red-600 dark:text-red-400",
              )}
              data-testid="workspace-notice"
            >
              {notice?.text ?? ""}
            </output>
            {file && openPath ? (
              <span className="ml-auto shrink-0 tabular-nums">
                {language} · version {file.version} · {formatBytes(file.size)}
              </span>
            ) : null}
          </div>
        </div>
      </div>

      <PathDialog
        open={dialog?.kind === "new-file"}
        title="New file"
        label="File path"
        description="Folders in the path are created as needed."
        initial={dialog?.kind === "new-file" && dialog.folder ? `${dialog.folder}/` : ""}
        submitLabel="Create file"
        onSubmit={createFile}
        onClose={() => setDialog(null)}
      />
      <PathDialog
        open={dialog?.kind === "new-folder"}
        title="New folder"
        label="Folder path"
        initial={dialog?.kind === "new-folder" && dialog.folder ? `${dialog.folder}/` : ""}
        submitLabel="Add folder"
        onSubmit={createFolder}
        onClose={() => setDialog(null)}
      />
      <PathDialog
        open={dialog?.kind === "rename"}
        title={
          dialog?.kind === "rename" && dialog.node.kind === "folder"
            ? "Rename or move folder"
            : "Rename or move file"
        }
        label="New path"
        description="Change the name, or the folders before it to move. History moves along."
        initial={dialog?.kind === "rename" ? dialog.node.path : ""}
        submitLabel="Move"
        onSubmit={(to) => (dialog?.kind === "rename" ? moveNode(dialog.node, to) : undefined)}
        onClose={() => setDialog(null)}
      />
      <DeleteNodeDialog
        target={deleteTarget}
        onConfirm={() => (dialog?.kind === "delete" ? deleteNode(dialog.node) : Promise.resolve())}
        onClose={() => setDialog(null)}
      />
      <Modal
        open={blocker.state === "blocked"}
        onOpenChange={(next) => (next ? undefined : blocker.reset?.())}
        title="Leave with unsaved changes?"
        description={`${dirty.size === 1 ? "One file has" : `${dirty.size} files have`} edits that are not saved: ${[...dirty].slice(0, 3).join(", ")}${dirty.size > 3 ? "…" : ""}. Leaving discards them.`}
      >
        <ModalActions>
          <Button variant="secondary" onClick={() => blocker.reset?.()} autoFocus>
            Stay
          </Button>
          <DangerButton onClick={() => blocker.proceed?.()}>Leave and discard</DangerButton>
        </ModalActions>
      </Modal>
      <Modal open={importOpen} onOpenChange={onImportOpenChange} title="Import files">
        <ImportPanel projectId={projectId} onImported={onImported} compact />
      </Modal>
    </>
  );
}

function NoFileOpen({
  hasFiles,
  projectId,
  onImported,
  lastImport,
}: {
  hasFiles: boolean;
  projectId: string;
  onImported: (result: ImportResult) => void;
  /** What the import just done from this page did: still shown once the tree has files. */
  lastImport: ImportResult | null;
}) {
  if (hasFiles) {
    return (
      <div className="flex flex-1 flex-col items-center justify-center gap-1 p-6 text-center">
        {lastImport ? (
          <div className="mb-6 w-full max-w-xl text-left">
            <ImportSummary result={lastImport} />
          </div>
        ) : null}
        <p className="text-sm font-medium">Pick a file to open it</p>
        <p className="max-w-sm text-sm text-zinc-600 dark:text-zinc-400">
          Click a file in the tree, or focus the tree and use the arrow keys and Enter. Ctrl+S (⌘S) saves; in
          the editor, Ctrl+M (⌃⇧M on a Mac) makes Tab move the focus instead of indenting.
        </p>
      </div>
    );
  }
  return (
    <div className="flex-1 overflow-y-auto p-6">
      <div className="mx-auto max-w-xl">
        <h2 className="text-base font-semibold">Bring your code in</h2>
        <p className="mt-1 mb-4 text-sm text-zinc-600 dark:text-zinc-400">
          This project has no files yet. Import a .zip (a GitHub “Download ZIP” works as is) or a folder from
          your computer, or create a file with the + button in the file pane.
        </p>
        <ImportPanel projectId={projectId} onImported={onImported} />
      </div>
    </div>
  );
}

function FileError({
  error,
  onRetry,
  onClose,
}: {
  error: unknown;
  onRetry: () => void;
  onClose: () => void;
}) {
  const missing = errorCode(error) === "NOT_FOUND";
  return (
    <div role="alert" className="flex h-full flex-col items-center justify-center gap-2 p-6 text-center">
      <p className="text-sm font-medium">
        {missing ? "This file no longer exists" : "The file could not be loaded"}
      </p>
      <p className="max-w-sm text-sm text-zinc-600 dark:text-zinc-400">
        {missing ? "It was moved or deleted elsewhere." : errorMessage(error)}
      </p>
      <div className="mt-2 flex gap-2">
        {missing ? null : (
          <Button variant="secondary" onClick={onRetry}>
            Try again
          </Button>
        )}
        <Button variant="secondary" onClick={onClose}>
          Close it
        </Button>
      </div>
    </div>
  );
}

/** The handle between the panes: drag with the pointer, or focus it and use the arrow keys. */
function Resizer({ width, onResize }: { width: number; onResize: (width: number) => void }) {
  const start = useRef<{ x: number; width: number } | null>(null);
  return (
    // biome-ignore lint/a11y/useSemanticElements: a focusable window splitter is role="separator" by the ARIA pattern
    <div
      role="separator"
      aria-orientation="vertical"
      aria-label="Resize the file pane"
      aria-valuenow={width}
      aria-valuemin={TREE_MIN}
      aria-valuemax={TREE_MAX}
      tabIndex={0}
      onKeyDown={(event) => {
        if (event.key === "ArrowLeft") onResize(width - 16);
        else if (event.key === "ArrowRight") onResize(width + 16);
        else return;
        event.preventDefault();
      }}
      onPointerDown={(event) => {
        event.currentTarget.setPointerCapture(event.pointerId);
        start.current = { x: event.clientX, width };
      }}
      onPointerMove={(event) => {
        if (start.current) onResize(start.current.width + event.clientX - start.current.x);
      }}
      onPointerUp={() => {
        start.current = null;
      }}
      className="w-1 shrink-0 cursor-col-resize border-l border-zinc-200 bg-transparent transition-colors outline-none hover:bg-brand-500/40 focus-visible:bg-brand-500 dark:border-zinc-800"
    />
  );
}
