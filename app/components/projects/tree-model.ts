/**
 * The file tree as data: built from the flat, sorted path list the server keeps (folders exist only as
 * prefixes of file paths) plus folders the user created in this tab that hold no file yet. Pure functions,
 * so the tree component stays a thin view and 5,000 paths build in a few milliseconds.
 */

export type FileNode = { kind: "file"; path: string; name: string };
export type FolderNode = { kind: "folder"; path: string; name: string; children: TreeNode[] };
export type TreeNode = FileNode | FolderNode;

/** One visible line of the tree, in display order. */
export type TreeRow = {
  node: TreeNode;
  /** 1 for top-level entries (aria-level). */
  depth: number;
  /** The containing folder's path, "" at the top. */
  parent: string;
  /** 1-based position among its siblings, and their count (aria-posinset / aria-setsize). */
  position: number;
  siblings: number;
};

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

function compareNodes(a: TreeNode, b: TreeNode): number {
  if (a.kind !== b.kind) return a.kind === "folder" ? -1 : 1;
  return collator.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The folder that holds `path` ("" for top-level entries). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}

/** The last segment of a path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Join a folder ("" for the top) and a relative name. */
export function joinPath(folder: string, name: string): string {
  return folder ? `${folder}/${name}` : name;
}

/**
 * Build the tree. `extraFolders` are empty folders known only to the browser; folders implied by file
 * paths need not be listed. Children are sorted folders first, then by name (numeric-aware).
 */
export function buildTree(filePaths: readonly string[], extraFolders: readonly string[] = []): FolderNode {
  const root: FolderNode = { kind: "folder", path: "", name: "", children: [] };
  const folders = new Map<string, FolderNode>([["", root]]);

  const folderFor = (path: string): FolderNode => {
    const known = folders.get(path);
    if (known) return known;
    const parent = folderFor(parentOf(path));
    const node: FolderNode = { kind: "folder", path, name: baseName(path), children: [] };
    parent.children.push(node);
    folders.set(path, node);
    return node;
  };

  for (const folder of extraFolders) if (folder) folderFor(folder);
  for (const path of filePaths) {
    folderFor(parentOf(path)).children.push({ kind: "file", path, name: baseName(path) });
  }
  for (const folder of folders.values()) folder.children.sort(compareNodes);
  return root;
}

/** The rows a user sees: children of expanded folders only. */
export function visibleRows(root: FolderNode, expanded: ReadonlySet<string>): TreeRow[] {
  const rows: TreeRow[] = [];
  const walk = (folder: FolderNode, depth: number) => {
    folder.children.forEach((node, index) => {
      rows.push({
        node,
        depth,
        parent: folder.path,
        position: index + 1,
        siblings: folder.children.length,
      });
      if (node.kind === "folder" && expanded.has(node.path)) walk(node, depth + 1);
    });
  };
  walk(root, 1);
  return rows;
}

/** Every folder on the way to `path` (not `path` itself), so revealing a file expands its ancestors. */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  let current = parentOf(path);
  while (current) {
    out.push(current);
    current = parentOf(current);
  }
  return out.reverse();
}

/** Whether `path` is `folder` itself or inside it. */
export function isWithin(path: string, folder: string): boolean {
  return path === folder || path.startsWith(`${folder}/`);
}

/** `path` with its `from` prefix replaced by `to` (for a moved folder), or unchanged when outside it. */
export function rebase(path: string, from: string, to: string): string {
  if (path === from) return to;
  return path.startsWith(`${from}/`) ? `${to}${path.slice(from.length)}` : path;
}
