/**
 * One file's unified diff (as a ChangeSet stores it) split into its hunks, each with numbered lines, for the
 * review. Browser-safe and pure.
 */

export type DiffLine = {
  kind: "context" | "added" | "removed";
  text: string;
  /** Line number in the old file (removed and context lines). */
  oldLine: number | null;
  /** Line number in the new file (added and context lines). */
  newLine: number | null;
  /** The line has no newline at its end ("\ No newline at end of file"). */
  noEol?: boolean;
};

export type DiffHunk = { index: number; header: string; lines: DiffLine[] };

const HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

export function parseFileDiff(diff: string): DiffHunk[] {
  const hunks: DiffHunk[] = [];
  let current: DiffHunk | null = null;
  let oldLine = 0;
  let newLine = 0;
  for (const line of diff.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      const oldCount = header[2] === undefined ? 1 : Number(header[2]);
      const newCount = header[4] === undefined ? 1 : Number(header[4]);
      // An empty range counts from the line before it (`-3,0` inserts after line 3).
      oldLine = Number(header[1]) + (oldCount === 0 ? 1 : 0);
      newLine = Number(header[3]) + (newCount === 0 ? 1 : 0);
      current = { index: hunks.length, header: header[0], lines: [] };
      hunks.push(current);
      continue;
    }
    if (!current) continue;
    const sign = line[0];
    const text = line.slice(1);
    if (sign === "+") {
      current.lines.push({ kind: "added", text, oldLine: null, newLine: newLine++ });
    } else if (sign === "-") {
      current.lines.push({ kind: "removed", text, oldLine: oldLine++, newLine: null });
    } else if (sign === " ") {
      current.lines.push({ kind: "context", text, oldLine: oldLine++, newLine: newLine++ });
    } else if (sign === "\\") {
      const last = current.lines.at(-1);
      if (last) last.noEol = true;
    }
  }
  return hunks;
}
